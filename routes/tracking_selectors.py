"""Reads for the live tracking page: a day's routes in the user's scope as one compact snapshot
(routes with their figures, stops, drivers), what changed between two snapshots, and the path
travelled by one route. A constant number of queries whatever the number of routes.

Rows are read with values_list rather than as model instances, and times as seconds since 1970
computed by the database (Epoch): a busy day is 300 routes and 3,000 stops refreshed every few
seconds by every operator, and building model instances and datetimes was most of a refresh.
"""

import hashlib
import pickle
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from django.core.cache import cache
from django.db.models import FloatField, Func, Q
from django.utils import timezone

from accounts import access
from accounts.models import ONLINE_WINDOW, Carrier

from .models import Position, Route, RouteStatus, Stop, StopStatus
from .positions import travelled_step_m
from .selectors import TRACK_POINTS, thinned

# A driver's marker is drawn as stale when its latest position is older than this.
STALE_AFTER = timedelta(minutes=5)

ON_TIME, AT_RISK, LATE = "on_time", "at_risk", "late"
# Worse first: a route's compliance is the worst of its open stops'.
COMPLIANCE_ORDER = {LATE: 0, AT_RISK: 1, ON_TIME: 2}
OPEN_STOP_STATUSES = {
    StopStatus.PENDING,
    StopStatus.IN_PROGRESS,
    StopStatus.ARRIVED,
    StopStatus.PAUSED,
}
# What a snapshot holds, by kind; each item is a tuple of the values COLUMNS names, id first.
KINDS = ("routes", "stops", "drivers")
# The running sum of a route's travelled distance (see travelled_distances) is kept this long.
TRAVELLED_CACHE_S = 36 * 3600
# Routes whose distance was counted within this long of each other are read from one cursor.
RECENT_CURSOR_S = 15 * 60
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TrackingFilters:
    """What the day's view is narrowed by; None and "" do not filter."""

    day: date
    branch: object = None
    carrier: object = None
    driver: object = None
    status: str = ""


def carriers_in_scope(user):
    return access.scope(user, Carrier.objects.filter(is_active=True)).order_by("name")


# Time helpers -----------------------------------------------------------------------------------


def epoch_s(moment):
    """An aware datetime as whole seconds since 1970 (None stays None): what the page reads."""
    return None if moment is None else int(moment.timestamp())


def epoch_us(moment):
    """An aware datetime as exact microseconds since 1970: a cursor that round-trips."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_epoch_us(value):
    return EPOCH + timedelta(microseconds=value)


@lru_cache(maxsize=64)
def _zone(name):
    return zoneinfo.ZoneInfo(name)


# Compliance ---------------------------------------------------------------------------------------


def stop_due_s(*, deadline_s, window_day=None, window_end=None, time_zone="UTC"):
    """When the stop must be served by (seconds since 1970): its deadline or its scheduled
    window's end, whichever comes first; None when it has neither. The window's end is local
    time (`time_zone`) on the scheduled day, as scheduling.selectors.service_time_window reads
    it."""
    window_end_s = None
    if window_day is not None and window_end is not None:
        window_end_s = _local_epoch_s(window_day, window_end, time_zone)
    if deadline_s is None or window_end_s is None:
        return window_end_s if deadline_s is None else deadline_s
    return min(deadline_s, window_end_s)


@lru_cache(maxsize=1024)
def _local_epoch_s(day, moment, time_zone):
    return datetime.combine(day, moment, tzinfo=_zone(time_zone)).timestamp()


def stop_compliance(*, status, due_at, now, eta=None, eta_latest=None, planned_arrival=None,
                    arrived_at=None):  # fmt: skip
    """ON_TIME, AT_RISK or LATE for an open stop with a due time; None otherwise (a stop done,
    failed or cancelled, or without a deadline or window). Times are all datetimes or all
    seconds since 1970.

    Late when the stop is expected after its due time (its ETA, else its planned arrival; the
    arrival for a driver at the door) or the due time has passed with the stop still open; at
    risk when the latest end of its ETA window is after the due time."""
    if status not in OPEN_STOP_STATUSES or due_at is None:
        return None
    if status == StopStatus.ARRIVED and arrived_at is not None:
        expected = arrived_at
    else:
        expected = eta if eta is not None else planned_arrival
        if now > due_at:
            return LATE
    if expected is not None and expected > due_at:
        return LATE
    if status != StopStatus.ARRIVED and eta_latest is not None and eta_latest > due_at:
        return AT_RISK
    return ON_TIME


def worst_compliance(values):
    """The worst of some stops' compliance values (None ignored); None when none has one."""
    found = [value for value in values if value is not None]
    return min(found, key=COMPLIANCE_ORDER.__getitem__) if found else None


def driver_online(*, last_seen_at, last_position_at, now):
    """Whether the driver's phone was heard from (a request or a point) within ONLINE_WINDOW.
    Times are all datetimes or all seconds since 1970."""
    heard = [moment for moment in (last_seen_at, last_position_at) if moment is not None]
    window = ONLINE_WINDOW if isinstance(now, datetime) else ONLINE_WINDOW.total_seconds()
    return bool(heard) and now - max(heard) < window


def position_stale(last_position_at, *, now):
    """Whether the driver's latest position is older than STALE_AFTER (or missing)."""
    window = STALE_AFTER if isinstance(now, datetime) else STALE_AFTER.total_seconds()
    return last_position_at is None or now - last_position_at >= window


# The snapshot -----------------------------------------------------------------------------------


class Epoch(Func):
    """A datetime column as seconds since 1970 (a float), computed by the database: thousands
    of floats load several times faster than datetimes, which a refresh reads for every stop."""

    function = "UNIX_TIMESTAMP"
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        # date_part answers a double directly; EXTRACT a numeric, about twice as slow.
        template = "date_part('epoch', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC text there; julianday() reads it (to about a millisecond).
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def get_db_converters(self, connection):
        # Both answer a float already: no Python call per value.
        if connection.vendor in ("postgresql", "sqlite"):
            return []
        return super().get_db_converters(connection)


# What the page receives for each kind of item: lists of values in this order.
COLUMNS = {
    "routes": (
        "id", "driver", "name", "vehicle", "branch", "carrier", "status", "departure", "done",
        "failed", "left", "total", "compliance", "late", "at_risk", "planned_s", "started",
        "finished", "planned_m", "travelled_m",
    ),
    "stops": ("id", "route", "seq", "status", "lat", "lng", "label", "eta", "due", "compliance"),
    "drivers": ("id", "name", "route", "lat", "lng", "at", "battery", "online", "stale"),
}  # fmt: skip
ROUTE_EPOCHS = {
    "started_s": "started_at",
    "finished_s": "finished_at",
    "created_s": "created_at",
    "position_s": "driver__last_position_at",
    "seen_s": "driver__last_seen_at",
}
ROUTE_FIELDS = (
    "pk", "account_id", "status", "departure_time", "planned_distance_m", "planned_duration_s",
    "account__time_zone", "branch__time_zone", "branch__name", "carrier__name",
    "carrier__trade_name", "vehicle__plate", "driver_id", "driver__first_name",
    "driver__last_name", "driver__last_lat", "driver__last_lng", "driver__battery_pct",
    *ROUTE_EPOCHS,
)  # fmt: skip
STOP_EPOCHS = {
    "eta_s": "eta",
    "eta_latest_s": "eta_latest",
    "planned_s": "planned_arrival",
    "arrived_s": "arrived_at",
    "deadline_s": "service__deadline",
}
STOP_FIELDS = (
    "route_id", "pk", "sequence", "status", "service__lat", "service__lng",
    "service__customer__name", "service__schedule__date", "service__schedule__window__end",
    "service__branch__time_zone", *STOP_EPOCHS,
)  # fmt: skip


def tracking_routes(*, user, filters):
    """The routes the user may see that run on filters.day (an itinerant one runs on every day
    to its end date), narrowed by the filters, by departure time and driver."""
    day = filters.day
    routes = access.scope(user, Route.objects.all()).filter(
        Q(date=day) | Q(date__lt=day, end_date__gte=day)
    )
    for name in ("branch", "carrier", "driver"):
        value = getattr(filters, name)
        if value is not None:
            routes = routes.filter(**{name: value})
    if filters.status:
        routes = routes.filter(status=filters.status)
    return routes.order_by("departure_time", "driver__first_name", "driver__last_name", "pk")


def tracking_snapshot(*, user, filters, now=None):
    """The day's state as {"routes": {id: values}, "stops": {...}, "drivers": {...}}, each
    item a tuple of the values named in COLUMNS. Three queries at most, whatever the number of
    routes: routes with driver, vehicle, branch and carrier; their stops with service and
    schedule; the positions new since the last refresh (travelled_distances)."""
    now_s = (now or timezone.now()).timestamp()
    routes = tracking_routes(user=user, filters=filters).annotate(
        **{name: Epoch(column) for name, column in ROUTE_EPOCHS.items()}
    )
    rows = [
        dict(zip(ROUTE_FIELDS, values, strict=True)) for values in routes.values_list(*ROUTE_FIELDS)
    ]
    stops_by_route = {row["pk"]: [] for row in rows}
    if rows:
        stops = Stop.objects.filter(route_id__in=list(stops_by_route)).annotate(
            **{name: Epoch(column) for name, column in STOP_EPOCHS.items()}
        )
        for values in stops.order_by("route_id", "sequence").values_list(*STOP_FIELDS):
            stops_by_route[values[0]].append(values)
    travelled = travelled_distances(rows)
    snapshot = {kind: {} for kind in KINDS}
    if rows:
        day_starts_s = _local_epoch_s(filters.day, time(0, 0), rows[0]["account__time_zone"])
    for row in rows:
        stop_items = _stop_items(stops_by_route[row["pk"]], row, now_s)
        snapshot["stops"].update((str(item[0]), item) for item in stop_items)
        route = _route_item(row, stop_items, travelled.get(row["pk"], 0))
        snapshot["routes"][str(row["pk"])] = route
        _add_driver(snapshot["drivers"], row, route, now_s, day_starts_s)
    return snapshot


def _stop_items(stops, route, now_s):
    account_zone = route["account__time_zone"]
    route_zone = route["branch__time_zone"] or account_zone
    clocks = {}  # minute -> "HH:MM" in the route's time zone
    items = []
    for (_route_id, pk, sequence, status, lat, lng, label, window_day, window_end, zone, eta_s,
         eta_latest_s, planned_s, arrived_s, deadline_s) in stops:  # fmt: skip
        due_s = deadline_s
        if window_day is not None:
            due_s = stop_due_s(
                deadline_s=deadline_s,
                window_day=window_day,
                window_end=window_end,
                time_zone=zone or account_zone,
            )
        eta_text = due_text = compliance = None
        if status in OPEN_STOP_STATUSES:
            if due_s is not None:
                compliance = stop_compliance(
                    status=status,
                    due_at=due_s,
                    now=now_s,
                    eta=eta_s,
                    eta_latest=eta_latest_s,
                    planned_arrival=planned_s,
                    arrived_at=arrived_s,
                )
                minute = int(due_s // 60)
                due_text = clocks.get(minute) or clocks.setdefault(
                    minute, _clock_of_minute(minute, route_zone)
                )
            if eta_s is not None:
                minute = int(eta_s // 60)
                eta_text = clocks.get(minute) or clocks.setdefault(
                    minute, _clock_of_minute(minute, route_zone)
                )
        items.append((
            pk, route["pk"], sequence, status, lat, lng, label, eta_text or "", due_text or "",
            compliance,
        ))  # fmt: skip
    return items


@lru_cache(maxsize=8192)
def _clock_of_minute(minute, time_zone):
    """ "HH:MM" of a minute since 1970 in a time zone (a day's ETAs and deadlines fall on a few
    hundred distinct minutes)."""
    local = minute * 60 + _utc_offset_s(time_zone, minute // 60)
    minutes = int(local // 60 % 1440)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=4096)
def _utc_offset_s(time_zone, hour):
    return datetime.fromtimestamp(hour * 3600, tz=_zone(time_zone)).utcoffset().total_seconds()


# Where each value of an item is (COLUMNS), for the code that reads items.
STOP = {name: index for index, name in enumerate(COLUMNS["stops"])}
ROUTE = {name: index for index, name in enumerate(COLUMNS["routes"])}


def _route_item(row, stop_items, travelled_m):
    status_at, compliance_at = STOP["status"], STOP["compliance"]
    statuses = [item[status_at] for item in stop_items]
    compliance = [item[compliance_at] for item in stop_items]
    return (
        row["pk"],
        row["driver_id"],
        f"{row['driver__first_name']} {row['driver__last_name']}".strip(),
        row["vehicle__plate"],
        row["branch__name"] or "",
        row["carrier__trade_name"] or row["carrier__name"] or "",
        row["status"],
        row["departure_time"].strftime("%H:%M"),
        statuses.count(StopStatus.DONE),
        statuses.count(StopStatus.FAILED),
        sum(1 for status in statuses if status in OPEN_STOP_STATUSES),
        len(statuses),
        worst_compliance(compliance),
        compliance.count(LATE),
        compliance.count(AT_RISK),
        row["planned_duration_s"],
        # The page counts the elapsed time from these (the server's clock is sent with them).
        _whole(row["started_s"]),
        _whole(row["finished_s"]),
        row["planned_distance_m"],
        round(travelled_m),
    )


def _whole(seconds):
    return None if seconds is None else round(seconds)


def _add_driver(drivers, row, route, now_s, day_starts_s):
    """The route's driver, once per driver (the route shown with it is the one in progress, if
    any). The position is drawn only while a route runs or when it was taken that day."""
    key = str(row["driver_id"])
    running = row["status"] == RouteStatus.IN_PROGRESS
    if key in drivers and not running:
        return
    position_s = row["position_s"]
    located = (
        position_s is not None
        and row["driver__last_lat"] is not None
        and (running or day_starts_s <= position_s < day_starts_s + 86_400)
    )
    drivers[key] = (
        row["driver_id"],
        route[ROUTE["name"]],
        row["pk"],
        row["driver__last_lat"] if located else None,
        row["driver__last_lng"] if located else None,
        _whole(position_s) if located else None,
        row["driver__battery_pct"],
        driver_online(last_seen_at=row["seen_s"], last_position_at=position_s, now=now_s),
        position_stale(position_s, now=now_s),
    )


def snapshot_version(snapshot):
    """A short fingerprint of a snapshot's content: equal snapshots, equal versions. (Items are
    in query order, so equal content pickles the same.)"""
    return hashlib.blake2b(pickle.dumps(snapshot, protocol=5), digest_size=12).hexdigest()


def snapshot_changes(previous, current):
    """What turns `previous` into `current`: ({kind: [items new or changed]}, {kind: [ids of
    items gone]})."""
    changed, removed = {}, {}
    for kind in KINDS:
        before, after = previous.get(kind, {}), current[kind]
        changed[kind] = [item for key, item in after.items() if before.get(key) != item]
        removed[kind] = [int(key) for key in before if key not in after]
    return changed, removed


# Travelled distance -----------------------------------------------------------------------------


def travelled_distances(rows):
    """{route id: metres} travelled by the routes (rows of tracking_snapshot): their positions
    in phone-time order, counted by positions.travelled_step_m (GPS wander left out).

    One query at most, of the positions not counted yet: each route's running sum, last point
    and its time are kept in the cache (one entry per account), so a refresh reads only the
    points sent since the previous one, and none for a route whose driver has sent nothing
    since; a route not in the cache reads all of its points once. A point that arrives after
    newer ones of its route is not counted (rare: a phone sends its backlog in order)."""
    started = [row for row in rows if row["started_s"] is not None]
    if not started:
        return {}
    keys = {f"routes:tracking:travelled:{row['account_id']}" for row in started}
    stored = cache.get_many(list(keys))
    known = {name: entry for entries in stored.values() for name, entry in entries.items()}
    totals, names = {}, {}
    cold, behind = [], {}
    for row in started:
        # The creation time tells apart two routes of one id (a test database rolled back).
        name = names[row["pk"]] = f"{row['pk']}:{row['created_s']!r}"
        entry = known.get(name)
        if entry is None:
            cold.append(row["pk"])
            continue
        totals[row["pk"]] = entry[:4]
        newest = row["position_s"]
        if newest is not None and newest > entry[0] + 0.001:
            behind[row["pk"]] = entry[0]
    if cold or behind:
        _count_new_points(totals, cold, behind)
        _remember_travelled(stored, started, names, totals, [*cold, *behind])
    return {pk: entry[3] for pk, entry in totals.items()}


def _count_new_points(totals, cold, behind):
    """Adds to totals ({route id: (cursor s, lat and lng of the last point counted, metres)})
    the points of the cold routes (all) and of those behind (after their cursor), in one
    query."""
    wanted = Q(route_id__in=cold) if cold else Q()
    # Routes counted recently (most, on a refresh) share one condition from the oldest of their
    # cursors; one counted long ago gets its own, so it does not make the others read back.
    recent = max(behind.values(), default=0) - RECENT_CURSOR_S
    together = [pk for pk, after in behind.items() if after >= recent]
    if together:
        oldest = min(behind[pk] for pk in together)
        wanted |= Q(route_id__in=together, recorded_at__gt=_moment(oldest))
    for pk, after in behind.items():
        if after < recent:
            wanted |= Q(route_id=pk, recorded_at__gt=_moment(after))
    points = (
        Position.objects.filter(wanted)
        .annotate(recorded_s=Epoch("recorded_at"))
        .order_by("route_id", "recorded_at")
        .values_list("route_id", "recorded_s", "lat", "lng", "accuracy_m")
    )
    for route_id, recorded_s, lat, lng, accuracy_m in points:
        after, last_lat, last_lng, metres = totals.get(route_id, (0.0, None, None, 0.0))
        if recorded_s <= after:
            continue  # read because of another route's older cursor
        anchor = None if last_lat is None else (last_lat, last_lng)
        step = travelled_step_m(anchor, lat, lng, accuracy_m)
        if step is not None:
            last_lat, last_lng, metres = lat, lng, metres + step
        totals[route_id] = (recorded_s, last_lat, last_lng, metres)


def _remember_travelled(stored, rows, names, totals, counted):
    """Stores the routes just counted in their account's entry, dropping routes not counted for
    TRAVELLED_CACHE_S. (Two refreshes at once may each keep their own: the other's routes are
    then counted again from their older cursor, which gives the same sums.)"""
    now_s = timezone.now().timestamp()
    accounts = {row["pk"]: row["account_id"] for row in rows}
    for pk in counted:
        key = f"routes:tracking:travelled:{accounts[pk]}"
        entries = stored.setdefault(key, {})
        entries[names[pk]] = (*totals.setdefault(pk, (0.0, None, None, 0.0)), now_s)
    for entries in stored.values():
        for name in [
            name for name, entry in entries.items() if entry[4] < now_s - TRAVELLED_CACHE_S
        ]:
            del entries[name]
    cache.set_many(stored, TRAVELLED_CACHE_S)


def _moment(seconds):
    return datetime.fromtimestamp(seconds, UTC)


# One route's path ---------------------------------------------------------------------------------


def route_track(*, route_id, after=None):
    """The travelled path of one route as {"route", "points": [[lat, lng], ...], "after",
    "reset"}: every point when `after` (the cursor of a previous answer, microseconds) is None,
    else only the points recorded after it, to append. Thinned to about TRACK_POINTS, the latest
    kept. One query. The caller checks that the user may see the route."""
    positions = Position.objects.filter(route_id=route_id)
    if after is not None:
        positions = positions.filter(recorded_at__gt=from_epoch_us(after))
    points = list(positions.order_by("recorded_at").values_list("recorded_at", "lat", "lng"))
    return {
        "route": route_id,
        "points": [[lat, lng] for _at, lat, lng in thinned(points, TRACK_POINTS)],
        "after": epoch_us(points[-1][0]) if points else after,
        "reset": after is None,
    }
