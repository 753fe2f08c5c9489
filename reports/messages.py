"""The SMS and e-mail report: the messages to customers of a period, by trigger, channel and
delivery status, with their cost, computed in the database.

A message counts in the period by its `created_at` (when the event that caused it queued it), in
local days of the account's time zone, both ends included. Queued counts the messages still
waiting or being sent (queued, sending). Costs are summed per currency (the provider's, as
recorded); a message without a cost adds nothing.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from accounts.models import Trigger
from lastmile.models import Channel, MessageStatus, OutboxMessage

from .deliveries import _scoped as scoped_services
from .deliveries import period_bounds

# The counts every row of the report has, in order (the table's and the exports'); each row then
# has one cost per currency of the period (MessageReport.currencies).
COLUMNS = ["total", "queued", "sent", "delivered", "failed", "bounced"]


@dataclass
class MessageReport:
    filters: object
    currencies: list
    totals: dict
    by_day: list
    by_trigger: list
    by_channel: list


def messages_in_period(*, user, filters, tzinfo):
    """The messages created in the period of the services the user may see, narrowed by the
    services' branch, carrier and partner."""
    start, end = period_bounds(filters, tzinfo)
    return OutboxMessage.objects.filter(
        service__in=scoped_services(user, filters).values("pk"),
        created_at__gte=start,
        created_at__lt=end,
    )


def _aggregates(currencies):
    """The aggregate of each column and of each currency's cost (cost_0, cost_1, ...)."""
    status = MessageStatus
    return {
        "total": Count("pk"),
        "queued": Count("pk", filter=Q(status__in=[status.QUEUED, status.SENDING])),
        "sent": Count("pk", filter=Q(status=status.SENT)),
        "delivered": Count("pk", filter=Q(status=status.DELIVERED)),
        "failed": Count("pk", filter=Q(status=status.FAILED)),
        "bounced": Count("pk", filter=Q(status=status.BOUNCED)),
        **{
            f"cost_{index}": Sum("cost", filter=Q(cost_currency=currency))
            for index, currency in enumerate(currencies)
        },
    }


def _with_costs(row, currencies):
    """The row with its costs gathered in `costs`, one per currency (0 for none)."""
    row["costs"] = [row.pop(f"cost_{index}") or Decimal(0) for index in range(len(currencies))]
    return row


def _grouped(messages, field, choices, currencies):
    """Rows per value of field, labelled and ordered as its choices."""
    labels = dict(choices)
    order = {value: index for index, value in enumerate(labels)}
    rows = (
        messages.values(field)
        .annotate(**_aggregates(currencies))
        .order_by(field)
        .values(field, *COLUMNS, *(f"cost_{i}" for i in range(len(currencies))))
    )
    rows = sorted(rows, key=lambda row: (order.get(row[field], len(order)), row[field]))
    for row in rows:
        value = row.pop(field)
        row["group"] = str(labels.get(value, value))
        _with_costs(row, currencies)
    return rows


def message_report(*, user, filters, tzinfo):
    """The whole report in a fixed number of queries, whatever the number of messages."""
    messages = messages_in_period(user=user, filters=filters, tzinfo=tzinfo)
    currencies = list(
        messages.filter(cost__isnull=False)
        .order_by("cost_currency")
        .values_list("cost_currency", flat=True)
        .distinct()
    )
    aggregates = _aggregates(currencies)
    by_day = list(
        messages.annotate(day=TruncDate("created_at", tzinfo=tzinfo))
        .values("day")
        .annotate(**aggregates)
        .order_by("day")
        .values("day", *aggregates)
    )
    for row in by_day:
        row["group"] = row.pop("day")
        _with_costs(row, currencies)
    return MessageReport(
        filters=filters,
        currencies=currencies,
        totals=_with_costs(messages.aggregate(**aggregates), currencies),
        by_day=by_day,
        by_trigger=_grouped(messages, "trigger", Trigger.choices, currencies),
        by_channel=_grouped(messages, "channel", Channel.choices, currencies),
    )
