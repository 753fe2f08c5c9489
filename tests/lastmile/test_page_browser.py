"""Browser journeys of a customer on a phone (360 x 740): following a delivery from the link in
the SMS (the map and the moving driver only while their stop is in progress), rating it, and
rescheduling a failed one."""

import json
import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from accounts.models import Driver, NotificationTemplate
from accounts.notification_defaults import agency_create_default_templates
from lastmile import views
from lastmile.models import Rating
from routes.actions import route_create, route_start, stop_change_status
from routes.models import Stop, StopStatus
from scheduling.models import Origin, Schedule
from services.actions import Actor, service_create
from services.models import ServiceStatus
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOME = (-23.5614, -46.6559)
OTHER_HOME = (-23.5702, -46.6421)
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized page on the live server; map tiles never leave the machine."""
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US"
    )
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.referrers = []
    page.on("request", lambda request: page.referrers.append(request.headers.get("referer", "")))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def fast_refresh(monkeypatch):
    """The live part refreshes every second instead of every 30 (same process as the server)."""
    monkeypatch.setattr(views, "LIVE_REFRESH_S", 1)


def delivery(account, name, point, order):
    customer = f.CustomerFactory(account=account, name=name)
    return service_create(
        account=account,
        actor=Actor.system(),
        values={
            "customer": customer,
            "order_number": order,
            "street": "Rua Augusta",
            "number": "1500",
            "city": "São Paulo",
            "state": "SP",
            "lat": point[0],
            "lng": point[1],
        },
        packages=[{"barcode": f"{order}-1", "description": "Caixa"}],
    )


@pytest.fixture
def sms_files(settings, tmp_path):
    """Customers' SMS land as files, as in a local run with the file backend."""
    settings.SMS_BACKEND = "tracking.lib.sms.FileBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    return tmp_path / "sms"


def link_from_sms(folder, service):
    """The path of the link in the SMS the customer received when the service was registered
    (the site's address in it is SITE_URL, not the live server's)."""
    phone = service.customer.phone
    for file in sorted(folder.glob("*.json")):
        message = json.loads(file.read_text())
        found = re.search(r"https?://\S+/t/[\w-]+", message.get("body", ""))
        if message.get("to") == phone and found:
            path = urlparse(found.group(0)).path
            assert path == urlparse(service.tracking_url).path
            return path
    raise AssertionError(f"no SMS with a link to {phone} in {folder}")


def move_driver(driver, point):
    Driver.objects.filter(pk=driver.pk).update(
        last_lat=point[0], last_lng=point[1], last_position_at=timezone.now()
    )


def fits_the_screen(page):
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def leaflet_loaded(page):
    return any("/vendor/leaflet/" in url for url in page.requested)


def test_customer_follows_the_driver_then_rates(phone, fast_refresh, sms_files):
    page = phone
    account = f.AccountFactory(slug="acme-lastmile", name="Acme Entregas")
    agency = f.AgencyFactory(account=account, name="Loja Bonita", header_colour="#6F42C1")
    agency_create_default_templates(agency=agency, language=account.language)
    NotificationTemplate.objects.filter(agency=agency).update(sms_enabled=True)
    driver = f.DriverFactory(account=account, first_name="Ana", last_name="Lima")
    service = delivery(account, "Maria Souza", HOME, "PED-1001")
    service.agency = agency
    service.save(update_fields=["agency"])
    neighbour = delivery(account, "João Vizinho", OTHER_HOME, "PED-2002")
    route = route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=[neighbour, service],
    )
    route_start(route=route, actor=Actor.for_driver(driver))
    by_driver = Actor.for_driver(driver)
    other_stop = route.stops.get(service=neighbour)
    stop = route.stops.get(service=service)

    # The driver serves the neighbour first: no map here, only the driver and the ETA.
    stop_change_status(stop=other_stop, to_status=StopStatus.IN_PROGRESS, actor=by_driver)
    move_driver(driver, OTHER_HOME)
    page.goto(link_from_sms(sms_files, service))
    assert page.get_by_test_id("headline").inner_text() == "Out for delivery"
    assert page.get_by_test_id("brand").inner_text() == "Loja Bonita"
    assert page.get_by_test_id("driver-name").inner_text() == "Ana"
    assert driver.vehicle.plate in page.get_by_test_id("vehicle").inner_text()
    assert page.locator("#lm-map").count() == 0
    assert not leaflet_loaded(page)
    assert fits_the_screen(page)

    # Now this stop: the map appears (the page reloads itself when the state changes).
    stop_change_status(stop=other_stop, to_status=StopStatus.DONE, actor=by_driver)
    stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=by_driver)
    now = timezone.now()
    Stop.objects.filter(pk=stop.pk).update(
        eta_earliest=now + timedelta(minutes=10), eta_latest=now + timedelta(minutes=25)
    )
    move_driver(driver, (-23.5680, -46.6440))
    page.get_by_test_id("map").wait_for()
    assert page.get_by_test_id("headline").inner_text() == "On the way"
    eta = page.get_by_test_id("eta").inner_text()
    assert re.search(r"Expected between \d\d:\d\d and \d\d:\d\d", eta)
    page.wait_for_function(
        "() => document.getElementById('lm-map').dataset.driverPosition === '-23.568,-46.644'"
    )
    map_element = page.locator("#lm-map")
    assert page.locator("#lm-map .leaflet-interactive").count() == 2  # address and driver
    assert map_element.is_visible() and map_element.bounding_box()["width"] <= PHONE["width"]
    assert leaflet_loaded(page)
    assert fits_the_screen(page)
    requested_tiles = list(page.requested)

    # The driver moves: the marker follows at the next refresh, without a reload.
    page.evaluate("window.notReloaded = true")
    move_driver(driver, (-23.5650, -46.6500))
    page.wait_for_function(
        "() => document.getElementById('lm-map').dataset.driverPosition === '-23.565,-46.65'"
    )
    assert page.evaluate("window.notReloaded") is True
    assert "about" in page.get_by_test_id("distance").inner_text()

    # Delivered: the page reloads without the map, and the customer rates it.
    page.requested.clear()
    stop_change_status(stop=stop, to_status=StopStatus.DONE, actor=by_driver)
    page.get_by_test_id("headline").filter(has_text="Delivered").wait_for()
    assert page.locator("#lm-map").count() == 0
    assert not leaflet_loaded(page)
    assert page.locator("script[src*='htmx']").count() == 0

    page.locator("label[for=stars-4]").click()
    assert page.get_by_role("radio", name="4 stars").is_checked()
    page.get_by_label("Comment (optional)").fill("Rápido e gentil <3")
    page.get_by_role("button", name="Send rating").click()
    page.get_by_text("Thank you for your rating.").wait_for()
    assert page.get_by_test_id("rating-stars").inner_text() == "You gave 4 stars."
    assert page.get_by_test_id("rating-comment").inner_text() == "Rápido e gentil <3"
    rating = Rating.objects.get(service=service)
    assert (rating.stars, rating.comment) == (4, "Rápido e gentil <3")
    assert page.get_by_role("radio").count() == 0
    assert fits_the_screen(page)
    # Tiles, scripts, the form's post: none was told the address that holds the token.
    assert any("tile.openstreetmap.org" in url for url in requested_tiles)
    assert page.referrers and not any(service.tracking_token in ref for ref in page.referrers)
    assert page.errors == []


def test_customer_reschedules_a_failed_delivery(phone, sms_files):
    page = phone
    account = f.AccountFactory(slug="acme-reschedule", name="Acme Entregas")
    agency = f.AgencyFactory(account=account, name="Loja Bonita")
    agency_create_default_templates(agency=agency, language=account.language)
    NotificationTemplate.objects.filter(agency=agency).update(sms_enabled=True)
    driver = f.DriverFactory(account=account, first_name="Ana")
    reason = f.FailureReasonFactory(
        account=account, description="Ninguém em casa", customer_fault=True
    )
    day = timezone.localdate(timezone=account.tzinfo) + timedelta(days=2)
    window = f.DeliveryWindowFactory(
        account=account, weekday=day.weekday(), name="Manhã", capacity=3
    )
    service = delivery(account, "Maria Souza", HOME, "PED-3003")
    route = route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=[service],
    )
    by_driver = Actor.for_driver(driver)
    route_start(route=route, actor=by_driver)
    stop = route.stops.get()
    stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=by_driver)
    stop_change_status(
        stop=stop, to_status=StopStatus.FAILED, actor=by_driver, failure_reason=reason
    )

    page.goto(link_from_sms(sms_files, service))
    assert page.get_by_test_id("headline").inner_text() == "Delivery failed"
    assert page.get_by_test_id("attempt-reason").inner_text() == "Ninguém em casa"
    assert page.locator("#lm-map").count() == 0 and not leaflet_loaded(page)
    assert fits_the_screen(page)

    page.locator(f'[data-slot="{day.isoformat()}_{window.pk}"]').click()
    message = page.get_by_test_id("message")
    message.wait_for()
    assert "your delivery is now set for" in message.inner_text()
    assert "08:00–12:00" in page.get_by_test_id("schedule").inner_text()
    assert page.get_by_test_id("headline").inner_text() == "Rescheduled"

    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING and service.attempt_count == 1
    schedule = Schedule.objects.get(service=service)
    assert (schedule.date, schedule.window_id, schedule.origin) == (
        day,
        window.pk,
        Origin.CUSTOMER,
    )
    assert page.errors == []
