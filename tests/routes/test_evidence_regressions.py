"""Regressions of the driver API's evidence found by fuzzing it from its OpenAPI document
(tests/api_fuzz)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.devices import device_login
from routes import actions
from routes.models import Evidence
from services.actions import Actor
from tests.factories import PASSWORD, DriverFactory, ServiceFactory
from tracking.api import driver_api

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


@pytest.fixture
def headers(driver):
    _device, token = device_login(login=driver.login, password=PASSWORD, device_id="phone-1")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def stop(driver):
    route = actions.route_create(
        account=driver.account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=driver.account.today(),
        services=[ServiceFactory(account=driver.account)],
    )
    actions.route_start(route=route, actor=Actor.system())
    return route.stops.get()


def png():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return SimpleUploadedFile("proof.png", buffer.getvalue(), content_type="image/png")


def send(client, headers, stop, recorded_at):
    data = {"kind": "photo", "recorded_at": recorded_at, "file": png()}
    return client.post(f"/api/driver/v1/stops/{stop.pk}/evidence", data, **headers)


@pytest.mark.parametrize(
    "recorded_at",
    [
        # Converting it to UTC overflowed on SQLite: a 500.
        "0001-01-01T00:00:00+01:00",
        # PostgreSQL refuses an offset beyond ±15:59: a 500.
        timezone.now().astimezone(timezone.get_fixed_timezone(18 * 60)).isoformat(),
    ],
)
def test_a_time_that_cannot_be_stored_is_refused(client, headers, stop, recorded_at):
    response = send(client, headers, stop, recorded_at)
    assert response.status_code == 422, response.content
    assert list(response.json()["error"]["fields"]) == ["recorded_at"]
    assert not Evidence.objects.exists()


def test_the_document_says_the_file_is_required():
    # It said optional: a request without one is always refused (422, code file_required).
    document = driver_api.get_openapi_schema()
    body = document["paths"]["/api/driver/v1/stops/{stop_id}/evidence"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert set(schema["required"]) == {"kind", "recorded_at", "file"}
    assert "file" in schema["properties"]
