"""Account settings in the web admin: the role matrix, tenancy, drop-downs and query counts."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import (
    Account,
    Branch,
    Carrier,
    ChatTicketType,
    Customer,
    Driver,
    FailureReason,
    Holiday,
    Partner,
    Role,
    StatusChangeReason,
    User,
    Vehicle,
)
from services.models import Service
from tests import factories as f

pytestmark = pytest.mark.django_db

# What each role may do, per kind of page: (list, add, change, delete).
# "-" none, "v" view only, "va" view and add, "vac" view, add and change, "all".
NONE, VIEW, VIEW_ADD_CHANGE, ALL = "-", "v", "vac", "all"
MATRIX = {
    Role.MANAGER: {"account": "vc", "users": VIEW_ADD_CHANGE, "drivers": VIEW_ADD_CHANGE,
                   "settings": ALL, "operations": ALL, "records": VIEW},
    Role.OPERATOR: {"account": NONE, "users": NONE, "drivers": VIEW, "settings": VIEW,
                    "operations": VIEW_ADD_CHANGE, "records": VIEW},
    Role.CARRIER: {"account": NONE, "users": NONE, "drivers": VIEW, "settings": NONE,
                   "operations": NONE, "records": NONE},
}  # fmt: skip
NO_ADMIN = [Role.PARTNER, Role.CALL_CENTRE, Role.INTEGRATION]


def area_of(model):
    return admin.site._registry[model].access_area


def tenant_models():
    return [
        model
        for model in admin.site._registry
        if model._meta.app_label in {"accounts", "services", "scheduling", "routes"}
    ]


def make_rows(account):
    """One row of every model the web admin shows, in account."""
    carrier = f.CarrierFactory(account=account)
    branch = f.BranchFactory(account=account)
    driver = f.DriverFactory(account=account, carrier=carrier, branch=branch)
    customer = f.CustomerFactory(account=account)
    rows = {
        Account: account,
        User: f.UserFactory(account=account),
        Branch: branch,
        Partner: f.PartnerFactory(account=account),
        Carrier: carrier,
        Vehicle: driver.vehicle,
        Driver: driver,
        Customer: customer,
        Holiday: f.HolidayFactory(account=account),
        StatusChangeReason: f.StatusChangeReasonFactory(account=account),
        FailureReason: f.FailureReasonFactory(account=account),
        ChatTicketType: f.ChatTicketTypeFactory(account=account),
        Service: f.ServiceFactory(account=account, customer=customer, branch=branch),
    }
    for model in tenant_models():
        if model not in rows:
            factory = getattr(f, f"{model.__name__}Factory")
            rows[model] = factory(account=account)
    return rows


def url(model, page, obj=None):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}"
    return reverse(name, args=[obj.pk] if obj is not None else [])


@pytest.fixture
def rows_a(account_a):
    return make_rows(account_a)


def test_every_admin_model_is_covered(rows_a):
    assert set(tenant_models()) <= set(rows_a)


@pytest.mark.parametrize("role", list(MATRIX))
def test_role_matrix(client_of, account_a, rows_a, role):
    user = f.UserFactory(account=account_a, role=role)
    if role == Role.CARRIER:
        user.carrier = rows_a[Carrier]
        user.save()
    client = client_of(user)
    for model in tenant_models():
        rights = MATRIX[role][area_of(model)]
        obj = rows_a[model]
        can_view = rights != NONE
        can_add = rights in (VIEW_ADD_CHANGE, ALL)
        can_change = rights in (VIEW_ADD_CHANGE, ALL) or "c" in rights
        can_delete = rights == ALL
        label = f"{role} {model.__name__}"
        assert client.get(url(model, "changelist")).status_code == (200 if can_view else 403), label
        add = client.get(url(model, "add")).status_code
        assert add == (200 if can_add else 403), label
        change = client.get(url(model, "change", obj))
        assert change.status_code == (200 if can_view else 403), label
        if can_view:
            shows_save = 'name="_save"' in change.content.decode()
            assert shows_save == can_change, label
        delete = client.get(url(model, "delete", obj)).status_code
        assert delete == (200 if can_delete else 403), label


@pytest.mark.parametrize("role", NO_ADMIN)
def test_roles_without_the_admin_are_sent_to_log_in(client_of, account_a, rows_a, role):
    client = client_of(f.UserFactory(account=account_a, role=role))
    for model in tenant_models():
        for page, obj in [("changelist", None), ("add", None), ("change", rows_a[model])]:
            response = client.get(url(model, page, obj))
            assert response.status_code == 302, (role, model)
            assert "/login/" in response.url


def test_carrier_users_see_only_their_carriers_drivers(client_of, account_a, rows_a):
    other_driver = f.DriverFactory(account=account_a)
    user = f.UserFactory(account=account_a, role=Role.CARRIER, carrier=rows_a[Carrier])
    client = client_of(user)
    listing = client.get(url(Driver, "changelist"))
    shown = {row.pk for row in listing.context["cl"].result_list}
    assert shown == {rows_a[Driver].pk}
    assert client.get(url(Driver, "change", other_driver)).status_code == 404


def test_branch_users_see_only_their_branch(client_of, account_a, rows_a):
    other = f.BranchFactory(account=account_a)
    user = f.UserFactory(account=account_a, role=Role.OPERATOR, branch=rows_a[Branch])
    client = client_of(user)
    shown = {row.pk for row in client.get(url(Branch, "changelist")).context["cl"].result_list}
    assert shown == {rows_a[Branch].pk}
    assert client.get(url(Branch, "change", other)).status_code == 404


def test_an_outsider_sees_nothing_of_another_account(client_of, manager_b, rows_a):
    make_rows(manager_b.account)
    client = client_of(manager_b)
    for model in tenant_models():
        obj = rows_a[model]
        listing = client.get(url(model, "changelist"))
        assert obj.pk not in {row.pk for row in listing.context["cl"].result_list}, model
        for page in ("change", "delete", "history"):
            foreign = client.get(url(model, page, obj)).status_code
            # The same answer as for an id that does not exist: nothing is confirmed.
            missing = client.get(url(model, page, model(pk=10**9))).status_code
            assert foreign == missing, (model, page)
            assert foreign in (403, 404), (model, page)


def test_drop_downs_offer_nothing_of_another_account(client_of, manager_b, rows_a):
    make_rows(manager_b.account)
    client = client_of(manager_b)
    foreign = {str(obj.pk) for obj in rows_a.values()}
    for model, fields in [
        (Driver, ["branch", "carrier", "vehicle"]),
        (Vehicle, ["default_driver"]),
        (User, ["branch", "partner", "carrier", "chat_carriers"]),
    ]:
        form = client.get(url(model, "add")).context["adminform"].form
        for name in fields:
            offered = {str(pk) for pk in form.fields[name].queryset.values_list("pk", flat=True)}
            related = form.fields[name].queryset.model
            foreign_ids = {str(o.pk) for o in rows_a.values() if isinstance(o, related)}
            assert offered, (model, name)
            assert not offered & foreign_ids, (model, name)
    assert foreign  # the rows exist


def test_referencing_another_accounts_row_by_id_is_refused(client_of, manager_b, rows_a):
    client = client_of(manager_b)
    response = client.post(
        url(Vehicle, "add"),
        {"type": "car", "plate": "XYZ1A23", "default_driver": rows_a[Driver].pk, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "default_driver" in response.context["adminform"].form.errors
    response = client.post(
        url(User, "add"),
        {"email": "x@rival.test", "role": Role.CARRIER, "carrier": rows_a[Carrier].pk},
    )
    assert "carrier" in response.context["adminform"].form.errors
    assert not Vehicle.objects.filter(plate="XYZ1A23").exists()
    assert not User.objects.filter(email="x@rival.test").exists()


@pytest.mark.parametrize("model", tenant_models(), ids=lambda model: model.__name__)
def test_changelist_queries_do_not_grow_with_rows(client_of, manager_a, model):
    client = client_of(manager_a)
    make_rows(manager_a.account)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(model, "changelist")).status_code == 200
        return len(captured)

    count()  # the first request also records when the user was last seen
    few = count()
    for _ in range(4):
        # More accounts' worth of rows, all in A (Account has one row per user's account).
        rows = make_rows(f.AccountFactory())
        for obj in rows.values():
            if hasattr(obj, "account_id"):
                type(obj).objects.filter(pk=obj.pk).update(account=manager_a.account)
    assert count() == few
