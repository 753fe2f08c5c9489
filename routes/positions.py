"""Drivers' GPS points: a phone's batch screened, de-duplicated and stored with one insert, the
driver's latest point kept for the live map, and the ETAs of the route under way refreshed.

Phones send late, twice and out of order: a point is identified by (driver, recorded_at), so a
batch sent again stores nothing twice, and a route's path is read by recorded_at, whatever order
its points arrived in.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Driver
from scheduling.selectors import service_time_window
from tracking.lib.geo import haversine_m

from . import eta, eta_learning, planning
from .models import Position, Route, RouteStatus, Stop, StopStatus
from .signals import etas_refreshed

logger = logging.getLogger(__name__)

MAX_BATCH = 500
# Phone clocks drift a little; a point further ahead than this is a wrong clock, not a point.
MAX_AHEAD = timedelta(minutes=5)
# A phone offline for longer than this sends history nobody will read as live tracking.
MAX_AGE = timedelta(days=7)
# Worse than this the point says little about where the driver is (cell towers, not GPS); a
# negative accuracy is how iOS marks a point without valid coordinates.
MAX_ACCURACY_M = 1000.0
# 250 km/h: faster than any delivery vehicle between two points, so one of them is wrong.
MAX_SPEED_MPS = 70.0
# The ETA of a route is refreshed at most this often because of its positions.
ETA_REFRESH_EVERY_S = 30

# Why a point is rejected (the codes are logged, the API answers the count).
FUTURE = "future"
TOO_OLD = "too_old"
OUT_OF_RANGE = "out_of_range"
NULL_ISLAND = "null_island"
INACCURATE = "inaccurate"
TOO_FAST = "too_fast"

# The stops whose arrival is still ahead (or under way) and get an ETA.
OPEN_STOP_STATUSES = [
    StopStatus.PENDING,
    StopStatus.IN_PROGRESS,
    StopStatus.ARRIVED,
    StopStatus.PAUSED,
]
# The stop the driver is at or heading to goes first, whatever its sequence.
CURRENT_STOP_STATUSES = {StopStatus.ARRIVED, StopStatus.IN_PROGRESS}


class Point(NamedTuple):
    """One point as the phone sent it; recorded_at is aware. (A named tuple: batches of
    hundreds are built and compared on every request.)"""

    recorded_at: datetime
    lat: float
    lng: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    battery_pct: int | None = None


@dataclass
class Screened:
    """A batch sorted out: the points to store (by recorded_at), how many repeated a time of
    the batch, and the rejected ones by reason."""

    kept: list = field(default_factory=list)
    duplicates: int = 0
    rejected: dict = field(default_factory=dict)

    @property
    def rejected_count(self):
        return sum(self.rejected.values())


@dataclass(frozen=True)
class Recorded:
    """What became of a batch: stored, already known (same driver and time), rejected."""

    accepted: int
    duplicates: int
    rejected: int

    def as_dict(self):
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


# Screening (pure) ---------------------------------------------------------------------------------


def point_problem(point, *, now):
    """Why the point on its own is impossible (one of the reason codes), or None."""
    if point.recorded_at > now + MAX_AHEAD:
        return FUTURE
    if point.recorded_at < now - MAX_AGE:
        return TOO_OLD
    if not (-90 <= point.lat <= 90 and -180 <= point.lng <= 180):
        return OUT_OF_RANGE
    # (0, 0) is what a phone sends when it has no fix; nobody delivers in the Gulf of Guinea.
    if point.lat == 0 and point.lng == 0:
        return NULL_ISLAND
    if point.accuracy_m is not None and not 0 <= point.accuracy_m <= MAX_ACCURACY_M:
        return INACCURATE
    return None


def cleaned(point):
    """The point with its optional readings kept only when they make sense (a phone marks a
    missing speed or heading with -1): a bad reading does not make the position wrong."""
    speed = point.speed_mps if point.speed_mps is not None and point.speed_mps >= 0 else None
    heading = point.heading_deg
    if heading is not None and not 0 <= heading <= 360:
        heading = None
    battery = point.battery_pct
    if battery is not None and not 0 <= battery <= 100:
        battery = None
    return Point(point.recorded_at, point.lat, point.lng, point.accuracy_m, speed, heading, battery)


def too_fast(a, b):
    """Whether going from a to b (Points, either order) needs more than MAX_SPEED_MPS. Each
    point's accuracy is given to it as slack, so GPS jitter between close points is no speed."""
    metres = haversine_m((a.lat, a.lng), (b.lat, b.lng)) - (a.accuracy_m or 0) - (b.accuracy_m or 0)
    if metres <= 0:
        return False
    seconds = abs((b.recorded_at - a.recorded_at).total_seconds())
    return seconds == 0 or metres / seconds > MAX_SPEED_MPS


def screen(points, *, now, last=None):
    """Sorts a batch out (see Screened). `last` is the driver's latest stored Point, if any.

    Each point is checked on its own (point_problem), then repeats of a recorded_at in the batch
    are dropped (the first one counts), then the implied speed from the previous kept point, in
    recorded_at order, is checked; the first point is compared with `last`, before or after it.
    A point too fast from its predecessor is still kept when the next point agrees with it and
    not with the predecessor: then the predecessor was the wrong one (or the driver was carried),
    and a wrong stored point must not make every later point look impossible.
    """
    result = Screened()
    seen = set()
    valid = []
    for point in points:
        problem = point_problem(point, now=now)
        if problem is not None:
            result.rejected[problem] = result.rejected.get(problem, 0) + 1
        elif point.recorded_at in seen:
            result.duplicates += 1
        else:
            seen.add(point.recorded_at)
            valid.append(cleaned(point))
    valid.sort(key=lambda point: point.recorded_at)

    reference = last
    for index, point in enumerate(valid):
        if (
            reference is None
            # The same time as the stored point: a repeat, which the insert counts.
            or point.recorded_at == reference.recorded_at
            or not too_fast(reference, point)
            or _next_agrees(valid, index, reference)
        ):
            result.kept.append(point)
            reference = point
        else:
            result.rejected[TOO_FAST] = result.rejected.get(TOO_FAST, 0) + 1
    return result


def _next_agrees(points, index, reference):
    if index + 1 == len(points):
        return False
    following = points[index + 1]
    return not too_fast(points[index], following) and too_fast(reference, following)


# Recording ----------------------------------------------------------------------------------------


def positions_record(*, driver, points, now=None):
    """Stores a batch of a driver's points (Point) with one insert and returns Recorded; safe to
    repeat (a point stored already counts as a duplicate). Each stored point gets the route the
    driver was running at its time; the driver's latest point moves only to a newer one; the ETA
    of the route in progress is refreshed after commit, at most every ETA_REFRESH_EVERY_S.
    A constant number of queries whatever the batch's size (one per 90 points on SQLite)."""
    now = now or timezone.now()
    last = None
    if driver.last_position_at is not None and driver.last_lat is not None:
        last = Point(driver.last_position_at, driver.last_lat, driver.last_lng)
    screened = screen(points, now=now, last=last)
    kept = screened.kept
    if screened.rejected:
        logger.info("driver %s: points rejected %s", driver.pk, screened.rejected)
    if not kept:
        return Recorded(0, screened.duplicates, screened.rejected_count)

    routes = _routes_run(driver, kept[0].recorded_at, kept[-1].recorded_at)
    route_ids = [_route_at(routes, point.recorded_at) for point in kept]
    with transaction.atomic():
        inserted = _insert(driver, kept, route_ids, received_at=now)
        newest = kept[-1]
        if driver.last_position_at is None or driver.last_position_at < newest.recorded_at:
            _move_driver(driver, newest)
    live = {pk for _start, _end, pk, status in routes if status == RouteStatus.IN_PROGRESS}
    for route_id in live.intersection(route_ids):
        route_eta_refresh_soon(route_id)
    if inserted:
        # Points of a finished route sent late (a phone back in coverage): its distance again.
        finished = {pk for _start, _end, pk, status in routes if status == RouteStatus.FINISHED}
        for route_id in finished.intersection(route_ids):
            distance = route_travelled_distance_m(route_id)
            Route.objects.filter(pk=route_id).update(travelled_distance_m=distance)
    return Recorded(
        inserted,
        screened.duplicates + len(kept) - inserted,
        screened.rejected_count,
    )


# GPS wanders while a phone stands still: a point counts towards the distance travelled only
# once it is farther from the last counted point than its accuracy (and MIN_MOVE_M); points less
# accurate than DISTANCE_ACCURACY_M (stored, but too vague to measure by) are left out. The one
# rule of the tracking page's running distance and of the distance stored with a finished route.
MIN_MOVE_M = 15
DISTANCE_ACCURACY_M = 100


def travelled_step_m(anchor, lat, lng, accuracy_m):
    """The metres a point adds to a distance travelled whose last counted point is anchor
    ((lat, lng); None before the first), or None when it does not count (too vague, or within
    the GPS wander of the anchor). A point that counts becomes the anchor."""
    if accuracy_m is not None and accuracy_m > DISTANCE_ACCURACY_M:
        return None
    if anchor is None:
        return 0.0
    step = haversine_m(anchor, (lat, lng))
    return step if step > max(MIN_MOVE_M, accuracy_m or 0) else None


def route_travelled_distance_m(route_id):
    """Metres travelled along the route's positions, in phone-time order."""
    points = (
        Position.objects.filter(route_id=route_id)
        .order_by("recorded_at")
        .values_list("lat", "lng", "accuracy_m")
    )
    total, anchor = 0.0, None
    for lat, lng, accuracy_m in points.iterator(chunk_size=5000):
        step = travelled_step_m(anchor, lat, lng, accuracy_m)
        if step is not None:
            total, anchor = total + step, (lat, lng)
    return round(total)


def _routes_run(driver, oldest, newest):
    """[(started_at, finished_at, route id, status)] of the driver's routes under way at some
    moment between oldest and newest, latest start first (one query)."""
    return list(
        Route.objects.filter(
            driver=driver,
            status__in=[RouteStatus.IN_PROGRESS, RouteStatus.FINISHED],
            started_at__lte=newest,
        )
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=oldest))
        .order_by("-started_at", "-pk")
        .values_list("started_at", "finished_at", "pk", "status")
    )


def _route_at(routes, moment):
    """The route the driver was running at `moment` (the latest started, if several)."""
    for started, finished, pk, _status in routes:
        if started <= moment and (finished is None or moment <= finished):
            return pk
    return None


# The columns of a batch's rows: the same for every row, then one per point.
BATCH_COLUMNS = ["account_id", "driver_id", "received_at"]
POINT_COLUMNS = [
    "route_id", "recorded_at", "lat", "lng", "accuracy_m", "speed_mps", "heading_deg",
    "battery_pct",
]  # fmt: skip


def _insert(driver, points, route_ids, *, received_at):
    """Inserts the points, skipping those whose (driver, recorded_at) is stored already, and
    returns how many were inserted: INSERT ... ON CONFLICT DO NOTHING, whose rowcount counts only
    the rows inserted on both SQLite and PostgreSQL (exact also when a concurrent request inserts
    the same points, unlike counting beforehand)."""
    shared = [driver.account_id, driver.pk, received_at]
    per_point = [
        route_ids,
        [point.recorded_at for point in points],
        [point.lat for point in points],
        [point.lng for point in points],
        [point.accuracy_m for point in points],
        [point.speed_mps for point in points],
        [point.heading_deg for point in points],
        [point.battery_pct for point in points],
    ]
    if connection.vendor == "postgresql":
        return _insert_arrays(shared, per_point)
    return _insert_rows(shared, per_point)


def _insert_sql(rows_sql):
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in BATCH_COLUMNS + POINT_COLUMNS)
    # Names come from this module and the model; every value is a parameter.
    return (
        f"INSERT INTO {quote(Position._meta.db_table)} ({columns}) {rows_sql} "
        f"ON CONFLICT ({quote('driver_id')}, {quote('recorded_at')}) DO NOTHING"
    )


def _insert_arrays(shared, per_point):
    """PostgreSQL: one statement whatever the batch's size, each column sent as one array and
    unnested. Its text never changes, so the driver parses it once (a VALUES list of 500 rows
    is 5,500 parameters to parse and send on every call: about half the request's time)."""
    casts = ", ".join(
        f"%s::{Position._meta.get_field(column.removesuffix('_id')).db_type(connection)}[]"
        for column in POINT_COLUMNS
    )
    sql = _insert_sql(f"SELECT %s, %s, %s, * FROM unnest({casts})")  # noqa: S608 (types, not values)
    with connection.cursor() as cursor:
        cursor.execute(sql, shared + per_point)
        return cursor.rowcount


def _insert_rows(shared, per_point):
    """Other backends (SQLite): a VALUES list, split where the backend limits the number of
    parameters (SQLite: 999, so 90 rows a statement)."""
    columns = BATCH_COLUMNS + POINT_COLUMNS
    fields = [Position._meta.get_field(column.removesuffix("_id")) for column in columns]
    rows = [
        [
            model_field.get_db_prep_save(value, connection)
            for model_field, value in zip(fields, shared + list(values), strict=True)
        ]
        for values in zip(*per_point, strict=True)
    ]
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    limit = connection.features.max_query_params
    per_statement = limit // len(columns) if limit else len(rows)
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = _insert_sql("VALUES " + ", ".join([placeholder] * len(chunk)))
            cursor.execute(sql, [value for row in chunk for value in row])
            inserted += cursor.rowcount
    return inserted


def _move_driver(driver, point):
    """The driver's latest point for the live map, only if newer than the stored one (a single
    conditional UPDATE: a late batch that commits after a newer one does not move it back)."""
    changes = {"last_lat": point.lat, "last_lng": point.lng, "last_position_at": point.recorded_at}
    if point.battery_pct is not None:
        changes["battery_pct"] = point.battery_pct
    moved = (
        Driver.objects.filter(pk=driver.pk)
        .filter(Q(last_position_at__isnull=True) | Q(last_position_at__lt=point.recorded_at))
        .update(**changes)
    )
    if moved:
        for name, value in changes.items():
            setattr(driver, name, value)


# ETA ----------------------------------------------------------------------------------------------


def _eta_throttle_key(route_id):
    return f"routes:eta-refresh:{route_id}"


def route_eta_refresh_soon(route_id):
    """Queues the ETA refresh of the route after commit, unless one was queued within
    ETA_REFRESH_EVERY_S (a cache key taken with add, so concurrent batches queue one). With the
    broker or the cache down nothing fails: the minute's sweep (refresh_active_etas) catches
    up, since it picks routes by eta_refreshed_at."""

    def enqueue():
        from .tasks import refresh_route_eta

        if cache.add(_eta_throttle_key(route_id), 1, ETA_REFRESH_EVERY_S):
            refresh_route_eta.apply_async((route_id,), expires=ETA_REFRESH_EVERY_S * 2)

    transaction.on_commit(enqueue, robust=True)


def routes_refresh_due_etas(*, now=None):
    """Queues the ETA refresh of every route in progress whose ETAs are older than
    ETA_REFRESH_EVERY_S or were never computed (one task per route, through the same throttle as
    positions, so a route whose positions just queued one is not queued twice). Returns how many
    routes were due."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=ETA_REFRESH_EVERY_S)
    route_ids = Route.objects.filter(status=RouteStatus.IN_PROGRESS).filter(
        Q(eta_refreshed_at__isnull=True) | Q(eta_refreshed_at__lt=stale)
    )
    queued = 0
    for route_id in route_ids.values_list("pk", flat=True).iterator():
        route_eta_refresh_soon(route_id)
        queued += 1
    return queued


def route_driving_pace(route, stops, *, profile, provider, speed_kmh, tzinfo):
    """eta.driving_pace of the route: its legs driven so far (eta_learning.route_legs, from
    the stops arrived at) against what `profile` expected of them. One more matrix request per
    refresh, of the places visited (one OSRM Table request, a few milliseconds)."""
    legs = eta_learning.route_legs(
        route, stops, provider=provider, speed_kmh=speed_kmh, tzinfo=tzinfo
    )
    return eta.driving_pace(legs, profile=profile)


def route_refresh_eta(route, now=None, *, provider=None):
    """Computes and stores the ETA and window of the route's open stops (pending, on the way,
    arrived, paused) from the driver's last position, with one bulk update, and the route's
    eta_refreshed_at. Legs and stops are scaled by the account's travel profile (a neutral one
    until the nightly task has learned it) and the legs by the driver's pace today against it;
    time on site is not scaled by the driver (on the benchmark that only adds noise: one day's
    few stops say little about the next one's). Does nothing (returns None) for a route that
    is not in progress; returns the list of eta.StopEta otherwise. Idempotent."""
    if route.status != RouteStatus.IN_PROGRESS:
        return None
    now = now or timezone.now()
    stops = planning.route_stops(route)
    profile = eta_learning.account_travel_profile(route.account_id) or eta.NEUTRAL
    provider = provider or planning.matrix_provider()
    speed_kmh = planning.vehicle_speed_kmh(route.vehicle)
    tzinfo = planning.route_tzinfo(route)
    pace = route_driving_pace(
        route, stops, profile=profile, provider=provider, speed_kmh=speed_kmh, tzinfo=tzinfo
    )
    open_stops = sorted(
        (stop for stop in stops if stop.status in OPEN_STOP_STATUSES),
        key=lambda stop: (stop.status not in CURRENT_STOP_STATUSES, stop.sequence),
    )
    by_id = {stop.pk: stop for stop in open_stops}
    etas = eta.stop_etas(
        origin=_driver_point(route),
        now=now,
        stops=[_remaining(stop) for stop in open_stops],
        provider=provider,
        speed_kmh=speed_kmh,
        pace=pace,
        profile=profile,
        service_pace=1.0,
        tzinfo=tzinfo,
    )
    for stop_eta in etas:
        stop = by_id[stop_eta.key]
        stop.eta, stop.eta_earliest, stop.eta_latest = (
            stop_eta.eta,
            stop_eta.earliest,
            stop_eta.latest,
        )
        stop.eta_computed_at = now
    with transaction.atomic():
        Stop.objects.bulk_update(
            open_stops, ["eta", "eta_earliest", "eta_latest", "eta_computed_at"]
        )
        Route.objects.filter(pk=route.pk).update(eta_refreshed_at=now)
    route.eta_refreshed_at = now
    etas_refreshed.send(sender=Route, route_id=route.pk)
    return etas


def _driver_point(route):
    """Where the driver is: the last position since the route started, else the route's start
    (a position from before the route may be yesterday's)."""
    driver = route.driver
    seen_at = driver.last_position_at
    if (
        seen_at is not None
        and driver.last_lat is not None
        and (route.started_at is None or seen_at >= route.started_at)
    ):
        return (driver.last_lat, driver.last_lng)
    return planning.route_start(route)


def _remaining(stop):
    service = stop.service
    window_start, _window_end = service_time_window(service)
    return eta.RemainingStop(
        key=stop.pk,
        point=planning.service_point(service),
        service_s=service.service_time_min * 60,
        window_start=window_start,
        arrived_at=stop.arrived_at if stop.status == StopStatus.ARRIVED else None,
    )
