"""The ranking report: drivers and carriers ranked by success rate, then on-time rate, with the
numbers behind each rate; computed in the database.

Which stops: those of the routes of working_hours.routes_in_scope (the routes the user may see,
started, dated in the period, narrowed by the filters), the carrier being the route's; for a
partner user or with a partner filter, only the stops of that partner's services (the hours stay
the routes').

- success rate: done / (done + failed) stops;
- on-time rate: done stops left (`left_at`) at or before their service's deadline, among the done
  stops whose service has a deadline;
- average rating: the stars of the ratings (lastmile.Rating) of the services of their done stops;
- services per hour: done stops / worked hours, the sum over their routes of
  `finished_at - started_at` (finished routes).
Ranked by success rate, then on-time rate (a rate without any stop to measure comes last), then
name.
"""

from dataclasses import dataclass

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from routes.models import Stop, StopStatus

from .working_hours import routes_in_scope

# The numbers of every row, in order (the table's and the exports').
COLUMNS = [
    "success_rate",
    "done",
    "failed",
    "on_time_rate",
    "on_time",
    "with_deadline",
    "average_rating",
    "ratings",
    "services_per_hour",
    "hours",
]


@dataclass
class RankingReport:
    filters: object
    drivers: list
    carriers: list


def _stop_counts():
    done = Q(status=StopStatus.DONE)
    has_deadline = done & Q(service__deadline__isnull=False)
    return {
        "done": Count("pk", filter=done),
        "failed": Count("pk", filter=Q(status=StopStatus.FAILED)),
        "with_deadline": Count("pk", filter=has_deadline),
        "on_time": Count(
            "pk",
            filter=has_deadline & Q(left_at__isnull=False, left_at__lte=F("service__deadline")),
        ),
        "average_rating": Avg("service__rating__stars", filter=done),
        "ratings": Count("service__rating", filter=done),
    }


def _rate(part, whole):
    return round(100 * part / whole, 1) if whole else None


def _ranked(groups, worked, name_of):
    rows = []
    for row in groups:
        key = row["key"]
        seconds = worked.get(key)
        hours = round(seconds.total_seconds() / 3600, 2) if seconds else 0
        row["name"] = name_of(row)
        row["hours"] = hours
        row["success_rate"] = _rate(row["done"], row["done"] + row["failed"])
        row["on_time_rate"] = _rate(row["on_time"], row["with_deadline"])
        if row["average_rating"] is not None:
            row["average_rating"] = round(row["average_rating"], 2)
        row["services_per_hour"] = (
            round(row["done"] / (seconds.total_seconds() / 3600), 2) if seconds else None
        )
        rows.append(row)

    def order(row):
        success, on_time = row["success_rate"], row["on_time_rate"]
        return (success is None, -(success or 0), on_time is None, -(on_time or 0), row["name"])

    rows.sort(key=order)
    for position, row in enumerate(rows, start=1):
        row["rank"] = position
    return rows


def _worked(routes, field):
    finished = routes.filter(finished_at__isnull=False)
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    return {
        row[field]: row["worked"]
        for row in finished.values(field).annotate(worked=Sum(duration)).order_by()
    }


def ranking_report(*, user, filters):
    """The whole report in four queries (stops and routes, per driver and per carrier)."""
    routes = routes_in_scope(user=user, filters=filters)
    stops = Stop.objects.filter(route__in=routes.values("pk"))
    partner = filters.partner if filters.partner is not None else user.partner_id
    if partner is not None:
        # A partner (user or filter) counts only the stops of its own services.
        stops = stops.filter(service__partner=partner)
    drivers = (
        stops.values(key=F("route__driver_id"))
        .annotate(
            first_name=Coalesce("route__driver__first_name", Value("")),
            last_name=Coalesce("route__driver__last_name", Value("")),
            **_stop_counts(),
        )
        .order_by()
    )
    carriers = (
        stops.values(key=F("route__carrier_id"))
        .annotate(carrier_name=F("route__carrier__name"), **_stop_counts())
        .order_by()
    )
    return RankingReport(
        filters=filters,
        drivers=_ranked(
            drivers,
            _worked(routes, "driver_id"),
            lambda row: f"{row.pop('first_name')} {row.pop('last_name')}".strip(),
        ),
        carriers=_ranked(
            carriers,
            _worked(routes, "carrier_id"),
            lambda row: row.pop("carrier_name") or str(_("No carrier")),
        ),
    )
