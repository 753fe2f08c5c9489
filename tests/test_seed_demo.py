import json

import pytest
from django.core.management import call_command

from accounts import access
from accounts.models import (
    Account,
    Agency,
    Branch,
    Carrier,
    ChatTicketType,
    Customer,
    Driver,
    FailureReason,
    Holiday,
    NotificationTemplate,
    Partner,
    Role,
    StatusChangeReason,
    Trigger,
    User,
    Vehicle,
)
from routes.models import Route, RouteStatus, Stop
from services.models import Service, ServiceStatus
from tracking.lib.br import (
    normalise_cnpj,
    normalise_cpf,
    normalise_document,
    normalise_phone,
    normalise_postal_code,
)

pytestmark = pytest.mark.django_db

# Every row the demo owns through its account.
TENANT_MODELS = [
    Account,
    User,
    Branch,
    Partner,
    Carrier,
    Vehicle,
    Driver,
    Customer,
    Holiday,
    StatusChangeReason,
    FailureReason,
    ChatTicketType,
    Agency,
    Service,
    Route,
    Stop,
]
MODELS = [*TENANT_MODELS, NotificationTemplate]


def seed(capsys, *args):
    call_command("seed_demo", *args, "--json")
    return json.loads(capsys.readouterr().out)


def driver_of(login):
    """The driver the app would find for a login typed as <account slug>.<username>."""
    slug, username = login.split(".", 1)
    return Driver.objects.get(account__slug=slug, username=username)


def test_json_output_has_the_credentials_scripts_rely_on(capsys):
    output = seed(capsys, "--account", "other")
    assert output["account"] == {"slug": "other", "name": "Demo Other"}
    manager = User.objects.get(email=output["manager"]["email"])
    assert manager.check_password(output["manager"]["password"])
    assert manager.role == "manager" and manager.account.slug == "other"
    operator = User.objects.get(email=output["operator"]["email"])
    assert operator.check_password(output["operator"]["password"])
    assert len(output["drivers"]) == 3
    for entry in output["drivers"]:
        assert set(entry) == {"username", "password", "first_name", "vehicle_plate"}
        assert entry["username"].startswith("other.")
        driver = driver_of(entry["username"])
        assert driver.login == entry["username"]
        assert driver.check_password(entry["password"])
        assert driver.first_name == entry["first_name"]
        assert driver.vehicle.plate == entry["vehicle_plate"]
        assert driver.account.slug == "other"


def test_json_output_lists_a_user_of_every_role(capsys):
    output = seed(capsys)
    assert {entry["role"] for entry in output["users"]} == set(Role.values)
    for entry in output["users"]:
        user = User.objects.get(email=entry["email"])
        assert user.role == entry["role"] and user.account.slug == "demo"
        if entry["role"] == Role.INTEGRATION:
            # API only: no password to log into the web platform with.
            assert entry["password"] is None and not user.has_usable_password()
        else:
            assert user.check_password(entry["password"]) and access.can_log_in(user)


def test_demo_has_a_branch_in_sao_paulo_and_services_spread_over_the_city(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    branch = Branch.objects.get(account=account, name="São Paulo - Barra Funda")
    assert branch.city == "São Paulo"
    services = Service.objects.filter(account=account)
    assert services.count() >= 20
    assert {service.branch for service in services} == {branch}
    assert len({service.district for service in services}) >= 8
    for service in services:
        # Inside the city of São Paulo.
        assert -23.75 < service.lat < -23.40 and -46.85 < service.lng < -46.45


def test_every_setting_of_the_demo_account_has_rows(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    for model in TENANT_MODELS[1:]:
        assert model.objects.filter(account=account).exists(), model
    assert Branch.objects.filter(account=account).count() >= 2
    assert set(
        NotificationTemplate.objects.filter(agency__account=account).values_list(
            "trigger", flat=True
        )
    ) == set(Trigger.values)
    assert Agency.objects.get(account=account).name == "Demo Entregas"
    assert Holiday.objects.filter(account=account, name="Tiradentes").count() == 2
    assert FailureReason.objects.filter(account=account, description="Cliente ausente").exists()


def test_every_role_is_scoped_as_its_users_need(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    users = User.objects.filter(account=account)
    assert {user.role for user in users} == set(Role.values)
    partner = Partner.objects.get(account=account)
    carrier = Carrier.objects.get(account=account)
    assert users.get(role=Role.PARTNER).partner == partner
    assert users.get(role=Role.CARRIER).carrier == carrier
    call_centre = users.get(role=Role.CALL_CENTRE)
    assert list(call_centre.chat_carriers.all()) == [carrier]
    assert call_centre.chat_states == ["SP"]
    assert users.filter(role=Role.OPERATOR, branch__city="Campinas").exists()
    assert users.get(role=Role.MANAGER).branch is None


def test_drivers_and_vehicles_are_complete(capsys):
    seed(capsys)
    drivers = Driver.objects.filter(account__slug="demo")
    for driver in drivers:
        assert driver.email and driver.rg and driver.employee_number and driver.external_code
        assert driver.time_zone == "America/Sao_Paulo"
        assert driver.vehicle.default_driver == driver
    assert drivers.filter(carrier__isnull=False).count() >= 1


def test_every_document_phone_and_postal_code_is_valid(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    parties = [
        *Branch.objects.filter(account=account),
        *Carrier.objects.filter(account=account),
    ]
    for party in parties:
        assert normalise_cnpj(party.document) == party.document
    for partner in Partner.objects.filter(account=account):
        assert normalise_cnpj(partner.document) == partner.document
    drivers = Driver.objects.filter(account=account)
    for driver in drivers:
        assert normalise_cpf(driver.cpf) == driver.cpf
    customers = Customer.objects.filter(account=account)
    assert {customer.kind for customer in customers} == {"person", "company"}
    for customer in customers:
        assert normalise_document(customer.document) == customer.document
        assert len(customer.document) == (11 if customer.kind == "person" else 14)
    # Nobody shares a document.
    documents = [customer.document for customer in customers] + [d.cpf for d in drivers]
    assert len(set(documents)) == len(documents)
    for row in [*parties, *drivers, *customers]:
        assert row.phone and normalise_phone(row.phone) == row.phone, row
    for row in [*parties, *customers, *Service.objects.filter(account=account)]:
        assert normalise_postal_code(row.postal_code) == row.postal_code, row


def test_the_demo_has_todays_planned_routes_for_its_own_drivers(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    routes = Route.objects.filter(account=account, date=account.today())
    assert routes.count() >= 2
    for route in routes:
        assert route.status == RouteStatus.PLANNED
        assert route.driver.carrier_id is None  # the carrier's driver is left to route by hand
        assert route.planned_distance_m > 0 and route.start_lat is not None
        assert route.stops.exists()
        assert not route.stops.exclude(service__status=ServiceStatus.ROUTED).exists()
    assert Service.objects.filter(account=account, status=ServiceStatus.PENDING).exists()


def test_running_twice_creates_no_duplicates(capsys):
    first = seed(capsys)
    counts = {model: model.objects.count() for model in MODELS}
    second = seed(capsys)
    assert {model: model.objects.count() for model in MODELS} == counts
    # A new integration key each run (keys cannot be read back); the earlier one stops working.
    assert first.pop("api_key") != second.pop("api_key")
    assert first == second


def test_drivers_seeded_with_the_old_dotted_username_are_renamed_not_duplicated(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    Driver.objects.filter(account=account, username="ana").update(username="demo.ana")
    output = seed(capsys)
    assert not Driver.objects.filter(username="demo.ana").exists()
    assert Driver.objects.filter(account=account).count() == 3
    assert driver_of(output["drivers"][0]["username"]).username == "ana"


def test_two_demo_accounts_see_nothing_of_each_other(capsys):
    demo = seed(capsys)
    other = seed(capsys, "--account", "other")
    demo_manager = User.objects.get(email=demo["manager"]["email"])
    other_manager = User.objects.get(email=other["manager"]["email"])
    for model in TENANT_MODELS:
        mine = access.scope(other_manager, model.objects.all())
        theirs = access.scope(demo_manager, model.objects.all())
        assert mine.exists(), model
        assert not set(mine.values_list("pk", flat=True)) & set(theirs.values_list("pk", flat=True))
    # The same usernames in both accounts: the login tells the drivers apart.
    assert driver_of("demo.ana") != driver_of("other.ana")


def test_human_output_lists_the_logins(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "manager@demo.example.com" in out
    assert "demo.ana" in out
