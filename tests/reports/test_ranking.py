"""The ranking report against hand-made stops whose expected numbers are written here: success
rate, on-time rate, average rating and services per hour per driver and per carrier, and the
order; who sees what; the page, the partial and the exports; a constant number of queries."""

import csv
import io
import zoneinfo
from datetime import date, datetime
from types import SimpleNamespace

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from lastmile.models import Rating
from reports.deliveries import DeliveryFilters
from reports.ranking import COLUMNS, ranking_report
from routes.models import RouteStatus, Stop, StopStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

TZ = zoneinfo.ZoneInfo("America/Sao_Paulo")
D1, D2 = date(2026, 3, 10), date(2026, 3, 11)
PERIOD = {"date_from": "2026-03-10", "date_to": "2026-03-11"}

# Name: (rank, success %, done, failed, on-time %, on time, done with a deadline, average rating,
# ratings, services per hour, hours), in COLUMNS' order after the rank.
DRIVERS = {
    "Carla Costa": (1, 100.0, 2, 0, 0.0, 0, 1, None, 0, 2.0, 1.0),
    "Ana Alves": (2, 75.0, 3, 1, 50.0, 1, 2, 4.0, 2, 0.75, 4.0),
    "Bruno Borges": (3, 50.0, 1, 1, 100.0, 1, 1, 4.0, 1, 0.5, 2.0),
}
CARRIERS = {
    "Alfa Transportes": (1, 83.3, 5, 1, 33.3, 1, 3, 4.0, 2, 1.0, 5.0),
    "No carrier": (2, 50.0, 1, 1, 100.0, 1, 1, 4.0, 1, 0.5, 2.0),
}


def at(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def stop(route, status, left=None, deadline=None, stars=None):
    service = f.ServiceFactory(account=route.account, deadline=deadline)
    if stars:
        Rating.objects.create(account=route.account, service=service, stars=stars)
    return Stop.objects.create(
        account=route.account, route=route, service=service, sequence=route.stops.count(),
        status=status, left_at=left,
    )  # fmt: skip


def route(account, driver, day, start, finish, carrier=None):
    return f.RouteFactory(
        account=account, driver=driver, carrier=carrier, date=day, status=RouteStatus.FINISHED,
        started_at=at(day, start), finished_at=at(day, finish),
    )  # fmt: skip


def build_dataset(account):
    data = SimpleNamespace(account=account)
    data.alfa = f.CarrierFactory(account=account, name="Alfa Transportes")
    data.ana = f.DriverFactory(
        account=account, first_name="Ana", last_name="Alves", carrier=data.alfa
    )
    data.bruno = f.DriverFactory(account=account, first_name="Bruno", last_name="Borges")
    data.carla = f.DriverFactory(
        account=account, first_name="Carla", last_name="Costa", carrier=data.alfa
    )
    # Ana: 4 hours; 3 done (on time, late, no deadline), 1 failed; ratings 5 and 3.
    r = route(account, data.ana, D1, 8, 12, data.alfa)
    stop(r, StopStatus.DONE, at(D1, 9), deadline=at(D1, 10), stars=5)
    stop(r, StopStatus.DONE, at(D1, 9, 30), deadline=at(D1, 9), stars=3)
    stop(r, StopStatus.DONE, at(D1, 10))
    stop(r, StopStatus.FAILED, at(D1, 11))
    # Bruno, no carrier: 2 hours; 1 done on time rated 4, 1 failed (its rating 1 is not his).
    r = route(account, data.bruno, D1, 9, 11)
    stop(r, StopStatus.DONE, at(D1, 10), deadline=at(D1, 12), stars=4)
    stop(r, StopStatus.FAILED, at(D1, 10, 30), stars=1)
    # Carla: 1 hour; 2 done, one late, none rated; a pending stop counts nowhere.
    r = route(account, data.carla, D2, 8, 9, data.alfa)
    stop(r, StopStatus.DONE, at(D2, 8, 30), deadline=at(D2, 7))
    stop(r, StopStatus.DONE, at(D2, 8, 45))
    stop(r, StopStatus.PENDING)
    # Left out: a route dated before the period.
    r = route(account, data.bruno, date(2026, 3, 1), 8, 9)
    stop(r, StopStatus.DONE, at(date(2026, 3, 1), 8, 30))
    return data


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


@pytest.fixture
def other_account_route(account_b):
    driver = f.DriverFactory(account=account_b, first_name="Zeca", last_name="Zur")
    r = route(account_b, driver, D1, 8, 9)
    stop(r, StopStatus.DONE, at(D1, 8, 30))
    return r


def table(rows):
    return {row["name"]: (row["rank"], *(row[key] for key in COLUMNS)) for row in rows}


def report_of(user, **filters):
    return ranking_report(user=user, filters=DeliveryFilters(first_day=D1, last_day=D2, **filters))


def test_the_report_of_the_data_set(manager_a, data, other_account_route):
    report = report_of(manager_a)
    assert table(report.drivers) == DRIVERS
    assert [row["name"] for row in report.drivers] == list(DRIVERS)
    assert table(report.carriers) == CARRIERS
    assert [row["name"] for row in report.carriers] == list(CARRIERS)


def test_ties_on_success_rate_are_broken_by_on_time_rate(manager_a, data):
    # Dario: 1 done of 2 (50 %, as Bruno) but not on time: after Bruno.
    dario = f.DriverFactory(account=data.account, first_name="Dario", last_name="Dias")
    r = route(data.account, dario, D1, 8, 10)
    stop(r, StopStatus.DONE, at(D1, 9), deadline=at(D1, 8))
    stop(r, StopStatus.FAILED, at(D1, 9, 30))
    names = [row["name"] for row in report_of(manager_a).drivers]
    assert names == ["Carla Costa", "Ana Alves", "Bruno Borges", "Dario Dias"]


def test_a_manager_narrowed_to_a_carrier_sees_only_its_drivers(client_of, data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER, carrier=data.alfa)
    report = report_of(manager)
    assert table(report.drivers) == {
        "Carla Costa": DRIVERS["Carla Costa"], "Ana Alves": DRIVERS["Ana Alves"],
    }  # fmt: skip
    assert table(report.carriers) == {"Alfa Transportes": CARRIERS["Alfa Transportes"]}
    response = client_of(manager).get(reverse("reports:ranking_csv"), PERIOD)
    content = b"".join(response.streaming_content).decode()
    assert "Bruno" not in content


def test_another_accounts_manager_sees_nothing_of_this_account(
    client_of, manager_b, data, other_account_route
):
    assert [row["name"] for row in report_of(manager_b).drivers] == ["Zeca Zur"]
    response = client_of(manager_b).get(reverse("reports:ranking_xlsx"), PERIOD)
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    names = [row[1] for row in workbook["Drivers"].iter_rows(min_row=2, values_only=True)]
    assert names == ["Zeca Zur"]


def test_the_page_and_the_partial(client_of, manager_a, data):
    client = client_of(manager_a)
    html = client.get(reverse("reports:ranking"), PERIOD).content.decode()
    assert 'data-testid="table-ranking-drivers"' in html
    assert "(3/4)" in html  # Ana's done of done and failed
    partial = client.get(reverse("reports:ranking"), PERIOD, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode()
    assert 'data-testid="table-ranking-carriers"' in partial.content.decode()


def test_the_csv_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:ranking_csv"), PERIOD)
    assert response["Content-Disposition"].endswith('"ranking-2026-03-10-2026-03-11.csv"')
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert lines[0][:4] == ["Table", "Rank", "Driver", "Success rate (%)"]
    assert lines[2] == [
        "Drivers", "2", "Ana Alves", "75.0", "3", "1", "50.0", "1", "2", "4.0", "2", "0.75",
        "4.0",
    ]  # fmt: skip


def test_the_xlsx_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:ranking_xlsx"), PERIOD)
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    carriers = list(workbook["Carriers"].iter_rows(values_only=True))
    assert carriers[1] == (1, "Alfa Transportes", 83.3, 5, 1, 33.3, 1, 3, 4, 2, 1, 5)
    assert carriers[2][:3] == (2, "No carrier", 50)


def test_a_constant_number_of_queries(manager_a, data):
    with CaptureQueriesContext(connection) as before:
        report_of(manager_a)
    for _ in range(3):
        driver = f.DriverFactory(
            account=data.account, carrier=f.CarrierFactory(account=data.account)
        )
        r = route(data.account, driver, D1, 8, 9, driver.carrier)
        stop(r, StopStatus.DONE, at(D1, 8, 30), stars=2)
    with CaptureQueriesContext(connection) as after:
        report = report_of(manager_a)
    assert len(report.drivers) == 6
    assert len(report.carriers) == 5
    assert len(after) == len(before) == 4


def test_operators_get_no_report(client_of, operator_a):
    assert client_of(operator_a).get(reverse("reports:ranking")).status_code == 404
    assert client_of(operator_a).get(reverse("reports:ranking_csv")).status_code == 404


def test_a_partner_user_counts_only_its_services_stops(data):
    partner = f.PartnerFactory(account=data.account, name="Loja Parceira")
    # Ana's first (on time, rated 5) stop is the partner's service; nobody else's is.
    first = Stop.objects.filter(route__driver=data.ana).order_by("sequence").first()
    first.service.partner = partner
    first.service.save()
    user = f.UserFactory(account=data.account, role=Role.PARTNER, partner=partner)
    report = report_of(user)
    assert table(report.drivers) == {"Ana Alves": (1, 100.0, 1, 0, 100.0, 1, 1, 5.0, 1, 0.25, 4.0)}
