"""The driver status report against hand-made drivers whose expected rows are written here:
online or offline, last position, battery, current route with its stops done; who sees what; the
exports; a constant number of queries."""

import csv
import io
from datetime import timedelta
from types import SimpleNamespace

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from reports.driver_status import driver_status_report
from routes.models import RouteStatus, Stop, StopStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

# Name: (online, battery, stops done/total of the current route or None).
EXPECTED = {
    "Ana Alves": (True, 80, (2, 3)),
    "Bruno Borges": (True, None, None),
    "Carla Costa": (False, 15, None),
    "Elsa Ernst": (False, None, None),
}


def build_dataset(account):
    now = timezone.now()
    today = account.today()
    data = SimpleNamespace(account=account)
    data.alfa = f.CarrierFactory(account=account, name="Alfa Transportes")
    # Seen a minute ago; the position is older, the route in progress has 2 of 3 stops done.
    data.ana = f.DriverFactory(
        account=account, first_name="Ana", last_name="Alves", carrier=data.alfa,
        last_seen_at=now - timedelta(minutes=1), last_lat=-23.5, last_lng=-46.6,
        last_position_at=now - timedelta(minutes=10), battery_pct=80,
    )  # fmt: skip
    route = f.RouteFactory(
        account=account, driver=data.ana, date=today, status=RouteStatus.IN_PROGRESS
    )
    for sequence, status in enumerate([StopStatus.DONE, StopStatus.DONE, StopStatus.PENDING]):
        Stop.objects.create(
            account=account, route=route, service=f.ServiceFactory(account=account),
            sequence=sequence, status=status,
        )  # fmt: skip
    # Not seen for an hour, but a position two minutes ago: online. Only a planned route.
    data.bruno = f.DriverFactory(
        account=account, first_name="Bruno", last_name="Borges",
        last_seen_at=now - timedelta(hours=1), last_position_at=now - timedelta(minutes=2),
    )  # fmt: skip
    f.RouteFactory(account=account, driver=data.bruno, date=today, status=RouteStatus.PLANNED)
    # Seen ten minutes ago: offline; today's route is finished.
    data.carla = f.DriverFactory(
        account=account, first_name="Carla", last_name="Costa",
        last_seen_at=now - timedelta(minutes=10), battery_pct=15,
    )  # fmt: skip
    f.RouteFactory(account=account, driver=data.carla, date=today, status=RouteStatus.FINISHED)
    # Never seen, no position: offline.
    f.DriverFactory(account=account, first_name="Elsa", last_name="Ernst")
    # Inactive: left out.
    f.DriverFactory(account=account, first_name="Dario", is_active=False, last_seen_at=now)
    return data


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


@pytest.fixture
def other_account_driver(account_b):
    return f.DriverFactory(account=account_b, first_name="Zeca", last_seen_at=timezone.now())


def rows(report):
    return {
        row["name"]: (
            row["online"],
            row["battery_pct"],
            (row["stops_done"], row["stops_total"]) if row["route_id"] else None,
        )
        for row in report.drivers
    }


def get_report(client):
    response = client.get(reverse("reports:driver_status"))
    assert response.status_code == 200
    return response.context["report"]


def test_the_report_of_the_data_set(client_of, manager_a, data, other_account_driver):
    report = get_report(client_of(manager_a))

    assert rows(report) == EXPECTED
    assert report.totals == {"total": 4, "online": 2, "offline": 2}
    ana = report.drivers[0]
    assert (ana["last_lat"], ana["last_lng"]) == (-23.5, -46.6)


def test_the_page_shows_counts_and_the_table(client_of, manager_a, data):
    html = client_of(manager_a).get(reverse("reports:driver_status")).content.decode()
    assert 'data-testid="total-online">2<' in html
    assert 'data-testid="total-offline">2<' in html
    assert "2/3" in html
    assert "Dario" not in html


def test_a_manager_narrowed_to_a_carrier_sees_only_its_drivers(client_of, data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER, carrier=data.alfa)
    assert rows(get_report(client_of(manager))) == {"Ana Alves": EXPECTED["Ana Alves"]}


def test_another_accounts_manager_sees_nothing_of_this_account(
    client_of, manager_b, data, other_account_driver
):
    client = client_of(manager_b)
    drivers = get_report(client).drivers
    assert [row["pk"] for row in drivers] == [other_account_driver.pk]
    response = client.get(reverse("reports:driver_status_export", args=["csv"]))
    assert "Ana" not in b"".join(response.streaming_content).decode()


def test_operators_and_anonymous_users_get_no_report(client, client_of, operator_a):
    assert client.get(reverse("reports:driver_status")).status_code == 302
    assert client_of(operator_a).get(reverse("reports:driver_status")).status_code == 404
    export = reverse("reports:driver_status_export", args=["xlsx"])
    assert client_of(operator_a).get(export).status_code == 404


def test_the_index_lists_the_report(client_of, manager_a):
    response = client_of(manager_a).get(reverse("reports:index"))
    assert reverse("reports:driver_status") in response.content.decode()


def test_csv_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:driver_status_export", args=["csv"]))
    assert response.status_code == 200
    assert "driver-status-" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = {row[1]: row for row in csv.reader(io.StringIO(text)) if row[0] == "Drivers"}
    assert lines["Ana Alves"][2] == "Online"
    assert lines["Ana Alves"][-2:] == ["2", "3"]
    assert lines["Carla Costa"][2] == "Offline"


def test_xlsx_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:driver_status_export", args=["xlsx"]))
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = list(workbook["Drivers"].iter_rows(values_only=True))
    table = {row[0]: row for row in sheet[1:]}
    assert sheet[0][0] == "Driver"
    assert table["Ana Alves"][1] == "Online"
    assert table["Ana Alves"][6] == 80
    assert table["Ana Alves"][-2:] == (2, 3)
    assert table["Bruno Borges"][-3:] == (None, 0, 0)


def test_the_number_of_queries_does_not_grow_with_the_drivers(data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    now, today = timezone.now(), data.account.today()
    with CaptureQueriesContext(connection) as before:
        driver_status_report(user=manager, now=now, today=today)
    for _ in range(5):
        driver = f.DriverFactory(account=data.account, last_seen_at=now)
        f.RouteFactory(
            account=data.account, driver=driver, date=today, status=RouteStatus.IN_PROGRESS
        )
    with CaptureQueriesContext(connection) as after:
        report = driver_status_report(user=manager, now=now, today=today)
    assert report.totals == {"total": 9, "online": 7, "offline": 2}
    assert len(after) == len(before) == 2
