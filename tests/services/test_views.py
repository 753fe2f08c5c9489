"""The operators' services pages: list, exports, detail, create/edit, status changes, bulk."""

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Customer, Role
from services import actions
from services.actions import Actor
from services.forms import MANUAL_TRANSITIONS, parse_packages
from services.models import TRANSITIONS, EventKind, Service, ServiceEvent, ServiceStatus
from tests.factories import (
    BranchFactory,
    CarrierFactory,
    CustomerFactory,
    PackageFactory,
    PartnerFactory,
    ServiceFactory,
    StatusChangeReasonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("services:index")
EXPORT = reverse("services:export")
CREATE = reverse("services:create")
BULK = reverse("services:bulk")


def detail_url(service):
    return reverse("services:detail", args=[service.pk])


def listed(response):
    return sorted(service.order_number for service in response.context["page"])


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def reason_a(account_a):
    return StatusChangeReasonFactory(account=account_a, description="Customer asked")


@pytest.fixture
def carrier_user(account_a):
    carrier = CarrierFactory(account=account_a, name="Rápido Transportes")
    return UserFactory(account=account_a, role=Role.CARRIER, carrier=carrier)


# The list -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=pickup", ["PICKUP"]),
        ("status=done", ["DONE"]),
        ("customer=souza", ["ANA"]),
        ("invoice=NF-1", ["INVOICE"]),
        ("order=PICKUP", ["PICKUP"]),
        ("q=nf-1", ["INVOICE"]),
        ("created_from=2030-01-02", ["DONE"]),
        ("created_to=2030-01-01", ["ANA", "INVOICE", "PICKUP"]),
        ("deadline_from=2031-01-01", ["INVOICE"]),
        ("deadline_to=2030-12-31", ["ANA", "DONE", "PICKUP"]),
        # An invalid value is ignored (and shown next to its field), never a 500.
        ("status=bogus&created_from=not-a-date", ["ANA", "DONE", "INVOICE", "PICKUP"]),
    ],
)
def test_list_filters_narrow(client_of, manager_a, query, expected):
    account = manager_a.account
    ana = CustomerFactory(account=account, name="Ana Souza")
    deadline = datetime(2030, 6, 1, 12, tzinfo=UTC)
    ServiceFactory(account=account, order_number="PICKUP", type="pickup", deadline=deadline)
    ServiceFactory(account=account, order_number="DONE", status="done", deadline=deadline)
    ServiceFactory(account=account, order_number="ANA", customer=ana, deadline=deadline)
    ServiceFactory(
        account=account,
        order_number="INVOICE",
        invoice_number="NF-1",
        deadline=datetime(2031, 6, 1, tzinfo=UTC),
    )
    Service.objects.update(created_at=datetime(2030, 1, 1, 15, tzinfo=UTC))
    Service.objects.filter(order_number="DONE").update(
        created_at=datetime(2030, 1, 2, 15, tzinfo=UTC)
    )
    response = client_of(manager_a).get(f"{INDEX}?{query}")
    assert response.status_code == 200
    assert listed(response) == expected


@pytest.mark.parametrize("name", ["branch", "carrier", "partner"])
def test_list_filters_by_branch_carrier_and_partner(client_of, manager_a, name):
    factory = {"branch": BranchFactory, "carrier": CarrierFactory, "partner": PartnerFactory}[name]
    target = factory(account=manager_a.account)
    ServiceFactory(account=manager_a.account, order_number="HIT", **{name: target})
    ServiceFactory(account=manager_a.account, order_number="MISS")
    response = client_of(manager_a).get(f"{INDEX}?{name}={target.pk}")
    assert listed(response) == ["HIT"]


def test_list_filter_by_another_account_s_branch_is_ignored(client_of, manager_a, manager_b):
    theirs = BranchFactory(account=manager_b.account)
    ServiceFactory(account=manager_a.account, order_number="MINE")
    response = client_of(manager_a).get(f"{INDEX}?branch={theirs.pk}")
    assert listed(response) == ["MINE"]
    assert response.context["form"].errors["branch"]


def test_list_sorts_by_whitelisted_columns(client_of, manager_a):
    for order in ("B", "C", "A"):
        ServiceFactory(account=manager_a.account, order_number=order)
    client = client_of(manager_a)

    def sorted_by(sort):
        page = client.get(f"{INDEX}?sort={sort}").context["page"]
        return [service.order_number for service in page]

    assert sorted_by("order") == ["A", "B", "C"]
    assert sorted_by("-order") == ["C", "B", "A"]
    assert sorted_by("customer__document") == ["A", "C", "B"]  # not allowed: newest first
    body = client.get(f"{INDEX}?sort=order").content.decode()
    assert 'aria-sort="ascending"' in body


def test_list_shows_counts_per_status_for_the_filters(client_of, manager_a):
    account = manager_a.account
    ServiceFactory.create_batch(3, account=account)
    ServiceFactory.create_batch(2, account=account, status=ServiceStatus.FAILED)
    ServiceFactory(account=account, status=ServiceStatus.FAILED, type="pickup")
    response = client_of(manager_a).get(f"{INDEX}?type=delivery&status=failed")
    counts = {value: count for value, _label, count, _active in response.context["status_counts"]}
    assert counts["pending"] == 3
    assert counts["failed"] == 2
    assert counts["done"] == 0
    assert response.context["total_count"] == 5
    assert len(response.context["page"]) == 2
    assert 'data-count="failed">2<' in response.content.decode()


def test_list_paginates_with_a_selectable_page_size(client_of, manager_a):
    ServiceFactory.create_batch(30, account=manager_a.account)
    client = client_of(manager_a)
    assert len(client.get(f"{INDEX}?per_page=25").context["page"]) == 25
    assert len(client.get(f"{INDEX}?per_page=25&page=2").context["page"]) == 5
    assert len(client.get(f"{INDEX}?per_page=999").context["page"]) == 30  # back to 50


def test_list_runs_a_constant_number_of_queries(client_of, manager_a):
    account = manager_a.account
    branch, carrier, partner = (
        BranchFactory(account=account),
        CarrierFactory(account=account),
        PartnerFactory(account=account),
    )
    ServiceFactory.create_batch(
        250, account=account, branch=branch, carrier=carrier, partner=partner
    )
    client = client_of(manager_a)
    client.get(INDEX)  # the session and "last seen" settle on the first request

    def queries(size):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"{INDEX}?per_page={size}&sort=customer")
        assert len(response.context["page"]) == size
        return len(captured)

    assert queries(25) == queries(200)
    assert queries(200) <= 12


def test_htmx_gets_the_results_partial_and_others_the_page(client_of, manager_a):
    ServiceFactory(account=manager_a.account, order_number="HTMX-1")
    client = client_of(manager_a)
    partial = client.get(f"{INDEX}?q=HTMX", headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert "<html" not in body
    assert "HTMX-1" in body
    assert 'hx-swap-oob="true"' in body  # the status filter follows the counts
    assert "HX-Request" in partial["Vary"]
    # The address bar gets the filters that filter, not every empty field of the form.
    partial = client.get(
        f"{INDEX}?q=HTMX&status=&type=&sort=-created", headers={"HX-Request": "true"}
    )
    assert partial["HX-Push-Url"] == f"{INDEX}?q=HTMX"

    page = client.get(f"{INDEX}?q=HTMX").content.decode()
    assert "<html" in page and "HTMX-1" in page
    assert 'hx-get="/services/"' in page and 'hx-push-url="true"' in page
    # htmx asking for a page it lost from its history gets the whole page.
    restore = client.get(
        f"{INDEX}?q=HTMX", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.content.decode()


def test_import_button_only_when_the_import_exists(client_of, manager_a):
    from django.urls import NoReverseMatch

    body = client_of(manager_a).get(INDEX).content.decode()
    try:
        import_url = reverse("services:import")
    except NoReverseMatch:
        assert ">Import<" not in body
    else:
        assert f'href="{import_url}"' in body


# Exports ------------------------------------------------------------------------------------------


def csv_rows(response, delimiter=","):
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


def xlsx_rows(response):
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def test_csv_export_has_every_matching_row_and_respects_scope(client_of, manager_a, manager_b):
    account = manager_a.account
    ServiceFactory.create_batch(60, account=account, status=ServiceStatus.DONE)
    service = ServiceFactory(
        account=account,
        order_number="=HYPERLINK(1)",
        deadline=datetime(2030, 6, 1, 15, 30, tzinfo=UTC),
    )
    PackageFactory(service=service, barcode="BC-1")
    PackageFactory(service=service, barcode="BC-2")
    ServiceFactory(account=manager_b.account, order_number="THEIRS")

    response = client_of(manager_a).get(f"{EXPORT}?format=csv&status=pending&per_page=25&page=2")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="services-' in response["Content-Disposition"]
    rows = csv_rows(response)
    header, body = rows[0], rows[1:]
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["Order number"] == "'=HYPERLINK(1)"  # not run as a formula
    assert row["Packages"] == "BC-1 BC-2"
    assert row["Deadline"] == "2030-06-01 12:30"  # São Paulo time
    assert row["Tracking link"] == service.tracking_url

    everything = csv_rows(client_of(manager_a).get(f"{EXPORT}?format=csv"))
    assert len(everything) == 1 + 61  # all pages
    assert not any("THEIRS" in line for line in everything)


def test_csv_export_with_semicolons(client_of, manager_a):
    ServiceFactory(account=manager_a.account, order_number="SEMI")
    response = client_of(manager_a).get(f"{EXPORT}?format=csv&delimiter=semicolon")
    rows = csv_rows(response, delimiter=";")
    assert rows[1][rows[0].index("Order number")] == "SEMI"


def test_xlsx_export(client_of, manager_a, manager_b):
    ServiceFactory(
        account=manager_a.account,
        order_number="XL-1",
        deadline=datetime(2030, 6, 1, 15, 30, tzinfo=UTC),
        customer=CustomerFactory(account=manager_a.account, name="Zé\x07 Control"),
    )
    ServiceFactory(account=manager_a.account, order_number="XL-2", type="pickup")
    ServiceFactory(account=manager_b.account, order_number="THEIRS")
    response = client_of(manager_a).get(f"{EXPORT}?format=xlsx&type=delivery")
    assert response.status_code == 200
    assert ".xlsx" in response["Content-Disposition"]
    rows = xlsx_rows(response)
    header, body = rows[0], rows[1:]
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["Order number"] == "XL-1"
    assert row["Customer"] == "Zé Control"
    assert row["Deadline"] == datetime(2030, 6, 1, 12, 30)


def test_export_of_an_unknown_format_is_a_404(client_of, manager_a):
    assert client_of(manager_a).get(f"{EXPORT}?format=pdf").status_code == 404


# Detail -------------------------------------------------------------------------------------------


def test_detail_shows_fields_packages_events_and_the_tracking_link(client_of, manager_a, reason_a):
    service = actions.service_create(
        account=manager_a.account,
        actor=Actor.for_user(manager_a),
        values={
            "customer": CustomerFactory(
                account=manager_a.account, name="Carla Dias", document="52998224725"
            ),
            "order_number": "DET-1",
            "invoice_number": "NF-55",
            "street": "Rua Augusta",
            "lat": -23.55,
            "lng": -46.65,
        },
        packages=[{"barcode": "PKG-1", "description": "Box 1"}, {"barcode": "PKG-2"}],
    )
    actions.service_cancel(
        service=service, actor=Actor.for_user(manager_a), reason=reason_a, note="Called us"
    )
    response = client_of(manager_a).get(detail_url(service))
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("DET-1", "NF-55", "Carla Dias", "PKG-1", "Box 1", "PKG-2", "Customer asked"):
        assert text in body
    assert "Called us" in body
    assert "529.982.247-25" in body
    assert "529.982.247-25" in client_of(manager_a).get(INDEX).content.decode()
    assert service.tracking_url in body
    assert "data-copy-target" in body
    assert [event.kind for event, _changes in response.context["events"]] == [
        EventKind.CREATED,
        EventKind.STATUS,
    ]
    assert "vendor/leaflet/leaflet.js" in body
    assert 'data-lat="-23.55"' in body
    assert "once the service has been in a route" in body


def test_leaflet_is_loaded_on_the_detail_only(client_of, manager_a):
    assert "leaflet" not in client_of(manager_a).get(INDEX).content.decode()


def test_detail_offers_only_manual_transitions(client_of, manager_a, reason_a):
    service = ServiceFactory(account=manager_a.account, status=ServiceStatus.IN_PROGRESS)
    form = client_of(manager_a).get(detail_url(service)).context["status_form"]
    assert [value for value, _label in form.fields["to_status"].choices] == ["", "done", "failed"]
    assert list(form.fields["reason"].queryset) == [reason_a]


def test_manual_transitions_are_allowed_transitions():
    for status, targets in MANUAL_TRANSITIONS.items():
        assert set(targets) <= TRANSITIONS[status]


# Create and edit ----------------------------------------------------------------------------------


def service_data(**overrides):
    data = {
        "type": "delivery",
        "customer": "",
        "customer_name": "Joana Prado",
        "customer_document": "529.982.247-25",
        "customer_email": "joana@example.com",
        "customer_phone": "(11) 98765-4321",
        "postal_code": "01310100",
        "street": "Avenida Paulista",
        "number": "1000",
        "district": "Bela Vista",
        "city": "São Paulo",
        "state": "SP",
        "country": "BR",
        "lat": "-23.5614",
        "lng": "-46.6558",
        "order_number": "NEW-1",
        "invoice_number": "12345",
        "invoice_series": "1",
        "service_time_min": "5",
        "deadline": "2030-06-01T14:30",
        "packages": "789001; Box 1 of 2\n789002\tBox 2 of 2\n\n",
    }
    data.update(overrides)
    return data


def test_create_finds_or_creates_the_customer(
    client_of, operator_a, django_capture_on_commit_callbacks
):
    client = client_of(operator_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CREATE, service_data())
    service = Service.objects.get(order_number="NEW-1")
    assert response.status_code == 302
    assert response["Location"] == detail_url(service)
    assert service.account == operator_a.account
    assert service.status == ServiceStatus.PENDING
    assert service.customer.document == "52998224725"
    assert service.customer.phone == "+5511987654321"
    assert service.postal_code == "01310-100"
    # The deadline was typed in São Paulo time.
    assert service.deadline == datetime(2030, 6, 1, 17, 30, tzinfo=UTC)
    assert [(p.barcode, p.description) for p in service.packages.all()] == [
        ("789001", "Box 1 of 2"),
        ("789002", "Box 2 of 2"),
    ]
    assert service.events.get().kind == EventKind.CREATED
    assert service.events.get().dispatched_at is not None

    # The same document again: the customer is found, not duplicated.
    client.post(CREATE, service_data(order_number="NEW-2", customer_name="Joana P."))
    assert Customer.objects.filter(account=operator_a.account).count() == 1
    assert Service.objects.get(order_number="NEW-2").customer == service.customer


def test_create_with_an_existing_customer(client_of, operator_a):
    customer = CustomerFactory(account=operator_a.account)
    response = client_of(operator_a).post(
        CREATE,
        service_data(
            customer=customer.pk,
            customer_name="",
            customer_document="",
            customer_email="",
            customer_phone="",
        ),
    )
    assert response.status_code == 302
    assert Service.objects.get(order_number="NEW-1").customer == customer


def test_create_cannot_pick_another_account_s_customer(client_of, operator_a, manager_b):
    theirs = CustomerFactory(account=manager_b.account)
    response = client_of(operator_a).post(
        CREATE, service_data(customer=theirs.pk, customer_name="", customer_document="")
    )
    assert response.status_code == 200
    assert "customer" in response.context["form"].errors
    assert not Service.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("postal_code", "123"),
        ("state", "XX"),
        ("customer_phone", "12"),
        ("customer_document", "111.111.111-12"),
        ("lat", "91"),
        ("deadline", "tomorrow"),
        ("packages", "A\nA"),
        ("customer_name", ""),
    ],
)
def test_create_validates_like_the_settings_forms(client_of, operator_a, field, value):
    data = service_data(**{field: value})
    if field == "customer_name":
        data.update(customer_document="", customer_email="", customer_phone="")
        field = "customer"
    response = client_of(operator_a).post(CREATE, data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Service.objects.exists()


def test_create_turns_a_domain_error_into_a_form_error(client_of, operator_a):
    ServiceFactory(account=operator_a.account, external_id="ERP-1")
    response = client_of(operator_a).post(CREATE, service_data(external_id="ERP-1"))
    assert response.status_code == 200
    assert "external_id" in response.context["form"].errors
    assert Service.objects.count() == 1


def test_edit_a_pending_service(client_of, operator_a):
    customer = CustomerFactory(account=operator_a.account, document="11222333000181")
    service = ServiceFactory(account=operator_a.account, order_number="OLD", customer=customer)
    PackageFactory(service=service, barcode="KEEP")
    client = client_of(operator_a)
    page = client.get(reverse("services:edit", args=[service.pk]))
    assert page.context["form"]["packages"].value() == "KEEP"
    assert page.context["form"]["customer"].value() == service.customer_id
    assert "11.222.333/0001-81" in page.content.decode()  # the chosen customer, labelled

    response = client.post(
        reverse("services:edit", args=[service.pk]),
        service_data(
            customer=service.customer_id,
            customer_name="",
            customer_document="",
            customer_email="",
            customer_phone="",
            order_number="EDITED",
            packages="KEEP\nADDED",
        ),
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.order_number == "EDITED"
    assert sorted(service.packages.values_list("barcode", flat=True)) == ["ADDED", "KEEP"]
    event = service.events.get(kind=EventKind.UPDATED)
    assert event.data["changed"]["order_number"] == ["OLD", "EDITED"]
    assert "Order number" in client.get(detail_url(service)).content.decode()


def test_editing_a_service_that_is_not_pending_is_refused(client_of, operator_a):
    service = ServiceFactory(account=operator_a.account, status=ServiceStatus.ROUTED)
    url = reverse("services:edit", args=[service.pk])
    client = client_of(operator_a)
    for response in (client.get(url), client.post(url, service_data())):
        assert response.status_code == 302
        assert response["Location"] == detail_url(service)
        assert any("Only pending services can be edited" in m for m in flashed(response))
    service.refresh_from_db()
    assert service.order_number != "NEW-1"


def test_customer_options_for_the_search_box(client_of, operator_a, manager_b):
    CustomerFactory(account=operator_a.account, name="Rita Alves", document="52998224725")
    CustomerFactory(account=manager_b.account, name="Rita Rival")
    response = client_of(operator_a).get(
        reverse("services:customer_options") + "?customer_q=rita", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "Rita Alves · 529.982.247-25" in body and "Rita Rival" not in body
    assert "<html" not in body


def test_parse_packages_reads_tabs_and_semicolons():
    assert parse_packages("A; one\nB\ttwo\n  \nC") == [
        {"barcode": "A", "description": "one"},
        {"barcode": "B", "description": "two"},
        {"barcode": "C", "description": ""},
    ]


# Status changes -----------------------------------------------------------------------------------


def test_manual_status_change_needs_a_reason(client_of, operator_a):
    service = ServiceFactory(account=operator_a.account)
    response = client_of(operator_a).post(
        reverse("services:status", args=[service.pk]), {"status-to_status": "cancelled"}
    )
    assert response.status_code == 200
    assert "reason" in response.context["status_form"].errors
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING
    assert not ServiceEvent.objects.exists()


def test_manual_status_change_writes_an_event_with_the_reason(client_of, operator_a, reason_a):
    service = ServiceFactory(account=operator_a.account, status=ServiceStatus.IN_PROGRESS)
    response = client_of(operator_a).post(
        reverse("services:status", args=[service.pk]),
        {"status-to_status": "done", "status-reason": reason_a.pk, "status-note": "Phone died"},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.status == ServiceStatus.DONE
    event = service.events.get()
    assert (event.from_status, event.to_status) == ("in_progress", "done")
    assert event.reason == reason_a
    assert event.note == "Phone died"
    assert event.actor_user == operator_a


def test_a_transition_not_allowed_by_hand_is_a_form_error(client_of, operator_a, reason_a):
    service = ServiceFactory(account=operator_a.account)
    response = client_of(operator_a).post(
        reverse("services:status", args=[service.pk]),
        {"status-to_status": "routed", "status-reason": reason_a.pk},
    )
    assert response.status_code == 200
    assert "to_status" in response.context["status_form"].errors


def test_an_inactive_reason_is_refused(client_of, operator_a, account_a):
    old = StatusChangeReasonFactory(account=account_a, is_active=False)
    service = ServiceFactory(account=account_a)
    response = client_of(operator_a).post(
        reverse("services:status", args=[service.pk]),
        {"status-to_status": "cancelled", "status-reason": old.pk},
    )
    assert "reason" in response.context["status_form"].errors


def test_reschedule_a_failed_service(client_of, operator_a, reason_a):
    service = ServiceFactory(account=operator_a.account, status=ServiceStatus.FAILED)
    client = client_of(operator_a)
    assert client.get(detail_url(service)).context["reschedule_form"] is not None
    response = client.post(
        reverse("services:reschedule", args=[service.pk]),
        {"reschedule-reason": reason_a.pk, "reschedule-note": "New date agreed"},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING
    assert service.attempt_count == 1
    event = service.events.get()
    assert event.kind == EventKind.RESCHEDULED
    assert event.reason == reason_a


def test_reschedule_needs_a_reason_and_a_failed_service(client_of, operator_a, reason_a):
    failed = ServiceFactory(account=operator_a.account, status=ServiceStatus.FAILED)
    client = client_of(operator_a)
    response = client.post(reverse("services:reschedule", args=[failed.pk]), {})
    assert "reason" in response.context["reschedule_form"].errors
    pending = ServiceFactory(account=operator_a.account)
    response = client.post(
        reverse("services:reschedule", args=[pending.pk]), {"reschedule-reason": reason_a.pk}
    )
    assert response.status_code == 200
    assert response.context["reschedule_form"].non_field_errors()
    pending.refresh_from_db()
    assert pending.status == ServiceStatus.PENDING


# Bulk actions -------------------------------------------------------------------------------------


def test_bulk_cancel_reports_what_it_skipped(client_of, operator_a, manager_b, reason_a):
    account = operator_a.account
    pending = ServiceFactory.create_batch(2, account=account)
    routed = ServiceFactory(account=account, status=ServiceStatus.ROUTED)
    done = ServiceFactory(account=account, status=ServiceStatus.DONE, order_number="DONE-1")
    in_progress = ServiceFactory(account=account, status=ServiceStatus.IN_PROGRESS)
    cancelled = ServiceFactory(account=account, status=ServiceStatus.CANCELLED, order_number="C-1")
    theirs = ServiceFactory(account=manager_b.account)
    ids = [s.pk for s in (*pending, routed, done, in_progress, cancelled, theirs)]
    response = client_of(operator_a).post(
        BULK,
        {
            "action": "cancel",
            "reason": reason_a.pk,
            "service": ids,
            "next": f"{INDEX}?status=pending",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{INDEX}?status=pending"
    (message,) = flashed(response)
    assert message.startswith("3 changed, 3 skipped: ")
    assert "DONE-1 (cannot go from done to cancelled by hand)" in message
    assert "C-1 (already cancelled)" in message
    assert message.endswith("1 not found.")
    statuses = dict(Service.objects.values_list("pk", "status"))
    assert [statuses[s.pk] for s in (*pending, routed)] == ["cancelled"] * 3
    assert statuses[done.pk] == "done"
    assert statuses[theirs.pk] == "pending"
    assert ServiceEvent.objects.filter(reason=reason_a, to_status="cancelled").count() == 3


def test_bulk_status_change_needs_a_reason(client_of, operator_a):
    service = ServiceFactory(account=operator_a.account, status=ServiceStatus.IN_PROGRESS)
    response = client_of(operator_a).post(
        BULK, {"action": "status", "to_status": "done", "service": [service.pk]}
    )
    assert response.status_code == 302
    assert flashed(response) == ["Choose a reason for the status change."]
    service.refresh_from_db()
    assert service.status == ServiceStatus.IN_PROGRESS


def test_bulk_status_change(client_of, operator_a, reason_a):
    moving = ServiceFactory(account=operator_a.account, status=ServiceStatus.IN_PROGRESS)
    paused = ServiceFactory(account=operator_a.account, status=ServiceStatus.PAUSED)
    response = client_of(operator_a).post(
        BULK,
        {
            "action": "status",
            "to_status": "done",
            "reason": reason_a.pk,
            "service": [moving.pk, paused.pk],
        },
    )
    (message,) = flashed(response)
    assert message.startswith("1 changed, 1 skipped")
    moving.refresh_from_db()
    assert moving.status == ServiceStatus.DONE


def test_bulk_delete_pending_only(client_of, operator_a):
    pending = ServiceFactory(account=operator_a.account)
    routed = ServiceFactory(account=operator_a.account, status=ServiceStatus.ROUTED)
    response = client_of(operator_a).post(
        BULK, {"action": "delete", "service": [pending.pk, routed.pk], "next": "https://evil.test/"}
    )
    assert response["Location"] == INDEX
    (message,) = flashed(response)
    assert message.startswith("1 deleted, 1 skipped")
    assert list(Service.objects.all()) == [routed]


def test_bulk_is_post_only(client_of, operator_a):
    assert client_of(operator_a).get(BULK).status_code == 405


def test_bulk_is_csrf_protected(operator_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(operator_a)
    service = ServiceFactory(account=operator_a.account)
    response = client.post(BULK, {"action": "delete", "service": [service.pk]})
    assert response.status_code == 403
    assert Service.objects.filter(pk=service.pk).exists()


# Who sees what ------------------------------------------------------------------------------------


def service_urls(service):
    return {
        "detail": ("get", detail_url(service)),
        "edit": ("get", reverse("services:edit", args=[service.pk])),
        "edit-post": ("post", reverse("services:edit", args=[service.pk])),
        "status": ("post", reverse("services:status", args=[service.pk])),
        "reschedule": ("post", reverse("services:reschedule", args=[service.pk])),
    }


def test_outsiders_get_a_404_for_every_service_url(client_of, manager_a, manager_b, account_b):
    theirs = ServiceFactory(account=account_b, order_number="THEIRS", status="failed")
    reason_b = StatusChangeReasonFactory(account=account_b)
    client = client_of(manager_a)
    for method, url in service_urls(theirs).values():
        data = {"status-to_status": "cancelled", "status-reason": reason_b.pk}
        response = getattr(client, method)(url, data) if method == "post" else client.get(url)
        assert response.status_code == 404, url
    assert "THEIRS" not in client.get(INDEX).content.decode()
    assert listed(client.get(f"{INDEX}?q=THEIRS", headers={"HX-Request": "true"})) == []
    assert b"THEIRS" not in b"".join(client.get(EXPORT).streaming_content)
    assert "THEIRS" not in str(xlsx_rows(client.get(f"{EXPORT}?format=xlsx")))
    client.post(BULK, {"action": "delete", "service": [theirs.pk]})
    client.post(BULK, {"action": "cancel", "reason": reason_b.pk, "service": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.status == ServiceStatus.FAILED
    assert not theirs.events.exists()


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CALL_CENTRE])
def test_roles_without_the_section_get_a_404(client_of, account_a, role):
    user = UserFactory(
        account=account_a,
        role=role,
        partner=PartnerFactory(account=account_a) if role == Role.PARTNER else None,
    )
    service = ServiceFactory(account=account_a, partner=user.partner)
    client = client_of(user)
    urls = [
        ("get", INDEX),
        ("get", EXPORT),
        ("get", CREATE),
        ("post", BULK),
        ("get", reverse("services:customer_options")),
        *service_urls(service).values(),
    ]
    for method, url in urls:
        assert getattr(client, method)(url).status_code == 404, url


def test_platform_admins_see_but_do_not_write(client, manager_a):
    from accounts.models import User

    admin = User.objects.create_superuser("root@platform.test", "pw")
    service = ServiceFactory(account=manager_a.account, order_number="ANY")
    client.force_login(admin)
    response = client.get(INDEX)
    assert listed(response) == ["ANY"]
    assert not response.context["can_create"] and response.context["bulk_form"] is None
    assert client.get(detail_url(service)).context["status_form"] is None
    assert client.get(CREATE).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(INDEX)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_carrier_user_sees_only_their_carrier_s_services(client_of, carrier_user, account_a):
    ServiceFactory(account=account_a, carrier=carrier_user.carrier, order_number="OURS")
    other = ServiceFactory(
        account=account_a, carrier=CarrierFactory(account=account_a), order_number="OTHER"
    )
    client = client_of(carrier_user)
    response = client.get(INDEX)
    assert listed(response) == ["OURS"]
    assert "carrier" not in response.context["form"].fields
    assert response.context["bulk_form"] is None
    assert client.get(detail_url(other)).status_code == 404
    assert b"OTHER" not in b"".join(client.get(EXPORT).streaming_content)


def test_carrier_user_creates_for_their_carrier_but_does_not_change(
    client_of, carrier_user, account_a, reason_a
):
    client = client_of(carrier_user)
    other_carrier = CarrierFactory(account=account_a)
    response = client.post(CREATE, service_data(carrier=other_carrier.pk))
    assert response.status_code == 302
    service = Service.objects.get(order_number="NEW-1")
    assert service.carrier == carrier_user.carrier

    assert client.get(reverse("services:edit", args=[service.pk])).status_code == 403
    response = client.post(
        reverse("services:status", args=[service.pk]),
        {"status-to_status": "cancelled", "status-reason": reason_a.pk},
    )
    assert response.status_code == 403
    assert client.post(BULK, {"action": "delete", "service": [service.pk]}).status_code == 403
    detail = client.get(detail_url(service))
    assert detail.context["status_form"] is None and not detail.context["can_edit"]
    assert Service.objects.filter(pk=service.pk, status="pending").exists()


def test_branch_operator_sees_and_creates_for_their_branch(client_of, account_a):
    branch = BranchFactory(account=account_a)
    user = UserFactory(account=account_a, role=Role.OPERATOR, branch=branch)
    ServiceFactory(account=account_a, branch=branch, order_number="MY-BRANCH")
    ServiceFactory(account=account_a, order_number="ELSEWHERE")
    client = client_of(user)
    assert listed(client.get(INDEX)) == ["MY-BRANCH"]
    client.post(CREATE, service_data())
    assert Service.objects.get(order_number="NEW-1").branch == branch
