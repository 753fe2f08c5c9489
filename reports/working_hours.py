"""The working hours report: per driver and local day, the first route start, the last finish,
the time driving, stopped at customers and idle, and the distance travelled; computed in the
database.

Which routes: the routes the user may see (access.scope; a partner user, those with a stop of one
of the partner's services) that started, dated in the period, narrowed by branch, carrier,
partner (a stop of one of its services) and driver. A route counts on the local day (account's
time zone) its `started_at` falls on.

- first start: the earliest `started_at`; last finish: the latest `finished_at` (None while a
  route of the day is not finished, then "now" ends the day for idle time);
- driving: the sum over the routes' stops of `arrived_at - started_at` (both set);
- at customers: the sum over the stops of `left_at - arrived_at` (both set);
- idle: (last finish, or now, - first start) - driving - at customers, never negative;
- distance: per route its `travelled_distance_m`, or its `planned_distance_m` when nothing was
  travelled (recorded); `planned_routes` counts the routes whose planned distance was used.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts import access
from routes.models import Route, Stop

ZERO = timedelta(0)
# The duration columns, in order (the table's, the chart's and the exports').
DURATIONS = ["driving", "at_customers", "idle"]


@dataclass
class WorkingHoursReport:
    filters: object
    now: object
    totals: dict
    rows: list


def _duration(end, start):
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def routes_in_scope(*, user, filters):
    """The started routes the user may see dated in the period, matching the filters."""
    routes = access.scope(user, Route.objects.filter(started_at__isnull=False)).filter(
        date__gte=filters.first_day, date__lte=filters.last_day
    )
    partner = filters.partner if filters.partner is not None else user.partner_id
    if partner is not None:
        routes = routes.filter(
            Exists(Stop.objects.filter(route_id=OuterRef("pk"), service__partner=partner))
        )
    for name in ("branch", "carrier", "driver"):
        value = getattr(filters, name)
        if value is not None:
            routes = routes.filter(**{name: value})
    return routes


def _route_groups(routes, tzinfo):
    distance = Case(
        When(travelled_distance_m__gt=0, then=F("travelled_distance_m")),
        default=F("planned_distance_m"),
        output_field=IntegerField(),
    )
    return (
        routes.annotate(day=TruncDate("started_at", tzinfo=tzinfo))
        .values("driver_id", "day")
        .annotate(
            first_name=Min("driver__first_name"),
            last_name=Min("driver__last_name"),
            first_start=Min("started_at"),
            last_finish=Max("finished_at"),
            unfinished=Count("pk", filter=Q(finished_at__isnull=True)),
            routes=Count("pk"),
            planned_routes=Count("pk", filter=Q(travelled_distance_m=0)),
            distance_m=Sum(distance),
        )
        .order_by()
    )


def _stop_groups(routes, tzinfo):
    stops = Stop.objects.filter(route__in=routes.values("pk"))
    return (
        stops.annotate(day=TruncDate("route__started_at", tzinfo=tzinfo))
        .values("route__driver_id", "day")
        .annotate(
            driving=Sum(
                _duration("arrived_at", "started_at"),
                filter=Q(arrived_at__isnull=False, started_at__isnull=False),
            ),
            at_customers=Sum(
                _duration("left_at", "arrived_at"),
                filter=Q(left_at__isnull=False, arrived_at__isnull=False),
            ),
        )
        .order_by()
    )


def working_hours_report(*, user, filters, tzinfo, now=None):
    """The whole report in two queries (routes and stops, each grouped by driver and day)."""
    now = now or timezone.now()
    routes = routes_in_scope(user=user, filters=filters)
    stops = {(row["route__driver_id"], row["day"]): row for row in _stop_groups(routes, tzinfo)}
    rows = []
    for row in _route_groups(routes, tzinfo):
        timed = stops.get((row["driver_id"], row["day"]), {})
        row["name"] = f"{row.pop('first_name')} {row.pop('last_name')}".strip()
        row["driving"] = timed.get("driving") or ZERO
        row["at_customers"] = timed.get("at_customers") or ZERO
        if row.pop("unfinished"):
            row["last_finish"] = None
        end = row["last_finish"] or now
        row["idle"] = max(end - row["first_start"] - row["driving"] - row["at_customers"], ZERO)
        row["distance_m"] = row["distance_m"] or 0
        rows.append(row)
    rows.sort(key=lambda row: (row["day"], row["name"], row["driver_id"]))
    totals = {name: sum((row[name] for row in rows), ZERO) for name in DURATIONS}
    totals["distance_m"] = sum(row["distance_m"] for row in rows)
    totals["routes"] = sum(row["routes"] for row in rows)
    totals["planned_routes"] = sum(row["planned_routes"] for row in rows)
    totals["drivers"] = len({row["driver_id"] for row in rows})
    return WorkingHoursReport(filters=filters, now=now, totals=totals, rows=rows)


def hours(value):
    """A duration in hours, two decimals (tables, chart and exports)."""
    return round(value.total_seconds() / 3600, 2) if value is not None else None
