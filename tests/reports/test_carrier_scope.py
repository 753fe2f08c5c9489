"""A carrier user reads every report narrowed to its own carrier: its services, routes and
drivers, never another carrier's (pages and exports)."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse

from accounts.models import Role
from routes.models import Route, RouteStatus
from tests import factories as f

from .test_deliveries import D1, PERIOD, TZ, build_dataset

pytestmark = pytest.mark.django_db

PAGES = [
    ("reports:deliveries", ()),
    ("reports:deliveries_export", ("csv",)),
    ("reports:scheduling", ()),
    ("reports:scheduling_csv", ()),
    ("reports:working_hours", ()),
    ("reports:working_hours_csv", ()),
    ("reports:ranking", ()),
    ("reports:ranking_csv", ()),
    ("reports:messages", ()),
    ("reports:messages_export", ("csv",)),
    ("reports:driver_status", ()),
    ("reports:driver_status_export", ("csv",)),
]


@pytest.fixture
def data(account_a):
    data = build_dataset(account_a)
    # The two drivers' routes, started and finished, each of its driver's carrier; Bruno's is
    # under way now too (driver status).
    for route in Route.objects.select_related("driver"):
        started = datetime.combine(route.date, datetime.min.time(), tzinfo=TZ) + timedelta(hours=8)
        route.carrier_id = route.driver.carrier_id
        route.status = RouteStatus.FINISHED
        route.started_at, route.finished_at = started, started + timedelta(hours=9)
        route.save()
    f.RouteFactory(
        account=account_a, driver=data.driver_2, carrier=data.beta, status=RouteStatus.IN_PROGRESS,
        started_at=datetime.combine(D1, datetime.min.time(), tzinfo=TZ),
    )  # fmt: skip
    return data


def body(response):
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_a_carrier_user_sees_only_its_carrier_in_every_report(client_of, data, name, args):
    carrier_user = f.UserFactory(account=data.account, role=Role.CARRIER, carrier=data.beta)
    response = client_of(carrier_user).get(reverse(name, args=args), PERIOD)
    assert response.status_code == 200
    text = body(response)
    assert data.driver_1.first_name not in text  # Ana drives for Alfa
    assert "Alfa Transportes" not in text


@pytest.mark.parametrize(
    "name", ["reports:working_hours", "reports:ranking", "reports:driver_status"]
)
def test_the_carrier_user_does_see_its_own_drivers(client_of, data, name):
    carrier_user = f.UserFactory(account=data.account, role=Role.CARRIER, carrier=data.beta)
    text = body(client_of(carrier_user).get(reverse(name), PERIOD))
    assert data.driver_2.first_name in text  # Bruno drives for Beta
