"""The driver status report: now, per driver the user may see, online or offline, the last
position and battery the phone sent, and the route in progress with its stops done.

Online: seen (last_seen_at) or positioned (last_position_at) within accounts' ONLINE_WINDOW.
The current route: the driver's latest route in progress dated today or before (an itinerant
route runs over several days). Inactive drivers are left out.
"""

from dataclasses import dataclass

from django.db.models import BooleanField, Case, Count, IntegerField, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce

from accounts import access
from accounts.models import ONLINE_WINDOW, Driver
from routes.models import Route, RouteStatus, Stop, StopStatus

FIELDS = [
    "pk",
    "first_name",
    "last_name",
    "online",
    "last_seen_at",
    "last_lat",
    "last_lng",
    "last_position_at",
    "battery_pct",
    "route_id",
    "route_date",
    "stops_done",
    "stops_total",
]


@dataclass
class DriverStatusReport:
    now: object
    totals: dict
    drivers: list


def _stop_count(**filters):
    stops = (
        Stop.objects.filter(route_id=OuterRef("route_id"), **filters)
        .order_by()
        .values("route_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(stops, output_field=IntegerField()), 0)


def _online(now):
    since = now - ONLINE_WINDOW
    return Q(last_seen_at__gte=since) | Q(last_position_at__gte=since)


def _scoped(user):
    return access.scope(user, Driver.objects.filter(is_active=True))


def drivers_with_status(*, user, now, today):
    """The active drivers the user may see, annotated with `online`, `route_id`, `route_date`,
    `stops_done` and `stops_total`."""
    current = Route.objects.filter(
        driver_id=OuterRef("pk"), status=RouteStatus.IN_PROGRESS, date__lte=today
    ).order_by("-date", "-pk")
    return (
        _scoped(user)
        .annotate(
            online=Case(
                When(_online(now), then=True),
                default=False,
                output_field=BooleanField(),
            ),
            route_id=Subquery(current.values("pk")[:1]),
            route_date=Subquery(current.values("date")[:1]),
        )
        .annotate(
            stops_done=_stop_count(status=StopStatus.DONE),
            stops_total=_stop_count(),
        )
    )


def driver_status_report(*, user, now, today):
    """The whole report in two queries, whatever the number of drivers."""
    drivers = drivers_with_status(user=user, now=now, today=today)
    totals = _scoped(user).aggregate(total=Count("pk"), online=Count("pk", filter=_online(now)))
    totals["offline"] = totals["total"] - totals["online"]
    rows = list(drivers.order_by("first_name", "last_name", "pk").values(*FIELDS))
    for row in rows:
        row["name"] = f"{row['first_name']} {row['last_name']}".strip()
    return DriverStatusReport(now=now, totals=totals, drivers=rows)
