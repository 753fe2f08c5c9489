"""The scheduling report against a hand-made data set whose numbers are written here: services
scheduled in the period, delivered on the scheduled date or late, failed, not yet; inside or
outside the window (in the branch's time zone, else the account's); by day and by origin; who
sees what; the exports; a constant number of queries."""

import csv
import io
from datetime import date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from reports.deliveries import DeliveryFilters
from reports.scheduling import scheduling_report
from routes.models import Stop, StopStatus
from scheduling.models import Origin, Schedule
from services.models import ActorType, EventKind, ServiceEvent, ServiceStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("America/Sao_Paulo")  # UTC-3
D0, D1, D2, D3 = date(2030, 3, 3), date(2030, 3, 4), date(2030, 3, 5), date(2030, 3, 6)
PERIOD = {"date_from": "2030-03-04", "date_to": "2030-03-05"}

COLUMNS = [
    "total", "done", "on_date", "late", "failed", "cancelled", "not_yet",
    "in_window", "outside_window",
]  # fmt: skip
TOTALS = [9, 5, 4, 1, 2, 1, 1, 2, 3]
BY_DAY = {
    D1: [5, 4, 3, 1, 1, 0, 0, 2, 2],
    D2: [4, 1, 1, 0, 1, 1, 1, 0, 1],
}
BY_ORIGIN = {
    "Integration": [4, 3, 3, 0, 0, 0, 1, 2, 1],
    "Customer": [3, 1, 1, 0, 2, 0, 0, 0, 1],
    "Back office": [2, 1, 0, 1, 0, 1, 0, 0, 1],
}
XIS_TOTALS = [5, 3, 3, 0, 1, 0, 1, 2, 1]


def at(day, hour, minute=0):
    """A time on the account's clock (São Paulo)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def build_dataset(account):
    account.time_zone = "America/Sao_Paulo"
    account.save(update_fields=["time_zone"])
    data = SimpleNamespace(account=account)
    data.north = f.BranchFactory(account=account, name="North")  # the account's time zone
    data.south = f.BranchFactory(account=account, name="South", time_zone="America/Manaus")
    data.xis = f.PartnerFactory(account=account, name="Xis Store")
    data.ypsilon = f.PartnerFactory(account=account, name="Ypsilon Shop")
    morning = f.DeliveryWindowFactory(account=account, start=time(8), end=time(12))
    afternoon = f.DeliveryWindowFactory(account=account, start=time(13), end=time(18))
    driver = f.DriverFactory(account=account)
    route = f.RouteFactory(account=account, driver=driver, date=D1)
    sequence = iter(range(1, 1000))

    def service(status, day, window, origin, *, branch, partner, left_at=None, done_event=None):
        made = f.ServiceFactory(account=account, status=status, branch=branch, partner=partner)
        if left_at or done_event:
            # When it was done, as the actions store it: the phone's time of the outcome.
            made.finished_at = left_at or done_event
            made.save(update_fields=["finished_at"])
        Schedule.objects.create(
            account=account, service=made, date=day, window=window, origin=origin
        )
        if left_at:
            Stop.objects.create(
                account=account, route=route, service=made, sequence=next(sequence),
                status=StopStatus.DONE, left_at=left_at,
            )  # fmt: skip
        if done_event:
            ServiceEvent.objects.create(
                account=account, service=made, kind=EventKind.STATUS,
                actor_type=ActorType.SYSTEM, to_status=ServiceStatus.DONE, recorded_at=done_event,
            )  # fmt: skip
        return made

    done, n, s, x, y = ServiceStatus.DONE, data.north, data.south, data.xis, data.ypsilon
    integration, customer, back_office = Origin.INTEGRATION, Origin.CUSTOMER, Origin.BACK_OFFICE
    # 1. On the date, inside the morning window.
    service(done, D1, morning, integration, branch=n, partner=x, left_at=at(D1, 10))
    # 2. On the date, outside the window (14:00 after a morning window).
    service(done, D1, morning, customer, branch=n, partner=x, left_at=at(D1, 14))
    # 3. Late: no stop, done (its status event) the next morning; outside the window too.
    service(done, D1, afternoon, back_office, branch=n, partner=y, done_event=at(D2, 9))
    # 4. South is in Manaus (UTC-4): 12:30 in São Paulo is 11:30 there, inside 08:00-12:00.
    service(done, D1, morning, integration, branch=s, partner=x, left_at=at(D1, 12, 30))
    # 5. and 6. Failed, and returned (counted as failed).
    service(ServiceStatus.FAILED, D1, afternoon, customer, branch=n, partner=y)
    service(ServiceStatus.RETURNED, D2, afternoon, customer, branch=n, partner=x)
    # 7. Cancelled; 8. not yet.
    service(ServiceStatus.CANCELLED, D2, morning, back_office, branch=s, partner=y)
    service(ServiceStatus.PENDING, D2, morning, integration, branch=n, partner=x)
    # 9. Done at 23:30 local (02:30 UTC the next day): on the date, outside the window. The
    # stop's time wins over the later status event (recorded when the phone synced).
    service(
        done, D2, afternoon, integration, branch=n, partner=y, left_at=at(D2, 23, 30),
        done_event=at(D3, 10),
    )  # fmt: skip
    # Outside the period: scheduled the day before, and a done service without a schedule.
    service(done, D0, morning, integration, branch=n, partner=x, left_at=at(D1, 10))
    f.ServiceFactory(account=account, status=done, branch=n, partner=x)
    return data


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


@pytest.fixture
def other_account_service(account_b):
    service = f.ServiceFactory(account=account_b, status=ServiceStatus.PENDING)
    window = f.DeliveryWindowFactory(account=account_b)
    Schedule.objects.create(
        account=account_b, service=service, date=D1, window=window, origin=Origin.CUSTOMER
    )
    return service


def numbers(row):
    return [row[name] for name in COLUMNS]


def table(rows):
    return {row["group"]: numbers(row) for row in rows}


def get_report(client, **params):
    response = client.get(reverse("reports:scheduling"), {**PERIOD, **params})
    assert response.status_code == 200
    return response.context["report"]


# The numbers ------------------------------------------------------------------------------------


def test_the_report_of_the_data_set(client_of, manager_a, data, other_account_service):
    report = get_report(client_of(manager_a))

    assert numbers(report.totals) == TOTALS
    assert table(report.by_day) == BY_DAY
    assert table(report.by_origin) == BY_ORIGIN
    assert report.on_date_rate == 80.0  # 4 of 5 done
    assert report.in_window_rate == 40.0  # 2 of 5 done


def test_the_page_shows_totals_chart_and_tables(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:scheduling"), PERIOD)
    html = response.content.decode()

    assert 'data-testid="total-total">9<' in html
    assert 'data-testid="total-in_window">2<' in html
    assert 'id="scheduling-chart-data"' in html
    assert 'data-testid="table-origin"' in html
    assert reverse("reports:scheduling_xlsx") in html
    chart = response.context["chart"]
    assert chart["labels"] == ["2030-03-04", "2030-03-05"]
    # On the date, late, failed, not yet, cancelled.
    series = [series["data"] for series in chart["series"]]
    assert series == [[3, 1], [1, 0], [1, 1], [0, 1], [0, 1]]


def test_the_htmx_request_gets_the_results_partial(client_of, manager_a, data):
    response = client_of(manager_a).get(
        reverse("reports:scheduling"), PERIOD, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="scheduling-chart"' in html


def test_filters_narrow_the_report(client_of, manager_a, data):
    client = client_of(manager_a)
    # South: 4 (done inside its Manaus window) and 7 (cancelled).
    assert numbers(get_report(client, branch=data.south.pk).totals) == [2, 1, 1, 0, 0, 1, 0, 1, 0]
    one_day = get_report(client, date_from="2030-03-05", date_to="2030-03-05")
    assert numbers(one_day.totals) == BY_DAY[D2]


def test_without_the_branch_time_zone_the_manaus_delivery_would_be_outside(data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    data.south.time_zone = ""
    data.south.save(update_fields=["time_zone"])
    report = scheduling_report(
        user=manager, filters=DeliveryFilters(first_day=D1, last_day=D2, branch=data.south)
    )
    assert report.totals["in_window"] == 0
    assert report.totals["outside_window"] == 1


# Who sees what ----------------------------------------------------------------------------------


def test_a_partner_user_sees_only_its_partners_services(client_of, data):
    partner_user = f.UserFactory(account=data.account, role=Role.PARTNER, partner=data.xis)
    assert numbers(get_report(client_of(partner_user)).totals) == XIS_TOTALS
    # Another partner asked for is not a choice: ignored, still its own.
    report = get_report(client_of(partner_user), partner=data.ypsilon.pk)
    assert numbers(report.totals) == XIS_TOTALS


def test_another_accounts_manager_sees_nothing_of_this_account(
    client_of, manager_b, data, other_account_service
):
    client = client_of(manager_b)
    report = get_report(client)
    assert numbers(report.totals) == [1, 0, 0, 0, 0, 0, 1, 0, 0]  # its own service only
    assert numbers(get_report(client, branch=data.north.pk).totals)[0] == 1
    response = client.get(reverse("reports:scheduling_csv"), PERIOD)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Integration" not in text


@pytest.mark.parametrize(
    "url", ["reports:scheduling", "reports:scheduling_csv", "reports:scheduling_xlsx"]
)
def test_operators_and_anonymous_users_get_no_report(client, client_of, operator_a, url):
    assert client.get(reverse(url)).status_code == 302  # to the login page
    assert client_of(operator_a).get(reverse(url)).status_code == 404


# Exports ----------------------------------------------------------------------------------------


def test_csv_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:scheduling_csv"), PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "scheduling-2030-03-04-2030-03-05.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    def section(title):
        return {row[1]: [int(v) for v in row[2:]] for row in rows if row[0] == title}

    assert rows[0][:4] == ["Table", "Period", "Scheduled", "Done"]
    assert section("Totals") == {"2030-03-04 – 2030-03-05": TOTALS}
    assert section("By day") == {str(day): counts for day, counts in BY_DAY.items()}
    assert section("By origin") == BY_ORIGIN


def test_xlsx_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:scheduling_xlsx"), PERIOD)
    assert response.status_code == 200
    assert "scheduling-2030-03-04-2030-03-05.xlsx" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))

    def sheet(name):
        rows = list(workbook[name].iter_rows(values_only=True))
        return rows[0], {row[0]: list(row[1:]) for row in rows[1:]}

    header, totals = sheet("Totals")
    assert header[:3] == ("Period", "Scheduled", "Done")
    assert list(totals.values()) == [TOTALS]
    assert {day.date(): counts for day, counts in sheet("By day")[1].items()} == BY_DAY
    assert sheet("By origin")[1] == BY_ORIGIN


# Queries ----------------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_services(data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    filters = DeliveryFilters(first_day=D1, last_day=D2)
    with CaptureQueriesContext(connection) as before:
        scheduling_report(user=manager, filters=filters)
    for hour in range(8, 18):
        # New windows and a branch in another time zone: more bounds, not more queries.
        window = f.DeliveryWindowFactory(account=data.account, start=time(hour), end=time(hour + 1))
        branch = f.BranchFactory(account=data.account, time_zone="America/Manaus")
        done_at = datetime(2030, 3, 5, hour, 30, tzinfo=ZoneInfo("America/Manaus"))
        more = f.ServiceFactory(
            account=data.account, status=ServiceStatus.DONE, branch=branch, finished_at=done_at
        )
        Schedule.objects.create(
            account=data.account, service=more, date=D2, window=window, origin=Origin.CUSTOMER
        )
    with CaptureQueriesContext(connection) as after:
        report = scheduling_report(user=manager, filters=filters)
    assert report.totals["total"] == 19
    assert report.totals["in_window"] == 12
    assert len(after) == len(before) == 1
