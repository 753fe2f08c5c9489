"""The API mounts: each serves its OpenAPI document, and errors share one shape."""

import pytest
from ninja.testing import TestClient

from tracking.api import build_api
from tracking.lib.errors import Conflict, NotFound

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/api/v1/openapi.json", "Last Mile integration API"),
        ("/api/driver/v1/openapi.json", "Last Mile driver API"),
    ],
)
def test_each_api_serves_its_openapi_document(client, url, title):
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["info"]["title"] == title


@pytest.fixture
def api_client():
    from ninja import Schema

    api = build_api(title="probe", version="test", urls_namespace="probe")

    class Payload(Schema):
        quantity: int

    @api.post("/things")
    def create_thing(request, payload: Payload):
        if payload.quantity > 10:
            raise Conflict("Too many things.", code="too_many", fields={"quantity": ["max 10"]})
        return {"quantity": payload.quantity}

    @api.get("/things/{thing_id}")
    def get_thing(request, thing_id: int):
        raise NotFound("No such thing.")

    return TestClient(api)


def test_validation_errors_use_the_error_shape(api_client):
    response = api_client.post("/things", json={"quantity": "many"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["quantity"]


def test_domain_errors_use_the_error_shape(api_client):
    response = api_client.post("/things", json={"quantity": 11})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "too_many",
            "message": "Too many things.",
            "fields": {"quantity": ["max 10"]},
        }
    }
    assert api_client.get("/things/1").json()["error"]["code"] == "not_found"
