import json

import pytest
from django.core.management import call_command

from accounts import access
from accounts.models import Account, Branch, Customer, Driver, User, Vehicle
from services.models import Service

pytestmark = pytest.mark.django_db

MODELS = [Account, User, Branch, Vehicle, Driver, Customer, Service]


def seed(capsys, *args):
    call_command("seed_demo", *args, "--json")
    return json.loads(capsys.readouterr().out)


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
        driver = Driver.objects.get(username=entry["username"])
        assert driver.check_password(entry["password"])
        assert driver.first_name == entry["first_name"]
        assert driver.vehicle.plate == entry["vehicle_plate"]
        assert driver.account.slug == "other"


def test_demo_has_a_branch_in_sao_paulo_and_services_spread_over_the_city(capsys):
    seed(capsys)
    account = Account.objects.get(slug="demo")
    branch = Branch.objects.get(account=account)
    assert branch.city == "São Paulo"
    services = Service.objects.filter(account=account)
    assert services.count() >= 20
    assert len({service.district for service in services}) >= 8
    for service in services:
        # Inside the city of São Paulo.
        assert -23.75 < service.lat < -23.40 and -46.85 < service.lng < -46.45


def test_running_twice_creates_no_duplicates(capsys):
    first = seed(capsys)
    counts = {model: model.objects.count() for model in MODELS}
    second = seed(capsys)
    assert {model: model.objects.count() for model in MODELS} == counts
    assert first == second


def test_two_demo_accounts_see_nothing_of_each_other(capsys):
    demo = seed(capsys)
    other = seed(capsys, "--account", "other")
    demo_manager = User.objects.get(email=demo["manager"]["email"])
    other_manager = User.objects.get(email=other["manager"]["email"])
    for model in MODELS:
        mine = access.scope(other_manager, model.objects.all())
        theirs = access.scope(demo_manager, model.objects.all())
        assert mine.exists(), model
        assert not set(mine.values_list("pk", flat=True)) & set(theirs.values_list("pk", flat=True))


def test_human_output_lists_the_logins(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "manager@demo.example.com" in out
    assert "demo.ana" in out
