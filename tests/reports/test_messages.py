"""The SMS and e-mail report against a hand-made set of messages whose numbers are written here:
counts by delivery status, trigger, channel and day, costs per currency; who sees what; the
account's time zone; the exports; a constant number of queries."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role, Trigger
from lastmile.models import Channel, MessageStatus, OutboxMessage
from reports.deliveries import DeliveryFilters
from reports.messages import COLUMNS, message_report
from tests import factories as f

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("America/Sao_Paulo")  # UTC-3
D0, D1, D2 = date(2030, 3, 3), date(2030, 3, 4), date(2030, 3, 5)
PERIOD = {"date_from": "2030-03-04", "date_to": "2030-03-05"}

# Counts: total, queued (and sending), sent, delivered, failed, bounced; then the cost in BRL and
# in USD.
TOTALS = [7, 2, 1, 2, 1, 1], ["0.10", "0.10"]
BY_DAY = {
    D1: ([3, 0, 1, 1, 1, 0], ["0.10", "0"]),
    D2: ([4, 2, 0, 1, 0, 1], ["0", "0.10"]),
}
BY_TRIGGER = {
    "Service registered": ([3, 1, 1, 1, 0, 0], ["0.05", "0"]),
    "Route started": ([2, 1, 0, 0, 0, 1], ["0", "0"]),
    "Delivered": ([2, 0, 0, 1, 1, 0], ["0.05", "0.10"]),
}
BY_CHANNEL = {
    "SMS": ([5, 2, 0, 2, 1, 0], ["0.10", "0.10"]),
    "E-mail": ([2, 0, 1, 0, 0, 1], ["0", "0"]),
}


def at(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def message(service, trigger, channel, status, created_at, cost=None, currency=""):
    made = OutboxMessage.objects.create(
        account=service.account, service=service, trigger=trigger, channel=channel,
        status=status, to="customer@example.com", body="Hello", cost=cost,
        cost_currency=currency,
    )  # fmt: skip
    OutboxMessage.objects.filter(pk=made.pk).update(created_at=created_at)
    return made


def build_dataset(account):
    account.time_zone = "America/Sao_Paulo"
    account.save(update_fields=["time_zone"])
    data = SimpleNamespace(account=account)
    data.north = f.BranchFactory(account=account, name="North")
    data.south = f.BranchFactory(account=account, name="South")
    data.alfa = f.CarrierFactory(account=account, name="Alfa Transportes")
    data.xis = f.PartnerFactory(account=account, name="Xis Store")
    data.ypsilon = f.PartnerFactory(account=account, name="Ypsilon Shop")
    x = f.ServiceFactory(account=account, branch=data.north, carrier=data.alfa, partner=data.xis)
    y = f.ServiceFactory(account=account, branch=data.south, partner=data.ypsilon)
    sms, email, s = Channel.SMS, Channel.EMAIL, MessageStatus
    brl, usd = Decimal("0.05"), Decimal("0.10")
    message(x, Trigger.SERVICE_REGISTERED, sms, s.DELIVERED, at(D1, 10), brl, "BRL")
    message(x, Trigger.SERVICE_REGISTERED, email, s.SENT, at(D1, 10))
    # 23:30 local on day 1 is 02:30 UTC on day 2: counts on day 1.
    message(x, Trigger.DELIVERED, sms, s.FAILED, at(D1, 23, 30), brl, "BRL")
    message(y, Trigger.SERVICE_REGISTERED, sms, s.QUEUED, at(D2, 9))
    message(y, Trigger.ROUTE_STARTED, sms, s.SENDING, at(D2, 9))
    message(y, Trigger.ROUTE_STARTED, email, s.BOUNCED, at(D2, 10))
    message(y, Trigger.DELIVERED, sms, s.DELIVERED, at(D2, 12), usd, "USD")
    # The day before, at 23:30 local (02:30 UTC on day 1): outside the period.
    message(x, Trigger.DELIVERY_FAILED, sms, s.DELIVERED, at(D0, 23, 30), Decimal(1), "BRL")
    return data


@pytest.fixture
def data(account_a):
    return build_dataset(account_a)


@pytest.fixture
def other_account_message(account_b):
    service = f.ServiceFactory(account=account_b)
    return message(service, Trigger.DELIVERED, Channel.SMS, MessageStatus.SENT, at(D1, 12))


def numbers(row):
    return [row[name] for name in COLUMNS], row["costs"]


def expected(counts_and_costs):
    counts, costs = counts_and_costs
    return counts, [Decimal(cost) for cost in costs]


def table(rows):
    return {row["group"]: numbers(row) for row in rows}


def get_report(client, **params):
    response = client.get(reverse("reports:messages"), {**PERIOD, **params})
    assert response.status_code == 200
    return response.context["report"]


def test_the_report_of_the_data_set(client_of, manager_a, data, other_account_message):
    report = get_report(client_of(manager_a))

    assert report.currencies == ["BRL", "USD"]
    assert numbers(report.totals) == expected(TOTALS)
    assert table(report.by_day) == {day: expected(row) for day, row in BY_DAY.items()}
    assert table(report.by_trigger) == {key: expected(row) for key, row in BY_TRIGGER.items()}
    assert list(table(report.by_trigger)) == list(BY_TRIGGER)  # in the triggers' order
    assert table(report.by_channel) == {key: expected(row) for key, row in BY_CHANNEL.items()}


def test_the_page_shows_totals_costs_and_the_chart(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:messages"), PERIOD)
    html = response.content.decode()

    assert 'data-testid="total-delivered">2<' in html
    assert "Cost (BRL): 0.10" in html
    assert 'id="messages-chart-data"' in html
    chart = response.context["chart"]
    assert chart["labels"] == ["2030-03-04", "2030-03-05"]
    assert {series["key"]: series["data"] for series in chart["series"]} == {
        "queued": [0, 2],
        "sent": [1, 0],
        "delivered": [1, 1],
        "failed": [1, 0],
        "bounced": [0, 1],
    }


def test_filters_narrow_the_report_through_the_service(client_of, manager_a, data):
    client = client_of(manager_a)

    assert numbers(get_report(client, branch=data.south.pk).totals) == (
        [4, 2, 0, 1, 0, 1],
        [Decimal("0.10")],
    )
    by_carrier = get_report(client, carrier=data.alfa.pk)
    assert by_carrier.currencies == ["BRL"]
    assert numbers(by_carrier.totals) == ([3, 0, 1, 1, 1, 0], [Decimal("0.10")])
    assert get_report(client, partner=data.ypsilon.pk).totals["total"] == 4
    one_day = get_report(client, date_from="2030-03-04", date_to="2030-03-04")
    assert numbers(one_day.totals) == ([3, 0, 1, 1, 1, 0], [Decimal("0.10")])
    # The day before holds the message queued at 23:30 local, 02:30 UTC on day 1.
    day_0 = get_report(client, date_from="2030-03-03", date_to="2030-03-03")
    assert numbers(day_0.totals) == ([1, 0, 0, 1, 0, 0], [Decimal(1)])


def test_the_form_has_no_driver_filter(client_of, manager_a):
    response = client_of(manager_a).get(reverse("reports:messages"))
    assert "driver" not in response.context["form"].fields


# Who sees what ----------------------------------------------------------------------------------


def test_a_partner_user_sees_only_its_services_messages(client_of, data):
    partner_user = f.UserFactory(account=data.account, role=Role.PARTNER, partner=data.xis)
    client = client_of(partner_user)

    report = get_report(client)
    assert numbers(report.totals) == ([3, 0, 1, 1, 1, 0], [Decimal("0.10")])
    # Another partner asked for is not a choice: ignored, still its own.
    assert get_report(client, partner=data.ypsilon.pk).totals["total"] == 3
    response = client.get(reverse("reports:messages_export", args=["csv"]), PERIOD)
    assert "Route started" not in b"".join(response.streaming_content).decode()


def test_another_accounts_manager_sees_nothing_of_this_account(
    client_of, manager_b, data, other_account_message
):
    client = client_of(manager_b)
    report = get_report(client)
    assert report.totals["total"] == 1  # its own message only
    assert report.currencies == []
    assert get_report(client, branch=data.north.pk).totals["total"] == 1


@pytest.mark.parametrize("url", ["reports:messages"])
def test_operators_and_anonymous_users_get_no_report(client, client_of, operator_a, url):
    assert client.get(reverse(url)).status_code == 302
    assert client_of(operator_a).get(reverse(url)).status_code == 404
    assert (
        client_of(operator_a).get(reverse("reports:messages_export", args=["csv"])).status_code
        == 404
    )


def test_the_index_lists_the_report(client_of, manager_a):
    response = client_of(manager_a).get(reverse("reports:index"))
    assert reverse("reports:messages") in response.content.decode()


def test_the_htmx_request_gets_the_results_partial(client_of, manager_a, data):
    response = client_of(manager_a).get(
        reverse("reports:messages"), PERIOD, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="messages-chart"' in html


# Exports ----------------------------------------------------------------------------------------


def test_csv_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:messages_export", args=["csv"]), PERIOD)
    assert response.status_code == 200
    assert "messages-2030-03-04-2030-03-05.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    def section(title):
        return {
            row[1]: ([int(v) for v in row[2:8]], [Decimal(v) for v in row[8:]])
            for row in rows
            if row[0] == title
        }

    header = next(row for row in rows if row[0] == "Table")
    assert header[-2:] == ["Cost (BRL)", "Cost (USD)"]
    assert section("Totals") == {"2030-03-04 – 2030-03-05": expected(TOTALS)}
    assert section("By day") == {str(day): expected(row) for day, row in BY_DAY.items()}
    assert section("By trigger") == {key: expected(row) for key, row in BY_TRIGGER.items()}
    assert section("By channel") == {key: expected(row) for key, row in BY_CHANNEL.items()}


def test_xlsx_export(client_of, manager_a, data):
    response = client_of(manager_a).get(reverse("reports:messages_export", args=["xlsx"]), PERIOD)
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))

    def sheet(name):
        rows = list(workbook[name].iter_rows(values_only=True))
        return {row[0]: (list(row[1:7]), [Decimal(str(v)) for v in row[7:]]) for row in rows[1:]}

    assert list(sheet("Totals").values()) == [expected(TOTALS)]
    assert sheet("By trigger") == {key: expected(row) for key, row in BY_TRIGGER.items()}
    assert sheet("By channel") == {key: expected(row) for key, row in BY_CHANNEL.items()}


# Queries ----------------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_messages(data):
    manager = f.UserFactory(account=data.account, role=Role.MANAGER)
    filters = DeliveryFilters(first_day=D1, last_day=D2)
    with CaptureQueriesContext(connection) as before:
        message_report(user=manager, filters=filters, tzinfo=TZ)
    for _ in range(5):
        service = f.ServiceFactory(account=data.account)
        message(service, Trigger.DELIVERED, Channel.SMS, MessageStatus.SENT, at(D1, 11),
                Decimal("0.01"), "EUR")  # fmt: skip
    with CaptureQueriesContext(connection) as after:
        report = message_report(user=manager, filters=filters, tzinfo=TZ)
    assert report.totals["total"] == 12
    assert report.currencies == ["BRL", "EUR", "USD"]
    assert len(after) == len(before) == 1
