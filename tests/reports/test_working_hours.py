"""The working hours report against hand-made routes whose expected numbers are written here:
first start, last finish, driving, at customers, idle and distance per driver and local day; who
sees what; the page, the partial and the exports; a constant number of queries."""

import csv
import io
import zoneinfo
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from reports.deliveries import DeliveryFilters
from reports.working_hours import hours, working_hours_report
from routes.models import RouteStatus, Stop, StopStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

TZ = zoneinfo.ZoneInfo("America/Sao_Paulo")
D1, D2 = date(2026, 3, 10), date(2026, 3, 11)
PERIOD = {"date_from": "2026-03-10", "date_to": "2026-03-11"}
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=TZ)

# (driver, day): (first start, last finish, driving h, at customers h, idle h, distance m,
# routes, routes with the planned distance).
EXPECTED = {
    ("Ana Alves", D1): ("08:00", "15:00", 1.5, 1.0, 4.5, 42000, 2, 1),
    # Started at 22:00 local, 01:00 UTC the next day: still the 10th in the account's time zone.
    ("Bruno Borges", D1): ("22:00", "23:00", 0.0, 0.0, 1.0, 1000, 1, 0),
    # Still running: the day ends now (10:00) for idle time.
    ("Bruno Borges", D2): ("07:00", None, 0.75, 0.25, 2.0, 5000, 1, 0),
}


def at(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def stop(route, sequence, status, started=None, arrived=None, left=None):
    return Stop.objects.create(
        account=route.account, route=route, service=f.ServiceFactory(account=route.account),
        sequence=sequence, status=status, started_at=started, arrived_at=arrived, left_at=left,
    )  # fmt: skip


def build_dataset(account):
    data = SimpleNamespace(account=account)
    data.alfa = f.CarrierFactory(account=account, name="Alfa Transportes")
    data.ana = f.DriverFactory(
        account=account, first_name="Ana", last_name="Alves", carrier=data.alfa
    )
    data.bruno = f.DriverFactory(account=account, first_name="Bruno", last_name="Borges")
    # Ana, the 10th: two routes, 08:00-12:00 (30 km travelled) and 13:00-15:00 (nothing
    # travelled recorded: its planned 12 km).
    r1 = f.RouteFactory(
        account=account, driver=data.ana, carrier=data.alfa, date=D1,
        status=RouteStatus.FINISHED, started_at=at(D1, 8), finished_at=at(D1, 12),
        travelled_distance_m=30000, planned_distance_m=28000,
    )  # fmt: skip
    stop(r1, 1, StopStatus.DONE, at(D1, 8, 10), at(D1, 8, 40), at(D1, 8, 50))  # 30' + 10'
    stop(r1, 2, StopStatus.FAILED, at(D1, 8, 50), at(D1, 9, 20), at(D1, 9, 40))  # 30' + 20'
    stop(r1, 3, StopStatus.CANCELLED, at(D1, 9, 40))  # never arrived: nothing
    r2 = f.RouteFactory(
        account=account, driver=data.ana, carrier=data.alfa, date=D1,
        status=RouteStatus.FINISHED, started_at=at(D1, 13), finished_at=at(D1, 15),
        planned_distance_m=12000,
    )  # fmt: skip
    stop(r2, 1, StopStatus.DONE, at(D1, 13), at(D1, 13, 30), at(D1, 14))  # 30' + 30'
    # Bruno, the 10th, late: a route without stops.
    f.RouteFactory(
        account=account, driver=data.bruno, date=D1, status=RouteStatus.FINISHED,
        started_at=at(D1, 22), finished_at=at(D1, 23), travelled_distance_m=1000,
    )  # fmt: skip
    # Bruno, the 11th: in progress since 07:00.
    r4 = f.RouteFactory(
        account=account, driver=data.bruno, date=D2, status=RouteStatus.IN_PROGRESS,
        started_at=at(D2, 7), travelled_distance_m=5000,
    )  # fmt: skip
    stop(r4, 1, StopStatus.DONE, at(D2, 7), at(D2, 7, 45), at(D2, 8))  # 45' + 15'
    # Left out: dated before the period; not started.
    f.RouteFactory(
        account=account, driver=data.ana, carrier=data.alfa, date=D1 - timedelta(days=3),
        status=RouteStatus.FINISHED, started_at=at(D1 - timedelta(days=3), 8),
        finished_at=at(D1 - timedelta(days=3), 9), travelled_distance_m=99000,
    )  # fmt: skip
    f.RouteFactory(account=account, driver=data.ana, date=D2, planned_distance_m=77000)
    return data


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


@pytest.fixture
def other_account_route(account_b):
    driver = f.DriverFactory(account=account_b, first_name="Zeca", last_name="Zur")
    return f.RouteFactory(
        account=account_b, driver=driver, date=D1, started_at=at(D1, 8),
        finished_at=at(D1, 9), travelled_distance_m=3000,
    )  # fmt: skip


def rows(report):
    def hm(value):
        return value.astimezone(TZ).strftime("%H:%M") if value else None

    return {
        (row["name"], row["day"]): (
            hm(row["first_start"]), hm(row["last_finish"]), hours(row["driving"]),
            hours(row["at_customers"]), hours(row["idle"]), row["distance_m"], row["routes"],
            row["planned_routes"],
        )
        for row in report.rows
    }  # fmt: skip


def report_of(user, **filters):
    return working_hours_report(
        user=user, filters=DeliveryFilters(first_day=D1, last_day=D2, **filters), tzinfo=TZ,
        now=NOW,
    )  # fmt: skip


def test_the_report_of_the_data_set(manager_a, data, other_account_route):
    report = report_of(manager_a)

    assert rows(report) == EXPECTED
    assert [(row["name"], row["day"]) for row in report.rows] == list(EXPECTED)
    totals = report.totals
    assert (hours(totals["driving"]), hours(totals["at_customers"]), hours(totals["idle"])) == (
        2.25, 1.25, 7.5,
    )  # fmt: skip
    assert (totals["distance_m"], totals["routes"], totals["planned_routes"]) == (48000, 4, 1)
    assert totals["drivers"] == 2


def test_filters_narrow_the_report(manager_a, data):
    assert set(rows(report_of(manager_a, driver=data.bruno))) == {
        ("Bruno Borges", D1), ("Bruno Borges", D2),
    }  # fmt: skip
    assert set(rows(report_of(manager_a, carrier=data.alfa))) == {("Ana Alves", D1)}


def test_a_manager_narrowed_to_a_carrier_sees_only_its_drivers(client_of, data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER, carrier=data.alfa)
    assert rows(report_of(manager)) == {("Ana Alves", D1): EXPECTED[("Ana Alves", D1)]}
    response = client_of(manager).get(reverse("reports:working_hours_csv"), PERIOD)
    content = b"".join(response.streaming_content).decode()
    assert "Ana Alves" in content
    assert "Bruno" not in content


def test_another_accounts_manager_sees_nothing_of_this_account(
    client_of, manager_b, data, other_account_route
):
    assert [row["name"] for row in report_of(manager_b).rows] == ["Zeca Zur"]
    response = client_of(manager_b).get(reverse("reports:working_hours_csv"), PERIOD)
    content = b"".join(response.streaming_content).decode()
    assert "Ana" not in content
    assert "Zeca Zur" in content


def test_the_page_shows_totals_chart_and_table(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:working_hours"), PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="working-hours-chart"' in html
    assert 'data-testid="total-drivers">2<' in html
    assert "Ana Alves" in html
    chart = response.context["chart"]
    assert chart["labels"] == ["Ana Alves", "Bruno Borges"]
    # Bruno's idle time ends now, the real now in the view: only the first two series are fixed.
    assert [series["key"] for series in chart["series"]] == ["driving", "at_customers", "idle"]
    assert chart["series"][0]["data"] == [1.5, 0.75]
    assert chart["series"][1]["data"] == [1.0, 0.25]
    assert chart["series"][2]["data"][0] == 4.5


def test_the_htmx_request_gets_the_results_partial(client_of, manager_a, data):
    response = client_of(manager_a).get(
        reverse("reports:working_hours"), PERIOD, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert 'data-testid="table-working-hours"' in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_the_csv_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:working_hours_csv"), PERIOD)
    assert response["Content-Disposition"].endswith('"working-hours-2026-03-10-2026-03-11.csv"')
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert lines[0][:3] == ["Table", "Day", "Driver"]
    ana = next(line for line in lines if line[2] == "Ana Alves")
    assert ana[1:] == [
        "2026-03-10", "Ana Alves", "2026-03-10 08:00:00", "2026-03-10 15:00:00", "1.5", "1.0",
        "4.5", "42.0", "2", "1",
    ]  # fmt: skip


def test_the_xlsx_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:working_hours_xlsx"), PERIOD)
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Working hours"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][1] == "Driver"
    ana = next(row for row in values if row[1] == "Ana Alves")
    assert ana[2] == datetime(2026, 3, 10, 8, 0)
    assert ana[4:9] == (1.5, 1.0, 4.5, 42.0, 2)


def test_a_constant_number_of_queries(manager_a, data):
    with CaptureQueriesContext(connection) as before:
        report_of(manager_a)
    for hour in (16, 17, 18):
        route = f.RouteFactory(
            account=data.account, driver=f.DriverFactory(account=data.account), date=D1,
            started_at=at(D1, hour), finished_at=at(D1, hour, 30),
        )  # fmt: skip
        stop(route, 1, StopStatus.DONE, at(D1, hour), at(D1, hour, 10), at(D1, hour, 20))
    with CaptureQueriesContext(connection) as after:
        report = report_of(manager_a)
    assert len(report.rows) == 6
    assert len(after) == len(before) == 2


def test_operators_and_anonymous_users_get_no_report(client, client_of, operator_a):
    assert client.get(reverse("reports:working_hours")).status_code == 302
    assert client_of(operator_a).get(reverse("reports:working_hours")).status_code == 404
    assert client_of(operator_a).get(reverse("reports:working_hours_xlsx")).status_code == 404
