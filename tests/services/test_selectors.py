"""The services list's reads: filters, sorting, counts per status, scope."""

from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.models import Role
from services import selectors
from services.models import Service, ServiceStatus, ServiceType
from services.selectors import ServiceFilters
from tests.factories import (
    BranchFactory,
    CarrierFactory,
    CustomerFactory,
    PartnerFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def orders(services):
    return sorted(service.order_number for service in services)


def listed(user, **filters):
    tzinfo = user.account.tzinfo
    return orders(
        selectors.service_list(user=user, filters=ServiceFilters(**filters), tzinfo=tzinfo)
    )


def set_created(service, when):
    Service.objects.filter(pk=service.pk).update(created_at=when)


@pytest.fixture
def world(manager_a, manager_b):
    """Services of account A that each stand out by one thing, and one of account B."""
    account = manager_a.account
    branch, carrier, partner = (
        BranchFactory(account=account),
        CarrierFactory(account=account),
        PartnerFactory(account=account),
    )
    ana = CustomerFactory(account=account, name="Ana Souza", document="52998224725")
    make = ServiceFactory
    services = {
        "plain": make(account=account, order_number="PLAIN"),
        "pickup": make(account=account, order_number="PICKUP", type=ServiceType.PICKUP),
        "done": make(account=account, order_number="DONE", status=ServiceStatus.DONE),
        "branch": make(account=account, order_number="BRANCH", branch=branch),
        "carrier": make(account=account, order_number="CARRIER", carrier=carrier),
        "partner": make(account=account, order_number="PARTNER", partner=partner),
        "ana": make(account=account, order_number="ANA", customer=ana),
        "invoice": make(account=account, order_number="INVOICE", invoice_number="NF-778"),
        "external": make(account=account, order_number="EXTERNAL", external_id="ERP-9931"),
        "address": make(account=account, order_number="ADDRESS", street="Rua Xavantes Oeste"),
    }
    ServiceFactory(account=manager_b.account, order_number="THEIRS", invoice_number="NF-778")
    return {"services": services, "branch": branch, "carrier": carrier, "partner": partner}


def test_without_filters_the_account_s_services_only(manager_a, world):
    assert "THEIRS" not in listed(manager_a)
    assert len(listed(manager_a)) == len(world["services"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"type": ServiceType.PICKUP}, ["PICKUP"]),
        ({"status": ServiceStatus.DONE}, ["DONE"]),
        ({"customer": "ana souza"}, ["ANA"]),
        ({"customer": "529.982.247-25"}, ["ANA"]),
        ({"customer": "Souz"}, ["ANA"]),
        ({"invoice": "NF-778"}, ["INVOICE"]),
        ({"order": "EXTERNAL"}, ["EXTERNAL"]),
        ({"q": "erp-99"}, ["EXTERNAL"]),
        ({"q": "nf-77"}, ["INVOICE"]),
        ({"q": "xavantes"}, ["ADDRESS"]),
        ({"q": "Ana Sou"}, ["ANA"]),
        ({"q": "52998224725"}, ["ANA"]),
        ({"q": "PICK"}, ["PICKUP"]),
    ],
)
def test_each_filter_narrows(manager_a, world, filters, expected):
    assert listed(manager_a, **filters) == expected


@pytest.mark.parametrize("name", ["branch", "carrier", "partner"])
def test_branch_carrier_and_partner_filters(manager_a, world, name):
    assert listed(manager_a, **{name: world[name]}) == [name.upper()]


def test_created_range_is_in_the_account_s_days(manager_a):
    # São Paulo is UTC-3: 02:00 UTC on the 10th is still the 9th there.
    late_on_9th = ServiceFactory(account=manager_a.account, order_number="LATE-9")
    early_on_10th = ServiceFactory(account=manager_a.account, order_number="EARLY-10")
    set_created(late_on_9th, datetime(2030, 3, 10, 2, 0, tzinfo=UTC))
    set_created(early_on_10th, datetime(2030, 3, 10, 4, 0, tzinfo=UTC))

    assert listed(manager_a, created_from=date(2030, 3, 10)) == ["EARLY-10"]
    assert listed(manager_a, created_to=date(2030, 3, 9)) == ["LATE-9"]
    assert listed(manager_a, created_from=date(2030, 3, 9), created_to=date(2030, 3, 10)) == [
        "EARLY-10",
        "LATE-9",
    ]


def test_deadline_range(manager_a):
    make = ServiceFactory
    make(
        account=manager_a.account, order_number="D1", deadline=datetime(2030, 5, 1, 15, tzinfo=UTC)
    )
    make(
        account=manager_a.account, order_number="D3", deadline=datetime(2030, 5, 3, 15, tzinfo=UTC)
    )
    make(account=manager_a.account, order_number="NONE", deadline=None)
    assert listed(manager_a, deadline_from=date(2030, 5, 2)) == ["D3"]
    assert listed(manager_a, deadline_to=date(2030, 5, 2)) == ["D1"]
    assert listed(manager_a, deadline_from=date(2030, 5, 1), deadline_to=date(2030, 5, 3)) == [
        "D1",
        "D3",
    ]


def test_sorting_by_whitelisted_keys(manager_a):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for order, deadline in (("B", 2), ("A", 3), ("C", None)):
        ServiceFactory(
            account=manager_a.account,
            order_number=order,
            deadline=now + timedelta(days=deadline) if deadline else None,
        )

    def sorted_by(sort):
        return [s.order_number for s in selectors.service_list(user=manager_a, sort=sort)]

    assert sorted_by("order") == ["A", "B", "C"]
    assert sorted_by("-order") == ["C", "B", "A"]
    # Services without a deadline go last both ways.
    assert sorted_by("deadline") == ["B", "A", "C"]
    assert sorted_by("-deadline") == ["A", "B", "C"]
    # Newest first by default, and for keys that are not in the whitelist.
    assert sorted_by(None) == ["C", "A", "B"]
    assert sorted_by("account__name") == ["C", "A", "B"]
    assert sorted_by("-tracking_token") == ["C", "A", "B"]


def test_counts_per_status_leave_the_status_filter_out_in_one_query(
    manager_a, django_assert_num_queries
):
    account = manager_a.account
    ServiceFactory.create_batch(2, account=account, type=ServiceType.DELIVERY)
    ServiceFactory(account=account, type=ServiceType.DELIVERY, status=ServiceStatus.FAILED)
    ServiceFactory(account=account, type=ServiceType.PICKUP, status=ServiceStatus.FAILED)

    filters = ServiceFilters(type=ServiceType.DELIVERY, status=ServiceStatus.PENDING)
    with django_assert_num_queries(1):
        counts = selectors.service_status_counts(
            user=manager_a, filters=filters, tzinfo=account.tzinfo
        )
    assert counts[ServiceStatus.PENDING] == 2
    assert counts[ServiceStatus.FAILED] == 1
    assert counts[ServiceStatus.DONE] == 0
    assert set(counts) == set(ServiceStatus.values)


def test_service_list_keeps_its_status_argument(manager_a):
    ServiceFactory(account=manager_a.account, order_number="P")
    ServiceFactory(account=manager_a.account, order_number="D", status=ServiceStatus.DONE)
    assert orders(selectors.service_list(user=manager_a, status="done")) == ["D"]
    assert orders(selectors.service_list(user=manager_a)) == ["D", "P"]


def test_carrier_user_sees_their_carrier_s_services_only(account_a):
    carrier = CarrierFactory(account=account_a)
    user = UserFactory(account=account_a, role=Role.CARRIER, carrier=carrier)
    ServiceFactory(account=account_a, order_number="OURS", carrier=carrier)
    ServiceFactory(
        account=account_a, order_number="OTHER", carrier=CarrierFactory(account=account_a)
    )
    ServiceFactory(account=account_a, order_number="NONE")
    assert listed(user) == ["OURS"]
    counts = selectors.service_status_counts(user=user)
    assert counts[ServiceStatus.PENDING] == 1


def test_customer_search_scoped(manager_a, manager_b, account_a):
    CustomerFactory(account=account_a, name="Bruna Lima", email="bruna@example.com")
    CustomerFactory(account=manager_b.account, name="Bruna Rival")
    assert [c.name for c in selectors.customer_search(user=manager_a, text="bruna")] == [
        "Bruna Lima"
    ]
    assert [c.name for c in selectors.customer_search(user=manager_a, text="bruna@ex")] == [
        "Bruna Lima"
    ]
    # A carrier user only finds customers of their carrier's services.
    carrier = CarrierFactory(account=account_a)
    user = UserFactory(account=account_a, role=Role.CARRIER, carrier=carrier)
    assert list(selectors.customer_search(user=user, text="bruna")) == []
    ServiceFactory(
        account=account_a,
        carrier=carrier,
        customer=CustomerFactory(account=account_a, name="Bruna Transp"),
    )
    assert [c.name for c in selectors.customer_search(user=user, text="bruna")] == ["Bruna Transp"]
