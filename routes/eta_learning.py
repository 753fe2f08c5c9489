"""Learning an account's travel profile (routes.eta.TravelProfile) from its finished routes: how
much longer than the matrix provider's nominal duration legs take at each hour of the day, and
how much longer than planned the time on site is.

The first part is pure (plain numbers in, a profile out), so the benchmark learns with exactly
the code production runs; the second reads an account's history from the database and stores
its profile (routes.models.TravelProfile), refreshed daily by routes.tasks.learn_travel_profiles.
"""

import logging
import math
import statistics
from datetime import timedelta

from django.utils import timezone

from . import eta, matrix, planning
from .eta import HOURS
from .matrix import MatrixUnavailable
from .models import Stop, StopStatus
from .models import TravelProfile as StoredProfile

logger = logging.getLogger(__name__)

# Legs shorter than this (nominal) say more about parking and the phone than about traffic.
MIN_LEG_NOMINAL_S = 30
# A leg this many times slower or faster than nominal is not traffic: a lunch break between two
# stops, a stop tapped long after arriving, a position from the wrong place. Such legs are left
# out of learning altogether (unlike the ETA's driving pace, which winsorizes: here there are
# thousands of legs and dropping a few biases nothing).
LEG_RATIO_RANGE = (0.2, 6.0)
# Each hour's value is a trimmed mean of its legs' ratios (actual / nominal): this share is cut
# at each end. More efficient than the median when the data is clean, as robust as needed when
# it is not.
TRIM = 0.1
# Shrinkage, in legs: an hour with n legs weighs its own mean against its neighbours' (the hour
# before and after) as n against HOUR_PRIOR_LEGS; the neighbours weigh against the overall
# value as their legs against NEIGHBOUR_PRIOR_LEGS. So a busy hour keeps its own value (a sharp
# morning peak is not flattened), a thin one leans on the hours around it, and an hour nobody
# drives in gets the overall value (1.0 without any data).
HOUR_PRIOR_LEGS = 10
NEIGHBOUR_PRIOR_LEGS = 10
# Time on site: a stop longer than this many times its plan counts as this many times (a
# forgotten "complete" tap must not move the factor), and the factor is shrunk toward 1.0 as if
# this many stops had taken exactly their plan.
SERVICE_RATIO_MAX = 4.0
SERVICE_PRIOR_STOPS = 10


# Pure learning -----------------------------------------------------------------------------------


def trimmed_mean(values, trim=TRIM):
    """The mean of `values` without the lowest and highest `trim` share (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    cut = int(len(ordered) * trim)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return statistics.fmean(kept)


def leg_ratios(legs):
    """(hour 0-23, actual / nominal) of the usable legs among (local start hour as a float,
    nominal_s, actual_s): long enough, and a ratio inside LEG_RATIO_RANGE."""
    for hour, nominal_s, actual_s in legs:
        if nominal_s < MIN_LEG_NOMINAL_S or actual_s <= 0:
            continue
        ratio = actual_s / nominal_s
        if LEG_RATIO_RANGE[0] <= ratio <= LEG_RATIO_RANGE[1]:
            yield math.floor(hour) % HOURS, ratio


def hourly_multipliers(legs):
    """24 multipliers of nominal leg durations, one per local hour, from legs given as
    (local start hour as a float, nominal_s, actual_s). See the constants for how outliers and
    thin hours are handled; without usable legs every hour is 1.0."""
    by_hour = [[] for _ in range(HOURS)]
    for hour, ratio in leg_ratios(legs):
        by_hour[hour].append(ratio)
    every = [ratio for ratios in by_hour for ratio in ratios]
    if not every:
        return [1.0] * HOURS
    overall = trimmed_mean(every)
    counts = [len(ratios) for ratios in by_hour]
    means = [trimmed_mean(ratios) or 0.0 for ratios in by_hour]

    result = []
    for hour in range(HOURS):
        around = [(hour - 1) % HOURS, (hour + 1) % HOURS]
        around_legs = sum(counts[h] for h in around)
        neighbours = (
            sum(counts[h] * means[h] for h in around) + NEIGHBOUR_PRIOR_LEGS * overall
        ) / (around_legs + NEIGHBOUR_PRIOR_LEGS)
        own = counts[hour]
        result.append((own * means[hour] + HOUR_PRIOR_LEGS * neighbours) / (own + HOUR_PRIOR_LEGS))
    return result


def usable_services(services):
    """(planned_s, actual_s capped at SERVICE_RATIO_MAX times the plan) of the usable services
    among (planned_s, actual_s)."""
    for planned_s, actual_s in services:
        if planned_s > 0 and actual_s >= 0:
            yield planned_s, min(actual_s, SERVICE_RATIO_MAX * planned_s)


def service_factor(services):
    """How much longer (> 1) than planned the time on site is, from services given as
    (planned_s, actual_s): the capped actual total over the planned total (a mean, not a median:
    ETAs add many stops up, and a sum of skewed durations is their mean times their count),
    shrunk toward 1.0 by SERVICE_PRIOR_STOPS stops of average plan. 1.0 without data."""
    planned_total = actual_total = 0.0
    count = 0
    for planned_s, actual_s in usable_services(services):
        planned_total += planned_s
        actual_total += actual_s
        count += 1
    if not count:
        return 1.0
    prior_s = SERVICE_PRIOR_STOPS * planned_total / count
    return (actual_total + prior_s) / (planned_total + prior_s)


def learn_profile(legs, services):
    """A TravelProfile from legs (local start hour, nominal_s, actual_s) and services
    (planned_s, actual_s); `samples` counts the usable ones of both."""
    legs, services = list(legs), list(services)
    return eta.TravelProfile(
        hourly=tuple(hourly_multipliers(legs)),
        service_factor=service_factor(services),
        samples=sum(1 for _ in leg_ratios(legs)) + sum(1 for _ in usable_services(services)),
    )


# From the database ---------------------------------------------------------------------------

# How far back a profile looks, and at most how many stops it reads (the latest): enough for
# every hour of a working day many times over, little enough for a nightly task per account.
HISTORY_WEEKS = 8
MAX_STOPS = 20_000
# What learning reads of a stop, its route and its service.
HISTORY_FIELDS = [
    "route_id", "sequence", "status", "arrived_at", "arrived_lat", "arrived_lng", "left_at",
    "service__lat", "service__lng", "service__service_time_min", "route__started_at",
    "route__start_lat", "route__start_lng", "route__vehicle__speed_kmh", "route__vehicle__type",
    "route__branch__time_zone",
]  # fmt: skip


def route_legs(route, stops, *, provider, speed_kmh, tzinfo):
    """The legs the driver drove on `route`, as (local start hour, nominal_s, actual_s) in the
    order driven: from the route's start (at started_at) or the previous stop left (at its
    left_at) to a stop arrived at (its arrived_at). `stops` are the route's stops, any status;
    those with an arrival or a departure were visited, in the order of those times. A leg is
    left out when a time or a place is unknown (a stop completed without an "arrive" tap has no
    leg of its own, but the next leg starts from it) or runs backwards (phone clocks). Nominal
    durations come from one matrix of the places, asked of `provider` at `speed_kmh`."""
    visited = sorted(
        (stop for stop in stops if stop.arrived_at is not None or stop.left_at is not None),
        key=lambda stop: (stop.arrived_at or stop.left_at, stop.sequence),
    )
    places = [planning.route_start(route)] + [_stop_point(stop) for stop in visited]
    departures = [route.started_at] + [stop.left_at for stop in visited]
    wanted = [
        k
        for k, stop in enumerate(visited, start=1)
        if stop.arrived_at is not None
        and departures[k - 1] is not None
        and places[k - 1] is not None
        and places[k] is not None
        and stop.arrived_at >= departures[k - 1]
    ]
    if not wanted:
        return []
    known = sorted({k - 1 for k in wanted} | set(wanted))
    column = {k: index for index, k in enumerate(known)}
    _distances, durations = provider.matrix([places[k] for k in known], speed_kmh=speed_kmh)
    legs = []
    for k in wanted:
        left = departures[k - 1]
        legs.append(
            (
                eta.local_hour(left, tzinfo),
                durations[column[k - 1]][column[k]],
                (visited[k - 1].arrived_at - left).total_seconds(),
            )
        )
    return legs


def _stop_point(stop):
    """Where a stop is: its service's address, else where the phone was when it arrived."""
    point = planning.service_point(stop.service)
    if point is None and stop.arrived_lat is not None and stop.arrived_lng is not None:
        point = (stop.arrived_lat, stop.arrived_lng)
    return point


def account_history(*, account, since, provider, max_stops=MAX_STOPS):
    """(legs, services) of the account's routes started since `since`, for learn_profile: the
    legs of route_legs and (planned_s, actual_s) of every stop completed with an arrival. Reads
    at most `max_stops` finished stops, the latest routes first, whole routes only (a route cut
    by the limit is left out: its first stop read would seem to start from the depot); one
    query, and one matrix per route. A route whose matrix is unavailable (OSRM down) is
    skipped rather than measured against haversine, which would mix two yardsticks."""
    rows = list(
        Stop.objects.filter(
            account=account,
            route__started_at__gte=since,
            status__in=[StopStatus.DONE, StopStatus.FAILED],
            left_at__isnull=False,
        )
        .select_related("route__vehicle", "route__branch", "service")
        .only(*HISTORY_FIELDS)
        .order_by("-route__started_at", "-route_id", "sequence")[: max_stops + 1]
    )
    if len(rows) > max_stops:
        cut = rows[-1].route_id
        rows = [stop for stop in rows if stop.route_id != cut]

    by_route = {}
    for stop in rows:
        by_route.setdefault(stop.route_id, []).append(stop)
    legs, services = [], []
    for stops in by_route.values():
        route = stops[0].route
        try:
            legs += route_legs(
                route,
                stops,
                provider=provider,
                speed_kmh=planning.vehicle_speed_kmh(route.vehicle),
                tzinfo=planning.place_tzinfo(route.branch, account),
            )
        except MatrixUnavailable:
            logger.warning("route %s left out of the travel profile: no matrix", route.pk)
            continue
        services += [
            (stop.service.service_time_min * 60, (stop.left_at - stop.arrived_at).total_seconds())
            for stop in stops
            if stop.status == StopStatus.DONE and stop.arrived_at is not None
        ]
    return legs, services


def travel_profile_learn(*, account, now=None, provider=None):
    """Learns the account's profile from its last HISTORY_WEEKS of routes and stores it (one
    TravelProfile row per account, replaced). Idempotent for the same history; returns the row."""
    now = now or timezone.now()
    legs, services = account_history(
        account=account,
        since=now - timedelta(weeks=HISTORY_WEEKS),
        provider=provider or matrix.get_provider(),
    )
    learned = learn_profile(legs, services)
    stored, _created = StoredProfile.objects.update_or_create(
        account=account,
        defaults={
            "hourly": list(learned.hourly),
            "service_factor": learned.service_factor,
            "samples": learned.samples,
            "computed_at": now,
        },
    )
    return stored


def account_travel_profile(account_id):
    """The account's stored profile as an eta.TravelProfile (one query), or None when it has
    none yet or the stored one is unusable."""
    stored = (
        StoredProfile.objects.filter(account_id=account_id)
        .values_list("hourly", "service_factor", "samples")
        .first()
    )
    if stored is None:
        return None
    hourly, factor, samples = stored
    try:
        return eta.TravelProfile(hourly=tuple(hourly), service_factor=factor, samples=samples)
    except (TypeError, ValueError):
        logger.warning("account %s: unusable travel profile %r", account_id, hourly)
        return None
