"""The customers' Last Mile page (/t/<token>): what each token shows (or that it shows nothing),
what each status shows, rescheduling, rating, escaping, language, time zone and headers."""

import io
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from lastmile.actions import rating_create
from lastmile.models import Rating
from lastmile.selectors import service_by_token
from routes.actions import route_create, route_start, stop_change_status
from routes.models import Evidence, EvidenceKind, StopStatus
from scheduling.actions import service_schedule
from scheduling.models import Origin, Schedule, ScheduleChange, WindowBooking
from services.actions import Actor, service_change_status, service_create
from services.models import ActorType, EventKind, ServiceEvent, ServiceStatus, ServiceType
from tests.factories import (
    AgencyFactory,
    BranchFactory,
    CustomerFactory,
    DeliveryWindowFactory,
    DriverFactory,
    FailureReasonFactory,
    ServiceFactory,
)
from tracking.lib.errors import Conflict, Invalid

pytestmark = pytest.mark.django_db

HOME = (-23.5614, -46.6559)  # the customer's address
OTHER_HOME = (-23.5702, -46.6421)  # another customer's, on the same route
SYSTEM = Actor.system()


# Building the world -------------------------------------------------------------------------------


def delivery(account, *, name="Maria Souza", point=HOME, order="PED-1001", **values):
    customer = CustomerFactory(account=account, name=name)
    return service_create(
        account=account,
        actor=SYSTEM,
        values={
            "customer": customer,
            "order_number": order,
            "street": "Rua Augusta",
            "number": "1500",
            "city": "São Paulo",
            "state": "SP",
            "lat": point[0],
            "lng": point[1],
            **values,
        },
        packages=[{"barcode": "7891000100103", "description": "Caixa de livros"}],
    )


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, first_name="Ana", last_name="Lima")


@pytest.fixture
def service(account_a):
    return delivery(account_a)


@pytest.fixture
def neighbour(account_a):
    return delivery(account_a, name="João Vizinho", point=OTHER_HOME, order="PED-2002")


def routed(account, driver, *services):
    return route_create(
        account=account,
        actor=SYSTEM,
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=list(services),
    )


def started(account, driver, *services):
    route = routed(account, driver, *services)
    route_start(route=route, actor=Actor.for_driver(driver))
    return route


def step(route, service, to_status, **kwargs):
    stop = route.stops.get(service=service)
    return stop_change_status(
        stop=stop, to_status=to_status, actor=Actor.for_driver(route.driver), **kwargs
    )


def put_driver_at(driver, point, at=None):
    driver.last_lat, driver.last_lng = point
    driver.last_position_at = at or timezone.now()
    driver.save(update_fields=["last_lat", "last_lng", "last_position_at"])


def png_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def photo_of(stop):
    evidence = Evidence(
        account_id=stop.account_id, stop=stop, kind=EvidenceKind.PHOTO, recorded_at=timezone.now()
    )
    evidence.image.save("door.png", ContentFile(png_bytes()), save=False)
    evidence.thumbnail.save("door-thumb.png", ContentFile(png_bytes()), save=False)
    evidence.save()
    return evidence


def failed_service(account, driver, service, *, customer_fault=True):
    reason = FailureReasonFactory(
        account=account, description="Ninguém em casa", customer_fault=customer_fault
    )
    route = started(account, driver, service)
    step(route, service, StopStatus.IN_PROGRESS)
    stop = step(route, service, StopStatus.FAILED, failure_reason=reason)
    service.refresh_from_db()
    return route, stop


def done_service(account, driver, service):
    route = started(account, driver, service)
    step(route, service, StopStatus.IN_PROGRESS)
    step(route, service, StopStatus.DONE)
    service.refresh_from_db()
    return route


def page_url(service):
    return reverse("lastmile:page", args=[service.tracking_token])


def live_url(service):
    return reverse("lastmile:live", args=[service.tracking_token])


def text(response):
    return response.content.decode()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# Tokens that lead nowhere ---------------------------------------------------------------------


def test_the_link_in_the_sms_is_the_page(client, service):
    assert service.tracking_url.endswith(page_url(service))
    response = client.get(page_url(service))
    assert response.status_code == 200
    assert "PED-1001" in text(response)


def test_unknown_malformed_and_other_paths_get_one_plain_404(client, service):
    responses = [
        client.get("/t/" + "A" * 32),
        client.get("/t/" + service.tracking_token[:-1] + "x"),
        client.get("/t/short"),
        client.get("/t/" + "A" * 65),
        client.get("/t/%3Cscript%3E"),
        client.get("/t/"),
        client.get(f"/t/{service.tracking_token}/nothing"),
        client.get("/t/" + "A" * 32 + "/live"),
    ]
    assert {response.status_code for response in responses} == {404}
    assert len({response.content for response in responses}) == 1
    body = text(responses[0])
    assert "Not found" in body
    for leak in ("PED-1001", "Maria", "Acme", "Rua Augusta", "7891000100103"):
        assert leak not in body
    assert responses[0]["X-Robots-Tag"] == "noindex, nofollow"
    assert responses[0]["Referrer-Policy"] == "strict-origin"


def test_a_token_shows_its_own_service_only(client, account_a, account_b, service):
    other = delivery(account_b, name="Pedro Outro", order="RIVAL-9")
    body = text(client.get(page_url(other)))
    assert "RIVAL-9" in body and "Pedro Outro" in body
    assert "PED-1001" not in body and "Maria Souza" not in body
    body = text(client.get(page_url(service)))
    assert "RIVAL-9" not in body and "Pedro Outro" not in body


def test_the_link_expires_after_the_accounts_days_from_the_end(client, account_a):
    account_a.tracking_link_days = 7
    account_a.save()
    fresh, old, cancelled, open_old = (
        delivery(account_a, order=f"PED-{n}") for n in ("FRESH", "OLD", "CANC", "OPEN")
    )
    now = timezone.now()
    for service, ended in ((fresh, now - timedelta(days=6)), (old, now - timedelta(days=8))):
        service_change_status(service=service, to_status=ServiceStatus.ROUTED, actor=SYSTEM)
        service_change_status(service=service, to_status=ServiceStatus.IN_PROGRESS, actor=SYSTEM)
        service_change_status(
            service=service, to_status=ServiceStatus.DONE, actor=SYSTEM, recorded_at=ended
        )
    service_change_status(
        service=cancelled,
        to_status=ServiceStatus.CANCELLED,
        actor=SYSTEM,
        recorded_at=now - timedelta(days=7, minutes=1),
    )
    # Not ended: the link works however old the service is.
    ServiceEvent.objects.filter(service=open_old).update(recorded_at=now - timedelta(days=60))

    assert client.get(page_url(fresh)).status_code == 200
    assert client.get(page_url(open_old)).status_code == 200
    expired = client.get(page_url(old))
    assert expired.status_code == 404
    assert expired.content == client.get("/t/" + "B" * 32).content
    assert client.get(live_url(old)).status_code == 404
    assert client.get(page_url(cancelled)).status_code == 404
    assert client.post(page_url(old), {"stars": 5}).status_code == 404
    assert not Rating.objects.exists()
    # A longer setting brings it back.
    account_a.tracking_link_days = 10
    account_a.save()
    assert client.get(page_url(old)).status_code == 200


def test_the_lookup_is_one_query(django_assert_num_queries, service):
    with django_assert_num_queries(1):
        assert service_by_token(service.tracking_token) == service
    with django_assert_num_queries(1):
        assert service_by_token("Z" * 32) is None
    with django_assert_num_queries(0):
        assert service_by_token("../../etc/passwd") is None


# What each status shows -----------------------------------------------------------------------


def test_pending_shows_the_service_without_driver_map_or_polling(client, service):
    response = client.get(page_url(service))
    body = text(response)
    assert "Registered" in body
    assert "Maria Souza" in body
    assert "7891000100103" in body and "Caixa de livros" in body
    assert 'data-step="registered"' in body
    assert 'data-testid="driver"' not in body
    assert 'id="lm-map"' not in body
    assert "leaflet" not in body
    assert "hx-get" not in body and "htmx" not in body


def test_routed_in_a_planned_route_shows_no_driver_yet(client, account_a, driver, service):
    routed(account_a, driver, service)
    body = text(client.get(page_url(service)))
    assert "Preparing for delivery" in body
    assert "Ana" not in body and driver.vehicle.plate not in body
    assert 'id="lm-map"' not in body and "leaflet" not in body
    assert f'hx-get="{live_url(service)}"' in body
    assert 'hx-trigger="every 30s"' in body


def test_route_started_shows_driver_vehicle_and_eta_but_no_map(
    client, account_a, driver, service, neighbour
):
    route = started(account_a, driver, neighbour, service)
    put_driver_at(driver, OTHER_HOME)
    stop = route.stops.get(service=service)
    stop.eta_earliest = datetime(2030, 3, 4, 17, 10, tzinfo=UTC)
    stop.eta_latest = datetime(2030, 3, 4, 17, 40, tzinfo=UTC)
    stop.save()
    body = text(client.get(page_url(service)))
    assert "Out for delivery" in body
    assert re.search(r'data-testid="driver-name">Ana<', body)
    assert driver.vehicle.plate in body and "Car" in body
    assert "Lima" not in body  # the first name only
    eta = re.search(r'data-testid="eta">(.*?)</p>', body, re.S).group(1)
    assert "14:10" in eta and "14:40" in eta  # São Paulo time
    assert 'data-step="route_started"' in body
    assert 'id="lm-map"' not in body and "leaflet" not in body
    assert "data-driver-lat" not in body


def test_another_customers_stop_in_progress_shows_no_map_here(
    client, account_a, driver, service, neighbour
):
    route = started(account_a, driver, neighbour, service)
    step(route, neighbour, StopStatus.IN_PROGRESS)
    put_driver_at(driver, (-23.5650, -46.6500))

    body = text(client.get(page_url(service)))
    assert 'id="lm-map"' not in body and "leaflet" not in body
    assert "data-driver-lat" not in body and "-23.565" not in body
    live = text(client.get(live_url(service)))
    assert "data-driver-lat" not in live and "-23.565" not in live
    # Nothing of the other customer is on this page.
    for leak in ("João", "PED-2002", f"{OTHER_HOME[0]:.6f}"):
        assert leak not in body
    # The neighbour's own page has the map.
    assert 'id="lm-map"' in text(client.get(page_url(neighbour)))


def test_in_progress_shows_the_map_of_this_stop_and_the_driver(client, account_a, driver, service):
    route = started(account_a, driver, service)
    put_driver_at(driver, (-23.60, -46.70), at=timezone.now() - timedelta(minutes=10))
    step(route, service, StopStatus.IN_PROGRESS)
    body = text(client.get(page_url(service)))
    assert "On the way" in body
    assert 'id="lm-map"' in body
    assert 'vendor/leaflet/leaflet.js"' in body and "vendor/leaflet/leaflet.css" in body
    assert f'data-dest-lat="{HOME[0]:.6f}"' in body
    # A point from before the stop started is where the driver was before heading here.
    assert "data-driver-lat" not in body

    put_driver_at(driver, (-23.5700, -46.6600))
    live = text(client.get(live_url(service)))
    assert 'data-driver-lat="-23.570000"' in live and 'data-driver-lng="-46.660000"' in live
    assert "The driver is about 1.0 km away." in live
    assert "hx-get" in live

    step(route, service, StopStatus.ARRIVED)
    body = text(client.get(page_url(service)))
    assert "The driver has arrived" in body and 'id="lm-map"' in body
    assert 'data-step="arrived"' in body


def test_done_hides_the_map_and_stops_polling(client, account_a, driver, service):
    done_service(account_a, driver, service)
    put_driver_at(driver, (-23.5700, -46.6600))
    body = text(client.get(page_url(service)))
    assert "Delivered" in body
    assert 'id="lm-map"' not in body and "leaflet" not in body
    assert "data-driver-lat" not in body and "hx-get" not in body
    assert re.search(r'data-testid="driver-name">Ana<', body)
    assert 'data-step="done"' in body and 'data-step="on_the_way"' in body
    live = text(client.get(live_url(service)))
    assert "hx-get" not in live and "data-driver-lat" not in live


def test_failed_shows_the_attempt_with_reason_and_photo(client, account_a, driver, service):
    _route, stop = failed_service(account_a, driver, service)
    evidence = photo_of(stop)
    body = text(client.get(page_url(service)))
    assert "Delivery failed" in body
    attempts = re.search(r'data-testid="attempts".*?</section>', body, re.S).group(0)
    assert "Attempt 1" in attempts
    assert "Ninguém em casa" in attempts
    assert evidence.thumbnail.url in attempts
    assert 'id="lm-map"' not in body and "hx-get" not in body
    assert 'data-step="failed"' in body


def test_page_queries_do_not_grow_with_history(
    client, account_a, driver, service, django_assert_max_num_queries
):
    DeliveryWindowFactory(account=account_a, weekday=(timezone.localdate().weekday() + 3) % 7)
    _route, stop = failed_service(account_a, driver, service)
    photo_of(stop)
    photo_of(stop)
    with django_assert_max_num_queries(14):
        assert client.get(page_url(service)).status_code == 200


# Branding, language, time zone, headers -------------------------------------------------------


def test_branded_with_the_agency_or_the_account(client, account_a):
    agency = AgencyFactory(account=account_a, name="Loja Bonita", header_colour="#FFD700")
    branded = delivery(account_a, agency=agency)
    body = text(client.get(page_url(branded)))
    assert "Loja Bonita" in body
    assert "--brand: #FFD700; --brand-text: #000000;" in body  # dark text on a light colour
    plain = delivery(account_a, order="PED-2")
    body = text(client.get(page_url(plain)))
    assert 'class="lm-brand-name">Acme Entregas<' in body
    assert "--brand-text: #ffffff;" in body


def test_in_the_accounts_language(client, account_a, driver, service):
    account_a.language = "pt-br"
    account_a.save()
    done_service(account_a, driver, service)
    response = client.get(page_url(service), HTTP_ACCEPT_LANGUAGE="en")
    body = text(response)
    assert '<html lang="pt-br">' in body
    assert response["Content-Language"] == "pt-br"
    assert "Volumes" in body  # Packages
    assert "Entregue" in body  # Delivered
    assert "Ir para o conteúdo" in body  # Skip to content


def test_times_in_the_branchs_time_zone(client, account_a, driver):
    branch = BranchFactory(account=account_a, time_zone="America/Manaus")
    service = delivery(account_a, branch=branch)
    route = started(account_a, driver, service)
    stop = route.stops.get(service=service)
    stop.eta_earliest = datetime(2030, 3, 4, 17, 10, tzinfo=UTC)
    stop.eta_latest = datetime(2030, 3, 4, 17, 40, tzinfo=UTC)
    stop.save()
    body = text(client.get(page_url(service)))
    eta = re.search(r'data-testid="eta">(.*?)</p>', body, re.S).group(1)
    assert "13:10" in eta and "13:40" in eta  # UTC-4


def test_headers(client, account_a, driver, service):
    route = started(account_a, driver, service)
    response = client.get(page_url(service))
    assert response["Referrer-Policy"] == "strict-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    # Under way: the browser may keep it but must ask again before showing it.
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-cache"}
    assert "Cookie" in response["Vary"]
    body = text(response)
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert '<meta name="referrer" content="strict-origin">' in body
    live = client.get(live_url(service))
    assert "no-store" in live["Cache-Control"]
    assert live["Referrer-Policy"] == "strict-origin"
    assert live["X-Robots-Tag"] == "noindex, nofollow"
    # Nothing live any more: a few seconds in the customer's browser only.
    step(route, service, StopStatus.IN_PROGRESS)
    step(route, service, StopStatus.DONE)
    response = client.get(page_url(service))
    assert set(response["Cache-Control"].split(", ")) == {"private", "max-age=10"}
    posted = client.post(page_url(service), {"stars": "9"})
    assert "no-store" in posted["Cache-Control"]
    assert posted["Referrer-Policy"] == "strict-origin"


# Escaping ---------------------------------------------------------------------------------------


def test_customer_supplied_text_is_escaped(client, account_a, driver):
    script = '<script>alert("x")</script>'
    service = delivery(
        account_a, name=f"Eve {script}", order="PED-<b>1</b>", complement='"><img src=x>'
    )
    reason = FailureReasonFactory(account=account_a, description=f"Reason {script}")
    route = started(account_a, driver, service)
    step(route, service, StopStatus.IN_PROGRESS)
    step(route, service, StopStatus.FAILED, failure_reason=reason)
    body = text(client.get(page_url(service)))
    assert script not in body and "<b>1</b>" not in body and "<img src=x>" not in body
    assert "Eve &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "Reason &lt;script&gt;" in body


def test_the_rating_comment_is_escaped(client, account_a, driver, service):
    done_service(account_a, driver, service)
    comment = "<script>alert('x')</script>\nObrigada!"
    client.post(page_url(service), {"stars": "5", "comment": comment})
    body = text(client.get(page_url(service)))
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body


# Reschedule -------------------------------------------------------------------------------------


@pytest.fixture
def window(account_a):
    """A window three days from now (well before any cut-off), with two places."""
    day = timezone.localdate(timezone=account_a.tzinfo) + timedelta(days=3)
    return DeliveryWindowFactory(account=account_a, weekday=day.weekday(), name="Manhã", capacity=2)


def slot_of(window, account):
    day = timezone.localdate(timezone=account.tzinfo) + timedelta(days=3)
    return day, f"{day.isoformat()}_{window.pk}"


def test_a_failed_delivery_is_rescheduled_by_the_customer(
    client, account_a, driver, service, window
):
    failed_service(account_a, driver, service)
    day, value = slot_of(window, account_a)
    body = text(client.get(page_url(service)))
    assert "Choose a new delivery date" in body
    assert f'data-slot="{value}"' in body
    assert 'name="csrfmiddlewaretoken"' in body

    response = client.post(page_url(service), {"slot": value}, follow=True)
    assert response.redirect_chain[-1][0] == page_url(service)
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING and service.attempt_count == 1
    schedule = Schedule.objects.get(service=service)
    assert (schedule.date, schedule.window, schedule.origin) == (day, window, Origin.CUSTOMER)
    assert ScheduleChange.objects.get(service=service).origin == Origin.CUSTOMER
    rescheduled = ServiceEvent.objects.get(service=service, kind=EventKind.RESCHEDULED)
    assert rescheduled.actor_type == ActorType.CUSTOMER
    scheduled = ServiceEvent.objects.get(service=service, kind=EventKind.SCHEDULED)
    assert scheduled.actor_type == ActorType.CUSTOMER
    assert scheduled.data["origin"] == Origin.CUSTOMER

    body = text(response)
    message = re.search(r'data-testid="message">(.*?)</p>', body, re.S).group(1)
    assert "your delivery is now set for" in message and "08:00–12:00" in message
    assert 'data-step="rescheduled"' in body and 'data-step="scheduled"' in body
    assert re.search(r'data-testid="schedule">[^<]*08:00–12:00', body)
    # Pending with a date: the date can still be changed, the current one is marked.
    assert re.search(rf'data-slot="{value}" disabled aria-current="true"', body)


def test_the_window_filled_meanwhile_is_a_clear_error(client, account_a, driver, service, window):
    failed_service(account_a, driver, service)
    day, value = slot_of(window, account_a)
    assert f'data-slot="{value}"' in text(client.get(page_url(service)))
    WindowBooking.objects.create(account=account_a, window=window, date=day, booked=2)

    response = client.post(page_url(service), {"slot": value}, follow=True)
    body = text(response)
    assert re.search(r'role="alert" data-testid="message">This window is full', body)
    service.refresh_from_db()
    assert service.status == ServiceStatus.FAILED
    assert not Schedule.objects.filter(service=service).exists()


def test_no_reschedule_when_the_failure_was_not_the_customers(
    client, account_a, driver, service, window
):
    failed_service(account_a, driver, service, customer_fault=False)
    body = text(client.get(page_url(service)))
    assert "data-slot" not in body
    assert "We will get in touch to arrange another attempt." in body
    _day, value = slot_of(window, account_a)
    response = client.post(page_url(service), {"slot": value}, follow=True)
    assert "The delivery date can no longer be changed here." in text(response)
    service.refresh_from_db()
    assert service.status == ServiceStatus.FAILED


def test_no_reschedule_while_routed_or_after_the_last_attempt(
    client, account_a, driver, service, window
):
    routed(account_a, driver, service)
    assert "data-slot" not in text(client.get(page_url(service)))
    last = delivery(account_a, order="PED-LAST")
    account_a.max_attempts = 1
    account_a.save()
    failed_service(account_a, DriverFactory(account=account_a), last)
    assert "data-slot" not in text(client.get(page_url(last)))


def test_a_pending_service_picks_its_first_date(client, account_a, service, window):
    _day, value = slot_of(window, account_a)
    assert "Choose your delivery date" in text(client.get(page_url(service)))
    client.post(page_url(service), {"slot": value})
    assert Schedule.objects.get(service=service).origin == Origin.CUSTOMER


def test_a_tampered_slot_is_refused(client, account_a, account_b, service, window):
    foreign = DeliveryWindowFactory(account=account_b, weekday=window.weekday)
    day, _value = slot_of(window, account_a)
    for value in (f"{day.isoformat()}_{foreign.pk}", "2030-02-31_1", "tomorrow", ""):
        response = client.post(page_url(service), {"slot": value}, follow=True)
        assert "Choose one of the dates and windows offered." in text(response)
    not_offered = f"{(day + timedelta(days=1)).isoformat()}_{window.pk}"
    response = client.post(page_url(service), {"slot": not_offered}, follow=True)
    assert "not offered" in text(response)
    assert not Schedule.objects.filter(service=service).exists()


def test_past_the_cut_off_the_date_cannot_be_changed(client, account_a, service):
    today = timezone.localdate(timezone=account_a.tzinfo)
    soon = DeliveryWindowFactory(account=account_a, weekday=today.weekday(), capacity=5)
    later = DeliveryWindowFactory(
        account=account_a,
        weekday=(today + timedelta(days=3)).weekday(),
        start=time(13, 0),
        end=time(17, 0),
    )
    earlier = timezone.now() - timedelta(days=1)
    service_schedule(service=service, day=today, window=soon, actor=SYSTEM, now=earlier)
    body = text(client.get(page_url(service)))
    assert "data-slot" not in body
    value = f"{(today + timedelta(days=3)).isoformat()}_{later.pk}"
    response = client.post(page_url(service), {"slot": value}, follow=True)
    assert "can no longer be changed" in text(response)


# Rate -------------------------------------------------------------------------------------------


def test_a_done_service_is_rated_once(client, account_a, driver, service):
    done_service(account_a, driver, service)
    body = text(client.get(page_url(service)))
    assert 'type="radio" name="stars"' in body
    for value in range(1, 6):
        assert re.search(rf'<label for="stars-{value}">.*?{value} stars?</span>', body)

    response = client.post(page_url(service), {"stars": "4", "comment": "Muito rápido"})
    assert response.status_code == 302
    rating = Rating.objects.get(service=service)
    assert (rating.stars, rating.comment, rating.account) == (4, "Muito rápido", account_a)

    response = client.post(page_url(service), {"stars": "1", "comment": "Changed my mind"})
    assert response.status_code == 302
    rating.refresh_from_db()
    assert (rating.stars, rating.comment) == (4, "Muito rápido")
    assert Rating.objects.count() == 1

    body = text(client.get(page_url(service)))
    assert "You gave 4 stars." in body and "Muito rápido" in body
    assert 'name="stars"' not in body


@pytest.mark.parametrize("stars", ["0", "6", "abc", "", "4.5"])
def test_stars_must_be_1_to_5(client, account_a, driver, service, stars):
    done_service(account_a, driver, service)
    response = client.post(page_url(service), {"stars": stars, "comment": "ok"})
    assert response.status_code == 400
    assert "Choose from 1 to 5 stars." in text(response)
    assert 'aria-describedby="stars-errors"' in text(response)
    assert not Rating.objects.exists()


def test_a_comment_too_long_is_refused(client, account_a, driver, service):
    done_service(account_a, driver, service)
    response = client.post(page_url(service), {"stars": "3", "comment": "x" * 1001})
    assert response.status_code == 400
    assert not Rating.objects.exists()


@pytest.mark.parametrize("status", ["pending", "in_progress", "failed"])
def test_only_a_done_service_is_rated(client, account_a, driver, service, status):
    if status == "in_progress":
        step(started(account_a, driver, service), service, StopStatus.IN_PROGRESS)
    elif status == "failed":
        failed_service(account_a, driver, service)
    assert 'name="stars"' not in text(client.get(page_url(service)))
    response = client.post(page_url(service), {"stars": "5"}, follow=True)
    assert "Only a finished service can be rated." in text(response)
    assert not Rating.objects.exists()


def test_rating_create_keeps_the_first_rating(account_a, driver, service):
    pending = delivery(account_a, order="PED-PENDING")
    with pytest.raises(Conflict):
        rating_create(service=pending, stars=5)
    done_service(account_a, driver, service)
    for stars in (0, 6, None, "5"):
        with pytest.raises(Invalid):
            rating_create(service=service, stars=stars)
    with pytest.raises(Invalid):
        rating_create(service=service, stars=3, comment="x" * 1001)
    first, created = rating_create(service=service, stars=5, comment="  Ótimo  ")
    assert created and (first.stars, first.comment) == (5, "Ótimo")
    again, created = rating_create(service=service, stars=1, comment="Péssimo")
    assert not created and again.pk == first.pk and (again.stars, again.comment) == (5, "Ótimo")


def test_pickups_speak_of_pickups(client, account_a, driver):
    pickup = delivery(account_a, type=ServiceType.PICKUP)
    done_service(account_a, driver, pickup)
    assert "Picked up" in text(client.get(page_url(pickup)))


def test_a_service_created_without_events_still_renders(client, account_a):
    bare = ServiceFactory(account=account_a, status=ServiceStatus.DONE)
    response = client.get(page_url(bare))
    assert response.status_code == 200
