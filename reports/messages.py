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

from accounts import access
from accounts.models import Trigger
from lastmile.models import Channel, MessageStatus, OutboxMessage

from .deliveries import _scoped as scoped_services
from .deliveries import period_bounds
from .groups import summed, total

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
    services' branch, carrier and partner (read on the (account, created_at) index; the services
    are joined only when the user or the filters narrow them)."""
    start, end = period_bounds(filters, tzinfo)
    messages = access.scope(user, OutboxMessage.objects.all()).filter(
        created_at__gte=start, created_at__lt=end
    )
    narrowed = any(getattr(user, f"{name}_id", None) for name, _model in access.SCOPES) or any(
        getattr(filters, name) is not None for name in ("branch", "carrier", "partner")
    )
    if narrowed:
        messages = messages.filter(service__in=scoped_services(user, filters).values("pk"))
    return messages


def _counts():
    status = MessageStatus
    return {
        "total": Count("pk"),
        "queued": Count("pk", filter=Q(status__in=[status.QUEUED, status.SENDING])),
        "sent": Count("pk", filter=Q(status=status.SENT)),
        "delivered": Count("pk", filter=Q(status=status.DELIVERED)),
        "failed": Count("pk", filter=Q(status=status.FAILED)),
        "bounced": Count("pk", filter=Q(status=status.BOUNCED)),
    }


def _labelled(sums, choices, currencies):
    """Rows labelled and ordered as the choices, each with its costs."""
    labels = dict(choices)
    order = {value: position for position, value in enumerate(labels)}
    return [
        {"group": str(labels.get(value, value)), **_with_costs(sums[value], currencies)}
        for value in sorted(sums, key=lambda value: (order.get(value, len(order)), value))
    ]


def _with_costs(values, currencies):
    """The values with the currencies' cost columns gathered in `costs`, in their order."""
    costs = [values.pop(f"cost:{currency}") for currency in currencies]
    return {**values, "costs": costs}


def message_report(*, user, filters, tzinfo):
    """The whole report in one query, whatever the number of messages: the messages of the
    period counted in groups of (day, trigger, channel, currency), and the report's tables those
    groups summed (reports.groups), one cost column per currency."""
    messages = messages_in_period(user=user, filters=filters, tzinfo=tzinfo)
    groups = list(
        messages.annotate(day=TruncDate("created_at", tzinfo=tzinfo))
        .values("day", "trigger", "channel", "cost_currency")
        .annotate(**_counts(), cost=Sum("cost"))
        .order_by()
    )
    currencies = sorted({row["cost_currency"] for row in groups if row["cost"] is not None})
    for row in groups:
        for currency in currencies:
            matches = row["cost"] is not None and row["cost_currency"] == currency
            row[f"cost:{currency}"] = row["cost"] if matches else Decimal(0)
    columns = [*COLUMNS, *(f"cost:{currency}" for currency in currencies)]
    by_day = summed(groups, lambda row: row["day"], columns)
    return MessageReport(
        filters=filters,
        currencies=currencies,
        totals=_with_costs(total(groups, columns), currencies),
        by_day=[
            {"group": day, **_with_costs(values, currencies)}
            for day, values in sorted(by_day.items())
        ],
        by_trigger=_labelled(
            summed(groups, lambda row: row["trigger"], columns), Trigger.choices, currencies
        ),
        by_channel=_labelled(
            summed(groups, lambda row: row["channel"], columns), Channel.choices, currencies
        ),
    )
