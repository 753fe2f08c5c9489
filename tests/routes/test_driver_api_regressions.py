"""Regressions of the driver API found by fuzzing it from its OpenAPI document (tests/api_fuzz):
each answer in the one error shape, with a status the document declares."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.devices import device_login
from routes import actions
from routes.models import RouteStatus, StopStatus
from services.actions import Actor
from tests.factories import PASSWORD, DriverFactory, ServiceFactory
from tracking.api import driver_api

pytestmark = pytest.mark.django_db

URL = "/api/driver/v1"
# Python and pydantic read offsets up to ±23:59; PostgreSQL refuses those beyond ±15:59.
NO_SUCH_OFFSET = timezone.get_fixed_timezone(18 * 60)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


@pytest.fixture
def headers(driver):
    _device, token = device_login(login=driver.login, password=PASSWORD, device_id="phone-1")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def route(driver):
    services = [ServiceFactory(account=driver.account) for _ in range(2)]
    return actions.route_create(
        account=driver.account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=driver.account.today(),
        services=services,
    )


def post(client, path, body, headers):
    return client.post(URL + path, body, content_type="application/json", **headers)


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_a_body_that_is_not_json_is_a_documented_400(client, headers, route):
    response = post(client, f"/routes/{route.pk}/start", b'{"recorded_at": ', headers)
    assert error_of(response, 400)["code"] == "http_400"
    document = driver_api.get_openapi_schema()
    for path in ("/api/driver/v1/routes/{route_id}/start", "/api/driver/v1/auth/token"):
        assert 400 in document["paths"][path]["post"]["responses"]
    route.refresh_from_db()
    assert route.status == RouteStatus.PLANNED


def test_a_step_at_an_offset_no_place_has_is_refused(client, headers, route):
    # On PostgreSQL storing it was a 500 ("time zone displacement out of range").
    recorded_at = (timezone.now() - timedelta(hours=1)).astimezone(NO_SUCH_OFFSET)
    response = post(
        client, f"/routes/{route.pk}/start", {"recorded_at": recorded_at.isoformat()}, headers
    )
    assert list(error_of(response, 422)["fields"]) == ["recorded_at"]
    route.refresh_from_db()
    assert route.status == RouteStatus.PLANNED


def test_an_outcome_at_an_offset_no_place_has_is_refused(client, headers, route):
    earlier = timezone.now() - timedelta(hours=2)
    actions.route_start(route=route, actor=Actor.system(), recorded_at=earlier)
    stop = route.stops.get(sequence=1)
    actions.stop_change_status(
        stop=stop, to_status=StopStatus.IN_PROGRESS, actor=Actor.system(), recorded_at=earlier
    )
    recorded_at = (timezone.now() - timedelta(hours=1)).astimezone(NO_SUCH_OFFSET)
    response = post(
        client, f"/stops/{stop.pk}/complete", {"recorded_at": recorded_at.isoformat()}, headers
    )
    assert list(error_of(response, 422)["fields"]) == ["recorded_at"]
    stop.refresh_from_db()
    assert stop.status == StopStatus.IN_PROGRESS


def test_a_step_at_the_real_extremes_of_offsets_is_kept(client, headers, route):
    recorded_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    at_kiritimati = recorded_at.astimezone(timezone.get_fixed_timezone(14 * 60))
    response = post(
        client, f"/routes/{route.pk}/start", {"recorded_at": at_kiritimati.isoformat()}, headers
    )
    assert response.status_code == 200, response.content
    route.refresh_from_db()
    assert route.started_at == recorded_at
