"""Estimated arrival at a route's remaining stops, as pure functions (no ORM, no clock).

The ETA of each remaining stop is `now` plus the legs from the driver's last position through the
remaining stops in order, plus the service time of the stops before it, all scaled by the
driver's observed pace; a driver who arrives before a stop's window opens waits for it. Each ETA
comes with a window (earliest, latest) that widens with the stops and the time ahead.
routes.positions.route_refresh_eta reads a route, calls `stop_etas` and stores the result.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

# The observed pace is clamped to this range: slower or faster than this is a data problem (a
# route started and left idle, stops completed in a burst at the end) rather than a driver.
PACE_MIN = 0.7
PACE_MAX = 1.6
# How much planned time of evidence the pace needs before it counts fully: with P seconds of
# history the pace is (actual + PRIOR) / (planned + PRIOR), i.e. it starts at 1.0 and moves
# toward the observed ratio as the route goes on, so one quick first stop does not make the
# driver look 30% faster for the rest of the day.
PACE_PRIOR_S = 20 * 60

# The window around an ETA, for the stop with k stops before it (k = 0 for the next one) and T
# seconds of driving and service ahead of it (waits for windows excluded):
#   latest   = eta + LATE_BASE  + LATE_PER_STOP  * k + LATE_SHARE  * T
#   earliest = eta - EARLY_BASE - EARLY_PER_STOP * k - EARLY_SHARE * T
# Why this shape: each stop ahead adds its own deviation (a customer who takes long to answer, a
# parking place to find), and those add up, so the spread grows with k; the deviations of the
# driving do not cancel out either (traffic is the same for every leg of the next hour), so the
# spread also grows in proportion to the time ahead, which matters for long legs with few stops.
# It is asymmetric because being late is likelier and larger than being early: a stop can take
# far longer than planned but not much less than nothing, and traffic only ever adds.
EARLY_BASE = timedelta(minutes=3)
EARLY_PER_STOP = timedelta(minutes=2)
EARLY_SHARE = 0.05
LATE_BASE = timedelta(minutes=5)
LATE_PER_STOP = timedelta(minutes=3)
LATE_SHARE = 0.10


@dataclass(frozen=True)
class RemainingStop:
    """A stop still ahead of the driver, in the order it will be visited.

    `key` is the caller's (a stop id); `point` is (lat, lng) or None when the address has no
    coordinates; `window_start` is when the customer can be served from (aware) or None;
    `arrived_at` is set when the driver is at the stop already (serving it since then)."""

    key: object
    point: tuple[float, float] | None
    service_s: float
    window_start: datetime | None = None
    arrived_at: datetime | None = None


@dataclass(frozen=True)
class StopEta:
    """The ETA of one stop and its window; all None for a stop without coordinates."""

    key: object
    eta: datetime | None
    earliest: datetime | None
    latest: datetime | None
    stops_ahead: int


def observed_pace(*, elapsed_s, planned_s, prior_s=PACE_PRIOR_S):
    """How much longer (> 1) or shorter (< 1) than planned the driver takes: the route's actual
    elapsed time to its last finished stop over the planned time to the same point, shrunk
    toward 1.0 while there is little history (PACE_PRIOR_S) and clamped to PACE_MIN..PACE_MAX.
    1.0 without history (nothing done yet, or a plan with no duration) or with a negative
    elapsed time (phone clocks)."""
    if planned_s <= 0 or elapsed_s < 0:
        return 1.0
    pace = (elapsed_s + prior_s) / (planned_s + prior_s)
    return min(PACE_MAX, max(PACE_MIN, pace))


def eta_window(eta, *, now, stops_ahead, time_ahead_s, not_before=None):
    """(earliest, latest) around `eta` (see the constants above for the shape and why). The
    earliest is never before `now`, nor before `not_before` (a window's opening the driver waits
    for); the latest never before the earliest."""
    k = stops_ahead
    early = EARLY_BASE + EARLY_PER_STOP * k + timedelta(seconds=EARLY_SHARE * time_ahead_s)
    late = LATE_BASE + LATE_PER_STOP * k + timedelta(seconds=LATE_SHARE * time_ahead_s)
    earliest = max(eta - early, now)
    if not_before is not None:
        earliest = max(earliest, not_before)
    return earliest, max(eta + late, earliest)


def stop_etas(*, origin, now, stops, provider, speed_kmh, pace=1.0):
    """The ETA and window of each remaining stop (a StopEta per RemainingStop, same order).

    `origin` is the driver's last known (lat, lng), or None (then the first leg counts as
    nothing); the driver is taken to be there at `now`. `provider` is a routes.matrix provider,
    asked once for the matrix of the origin and the stops' points. Legs and service times are
    multiplied by `pace` (observed_pace); waiting for a window to open is not, since it does not
    depend on the driver. A stop the driver is at (`arrived_at`) has its arrival as ETA, and the
    driver leaves it when its service time (scaled) is over, or now if that is past.
    """
    points = [stop.point for stop in stops if stop.point is not None]
    if origin is not None:
        points.insert(0, origin)
    if len(points) > 1:
        _distances, durations = provider.matrix(points, speed_kmh=speed_kmh)
    else:
        durations = [[0]]

    etas = []
    clock = now  # when the driver leaves the previous place
    time_ahead_s = 0.0  # driving and service from now to the current place, without waits
    previous = 0 if origin is not None else None  # index in points of where the driver is
    index = 1 if origin is not None else 0
    for stops_ahead, stop in enumerate(stops):
        if stop.point is None:
            etas.append(StopEta(stop.key, None, None, None, stops_ahead))
            continue
        service_s = stop.service_s * pace
        if stop.arrived_at is not None:
            eta = stop.arrived_at
            etas.append(StopEta(stop.key, eta, eta, eta, stops_ahead))
            leaves = eta + timedelta(seconds=service_s)
            time_ahead_s += max(0.0, (leaves - now).total_seconds())
            clock = max(clock, leaves)
        else:
            leg_s = durations[previous][index] * pace if previous is not None else 0.0
            time_ahead_s += leg_s
            arrival = clock + timedelta(seconds=leg_s)
            waits_for = None
            if stop.window_start is not None and arrival < stop.window_start:
                arrival = waits_for = stop.window_start
            earliest, latest = eta_window(
                arrival,
                now=now,
                stops_ahead=stops_ahead,
                time_ahead_s=time_ahead_s,
                not_before=waits_for,
            )
            etas.append(StopEta(stop.key, arrival, earliest, latest, stops_ahead))
            time_ahead_s += service_s
            clock = arrival + timedelta(seconds=service_s)
        previous, index = index, index + 1
    return etas
