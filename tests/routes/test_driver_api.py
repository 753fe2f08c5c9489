"""The driver API: logging in per device, the driver's routes and stops, each step and outcome as
the phone recorded it (late, twice, out of order), proof rules, and the account's lists; every
call scoped to the driver (another driver's or account's objects are 404) and idempotent."""

import io
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openapi_spec_validator import validate
from PIL import Image

from accounts.devices import device_login
from accounts.models import DriverDevice
from routes import actions
from routes.models import (
    Conversation,
    Evidence,
    EvidenceKind,
    Message,
    MessageAuthor,
    RouteStatus,
    StopStatus,
)
from scheduling.models import Origin, Schedule
from services.actions import Actor
from services.models import ActorType, ServiceEvent, ServiceStatus
from tests.factories import (
    PASSWORD,
    ChatTicketTypeFactory,
    DeliveryWindowFactory,
    DriverFactory,
    FailureReasonFactory,
    PackageFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/driver/v1"
# Phone times are in the recent past: the API refuses times ahead of the server's clock.
T0 = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=3)


def at(minutes):
    """T0 + minutes as the phone sends it, with an offset."""
    return (T0 + timedelta(minutes=minutes)).astimezone(timezone.get_fixed_timezone(-180))


def step(minutes, **fields):
    return {"recorded_at": at(minutes).isoformat(), **fields}


class Phone:
    """The test client speaking JSON as one logged-in device."""

    def __init__(self, client, token):
        self.client = client
        self.token = token

    def headers(self, key=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return headers

    def get(self, path, **params):
        return self.client.get(URL + path, params, **self.headers())

    def post(self, path, data=None, key=None):
        return self.client.post(
            URL + path, data or {}, content_type="application/json", **self.headers(key)
        )


def log_in(client, driver, device_id="phone-1"):
    _device, token = device_login(login=driver.login, password=PASSWORD, device_id=device_id)
    return Phone(client, token)


def build(driver, count=2, packages=1, day=None):
    """A planned route of the driver today, one service per stop, each with packages."""
    services = [ServiceFactory(account=driver.account) for _ in range(count)]
    for service in services:
        PackageFactory.create_batch(packages, service=service)
    return actions.route_create(
        account=driver.account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=day or driver.account.today(),
        services=services,
    )


def started(route, minutes=0):
    actions.route_start(route=route, actor=Actor.system(), recorded_at=at(minutes))
    return route


def error_of(response):
    return response.json()["error"]


def tiny_png():
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(buffer, "PNG")
    return buffer.getvalue()


def add_evidence(stop, kind, barcodes=()):
    return Evidence.objects.create(
        account=stop.account,
        stop=stop,
        kind=kind,
        image=ContentFile(tiny_png(), name="proof.png"),
        thumbnail=ContentFile(tiny_png(), name="thumb.png"),
        width=2,
        height=2,
        barcodes=list(barcodes),
        recorded_at=at(1),
    )


@pytest.fixture(autouse=True)
def _clean_throttle_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana", first_name="Ana", last_name="Lima")


@pytest.fixture
def phone(client, driver):
    return log_in(client, driver)


@pytest.fixture
def colleague(account_a):
    """Another driver of the same account."""
    return DriverFactory(account=account_a, username="bruno")


@pytest.fixture
def rival(account_b):
    """A driver of another account."""
    return DriverFactory(account=account_b, username="ana")


@pytest.fixture
def route(driver):
    return build(driver)


@pytest.fixture
def stop(route):
    started(route)
    return route.stops.order_by("sequence").first()


# Logging in -------------------------------------------------------------------------------------


def login_body(login="acme.ana", password=PASSWORD, device_id="phone-1", **changes):
    return {
        "username": login,
        "password": password,
        "device_id": device_id,
        "device_name": "Moto G",
        **changes,
    }


def test_a_driver_logs_in_and_uses_the_token(client, driver):
    response = client.post(f"{URL}/auth/token", login_body(), content_type="application/json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["token"].startswith("dt_") and data["expires"] is None
    assert data["driver"] == {
        "id": driver.pk,
        "name": "Ana Lima",
        "first_name": "Ana",
        "photo": None,
    }
    device = DriverDevice.objects.get()
    assert (device.driver, device.device_id, device.name) == (driver, "phone-1", "Moto G")
    assert Phone(client, data["token"]).get("/me").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        login_body(password="wrong"),
        login_body(login="acme.nobody"),
        login_body(login="rival.ana"),
        login_body(login="ana"),
    ],
)
def test_bad_credentials_are_401(client, driver, body):
    response = client.post(f"{URL}/auth/token", body, content_type="application/json")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_credentials"
    assert not DriverDevice.objects.exists()


def test_an_inactive_driver_cannot_log_in(client, driver):
    driver.is_active = False
    driver.save(update_fields=["is_active"])
    response = client.post(f"{URL}/auth/token", login_body(), content_type="application/json")
    assert response.status_code == 401


def test_a_login_without_a_device_id_is_422(client, driver):
    body = login_body()
    del body["device_id"]
    response = client.post(f"{URL}/auth/token", body, content_type="application/json")
    assert response.status_code == 422
    assert list(error_of(response)["fields"]) == ["device_id"]


def test_logins_are_throttled_after_five_failures(client, driver):
    for _ in range(5):
        wrong = client.post(
            f"{URL}/auth/token", login_body(password="wrong"), content_type="application/json"
        )
        assert wrong.status_code == 401
    response = client.post(f"{URL}/auth/token", login_body(), content_type="application/json")
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert not DriverDevice.objects.exists()


def test_failures_from_one_address_throttle_that_address_only(client, driver):
    def attempt(body, address):
        return client.post(
            f"{URL}/auth/token", body, content_type="application/json", REMOTE_ADDR=address
        )

    for _ in range(5):
        assert attempt(login_body(login="acme.nobody"), "10.0.0.1").status_code == 401
    assert attempt(login_body(), "10.0.0.1").status_code == 429
    assert attempt(login_body(), "10.0.0.2").status_code == 200


def test_a_revoked_token_is_401(phone):
    response = phone.post("/auth/revoke", key="logout-1")
    assert response.status_code == 200 and response.json() == {"revoked": True}
    assert DriverDevice.objects.get().revoked_at is not None
    assert phone.get("/me").status_code == 401
    # A retry of the logout is answered as any call with that token.
    assert phone.post("/auth/revoke", key="logout-1").status_code == 401


def test_logging_in_again_on_the_same_device_revokes_its_earlier_token(client, driver):
    first = log_in(client, driver, "phone-1")
    other_phone = log_in(client, driver, "phone-2")
    second = log_in(client, driver, "phone-1")
    assert first.get("/me").status_code == 401
    assert second.get("/me").status_code == 200
    assert other_phone.get("/me").status_code == 200


def test_calls_without_a_token_are_401(client, route):
    anonymous = Phone(client, None)
    for response in (
        anonymous.get("/me"),
        anonymous.get("/routes"),
        anonymous.post(f"/routes/{route.pk}/start", step(0)),
        Phone(client, "dt_not-a-token").get("/me"),
    ):
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthenticated"
    assert route.status == RouteStatus.PLANNED


# Me ---------------------------------------------------------------------------------------------


def test_me_tells_the_driver_vehicle_account_and_settings(phone, driver, account_a):
    account_a.position_interval_s = 15
    account_a.signature_required = True
    account_a.save()
    data = phone.get("/me").json()
    assert data["driver"]["id"] == driver.pk and data["driver"]["first_name"] == "Ana"
    assert data["vehicle"] == {"type": driver.vehicle.type, "plate": driver.vehicle.plate}
    assert data["account"] == {"name": "Acme Entregas"}
    assert data["settings"] == {
        "position_interval_s": 15,
        "signature_required": True,
        "photo_required": False,
        "time_zone": "America/Sao_Paulo",
    }


def test_me_shows_the_photo_url_and_the_drivers_own_time_zone(phone, driver):
    driver.photo = ContentFile(tiny_png(), name="ana.png")
    driver.time_zone = "America/Manaus"
    driver.save()
    data = phone.get("/me").json()
    assert data["driver"]["photo"].startswith("http://testserver/")
    assert data["settings"]["time_zone"] == "America/Manaus"


# Reading routes ---------------------------------------------------------------------------------


def test_todays_routes_come_with_their_stops_in_order(phone, driver, account_a):
    route = build(driver, count=3, packages=2)
    cancelled = build(driver, count=1)
    actions.route_cancel(route=cancelled, actor=Actor.system())
    build(DriverFactory(account=account_a), count=1)  # a colleague's

    response = phone.get("/routes")

    assert response.status_code == 200, response.json()
    (data,) = response.json()["items"]
    assert data["id"] == route.pk and data["status"] == "planned"
    assert data["date"] == account_a.today().isoformat()
    assert data["started_at"] is None and data["planned_duration_s"] >= 0
    stops = list(route.stops.order_by("sequence").select_related("service__customer"))
    assert [item["id"] for item in data["stops"]] == [stop.pk for stop in stops]
    first, service = data["stops"][0], stops[0].service
    assert first["sequence"] == 1 and first["status"] == "pending"
    assert datetime.fromisoformat(first["planned_arrival"]).utcoffset() is not None
    assert first["eta_window"] is None
    assert first["service"]["id"] == service.pk
    assert first["service"]["order_number"] == service.order_number
    assert first["service"]["customer"] == {
        "name": service.customer.name,
        "phone": service.customer.phone,
    }
    address = first["service"]["address"]
    assert (address["street"], address["city"], address["lat"]) == (
        "Rua Augusta",
        "São Paulo",
        service.lat,
    )
    assert address["line"] == service.address_line
    assert sorted(p["barcode"] for p in first["service"]["packages"]) == sorted(
        service.packages.values_list("barcode", flat=True)
    )
    assert first["service"]["window"]["start"] is None
    end = datetime.fromisoformat(first["service"]["window"]["end"])
    assert abs(end - service.deadline) < timedelta(milliseconds=1)  # JSON keeps milliseconds


def test_a_scheduled_window_and_an_eta_window_are_shown(phone, driver, account_a):
    route = build(driver, count=1)
    stop = route.stops.get()
    window = DeliveryWindowFactory(account=account_a)
    Schedule.objects.create(
        account=account_a,
        service=stop.service,
        date=route.date,
        window=window,
        origin=Origin.BACK_OFFICE,
    )
    stop.eta, stop.eta_earliest, stop.eta_latest = at(30), at(20), at(45)
    stop.save()
    data = phone.get(f"/routes/{route.pk}").json()["stops"][0]
    start = datetime.fromisoformat(data["service"]["window"]["start"])
    assert (start.date(), start.hour) == (route.date, 8)
    assert datetime.fromisoformat(data["eta_at"]) == at(30)
    assert datetime.fromisoformat(data["eta_window"]["earliest"]) == at(20)
    assert datetime.fromisoformat(data["eta_window"]["latest"]) == at(45)


def test_routes_of_another_date_and_itinerant_routes(phone, driver, account_a):
    today = account_a.today()
    yesterday = build(driver, count=1, day=today - timedelta(days=1))
    itinerant = build(driver, count=1, day=today - timedelta(days=2))
    itinerant.end_date = today + timedelta(days=1)
    itinerant.save(update_fields=["end_date"])
    asked = phone.get("/routes", date=(today - timedelta(days=1)).isoformat()).json()["items"]
    assert [route["id"] for route in asked] == [itinerant.pk, yesterday.pk]
    today_routes = phone.get("/routes").json()["items"]
    assert [route["id"] for route in today_routes] == [itinerant.pk]
    assert today_routes[0]["end_date"] == itinerant.end_date.isoformat()


@pytest.mark.parametrize("value", ["yesterday", "2030-02-30", "0001-01-01"])
def test_a_bad_date_is_422(phone, value):
    response = phone.get("/routes", date=value)
    assert response.status_code == 422
    assert list(error_of(response)["fields"]) == ["date"]


def test_reading_routes_takes_the_same_queries_for_2_or_20_stops(phone, driver):
    build(driver, count=2)
    phone.get("/routes")  # the device's last-seen time is written once a minute
    with CaptureQueriesContext(connection) as few:
        assert len(phone.get("/routes").json()["items"][0]["stops"]) == 2
    build(driver, count=20)
    phone.get("/routes")
    with CaptureQueriesContext(connection) as many:
        items = phone.get("/routes").json()["items"]
    assert sorted(len(item["stops"]) for item in items) == [2, 20]
    assert len(many.captured_queries) == len(few.captured_queries)


def test_one_route_reads_in_constant_queries(phone, driver, django_assert_max_num_queries):
    route = build(driver, count=20)
    phone.get("/me")
    with django_assert_max_num_queries(5):
        assert len(phone.get(f"/routes/{route.pk}").json()["stops"]) == 20


def test_a_cancelled_route_and_its_cancelled_stops_can_be_read(phone, driver):
    route = build(driver, count=2)
    actions.route_cancel(route=route, actor=Actor.system())
    data = phone.get(f"/routes/{route.pk}").json()
    assert data["status"] == "cancelled"
    assert [stop["status"] for stop in data["stops"]] == ["cancelled", "cancelled"]


def test_someone_elses_route_is_404(phone, colleague, rival):
    for other in (build(colleague), build(rival)):
        response = phone.get(f"/routes/{other.pk}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert phone.get("/routes/999999").status_code == 404
    assert phone.get("/routes/0").status_code == 422


# Starting and finishing a route -----------------------------------------------------------------


def test_the_driver_starts_and_finishes_a_route(phone, route, driver):
    response = phone.post(f"/routes/{route.pk}/start", step(0, lat=-23.55, lng=-46.63))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "in_progress"
    assert datetime.fromisoformat(response.json()["started_at"]) == at(0)
    event = ServiceEvent.objects.filter(data__route="started").first()
    assert event.actor_type == ActorType.DRIVER and event.actor_driver == driver
    assert event.data["point"] == [-23.55, -46.63] and event.recorded_at == at(0)

    response = phone.post(f"/routes/{route.pk}/finish", step(60))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "finished"
    assert [stop["status"] for stop in response.json()["stops"]] == ["cancelled", "cancelled"]


def test_finishing_with_a_stop_under_way_is_409(phone, stop):
    phone.post(f"/stops/{stop.pk}/start", step(5))
    response = phone.post(f"/routes/{stop.route_id}/finish", step(10))
    assert response.status_code == 409
    assert error_of(response)["code"] == "stop_under_way"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "recorded_at"),
        ({"recorded_at": "2026-01-01T10:00:00"}, "recorded_at"),  # no offset
        ({"recorded_at": "soon"}, "recorded_at"),
        (
            {"recorded_at": "2999-01-01T00:00:00+00:00"},
            "recorded_at",
        ),  # the phone's clock is wrong
        (step(0, lat=-91, lng=0), "lat"),
        (step(0, lat=0, lng=181), "lng"),
        (step(0, lat=-23.5), "lng"),
    ],
)
def test_a_bad_step_is_422(phone, route, body, field):
    response = phone.post(f"/routes/{route.pk}/start", body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"
    assert field in error_of(response)["fields"]
    route.refresh_from_db()
    assert route.status == RouteStatus.PLANNED


def test_a_phone_a_little_ahead_of_the_server_is_accepted_not_more(phone, route):
    too_far = (timezone.now() + timedelta(minutes=10)).isoformat()
    assert phone.post(f"/routes/{route.pk}/start", {"recorded_at": too_far}).status_code == 422
    ahead = (timezone.now() + timedelta(minutes=2)).isoformat()
    assert phone.post(f"/routes/{route.pk}/start", {"recorded_at": ahead}).status_code == 200


def test_someone_elses_route_cannot_be_started_or_finished(phone, colleague, rival):
    for other in (build(colleague), build(rival)):
        for action in ("start", "finish"):
            response = phone.post(f"/routes/{other.pk}/{action}", step(0))
            assert response.status_code == 404
        other.refresh_from_db()
        assert other.status == RouteStatus.PLANNED


def test_a_replayed_start_answers_the_first_response(phone, route):
    first = phone.post(f"/routes/{route.pk}/start", step(0), key="start-route")
    events = ServiceEvent.objects.count()
    again = phone.post(f"/routes/{route.pk}/start", step(0), key="start-route")
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert ServiceEvent.objects.count() == events
    # The same key for another request is refused.
    other = phone.post(f"/routes/{route.pk}/finish", step(1), key="start-route")
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency_key_reused"


# Steps at a stop --------------------------------------------------------------------------------


def test_a_stop_is_started_paused_resumed_and_reached(phone, stop):
    for action, minutes, status in (
        ("start", 5, "in_progress"),
        ("pause", 7, "paused"),
        ("resume", 9, "in_progress"),
        ("arrive", 15, "arrived"),
    ):
        response = phone.post(f"/stops/{stop.pk}/{action}", step(minutes, lat=-23.5, lng=-46.6))
        assert response.status_code == 200, (action, response.json())
        assert response.json()["status"] == status
        assert response.json()["id"] == stop.pk
    stop.refresh_from_db()
    assert stop.started_at == at(5) and stop.arrived_at == at(15)
    assert (stop.arrived_lat, stop.arrived_lng) == (-23.5, -46.6)
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.IN_PROGRESS
    event = stop.service.events.filter(to_status=ServiceStatus.PAUSED).get()
    assert event.actor_type == ActorType.DRIVER and event.recorded_at == at(7)


def test_a_stop_of_a_route_not_started_is_409(phone, route):
    stop = route.stops.first()
    response = phone.post(f"/stops/{stop.pk}/start", step(0))
    assert response.status_code == 409
    assert error_of(response)["code"] == "route_not_started"


def test_a_move_the_stop_cannot_make_is_409(phone, stop):
    response = phone.post(f"/stops/{stop.pk}/pause", step(5))
    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_transition"


def test_a_bad_stop_step_is_422(phone, stop):
    for action in ("start", "arrive", "pause", "resume", "complete", "fail"):
        response = phone.post(f"/stops/{stop.pk}/{action}", {"lat": 0, "lng": 0})
        assert response.status_code == 422, action
        assert "recorded_at" in error_of(response)["fields"]
    stop.refresh_from_db()
    assert stop.status == StopStatus.PENDING


def test_someone_elses_stop_is_404(phone, colleague, rival):
    reason = FailureReasonFactory(account=colleague.account)
    for other in (started(build(colleague)), started(build(rival))):
        stop = other.stops.first()
        for action, body in (
            ("start", step(1)),
            ("arrive", step(1)),
            ("pause", step(1)),
            ("resume", step(1)),
            ("complete", step(1)),
            ("fail", step(1, reason_id=reason.pk)),
        ):
            response = phone.post(f"/stops/{stop.pk}/{action}", body)
            assert response.status_code == 404, action
        stop.refresh_from_db()
        assert stop.status == StopStatus.PENDING
    assert phone.post("/stops/999999/start", step(1)).status_code == 404


def test_a_replayed_step_answers_the_first_response_and_records_once(phone, stop):
    phone.post(f"/stops/{stop.pk}/start", step(5))
    first = phone.post(f"/stops/{stop.pk}/arrive", step(10), key="arrive-1")
    events = ServiceEvent.objects.count()
    phone.post(f"/stops/{stop.pk}/complete", step(12))
    again = phone.post(f"/stops/{stop.pk}/arrive", step(10), key="arrive-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert again.json()["status"] == "arrived"  # the first answer, not the stop as it is now
    assert ServiceEvent.objects.count() == events + 1  # the completion only


def test_an_arrival_heard_after_the_completion_is_kept_at_its_time(phone, stop):
    phone.post(f"/stops/{stop.pk}/start", step(50))
    done = phone.post(f"/stops/{stop.pk}/complete", step(65, receiver_name="Ana"))
    assert done.status_code == 200, done.json()

    late = phone.post(f"/stops/{stop.pk}/arrive", step(62, lat=-23.5, lng=-46.6))

    assert late.status_code == 200, late.json()
    assert late.json()["status"] == "done"
    assert datetime.fromisoformat(late.json()["arrived_at"]) == at(62)
    stop.refresh_from_db()
    assert stop.status == StopStatus.DONE
    assert stop.arrived_at == at(62) and stop.left_at == at(65)
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.DONE


# Completing -------------------------------------------------------------------------------------


def test_a_stop_is_completed_with_its_scanned_packages(phone, driver):
    route = started(build(driver, count=1, packages=3))
    stop = route.stops.get()
    first, second, third = stop.service.packages.order_by("pk").values_list("barcode", flat=True)
    add_evidence(stop, EvidenceKind.LABEL, barcodes=[third])
    phone.post(f"/stops/{stop.pk}/start", step(5))

    response = phone.post(
        f"/stops/{stop.pk}/complete",
        step(
            20,
            lat=-23.5,
            lng=-46.6,
            receiver_name=" Maria ",
            receiver_document="123",
            comment="Left with the doorman",
            barcodes=[first],
        ),
    )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "done" and data["missing_packages"] == [second]
    assert datetime.fromisoformat(data["left_at"]) == at(20)
    stop.refresh_from_db()
    assert (stop.receiver_name, stop.receiver_document) == ("Maria", "123")
    assert stop.comment == "Left with the doorman"
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.DONE


def test_an_unknown_barcode_is_422_naming_it(phone, stop):
    mine = stop.service.packages.get().barcode
    other = PackageFactory(account=stop.account).barcode  # another service's package
    response = phone.post(f"/stops/{stop.pk}/complete", step(5, barcodes=[mine, other, "X1"]))
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"barcodes": [other, "X1"]}
    stop.refresh_from_db()
    assert stop.status == StopStatus.PENDING


def test_a_required_signature_must_be_uploaded_first(phone, stop, account_a):
    account_a.signature_required = True
    account_a.save(update_fields=["signature_required"])
    phone.post(f"/stops/{stop.pk}/start", step(5))
    add_evidence(stop, EvidenceKind.PHOTO)  # not a signature

    refused = phone.post(f"/stops/{stop.pk}/complete", step(10))

    assert refused.status_code == 422
    assert error_of(refused)["code"] == "proof_required"
    assert list(error_of(refused)["fields"]) == ["signature"]
    stop.refresh_from_db()
    assert stop.status == StopStatus.IN_PROGRESS

    add_evidence(stop, EvidenceKind.SIGNATURE)
    response = phone.post(f"/stops/{stop.pk}/complete", step(10))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "done"


def test_a_required_photo_can_be_a_label(phone, stop, account_a):
    account_a.signature_required = account_a.photo_required = True
    account_a.save()
    phone.post(f"/stops/{stop.pk}/start", step(5))
    refused = phone.post(f"/stops/{stop.pk}/complete", step(10))
    assert sorted(error_of(refused)["fields"]) == ["photo", "signature"]
    add_evidence(stop, EvidenceKind.SIGNATURE)
    add_evidence(stop, EvidenceKind.LABEL)
    assert phone.post(f"/stops/{stop.pk}/complete", step(10)).status_code == 200


def test_a_replayed_completion_answers_the_first_response(phone, stop):
    phone.post(f"/stops/{stop.pk}/start", step(5))
    first = phone.post(f"/stops/{stop.pk}/complete", step(10, receiver_name="Ana"), key="done-1")
    events = ServiceEvent.objects.count()
    again = phone.post(f"/stops/{stop.pk}/complete", step(10, receiver_name="Ana"), key="done-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert ServiceEvent.objects.count() == events


# Failing ----------------------------------------------------------------------------------------


def test_a_stop_fails_for_one_of_the_accounts_reasons(phone, stop, account_a):
    reason = FailureReasonFactory(account=account_a, description="Nobody home")
    phone.post(f"/stops/{stop.pk}/start", step(5))
    response = phone.post(f"/stops/{stop.pk}/fail", step(10, reason_id=reason.pk))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "failed"
    stop.refresh_from_db()
    assert stop.failure_reason == reason and stop.left_at == at(10)
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.FAILED
    assert not Conversation.objects.exists()


def test_an_unusable_reason_is_422(phone, stop, account_a, account_b):
    inactive = FailureReasonFactory(account=account_a, is_active=False)
    foreign = FailureReasonFactory(account=account_b)
    phone.post(f"/stops/{stop.pk}/start", step(5))
    for reason_id in (inactive.pk, foreign.pk, 999999):
        response = phone.post(f"/stops/{stop.pk}/fail", step(10, reason_id=reason_id))
        assert response.status_code == 422
        assert list(error_of(response)["fields"]) == ["reason_id"]
    missing = phone.post(f"/stops/{stop.pk}/fail", step(10))
    assert missing.status_code == 422 and "reason_id" in error_of(missing)["fields"]
    stop.refresh_from_db()
    assert stop.status == StopStatus.IN_PROGRESS


def test_a_reason_that_requires_a_description_is_422_without_one(phone, stop, account_a):
    reason = FailureReasonFactory(account=account_a, requires_description=True)
    phone.post(f"/stops/{stop.pk}/start", step(5))
    response = phone.post(f"/stops/{stop.pk}/fail", step(10, reason_id=reason.pk, description="  "))
    assert response.status_code == 422
    assert list(error_of(response)["fields"]) == ["description"]
    described = phone.post(
        f"/stops/{stop.pk}/fail", step(10, reason_id=reason.pk, description="Gate locked")
    )
    assert described.status_code == 200


def test_a_reason_that_opens_a_chat_posts_why_to_support(phone, stop, account_a):
    reason = FailureReasonFactory(
        account=account_a, description="Address not found", opens_chat=True
    )
    phone.post(f"/stops/{stop.pk}/start", step(5))
    body = step(10, reason_id=reason.pk, description="No number 120 on this street")

    response = phone.post(f"/stops/{stop.pk}/fail", body, key="fail-1")
    again = phone.post(f"/stops/{stop.pk}/fail", body, key="fail-1")
    retried = phone.post(f"/stops/{stop.pk}/fail", body)  # a retry without a key

    assert response.status_code == again.status_code == retried.status_code == 200
    assert again.json() == response.json()
    conversation = Conversation.objects.get()
    assert (conversation.route_id, conversation.stop_id) == (stop.route_id, stop.pk)
    assert conversation.last_message_at is not None
    message = Message.objects.get()
    assert message.author == MessageAuthor.SYSTEM
    assert "Address not found" in message.text and "No number 120" in message.text


# The account's lists ----------------------------------------------------------------------------


def test_the_accounts_active_failure_reasons(phone, account_a, account_b):
    chat = FailureReasonFactory(
        account=account_a,
        description="Address not found",
        opens_chat=True,
        requires_description=True,
    )
    FailureReasonFactory(account=account_a, description="Old", is_active=False)
    FailureReasonFactory(account=account_b, description="Rival's")
    response = phone.get("/failure-reasons")
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "id": chat.pk,
                "description": "Address not found",
                "opens_chat": True,
                "requires_description": True,
            },
        ]
    }


def test_the_accounts_active_chat_ticket_types(phone, account_a, account_b):
    back = ChatTicketTypeFactory(
        account=account_a, description="Customer came back", reversible=True
    )
    ChatTicketTypeFactory(account=account_a, description="Old", is_active=False)
    ChatTicketTypeFactory(account=account_b, description="Rival's")
    response = phone.get("/chat-ticket-types")
    assert response.status_code == 200
    assert response.json() == {
        "items": [{"id": back.pk, "description": "Customer came back", "reversible": True}]
    }


# The document -----------------------------------------------------------------------------------


def test_the_openapi_document_validates(client):
    response = client.get(f"{URL}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    paths = set(document["paths"])
    assert {
        f"{URL}/auth/token",
        f"{URL}/auth/revoke",
        f"{URL}/me",
        f"{URL}/routes",
        f"{URL}/routes/{{route_id}}",
        f"{URL}/routes/{{route_id}}/start",
        f"{URL}/stops/{{stop_id}}/complete",
        f"{URL}/stops/{{stop_id}}/fail",
        f"{URL}/failure-reasons",
        f"{URL}/chat-ticket-types",
        f"{URL}/chat/messages",
    } <= paths
    assert "security" not in document["paths"][f"{URL}/auth/token"]["post"]
    assert document["paths"][f"{URL}/me"]["get"]["security"]
