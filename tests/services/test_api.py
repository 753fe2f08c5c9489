"""The integration API's services: create (one or many), list, read, change and cancel, each scoped
to the calling key's account, idempotent, and answering errors in the one error shape."""

import copy
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openapi_spec_validator import validate

from accounts.apikeys import api_key_create
from accounts.models import Customer
from services.actions import Actor, service_create
from services.models import ActorType, EventKind, Service, ServiceEvent, ServiceStatus
from tests.factories import (
    AgencyFactory,
    BranchFactory,
    CarrierFactory,
    CustomerFactory,
    PartnerFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/services"

SERVICE = {
    "external_id": "ORD-1001",
    "type": "delivery",
    "customer": {
        "name": "Maria Silva",
        "document": "529.982.247-25",
        "email": "maria@example.com",
        "phone": "+5511987654321",
        "external_code": "C-77",
    },
    "address": {
        "street": "Avenida Paulista",
        "number": "1578",
        "complement": "ap 12",
        "neighborhood": "Bela Vista",
        "city": "São Paulo",
        "state": "SP",
        "postal_code": "01310-200",
        "country": "BR",
        "lat": -23.5614,
        "lng": -46.6559,
    },
    "order_number": "1001",
    "invoice": {"number": "12345", "series": "1"},
    "description": "2 boxes",
    "weight_kg": 3.5,
    "volume_m3": 0.02,
    "value": "199.90",
    "service_time_min": 5,
    "deadline": "2026-12-01T18:00:00-03:00",
    "packages": [{"barcode": "PKG-1001-1"}, {"barcode": "PKG-1001-2"}],
    "branch": "SP-01",
}


def service_data(external_id="ORD-1001", **changes):
    data = copy.deepcopy(SERVICE)
    data["external_id"] = external_id
    data["packages"] = [{"barcode": f"{external_id}-1"}]
    for key, value in changes.items():
        if "__" in key:
            part, field = key.split("__")
            data[part][field] = value
        else:
            data[key] = value
    return data


class Api:
    """The test client speaking JSON with one API key."""

    def __init__(self, client, raw_key):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}

    def get(self, path="", **params):
        return self.client.get(URL + path, params, **self.headers)

    def post(self, path="", data=None, key=None):
        return self.client.post(
            URL + path, data, content_type="application/json", **self._with(key)
        )

    def patch(self, path, data, key=None):
        return self.client.patch(
            URL + path, data, content_type="application/json", **self._with(key)
        )

    def _with(self, idempotency_key):
        if idempotency_key is None:
            return self.headers
        return {**self.headers, "HTTP_IDEMPOTENCY_KEY": idempotency_key}


@pytest.fixture
def branch_a(account_a):
    return BranchFactory(account=account_a, name="São Paulo - Centro", prefix="SP-01")


@pytest.fixture
def api_a(client, account_a, manager_a, branch_a):
    _key, raw = api_key_create(account=account_a, name="Shop ERP", created_by=manager_a)
    return Api(client, raw)


@pytest.fixture
def api_b(client, account_b):
    _key, raw = api_key_create(account=account_b, name="Rival ERP")
    return Api(client, raw)


def make_service(account, external_id, barcodes=("A",), **values):
    """A service created as an integration would, with its packages and `created` event."""
    return service_create(
        account=account,
        actor=Actor.integration("setup"),
        values={
            "customer": CustomerFactory(account=account),
            "external_id": external_id,
            "street": "Rua Augusta",
            "city": "São Paulo",
            **values,
        },
        packages=[{"barcode": f"{external_id}-{barcode}"} for barcode in barcodes],
    )


def fields_of(response):
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]["fields"]


# Create -----------------------------------------------------------------------------------------


def test_create_answers_201_with_the_service_as_get_returns_it(
    api_a, account_a, branch_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(data=SERVICE)
    assert response.status_code == 201
    body = response.json()
    assert body == api_a.get(f"/{body['id']}").json()

    service = Service.objects.get(pk=body["id"])
    assert service.account == account_a and service.branch == branch_a
    assert service.status == ServiceStatus.PENDING
    assert body["status"] == "pending"
    assert body["tracking_url"].endswith(f"/t/{service.tracking_token}")
    assert body["customer"]["document"] == "52998224725"
    assert body["customer"]["phone"] == "+5511987654321"
    assert body["address"] == SERVICE["address"]
    assert body["invoice"] == {"number": "12345", "series": "1"}
    assert (body["weight_kg"], body["volume_m3"], body["value"]) == (3.5, 0.02, "199.90")
    assert body["deadline"] == "2026-12-01T18:00:00-03:00"  # the account's time zone
    assert body["branch"] == "SP-01"
    assert [package["barcode"] for package in body["packages"]] == ["PKG-1001-1", "PKG-1001-2"]
    assert body["attempts"] == [] and body["evidence"] == []
    [event] = body["events"]
    assert event["kind"] == "created" and event["to_status"] == "pending"
    assert event["actor_type"] == "integration" and event["actor"] == "Shop ERP"
    # The event was dispatched after commit, as every write's is.
    assert ServiceEvent.objects.get(pk=event["id"]).dispatched_at is not None


def test_branch_partner_carrier_and_agency_are_found_by_name_or_document(api_a, account_a):
    BranchFactory(account=account_a, name="Campinas", prefix="CPS")
    partner = PartnerFactory(account=account_a, name="Loja Moda", document="45723174000110")
    carrier = CarrierFactory(account=account_a, name="Frota Ltda", document="33444555000102")
    agency = AgencyFactory(account=account_a, name="Acme")
    response = api_a.post(
        data=service_data(
            branch="campinas", partner="45.723.174/0001-10", carrier="Frota Ltda", agency="acme"
        )
    )
    assert response.status_code == 201, response.json()
    service = Service.objects.get(pk=response.json()["id"])
    assert service.branch.name == "Campinas"
    assert (service.partner, service.carrier, service.agency) == (partner, carrier, agency)
    assert response.json()["partner"] == "Loja Moda"


def test_unknown_or_foreign_branch_is_422_naming_the_field(api_a, account_b):
    BranchFactory(account=account_b, name="Rival", prefix="RV")
    for branch in ("Nowhere", "RV"):
        response = api_a.post(data=service_data(branch=branch))
        assert response.status_code == 422
        assert list(fields_of(response)) == ["branch"]
    assert not Service.objects.exists()


@pytest.mark.parametrize(
    "match",
    [
        {"external_code": "C-77"},
        {"document": "52998224725"},
        {"email": "MARIA@example.com"},
    ],
)
def test_an_existing_customer_is_found_not_duplicated(api_a, account_a, match):
    customer = CustomerFactory(account=account_a, name="M. Silva", **match)
    data = service_data()
    # E-mails match whatever their case.
    data["customer"] = {
        "name": "Maria Silva",
        **{k: v.replace("MARIA", "maria") for k, v in match.items()},
    }
    response = api_a.post(data=data)
    assert response.status_code == 201
    assert response.json()["customer"]["id"] == customer.pk
    assert Customer.objects.filter(account=account_a).count() == 1
    customer.refresh_from_db()
    assert customer.name == "Maria Silva"


def test_a_new_customer_needs_a_name(api_a):
    response = api_a.post(data=service_data(customer={"external_code": "NEW"}))
    assert response.status_code == 422
    assert list(fields_of(response)) == ["customer.name"]
    assert not Customer.objects.exists() and not Service.objects.exists()


def test_a_repeated_external_id_returns_the_existing_service(api_a):
    first = api_a.post(data=SERVICE)
    changed = service_data("ORD-1001", description="something else")
    repeat = api_a.post(data=changed)
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json()["id"] == first.json()["id"]
    assert repeat.json()["description"] == "2 boxes"  # unchanged: PATCH changes a service
    assert Service.objects.count() == 1
    assert ServiceEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer__document": "123.456.789-00"}, "customer.document"),
        ({"customer__phone": "12345"}, "customer.phone"),
        ({"customer__email": "not-an-email"}, "customer.email"),
        ({"address__postal_code": "1310-20"}, "address.postal_code"),
        ({"address__state": "XX"}, "address.state"),
        ({"address__lat": -95}, "address.lat"),
        ({"address__lng": 181}, "address.lng"),
        ({"address__street": ""}, "address.street"),
        ({"deadline": "2026-12-01T18:00:00"}, "deadline"),
        ({"deadline": "9999-12-31T23:00:00-03:00"}, "deadline"),
        ({"type": "teleport"}, "type"),
        ({"service_time_min": None}, "service_time_min"),
        ({"value": "-1"}, "value"),
        ({"weight_kg": 1.23456}, "weight_kg"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "X" * 81}, "external_id"),
        ({"packages": [{"barcode": "A"}, {"barcode": ""}]}, "packages.1.barcode"),
        ({"packages": [{"barcode": "A"}, {"barcode": "A"}]}, "packages.1.barcode"),
    ],
)
def test_invalid_fields_are_422_with_their_dotted_path(api_a, changes, field):
    response = api_a.post(data=service_data(**changes))
    assert response.status_code == 422
    assert field in fields_of(response)
    assert not Service.objects.exists()


def test_optional_fields_may_be_null_or_left_out(api_a):
    data = service_data(description=None, deadline=None, invoice=None, weight_kg=None, branch=None)
    data["address"] = {"street": "Rua Augusta", "city": "São Paulo", "country": None}
    del data["type"], data["service_time_min"]
    response = api_a.post(data=data)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["description"], body["deadline"], body["weight_kg"], body["branch"]) == (
        "",
        None,
        None,
        None,
    )
    assert body["invoice"] == {"number": "", "series": ""}
    assert (body["type"], body["service_time_min"]) == ("delivery", 5)
    assert body["address"]["country"] == "BR" and body["address"]["lat"] is None


def test_a_phone_without_country_code_is_read_in_the_accounts_country(api_a):
    response = api_a.post(data=service_data(customer__phone="(11) 98765-4321"))
    assert response.json()["customer"]["phone"] == "+5511987654321"


def test_a_foreign_address_skips_the_brazilian_checks(api_a):
    response = api_a.post(
        data=service_data(address__country="pt", address__state="", address__postal_code="1100-148")
    )
    assert response.status_code == 201
    assert response.json()["address"]["country"] == "PT"


def test_coordinates_come_in_pairs(api_a):
    data = service_data()
    del data["address"]["lng"]
    response = api_a.post(data=data)
    assert response.status_code == 422
    assert list(fields_of(response)) == ["address"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (service_data(customer__name="Maria\x00Silva"), "customer.name"),
        ({**service_data(), "external_id": "ORD\x00"}, "external_id"),
        (service_data(packages=[{"barcode": "PKG\x001"}]), "packages.0.barcode"),
        (service_data(address__street="Rua\x00"), "address.street"),
    ],
)
def test_nul_characters_are_422_naming_the_field_not_500(api_a, data, field):
    response = api_a.post(data=data)
    assert response.status_code == 422
    assert fields_of(response) == {field: ["Text cannot contain NUL characters."]}
    assert not Service.objects.exists()


def test_text_that_is_not_unicode_is_422_not_500(api_a):
    body = '{"external_id": "ORD-\\ud800", "customer": {"name": "M"}, "address": {}}'
    response = api_a.client.post(URL, body, content_type="application/json", **api_a.headers)
    assert response.status_code == 422
    assert "external_id" in fields_of(response)


def test_nul_in_bulk_items_queries_and_changes_is_refused(api_a, account_a):
    response = api_a.post(data={"services": [service_data(description="a\x00b")]})
    assert response.json()["results"][0]["error"]["fields"] == {
        "description": ["Text cannot contain NUL characters."]
    }
    assert api_a.get(external_id="ORD\x00").status_code == 422
    service = make_service(account_a, "N-1")
    assert api_a.patch(f"/{service.pk}", {"order_number": "\x00"}).status_code == 422
    assert api_a.post(f"/{service.pk}/cancel", {"note": "\x00"}).status_code == 422


def test_a_body_that_is_not_a_service_is_422(api_a):
    for body in ([1, 2], "", '"text"'):
        response = api_a.client.post(URL, body, content_type="application/json", **api_a.headers)
        assert response.status_code == 422
        assert list(fields_of(response)) == ["__all__"]
    response = api_a.post(data={})
    assert response.status_code == 422
    assert {"external_id", "customer", "address"} <= set(fields_of(response))


# Bulk -------------------------------------------------------------------------------------------


def test_bulk_creates_the_valid_items_and_reports_each_invalid_one(api_a, account_a):
    existing = make_service(account_a, "ORD-0")
    items = [
        service_data("ORD-1"),
        service_data("ORD-2", customer__document="111.111.111-11"),
        service_data("ORD-0"),
        service_data("ORD-3", packages=[{"barcode": "X"}, {"barcode": "X"}]),
        service_data("ORD-4", branch="Nowhere"),
        "not a service",
        service_data("ORD-5", address__postal_code="123"),
        service_data("ORD-6"),
        service_data("ORD-1"),
    ]
    response = api_a.post(data={"services": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["index"] for result in results] == list(range(len(items)))
    created = {result["index"]: result for result in results if "status" in result}
    errors = {result["index"]: result["error"] for result in results if "error" in result}
    assert {index: result["status"] for index, result in created.items()} == {
        0: "created",
        2: "existing",
        7: "created",
        8: "existing",
    }
    assert created[2]["id"] == existing.pk
    assert created[8]["id"] == created[0]["id"]
    assert {index: list(error["fields"]) for index, error in errors.items()} == {
        1: ["customer.document"],
        3: ["packages.1.barcode"],
        4: ["branch"],
        5: ["__all__"],
        6: ["address.postal_code"],
    }
    assert all(error["code"] == "invalid" and error["message"] for error in errors.values())
    assert set(Service.objects.values_list("external_id", flat=True)) == {
        "ORD-0",
        "ORD-1",
        "ORD-6",
    }


@pytest.mark.parametrize("count", [0, 501])
def test_bulk_takes_1_to_500_services(api_a, count):
    response = api_a.post(data={"services": [service_data(f"O-{n}") for n in range(count)]})
    assert response.status_code == 422
    assert list(fields_of(response)) == ["services"]
    assert not Service.objects.exists()


def test_bulk_of_500_is_accepted(api_a):
    items = [{**service_data(f"O-{n}"), "packages": []} for n in range(500)]
    response = api_a.post(data={"services": items})
    assert response.status_code == 200
    assert {result["status"] for result in response.json()["results"]} == {"created"}
    assert Service.objects.count() == 500


# Idempotency-Key --------------------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_response_and_does_nothing_twice(api_a):
    first = api_a.post(data=SERVICE, key="create-1")
    replay = api_a.post(data=SERVICE, key="create-1")
    # The replay is the first answer (201), not the "already exists" one (200).
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    service_id = first.json()["id"]

    patched = api_a.patch(f"/{service_id}", {"description": "3 boxes"}, key="patch-1")
    api_a.patch(f"/{service_id}", {"description": "4 boxes"})
    again = api_a.patch(f"/{service_id}", {"description": "3 boxes"}, key="patch-1")
    assert again.status_code == 200 and again.json() == patched.json()
    assert Service.objects.get().description == "4 boxes"  # the replay changed nothing
    kinds = list(ServiceEvent.objects.values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.UPDATED, EventKind.UPDATED]


def test_the_same_idempotency_key_with_another_body_is_422(api_a):
    api_a.post(data=SERVICE, key="k-1")
    response = api_a.post(data=service_data("ORD-2"), key="k-1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Service.objects.count() == 1


def test_idempotency_keys_of_two_accounts_do_not_meet(api_a, api_b, branch_a, account_b):
    BranchFactory(account=account_b, prefix="SP-01")
    assert api_a.post(data=SERVICE, key="same").status_code == 201
    response = api_b.post(data=SERVICE, key="same")
    assert response.status_code == 201
    assert Service.objects.filter(account=account_b).count() == 1


# List and detail --------------------------------------------------------------------------------


def test_list_pages_with_a_cursor_in_order_of_change(api_a, account_a, account_b):
    services = [make_service(account_a, f"S-{n}") for n in range(5)]
    make_service(account_b, "THEIRS")
    # The oldest change comes first: touching S-0 moves it to the end.
    api_a.patch(f"/{services[0].pk}", {"description": "changed"})
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api_a.get(**params).json()
        seen += [result["external_id"] for result in body["results"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["S-1", "S-2", "S-3", "S-4", "S-0"]
    assert pages == 3


def test_list_filters(api_a, account_a):
    old = make_service(account_a, "OLD")
    Service.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    make_service(account_a, "NEW")
    cancelled = make_service(account_a, "GONE")
    api_a.post(f"/{cancelled.pk}/cancel")

    def ids(**params):
        response = api_a.get(**params)
        assert response.status_code == 200
        return [result["external_id"] for result in response.json()["results"]]

    assert ids() == ["OLD", "NEW", "GONE"]
    assert ids(status="cancelled") == ["GONE"]
    assert ids(status="pending") == ["OLD", "NEW"]
    assert ids(external_id="NEW") == ["NEW"]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(updated_since=since) == ["NEW", "GONE"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 201},
        {"limit": 0},
        {"status": "lost"},
        {"cursor": "not-a-cursor"},
        {"updated_since": "2026-01-01T00:00:00"},
        {"updated_since": "0001-01-01T00:00:00+03:00"},
    ],
)
def test_list_refuses_bad_parameters_with_422(api_a, params):
    response = api_a.get(**params)
    assert response.status_code == 422
    assert fields_of(response)


def test_list_runs_the_same_queries_whatever_the_page_size(api_a, account_a):
    for n in range(12):
        service = make_service(account_a, f"S-{n}", barcodes=("A", "B"))
        api_a.post(f"/{service.pk}/cancel", {"note": "no longer needed"})
    api_a.get(limit=1)  # the key's last use is recorded once a minute at most

    counts = {}
    for limit in (1, 5, 12):
        with CaptureQueriesContext(connection) as queries:
            response = api_a.get(limit=limit)
        assert len(response.json()["results"]) == limit
        counts[limit] = len(queries)
    assert counts[1] == counts[5] == counts[12] <= 4
    result = response.json()["results"][0]
    assert len(result["packages"]) == 2
    assert [event["kind"] for event in result["events"]] == ["created", "status"]


def test_detail_of_another_accounts_service_is_404(api_a, account_b):
    theirs = make_service(account_b, "THEIRS")
    response = api_a.get(f"/{theirs.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_a.get("/999999").status_code == 404


# Cancel -----------------------------------------------------------------------------------------


def test_cancel_records_the_integration_and_the_note(api_a, account_a):
    service = make_service(account_a, "C-1")
    response = api_a.post(f"/{service.pk}/cancel", {"note": "customer gave up"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    event = response.json()["events"][-1]
    assert (event["from_status"], event["to_status"]) == ("pending", "cancelled")
    assert (event["actor_type"], event["actor"]) == (ActorType.INTEGRATION, "Shop ERP")
    assert event["note"] == "customer gave up" and event["reason"] is None
    # Again: nothing more happens.
    assert api_a.post(f"/{service.pk}/cancel").status_code == 200
    assert service.events.count() == 2


def test_a_done_service_cannot_be_cancelled(api_a, account_a):
    service = ServiceFactory(account=account_a, status=ServiceStatus.DONE)
    response = api_a.post(f"/{service.pk}/cancel", {"note": "too late"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    service.refresh_from_db()
    assert service.status == ServiceStatus.DONE


# Change -----------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(api_a, account_a):
    created = api_a.post(data=SERVICE).json()
    response = api_a.patch(
        f"/{created['id']}",
        {
            "address": {"number": "1600", "postal_code": "01310200"},
            "deadline": None,
            "packages": [{"barcode": "PKG-1001-2"}, {"barcode": "PKG-1001-3"}],
            "customer": {"external_code": "C-78", "name": "João Souza"},
            "invoice": {"series": "2"},
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["address"] == {**SERVICE["address"], "number": "1600"}
    assert body["deadline"] is None
    assert body["invoice"] == {"number": "12345", "series": "2"}
    assert [package["barcode"] for package in body["packages"]] == ["PKG-1001-2", "PKG-1001-3"]
    assert body["customer"]["name"] == "João Souza" and body["customer"]["id"] != created["id"]
    assert body["description"] == "2 boxes" and body["branch"] == "SP-01"
    event = body["events"][-1]
    assert event["kind"] == "updated" and event["actor"] == "Shop ERP"
    changed = ServiceEvent.objects.get(pk=event["id"]).data["changed"]
    assert set(changed) == {"number", "deadline", "packages", "customer", "invoice_series"}


def test_patch_refuses_null_for_required_fields(api_a, account_a):
    service = make_service(account_a, "P-1")
    response = api_a.patch(f"/{service.pk}", {"type": None, "customer": None})
    assert response.status_code == 422
    assert set(fields_of(response)) == {"type", "customer"}


def test_patch_of_a_service_that_is_no_longer_pending_is_409(api_a, account_a):
    service = ServiceFactory(account=account_a, status=ServiceStatus.ROUTED)
    customers = Customer.objects.count()
    response = api_a.patch(
        f"/{service.pk}", {"description": "late", "customer": {"name": "New", "external_code": "N"}}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_editable"
    service.refresh_from_db()
    assert service.description == "" and Customer.objects.count() == customers


def test_patch_to_an_external_id_in_use_is_409(api_a, account_a):
    make_service(account_a, "TAKEN")
    service = make_service(account_a, "MINE")
    response = api_a.patch(f"/{service.pk}", {"external_id": "TAKEN"})
    assert response.status_code == 409
    assert list(fields_of(response)) == ["external_id"]


# Another account --------------------------------------------------------------------------------


def test_another_accounts_key_finds_nothing(api_b, account_a):
    service = make_service(account_a, "MINE")
    assert api_b.get(f"/{service.pk}").status_code == 404
    assert api_b.post(f"/{service.pk}/cancel").status_code == 404
    assert api_b.patch(f"/{service.pk}", {"description": "x"}).status_code == 404
    assert api_b.get().json()["results"] == []
    assert api_b.get(external_id="MINE").json()["results"] == []
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING and service.description == ""


def test_the_same_external_id_in_another_account_is_another_service(api_a, api_b, account_b):
    BranchFactory(account=account_b, prefix="SP-01")
    first = api_a.post(data=SERVICE).json()
    second = api_b.post(data=SERVICE)
    assert second.status_code == 201 and second.json()["id"] != first["id"]


# The document -----------------------------------------------------------------------------------


def test_the_openapi_document_validates_and_the_docs_render(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert {"/api/v1/services", "/api/v1/services/{service_id}"} <= set(document["paths"])
    schemes = document["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]
    assert (
        "empty list"
        in document["components"]["schemas"]["ServiceOut"]["properties"]["attempts"]["description"]
    )
    assert client.get("/api/v1/docs").status_code == 200
