"""The deliveries report against a hand-made data set whose numbers are written here: counts by
final status, failure reasons, deadline compliance, first-attempt success, by day, branch, carrier
and partner; who sees what; the account's time zone; the exports; a constant number of queries."""

import csv
import io
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from reports.deliveries import DeliveryFilters, delivery_report
from routes.models import Stop, StopStatus
from services.models import ActorType, EventKind, Service, ServiceEvent, ServiceStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("America/Sao_Paulo")  # UTC-3
D0, D1, D2 = date(2030, 3, 3), date(2030, 3, 4), date(2030, 3, 5)
PERIOD = {"date_from": "2030-03-04", "date_to": "2030-03-05"}
PAST_DEADLINE = datetime(2020, 1, 1, tzinfo=TZ)
FUTURE_DEADLINE = datetime(2099, 1, 1, tzinfo=TZ)

# Column order: total, done, failed, returned, cancelled, open, on_time, late, not_yet_due,
# first_attempt.
COLUMNS = [
    "total", "done", "failed", "returned", "cancelled", "open",
    "on_time", "late", "not_yet_due", "first_attempt",
]  # fmt: skip
TOTALS = [11, 4, 2, 1, 1, 3, 2, 2, 1, 3]
BY_DAY = {
    D1: [5, 2, 1, 0, 1, 1, 2, 1, 0, 2],
    D2: [6, 2, 1, 1, 0, 2, 0, 1, 1, 1],
}
BY_BRANCH = {
    "North": [6, 2, 1, 1, 0, 2, 2, 1, 0, 2],
    "South": [5, 2, 1, 0, 1, 1, 0, 1, 1, 1],
}
BY_CARRIER = {
    "Alfa Transportes": [5, 2, 1, 0, 1, 1, 2, 1, 0, 2],
    "Beta Cargas": [5, 2, 1, 1, 0, 1, 0, 1, 1, 1],
    "No carrier": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0],
}
BY_PARTNER = {
    "No partner": [1, 1, 0, 0, 0, 0, 0, 0, 0, 1],
    "Xis Store": [6, 2, 1, 0, 1, 2, 2, 1, 0, 2],
    "Ypsilon Shop": [4, 1, 1, 1, 0, 1, 0, 1, 1, 0],
}
FAILURE_REASONS = {"Customer absent": 3, "Wrong address": 1}


def at(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def build_dataset(account):
    """A dozen services of account (time zone America/Sao_Paulo) around 2030-03-04 and -05."""
    account.time_zone = "America/Sao_Paulo"
    account.save(update_fields=["time_zone"])
    data = SimpleNamespace(account=account)
    data.north = f.BranchFactory(account=account, name="North")
    data.south = f.BranchFactory(account=account, name="South")
    data.alfa = f.CarrierFactory(account=account, name="Alfa Transportes")
    data.beta = f.CarrierFactory(account=account, name="Beta Cargas")
    data.xis = f.PartnerFactory(account=account, name="Xis Store")
    data.ypsilon = f.PartnerFactory(account=account, name="Ypsilon Shop")
    absent = f.FailureReasonFactory(account=account, description="Customer absent")
    address = f.FailureReasonFactory(account=account, description="Wrong address")
    data.driver_1 = f.DriverFactory(account=account, carrier=data.alfa, first_name="Ana")
    data.driver_2 = f.DriverFactory(account=account, carrier=data.beta, first_name="Bruno")
    routes = {
        data.driver_1: f.RouteFactory(account=account, driver=data.driver_1, date=D1),
        data.driver_2: f.RouteFactory(account=account, driver=data.driver_2, date=D2),
    }
    sequence = iter(range(1, 1000))

    def service(status, *, branch, carrier, partner, deadline=None, outcome_at=None, created=None,
                stops=(), driver=None):  # fmt: skip
        """stops: (stop status, left_at, failure reason) per attempt, in order."""
        # A failed stop followed by another attempt was rescheduled (attempt_count + 1).
        reschedules = sum(1 for stop in stops[:-1] if stop[0] == StopStatus.FAILED)
        made = f.ServiceFactory(
            account=account, status=status, branch=branch, carrier=carrier, partner=partner,
            deadline=deadline, finished_at=outcome_at, attempt_count=reschedules,
        )  # fmt: skip
        if created:
            Service.objects.filter(pk=made.pk).update(created_at=created)
        if outcome_at:
            ServiceEvent.objects.create(
                account=account, service=made, kind=EventKind.STATUS,
                actor_type=ActorType.SYSTEM, to_status=status, recorded_at=outcome_at,
            )  # fmt: skip
        for stop_status, left_at, reason in stops:
            Stop.objects.create(
                account=account, route=routes[driver], service=made, sequence=next(sequence),
                status=stop_status, left_at=left_at, failure_reason=reason,
            )  # fmt: skip
        return made

    done, failed = StopStatus.DONE, StopStatus.FAILED
    n, s, a, b, x, y = data.north, data.south, data.alfa, data.beta, data.xis, data.ypsilon
    d1, d2 = data.driver_1, data.driver_2
    # Done on time, at the first attempt.
    data.s1 = service(
        ServiceStatus.DONE,
        branch=n,
        carrier=a,
        partner=x,
        deadline=at(D1, 18),
        outcome_at=at(D1, 10),
        driver=d1,
        stops=[(done, at(D1, 10), None)],
    )
    # Done at 23:30 local on day 1 (02:30 UTC on day 2): counts on day 1.
    data.s2 = service(
        ServiceStatus.DONE,
        branch=n,
        carrier=a,
        partner=x,
        deadline=at(D2, 12),
        outcome_at=at(D1, 23, 30),
        driver=d1,
        stops=[(done, at(D1, 23, 30), None)],
    )
    # Done late, at the second attempt.
    service(
        ServiceStatus.DONE,
        branch=s,
        carrier=b,
        partner=y,
        deadline=at(D1, 18),
        outcome_at=at(D2, 11),
        driver=d2,
        stops=[(failed, at(D1, 15), absent), (done, at(D2, 11), None)],
    )
    # Done without a deadline, without a partner.
    service(
        ServiceStatus.DONE,
        branch=s,
        carrier=b,
        partner=None,
        outcome_at=at(D2, 14),
        driver=d2,
        stops=[(done, at(D2, 14), None)],
    )
    service(
        ServiceStatus.FAILED,
        branch=n,
        carrier=a,
        partner=x,
        deadline=at(D1, 18),
        outcome_at=at(D1, 16),
        driver=d1,
        stops=[(failed, at(D1, 16), absent)],
    )
    service(
        ServiceStatus.FAILED,
        branch=s,
        carrier=b,
        partner=y,
        deadline=at(D2, 18),
        outcome_at=at(D2, 9),
        driver=d2,
        stops=[(failed, at(D2, 9), address)],
    )
    service(
        ServiceStatus.RETURNED,
        branch=n,
        carrier=b,
        partner=y,
        deadline=at(D1, 18),
        outcome_at=at(D2, 17),
        driver=d2,
        stops=[(failed, at(D1, 12), absent)],
    )
    service(
        ServiceStatus.CANCELLED,
        branch=s,
        carrier=a,
        partner=x,
        deadline=at(D2, 18),
        outcome_at=at(D1, 8),
    )
    # Open: late (deadline passed), not yet due, without a deadline.
    service(
        ServiceStatus.PENDING,
        branch=n,
        carrier=a,
        partner=x,
        deadline=PAST_DEADLINE,
        created=at(D1, 9),
    )
    service(
        ServiceStatus.ROUTED,
        branch=s,
        carrier=b,
        partner=y,
        deadline=FUTURE_DEADLINE,
        created=at(D2, 10),
    )
    service(ServiceStatus.IN_PROGRESS, branch=n, carrier=None, partner=x, created=at(D2, 12))
    # Outside the period: done at 23:30 local the day before (02:30 UTC on day 1), after a
    # failed stop also the day before.
    service(
        ServiceStatus.DONE,
        branch=n,
        carrier=a,
        partner=x,
        deadline=at(D1, 18),
        outcome_at=at(D0, 23, 30),
        driver=d1,
        stops=[(failed, at(D0, 10), address), (done, at(D0, 23, 30), None)],
    )
    # Open services created before the period are placed outside it.
    service(ServiceStatus.PENDING, branch=n, carrier=a, partner=x, created=at(D0, 12))
    return data


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


@pytest.fixture
def other_account_service(account_b):
    account_b.time_zone = "America/Sao_Paulo"
    account_b.save(update_fields=["time_zone"])
    service = f.ServiceFactory(
        account=account_b, status=ServiceStatus.DONE, deadline=None, finished_at=at(D1, 10)
    )
    ServiceEvent.objects.create(
        account=account_b, service=service, kind=EventKind.STATUS, actor_type=ActorType.SYSTEM,
        to_status=ServiceStatus.DONE, recorded_at=at(D1, 10),
    )  # fmt: skip
    return service


def numbers(row):
    return [row[name] for name in COLUMNS]


def table(rows):
    return {row["group"]: numbers(row) for row in rows}


def report_for(user, **filters):
    return delivery_report(
        user=user, filters=DeliveryFilters(first_day=D1, last_day=D2, **filters), tzinfo=TZ
    )


def get_report(client, **params):
    response = client.get(reverse("reports:deliveries"), {**PERIOD, **params})
    assert response.status_code == 200
    return response.context["report"]


# The numbers ---------------------------------------------------------------------------------


def test_the_report_of_the_data_set(client_of, manager_a, data, other_account_service):
    report = get_report(client_of(manager_a))

    assert numbers(report.totals) == TOTALS
    assert table(report.by_day) == BY_DAY
    assert table(report.by_branch) == BY_BRANCH
    assert table(report.by_carrier) == BY_CARRIER
    assert table(report.by_partner) == BY_PARTNER
    assert {row["group"]: row["failed_stops"] for row in report.by_failure_reason} == (
        FAILURE_REASONS
    )
    assert report.first_attempt_rate == 75.0  # 3 of 4 done
    assert report.on_time_rate == 50.0  # 2 on time, 2 late


def test_the_page_shows_totals_chart_data_and_the_definition(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:deliveries"), PERIOD)
    html = response.content.decode()

    assert 'data-testid="total-done">4<' in html
    assert 'id="deliveries-chart-data"' in html
    assert "by the time it reached its final status" in html
    assert response.context["chart"]["labels"] == ["2030-03-04", "2030-03-05"]
    # Other: returned, cancelled and open (day 1: 1 cancelled, 1 open; day 2: 1 returned, 2 open).
    assert [series["data"] for series in response.context["chart"]["series"]] == [
        [2, 2],
        [1, 1],
        [2, 3],
    ]


def test_filters_narrow_the_report(client_of, manager_a, data):
    client = client_of(manager_a)

    by_branch = get_report(client, branch=data.south.pk)
    assert numbers(by_branch.totals) == BY_BRANCH["South"]
    by_carrier = get_report(client, carrier=data.beta.pk)
    assert numbers(by_carrier.totals) == BY_CARRIER["Beta Cargas"]
    by_partner = get_report(client, partner=data.ypsilon.pk)
    assert numbers(by_partner.totals) == BY_PARTNER["Ypsilon Shop"]
    # Driver 1 ran s1, s2 (done) and a failed attempt of a service that failed.
    by_driver = get_report(client, driver=data.driver_1.pk)
    assert numbers(by_driver.totals) == [3, 2, 1, 0, 0, 0, 2, 0, 0, 2]
    assert table_of_reasons(by_driver) == {"Customer absent": 1}
    # One day only.
    one_day = get_report(client, date_from="2030-03-05", date_to="2030-03-05")
    assert numbers(one_day.totals) == BY_DAY[D2]
    assert table_of_reasons(one_day) == {"Wrong address": 1}


def table_of_reasons(report):
    return {row["group"]: row["failed_stops"] for row in report.by_failure_reason}


# The period and the time zone ------------------------------------------------------------------


def test_a_service_done_late_in_the_evening_counts_on_its_local_day(data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    assert data.s2.events.get().recorded_at.astimezone(ZoneInfo("UTC")).date() == D2

    day_1 = delivery_report(
        user=manager, filters=DeliveryFilters(first_day=D1, last_day=D1), tzinfo=TZ
    )
    assert numbers(day_1.totals) == BY_DAY[D1]
    # The day before (D0) holds the service done at 23:30 local, 02:30 UTC on D1.
    day_0 = delivery_report(
        user=manager, filters=DeliveryFilters(first_day=D0, last_day=D0), tzinfo=TZ
    )
    assert day_0.totals["done"] == 1
    assert table_of_reasons(day_0) == {"Wrong address": 1}


def test_the_period_defaults_to_the_last_seven_days(client_of, manager_a):
    response = client_of(manager_a).get(reverse("reports:deliveries"))
    filters = response.context["report"].filters
    assert filters.last_day == manager_a.account.today()
    assert filters.first_day == filters.last_day - timedelta(days=6)


def test_an_inverted_period_is_an_error_and_falls_back_to_the_default(client_of, manager_a):
    response = client_of(manager_a).get(
        reverse("reports:deliveries"), {"date_from": "2030-03-05", "date_to": "2030-03-04"}
    )
    assert response.status_code == 200
    assert "The end of the period is before its start." in response.content.decode()
    filters = response.context["report"].filters
    assert (filters.last_day - filters.first_day) == timedelta(days=6)


# Who sees what ----------------------------------------------------------------------------------


def test_a_partner_user_sees_only_its_partners_services(client_of, data):
    partner_user = f.UserFactory(account=data.account, role=Role.PARTNER, partner=data.xis)
    report = get_report(client_of(partner_user))

    assert numbers(report.totals) == BY_PARTNER["Xis Store"]
    assert list(table(report.by_partner)) == ["Xis Store"]
    assert table_of_reasons(report) == {"Customer absent": 1}
    # Another partner asked for is not a choice: ignored, still its own.
    report = get_report(client_of(partner_user), partner=data.ypsilon.pk)
    assert numbers(report.totals) == BY_PARTNER["Xis Store"]


def test_a_carrier_user_sees_only_its_carriers_services(client_of, data):
    carrier_user = f.UserFactory(account=data.account, role=Role.CARRIER, carrier=data.beta)
    report = get_report(client_of(carrier_user))
    assert numbers(report.totals) == BY_CARRIER["Beta Cargas"]
    assert list(table(report.by_carrier)) == ["Beta Cargas"]
    assert table_of_reasons(report) == {"Customer absent": 2, "Wrong address": 1}
    # Another carrier asked for is not a choice: ignored, still its own.
    report = get_report(client_of(carrier_user), carrier=data.alfa.pk)
    assert numbers(report.totals) == BY_CARRIER["Beta Cargas"]


def test_a_manager_narrowed_to_a_carrier_sees_only_that_carrier(client_of, data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER, carrier=data.alfa)
    report = get_report(client_of(manager))
    assert numbers(report.totals) == BY_CARRIER["Alfa Transportes"]


def test_another_accounts_manager_sees_nothing_of_this_account(
    client_of, manager_b, data, other_account_service
):
    client = client_of(manager_b)
    report = get_report(client)
    assert report.totals["total"] == 1  # its own service only
    assert report.by_failure_reason == []
    # This account's branch is not a choice for them: ignored, not a way in.
    report = get_report(client, branch=data.north.pk, driver=data.driver_1.pk)
    assert report.totals["total"] == 1
    response = client.get(reverse("reports:deliveries_export", args=["csv"]), PERIOD)
    assert "North" not in b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("url", ["reports:index", "reports:deliveries"])
def test_operators_and_anonymous_users_get_no_reports(client, client_of, operator_a, url):
    assert client.get(reverse(url)).status_code == 302  # to the login page
    assert client_of(operator_a).get(reverse(url)).status_code == 404


def test_the_index_lists_the_deliveries_report(client_of, manager_a):
    response = client_of(manager_a).get(reverse("reports:index"))
    assert response.status_code == 200
    assert reverse("reports:deliveries") in response.content.decode()


def test_the_htmx_request_gets_the_results_partial(client_of, manager_a, data):
    response = client_of(manager_a).get(
        reverse("reports:deliveries"), PERIOD, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="deliveries-chart"' in html


# Exports ----------------------------------------------------------------------------------------


def test_csv_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:deliveries_export", args=["csv"]), PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "deliveries-2030-03-04-2030-03-05.csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))

    def section(title):
        return {row[1]: [int(v) for v in row[2:]] for row in rows if row[0] == title}

    assert section("Totals") == {"2030-03-04 – 2030-03-05": TOTALS}
    assert section("By day") == {str(day): counts for day, counts in BY_DAY.items()}
    assert section("By branch") == BY_BRANCH
    assert section("By carrier") == BY_CARRIER
    assert section("By partner") == BY_PARTNER
    assert section("Failure reasons") == {k: [v] for k, v in FAILURE_REASONS.items()}


def test_xlsx_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:deliveries_export", args=["xlsx"]), PERIOD)
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    check_workbook(workbook)


def check_workbook(workbook):
    """The exported workbook holds the data set's numbers (shared with the browser test)."""

    def sheet(name):
        rows = list(workbook[name].iter_rows(values_only=True))
        return rows[0], {row[0]: list(row[1:]) for row in rows[1:]}

    header, totals = sheet("Totals")
    assert header[:3] == ("Period", "Total", "Done")
    assert list(totals.values()) == [TOTALS]
    _header, by_day = sheet("By day")
    assert {value.date(): counts for value, counts in by_day.items()} == BY_DAY
    assert sheet("By branch")[1] == BY_BRANCH
    assert sheet("By carrier")[1] == BY_CARRIER
    assert sheet("By partner")[1] == BY_PARTNER
    assert sheet("Failure reasons")[1] == {k: [v] for k, v in FAILURE_REASONS.items()}


def test_an_unknown_export_format_is_not_found(client_of, manager_a):
    response = client_of(manager_a).get("/reports/deliveries/export.pdf")
    assert response.status_code == 404


def test_a_group_name_that_looks_like_a_formula_is_exported_as_text(client_of, manager_a, data):
    data.north.name = "=HYPERLINK(1)"
    data.north.save(update_fields=["name"])
    response = client_of(manager_a).get(reverse("reports:deliveries_export", args=["csv"]), PERIOD)
    assert "'=HYPERLINK(1)" in b"".join(response.streaming_content).decode()


# Queries ----------------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_services(data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    with CaptureQueriesContext(connection) as before:
        report_for(manager)
    for _ in range(10):
        more = f.ServiceFactory(
            account=data.account, status=ServiceStatus.DONE, branch=f.BranchFactory(
                account=data.account
            ), deadline=None, finished_at=at(D1, 11),
        )  # fmt: skip
        ServiceEvent.objects.create(
            account=data.account, service=more, kind=EventKind.STATUS,
            actor_type=ActorType.SYSTEM, to_status=ServiceStatus.DONE, recorded_at=at(D1, 11),
        )  # fmt: skip
    with CaptureQueriesContext(connection) as after:
        report = report_for(manager)
    assert report.totals["total"] == 21
    assert len(after) == len(before) == 5
