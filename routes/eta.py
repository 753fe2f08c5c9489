"""Estimated arrival at a route's remaining stops, as pure functions (no ORM, no clock).

The ETA of each remaining stop is `now` plus the legs from the driver's last position through the
remaining stops in order, plus the service time of the stops before it; a driver who arrives
before a stop's window opens waits for it. Each ETA comes with a window (earliest, latest) that
widens with the stops and the time ahead.

What a leg and a stop take comes from the account's history (a TravelProfile, learned by
routes.eta_learning): a leg is the matrix provider's duration at the vehicle's nominal speed times
the profile's multiplier for the local hour it starts at (traffic) times the driver's own pace
today (driving_pace: what is left of the driver's legs so far once the profile explains the
hour); a stop is its planned service time times the profile's service factor. Called without a
profile, `stop_etas` keeps its first meaning: one observed pace scales legs and service alike
(observed_pace). routes.positions.route_refresh_eta reads a route and the account's profile (a
neutral one until it is learned), calls `stop_etas` and stores the result.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

HOURS = 24

# The observed pace is clamped to this range: slower or faster than this is a data problem (a
# route started and left idle, stops completed in a burst at the end) rather than a driver.
PACE_MIN = 0.7
PACE_MAX = 1.6
# How much planned time of evidence the pace needs before it counts fully: with P seconds of
# history the pace is (actual + PRIOR) / (planned + PRIOR), i.e. it starts at 1.0 and moves
# toward the observed ratio as the route goes on, so one quick first stop does not make the
# driver look 30% faster for the rest of the day.
PACE_PRIOR_S = 20 * 60
# The same for the driving pace against a profile, counted in profiled seconds of driving. The
# profile already explains the hour, so what is left is the driver (and today's roads): a
# steadier quantity than the raw pace, which the first long leg (depot to the first stop)
# measures well. On the benchmark the error grows slowly with the prior (a slow driver is
# believed later) and is lowest with none, but the simulated legs have no noise of their own:
# real ones do (a parking place, a red light), so one 2-minute leg must not set the pace for the
# day. 5 minutes: nothing against a 30-minute first leg, half the weight of a short one.
DRIVING_PACE_PRIOR_S = 5 * 60
# A leg longer than this many times its profiled duration is a break, a detour or a forgotten
# tap, not driving: it counts as this many times (winsorized), so one lunch break does not make
# the rest of the day look slow.
LEG_RATIO_MAX = 3.0

# The window around an ETA, for the stop with k stops before it (k = 0 for the next one) and T
# seconds of driving and service ahead of it (waits for windows excluded):
#   latest   = eta + sqrt(LATE_BASE²  + k * LATE_PER_STOP²  + (LATE_SHARE  * T)²)
#   earliest = eta - sqrt(EARLY_BASE² + k * EARLY_PER_STOP² + (EARLY_SHARE * T)²)
# Why this shape: each stop ahead adds its own deviation (a customer who takes long to answer, a
# parking place to find), independent of the others, so their variances add up and the spread
# grows with the square root of k; the deviations of the driving do not cancel out (traffic is
# the same for every leg of the next hour, a slow driver is slow all day), so that part grows in
# proportion to the time ahead. It is asymmetric because being late is likelier and larger than
# being early: a stop can take far longer than planned but not much less than nothing. Tuned on
# the benchmark for about 80% of arrivals inside the window (the per-stop terms are about the
# spread of time on site there, log-normal around the plan); for the same coverage the window is
# about a fifth narrower than one growing linearly with k, and covers near and far stops alike.
# An account whose stops vary much more or less than that would want these learned too.
EARLY_BASE = timedelta(minutes=1)
EARLY_PER_STOP = timedelta(minutes=4, seconds=30)
EARLY_SHARE = 0.03
LATE_BASE = timedelta(minutes=2)
LATE_PER_STOP = timedelta(minutes=5, seconds=30)
LATE_SHARE = 0.03


@dataclass(frozen=True)
class TravelProfile:
    """What an account's history says about its days: `hourly` is the multiplier of the matrix
    provider's nominal leg duration for legs starting in each local hour (24 values, 0 to 23),
    `service_factor` the multiplier of planned service times, `samples` how many legs and
    services it was learned from. The default is neutral (every multiplier 1.0)."""

    hourly: tuple = (1.0,) * HOURS
    service_factor: float = 1.0
    samples: int = 0

    def __post_init__(self):
        if len(self.hourly) != HOURS:
            raise ValueError(f"a travel profile has {HOURS} hourly values")
        object.__setattr__(self, "hourly", tuple(float(value) for value in self.hourly))

    def multiplier(self, hour):
        """The leg multiplier for a leg starting at local `hour` (a float, 8.5 = 8:30): the
        value of the hour it falls in. (Interpolating between the middles of the hours was
        tried: no difference on the benchmark, and a step is easier to check by hand.)"""
        return self.hourly[math.floor(hour) % HOURS]


NEUTRAL = TravelProfile()


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


def local_hour(moment, tzinfo=None):
    """The local hour of an aware datetime as a float (8:30 -> 8.5), in `tzinfo` (default: the
    datetime's own)."""
    local = moment.astimezone(tzinfo) if tzinfo is not None else moment
    return local.hour + local.minute / 60 + local.second / 3600


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


def driving_pace(legs, *, profile=NEUTRAL, prior_s=DRIVING_PACE_PRIOR_S):
    """The driver's pace today against the profile: the actual duration of the legs driven so
    far over what the profile expected of them, (local start hour, nominal_s, actual_s) each
    (the same shape routes.eta_learning learns from). Each leg counts at most LEG_RATIO_MAX
    times its expectation; the ratio is shrunk toward 1.0 by `prior_s` of profiled driving and
    clamped like observed_pace. 1.0 without legs."""
    actual_s = expected_s = 0.0
    for hour, nominal_s, leg_s in legs:
        if nominal_s <= 0 or leg_s < 0:
            continue
        expected = nominal_s * profile.multiplier(hour)
        expected_s += expected
        actual_s += min(leg_s, LEG_RATIO_MAX * expected)
    return observed_pace(elapsed_s=actual_s, planned_s=expected_s, prior_s=prior_s)


def eta_window(eta, *, now, stops_ahead, time_ahead_s, not_before=None):
    """(earliest, latest) around `eta` (see the constants above for the shape and why). The
    earliest is never before `now`, nor before `not_before` (a window's opening the driver waits
    for); the latest never before the earliest."""
    early = _spread(EARLY_BASE, EARLY_PER_STOP, EARLY_SHARE, stops_ahead, time_ahead_s)
    late = _spread(LATE_BASE, LATE_PER_STOP, LATE_SHARE, stops_ahead, time_ahead_s)
    earliest = max(eta - early, now)
    if not_before is not None:
        earliest = max(earliest, not_before)
    return earliest, max(eta + late, earliest)


def _spread(base, per_stop, share, stops_ahead, time_ahead_s):
    seconds = math.sqrt(
        base.total_seconds() ** 2
        + stops_ahead * per_stop.total_seconds() ** 2
        + (share * time_ahead_s) ** 2
    )
    return timedelta(seconds=round(seconds))


def stop_etas(
    *, origin, now, stops, provider, speed_kmh, pace=1.0, profile=None, service_pace=None,
    tzinfo=None,
):  # fmt: skip
    """The ETA and window of each remaining stop (a StopEta per RemainingStop, same order).

    `origin` is the driver's last known (lat, lng), or None (then the first leg counts as
    nothing); the driver is taken to be there at `now`. `provider` is a routes.matrix provider,
    asked once for the matrix of the origin and the stops' points, at `speed_kmh` (nominal).

    A leg takes its nominal duration times `profile.multiplier` at the local hour it starts
    (in `tzinfo`, default `now`'s) times `pace`; a stop's service takes its planned time times
    `profile.service_factor` times `service_pace` (default: `pace`, so without a profile one
    observed pace scales both, as observed_pace means). Waiting for a window to open is not
    scaled, since it does not depend on the driver. A stop the driver is at (`arrived_at`) has
    its arrival as ETA, and the driver leaves it when its service time (scaled) is over, or now
    if that is past.
    """
    profile = profile or NEUTRAL
    service_scale = profile.service_factor * (pace if service_pace is None else service_pace)
    tzinfo = tzinfo or now.tzinfo
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
        service_s = stop.service_s * service_scale
        if stop.arrived_at is not None:
            eta = stop.arrived_at
            etas.append(StopEta(stop.key, eta, eta, eta, stops_ahead))
            leaves = eta + timedelta(seconds=service_s)
            time_ahead_s += max(0.0, (leaves - now).total_seconds())
            clock = max(clock, leaves)
        else:
            leg_s = 0.0
            if previous is not None:
                traffic = profile.multiplier(local_hour(clock, tzinfo))
                leg_s = durations[previous][index] * traffic * pace
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
