"""The services list's driver filter: services with a stop on one of the driver's routes, each
once however many attempts, the same in the counts and the exports, and only the drivers the user
may see offered."""

import csv
import io
import re
from datetime import date

import pytest
from django.urls import reverse

from accounts.models import Role
from routes import actions
from routes.models import StopStatus
from services import actions as services_actions
from services.actions import Actor
from services.models import ServiceStatus
from tests.factories import (
    BranchFactory,
    DriverFactory,
    FailureReasonFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("services:index")
EXPORT = reverse("services:export")
DAY = date(2030, 3, 4)


def listed(response):
    return sorted(service.order_number for service in response.context["page"])


def route(driver, services, day=DAY):
    return actions.route_create(
        account=driver.account, actor=Actor.system(), driver=driver, vehicle=driver.vehicle,
        day=day, services=services,
    )  # fmt: skip


def fail_everything(route_, driver):
    """The driver runs the route and every attempt fails: the services can be routed again."""
    actor = Actor.for_driver(driver)
    reason = FailureReasonFactory(account=route_.account)
    actions.route_start(route=route_, actor=actor)
    for stop in route_.stops.all():
        actions.stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=actor)
        actions.stop_change_status(
            stop=stop, to_status=StopStatus.FAILED, actor=actor, failure_reason=reason
        )
    actions.route_finish(route=route_, actor=actor)


@pytest.fixture
def crews(account_a):
    """Ana with ORDER-A1 and ORDER-A2 (A2 attempted twice by her), Bruno with ORDER-B1, and
    ORDER-X never routed."""
    ana = DriverFactory(account=account_a, first_name="Ana", username="ana")
    bruno = DriverFactory(account=account_a, first_name="Bruno", username="bruno")
    a1, a2, b1 = (
        ServiceFactory(account=account_a, order_number=number)
        for number in ("ORDER-A1", "ORDER-A2", "ORDER-B1")
    )
    ServiceFactory(account=account_a, order_number="ORDER-X")
    first = route(ana, [a2])
    fail_everything(first, ana)
    a2 = services_actions.service_reschedule(service=a2, actor=Actor.system())
    assert a2.status == ServiceStatus.PENDING
    route(ana, [a1, a2], day=DAY.replace(day=5))
    route(bruno, [b1])
    assert a2.stops.count() == 2
    return ana, bruno


def test_the_filter_keeps_the_drivers_services_once_each(client_of, manager_a, crews):
    ana, bruno = crews
    client = client_of(manager_a)
    assert len(listed(client.get(INDEX))) == 4
    response = client.get(INDEX, {"driver": ana.pk})
    assert listed(response) == ["ORDER-A1", "ORDER-A2"]
    assert response.context["page"].paginator.count == 2
    assert response.context["total_count"] == 2
    assert listed(client.get(INDEX, {"driver": bruno.pk})) == ["ORDER-B1"]
    # Combined with another filter.
    assert listed(client.get(INDEX, {"driver": ana.pk, "q": "A1"})) == ["ORDER-A1"]


def test_the_export_keeps_the_driver_filter(client_of, manager_a, crews):
    ana, _bruno = crews
    response = client_of(manager_a).get(EXPORT, {"driver": ana.pk, "format": "csv"})
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    body = "\n".join(",".join(row) for row in rows[1:])
    assert len(rows) == 3
    assert "ORDER-A1" in body and "ORDER-A2" in body and "ORDER-B1" not in body


def test_another_accounts_driver_is_ignored(client_of, manager_a, account_b, crews):
    outsider = DriverFactory(account=account_b)
    response = client_of(manager_a).get(INDEX, {"driver": outsider.pk})
    assert response.status_code == 200
    assert len(listed(response)) == 4
    assert response.context["form"].errors["driver"]
    for junk in ("nope", "99999999999999999999999"):
        assert client_of(manager_a).get(INDEX, {"driver": junk}).status_code == 200


def test_the_select_offers_only_the_drivers_the_user_may_see(
    client_of, manager_a, account_a, account_b, crews
):
    ana, bruno = crews
    outsider = DriverFactory(account=account_b, first_name="Zeca")
    response = client_of(manager_a).get(INDEX)
    offered = set(response.context["form"].fields["driver"].queryset)
    assert offered == {ana, bruno}
    select = re.search(r'<select name="driver".*?</select>', response.content.decode(), re.S)[0]
    assert f'value="{ana.pk}"' in select and "Ana" in select and "(ana)" in select
    assert f'value="{outsider.pk}"' not in select and "Zeca" not in select

    branch = BranchFactory(account=account_a)
    local = DriverFactory(account=account_a, first_name="Lia", branch=branch)
    operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=branch)
    response = client_of(operator).get(INDEX)
    assert set(response.context["form"].fields["driver"].queryset) == {local}
