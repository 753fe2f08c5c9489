"""The dashboard's alerts: what on the routes in a user's scope needs an operator now (a stop
running late, a driver offline or not moving, a failed delivery today, a driver's unread chat
message), in a constant number of queries whatever the number of routes and stops."""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db.models import Count, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import access
from scheduling.selectors import service_time_window
from tracking.lib.geo import haversine_m

from .models import Message, MessageAuthor, Position, Route, RouteStatus, Stop, StopStatus

# A driver of a route in progress without a position for longer than this is offline.
OFFLINE_AFTER = timedelta(minutes=10)
# A driver whose positions stayed within STOPPED_RADIUS_M for longer than this is stopped.
STOPPED_AFTER = timedelta(minutes=20)
STOPPED_RADIUS_M = 50
# The dashboard lists at most this many (the counts still say how many there are).
MAX_ALERTS = 20

LATE = "late"
OFFLINE = "offline"
STOPPED = "stopped"
FAILED = "failed"
CHAT = "chat"
KINDS = {
    LATE: _("Running late"),
    OFFLINE: _("Driver offline"),
    STOPPED: _("Driver stopped"),
    FAILED: _("Failed today"),
    CHAT: _("Unread messages"),
}
# Stops still to be served: an ETA past their window or deadline means they will be late.
# (An arrived stop is being served; whether it was on time is a fact, not an alert.)
LATE_STOP_STATUSES = [StopStatus.PENDING, StopStatus.IN_PROGRESS, StopStatus.PAUSED]


@dataclass(frozen=True)
class Alert:
    """One alert about one route. `at` is when it arose (newest first); the other fields are
    what its kind tells: a stop and its limit (late), minutes (offline, stopped), a failure
    reason (failed), a count of messages (chat)."""

    kind: str
    route_id: int
    driver: str
    at: datetime
    stop_id: int | None = None
    customer: str = ""
    eta: datetime | None = None
    limit: datetime | None = None
    limit_kind: str = ""  # "window" or "deadline"
    minutes: int | None = None
    reason: str = ""
    count: int = 0

    @property
    def label(self):
        return KINDS[self.kind]


@dataclass
class Alerts:
    """The newest alerts (at most MAX_ALERTS) and how many there are of each kind."""

    items: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    @property
    def total(self):
        return sum(self.counts.values())

    def count_rows(self):
        """(kind, label, count) of every kind, in KINDS's order, for the summary."""
        return [(kind, label, self.counts.get(kind, 0)) for kind, label in KINDS.items()]


def alerts_for(*, user, now=None):
    """The alerts of the routes the user may see: those in progress (late stops, drivers offline
    or stopped), today's failed stops (the account's day) and drivers' unread messages."""
    now = now or timezone.now()
    routes = access.scope(user, Route.objects.all())
    running = _running_routes(routes, now)
    found = [
        *_driver_alerts(running, now),
        *_late_alerts(running, now),
        *_failed_alerts(routes, user.account, now),
        *_chat_alerts(routes),
    ]
    counts = dict.fromkeys(KINDS, 0)
    for alert in found:
        counts[alert.kind] += 1
    found.sort(key=lambda alert: alert.at, reverse=True)
    return Alerts(items=found[:MAX_ALERTS], counts=counts)


def _running_routes(routes, now):
    """The routes in progress with their driver and where the driver was last seen before the
    stopped window (its route's latest position at or before now - STOPPED_AFTER)."""
    before = Position.objects.filter(
        route=OuterRef("pk"), recorded_at__lte=now - STOPPED_AFTER
    ).order_by("-recorded_at")
    return {
        route.pk: route
        for route in routes.filter(status=RouteStatus.IN_PROGRESS)
        .select_related("driver")
        .annotate(
            anchor_at=Subquery(before.values("recorded_at")[:1]),
            anchor_lat=Subquery(before.values("lat")[:1]),
            anchor_lng=Subquery(before.values("lng")[:1]),
        )
    }


def _driver_alerts(running, now):
    """Offline: no position for OFFLINE_AFTER (counted from the route's start when the phone
    has sent none since). Stopped: online, and every point since the anchor (the last point
    before the window) lies within STOPPED_RADIUS_M of one place."""
    if not running:
        return []
    cutoff = now - STOPPED_AFTER
    windows = {
        row["route_id"]: row
        for row in Position.objects.filter(route_id__in=list(running), recorded_at__gt=cutoff)
        .values("route_id")
        .annotate(min_lat=Min("lat"), max_lat=Max("lat"), min_lng=Min("lng"), max_lng=Max("lng"))
    }
    alerts = []
    for route in running.values():
        driver = route.driver
        seen = [at for at in (driver.last_position_at, route.started_at) if at is not None]
        last_seen = max(seen) if seen else None
        if last_seen is not None and now - last_seen > OFFLINE_AFTER:
            minutes = int((now - last_seen).total_seconds() // 60)
            alerts.append(_alert(OFFLINE, route, at=last_seen, minutes=minutes))
        elif _stopped(route, windows.get(route.pk)):
            minutes = int((now - route.anchor_at).total_seconds() // 60)
            alerts.append(_alert(STOPPED, route, at=route.anchor_at, minutes=minutes))
    return alerts


def _stopped(route, window):
    """Whether the route's points of the window and its anchor fit in a circle of
    STOPPED_RADIUS_M: their bounding box's half-diagonal is at most that (every point is that
    close to its centre)."""
    if window is None or route.anchor_at is None:
        return False
    lat, lng = route.anchor_lat, route.anchor_lng
    south, north = min(window["min_lat"], lat), max(window["max_lat"], lat)
    west, east = min(window["min_lng"], lng), max(window["max_lng"], lng)
    return haversine_m((south, west), (north, east)) / 2 <= STOPPED_RADIUS_M


def _late_alerts(running, now):
    """Open stops of the routes in progress expected (their ETA, or now once that has passed)
    after their window's end or their deadline, whichever comes first."""
    if not running:
        return []
    stops = (
        Stop.objects.filter(route_id__in=list(running), status__in=LATE_STOP_STATUSES)
        .filter(Q(service__deadline__isnull=False) | Q(service__schedule__isnull=False))
        .select_related(
            "service__customer", "service__schedule__window", "service__branch", "service__account"
        )
    )
    alerts = []
    for stop in stops:
        limit, limit_kind = _limit(stop.service)
        expected = max(stop.eta or stop.planned_arrival or now, now)
        if limit is None or expected <= limit:
            continue
        alerts.append(
            _alert(
                LATE,
                running[stop.route_id],
                # When the limit passed, or now for a stop the ETA says will miss it.
                at=min(limit, now),
                stop=stop,
                eta=stop.eta,
                limit=limit,
                limit_kind=limit_kind,
            )
        )
    return alerts


def _limit(service):
    """The first of the service's window end and deadline, and which one it is."""
    limits = []
    if getattr(service, "schedule", None) is not None:
        limits.append((service_time_window(service)[1], "window"))
    if service.deadline is not None:
        limits.append((service.deadline, "deadline"))
    return min(limits, key=lambda limit: limit[0]) if limits else (None, "")


def _failed_alerts(routes, account, now):
    """Stops failed today (left in the account's today), of any route the user may see."""
    tzinfo = account.tzinfo
    today = timezone.localdate(now, timezone=tzinfo)
    starts = datetime.combine(today, time.min, tzinfo=tzinfo)
    stops = Stop.objects.filter(
        route__in=routes,
        status=StopStatus.FAILED,
        left_at__gte=starts,
        left_at__lt=datetime.combine(today + timedelta(days=1), time.min, tzinfo=tzinfo),
    ).select_related("route__driver", "service__customer", "failure_reason")
    return [
        _alert(
            FAILED,
            stop.route,
            at=stop.left_at,
            stop=stop,
            reason=str(stop.failure_reason) if stop.failure_reason else "",
        )
        for stop in stops
    ]


def _chat_alerts(routes):
    """Per route, the drivers' messages support has not read yet."""
    rows = (
        Message.objects.filter(
            conversation__route__in=routes, author=MessageAuthor.DRIVER, read_at__isnull=True
        )
        .values(
            "conversation__route_id",
            "conversation__route__driver__first_name",
            "conversation__route__driver__last_name",
        )
        .annotate(count=Count("pk"), latest=Max("created_at"))
    )
    return [
        Alert(
            kind=CHAT,
            route_id=row["conversation__route_id"],
            driver=" ".join(
                filter(
                    None,
                    (
                        row["conversation__route__driver__first_name"],
                        row["conversation__route__driver__last_name"],
                    ),
                )
            ),
            at=row["latest"],
            count=row["count"],
        )
        for row in rows
    ]


def _alert(kind, route, *, at, stop=None, **extra):
    return Alert(
        kind=kind,
        route_id=route.pk,
        driver=str(route.driver),
        at=at,
        stop_id=stop.pk if stop else None,
        customer=stop.service.customer.name if stop else "",
        **extra,
    )
