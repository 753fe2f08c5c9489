"""Regressions of the integration API found by fuzzing it from its OpenAPI document
(tests/api_fuzz): each answer in the one error shape, with a status the document declares."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.apikeys import api_key_create
from services.models import ServiceStatus
from tests.factories import ServiceFactory
from tracking.api import integration_api

pytestmark = pytest.mark.django_db

URL = "/api/v1/services"
# Python and pydantic read offsets up to ±23:59; PostgreSQL refuses those beyond ±15:59.
NO_SUCH_OFFSET = timezone.get_fixed_timezone(18 * 60)


@pytest.fixture
def headers(account_a):
    _key, raw = api_key_create(account=account_a, name="Shop ERP")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def service(account_a):
    return ServiceFactory(account=account_a, external_id="ORD-1")


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def documented(method, path):
    document = integration_api.get_openapi_schema()
    return {str(status) for status in document["paths"][path][method]["responses"]}


def test_a_body_that_is_not_json_is_a_documented_400(client, headers, service):
    response = client.patch(
        f"{URL}/{service.pk}", b"{not json", content_type="application/json", **headers
    )
    assert error_of(response, 400)["code"] == "http_400"
    assert "400" in documented("patch", "/api/v1/services/{service_id}")
    assert "400" in documented("post", "/api/v1/services")


@pytest.mark.parametrize("body", ["5", '"no"', "[]", "true", "null"])
def test_a_json_body_that_is_not_an_object_does_not_cancel(client, headers, service, body):
    # It was read as `{}`: the service was cancelled (200) whatever the body said.
    response = client.post(
        f"{URL}/{service.pk}/cancel", body, content_type="application/json", **headers
    )
    error = error_of(response, 422)
    assert error["code"] == "invalid"
    assert error["fields"] == {"__all__": ["Send a JSON object."]}
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING


def test_a_change_that_is_not_an_object_is_refused(client, headers, service):
    response = client.patch(
        f"{URL}/{service.pk}", '"ORD-2"', content_type="application/json", **headers
    )
    assert error_of(response, 422)["fields"] == {"__all__": ["Send a JSON object."]}


def test_a_deadline_at_an_offset_no_place_has_is_refused(client, headers, service):
    # On PostgreSQL storing it was a 500 ("time zone displacement out of range").
    deadline = (timezone.now() + timedelta(days=1)).astimezone(NO_SUCH_OFFSET)
    response = client.patch(
        f"{URL}/{service.pk}",
        {"deadline": deadline.isoformat()},
        content_type="application/json",
        **headers,
    )
    assert list(error_of(response, 422)["fields"]) == ["deadline"]
    service.refresh_from_db()
    assert service.deadline != deadline


def test_a_list_since_an_offset_no_place_has_is_refused(client, headers, service):
    # On PostgreSQL the query was a 500.
    since = (timezone.now() - timedelta(days=1)).astimezone(NO_SUCH_OFFSET)
    response = client.get(URL, {"updated_since": since.isoformat()}, **headers)
    assert list(error_of(response, 422)["fields"]) == ["updated_since"]


def test_the_real_extremes_of_offsets_are_accepted(client, headers, service):
    for hours in (14, -12):
        since = timezone.now().astimezone(timezone.get_fixed_timezone(hours * 60)) - timedelta(
            days=1
        )
        response = client.get(URL, {"updated_since": since.isoformat()}, **headers)
        assert response.status_code == 200, response.content
        assert [row["id"] for row in response.json()["results"]] == [service.pk]


@pytest.mark.parametrize(
    ("field", "value"),
    [("customer", 5), ("address", "Av. Paulista"), ("invoice", "NF-1"), ("invoice", []),
     ("packages", [7])],
)  # fmt: skip
def test_a_nested_value_that_is_not_an_object_is_refused(client, headers, service, field, value):
    # ninja's Schema read attributes of anything: `"invoice": "NF-1"` cleared the invoice (200).
    service.invoice_number = "NF-0"
    service.save(update_fields=["invoice_number"])
    response = client.patch(
        f"{URL}/{service.pk}", {field: value}, content_type="application/json", **headers
    )
    fields = error_of(response, 422)["fields"]
    assert [name.split(".")[0] for name in fields] == [field]
    service.refresh_from_db()
    assert service.invoice_number == "NF-0"
