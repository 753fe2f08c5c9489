"""Regressions of the driver API's positions found by fuzzing it from its OpenAPI document
(tests/api_fuzz)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.devices import device_login
from routes.models import Position
from tests.factories import PASSWORD, DriverFactory

pytestmark = pytest.mark.django_db

URL = "/api/driver/v1/positions"
PAULISTA = (-23.5614, -46.6559)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


@pytest.fixture
def headers(driver):
    _device, token = device_login(login=driver.login, password=PASSWORD, device_id="phone-1")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def send(client, headers, *times):
    lat, lng = PAULISTA
    points = [{"recorded_at": when, "lat": lat, "lng": lng} for when in times]
    return client.post(URL, {"positions": points}, content_type="application/json", **headers)


def test_a_point_at_an_offset_no_place_has_is_refused(client, headers):
    # Python reads offsets up to ±23:59; on PostgreSQL storing +18:00 was a 500.
    recent = timezone.now() - timedelta(minutes=5)
    at = recent.astimezone(timezone.get_fixed_timezone(18 * 60))
    response = send(client, headers, at.isoformat())
    assert response.status_code == 422, response.content
    assert list(response.json()["error"]["fields"]) == ["positions.0.recorded_at"]
    assert not Position.objects.exists()


def test_points_at_the_real_extremes_of_offsets_are_stored(client, headers):
    recent = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    response = send(
        client,
        headers,
        recent.astimezone(timezone.get_fixed_timezone(14 * 60)).isoformat(),
        (recent - timedelta(minutes=1))
        .astimezone(timezone.get_fixed_timezone(-12 * 60))
        .isoformat(),
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": 0}


def test_a_point_of_a_far_off_year_is_still_counted_as_rejected(client, headers):
    # Only the offset is checked up front: an impossible time stays a rejected point.
    response = send(client, headers, "0001-01-01T00:00:00+01:00")
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": 1}
