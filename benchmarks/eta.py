"""ETA error: routes.eta with a learned travel profile against a constant-speed ETA, on days
simulated with realistic noise.

routes.simulation draws each driver's day: a personal pace, traffic that changes through the day,
time on site that varies by stop, GPS noise. Two separate sets of days are drawn (different seeds):
- HISTORY (150 routes): what an account has behind it. Its legs (local start hour, nominal
  duration from the same HaversineProvider at the vehicle's nominal speed, simulated duration) and
  its completed stops (planned, simulated time on site) go through routes.eta_learning's pure
  functions, the ones production runs on the account's stops, giving a TravelProfile;
- TEST (80 routes): new days. After every completed stop (when the driver's app would refresh),
  the estimators predict the arrival at every remaining stop from the driver's latest position:
  - baseline: legs at the vehicle's nominal speed plus the planned time on site (constant speed);
  - ours: routes.eta.stop_etas with the learned profile and the driver's driving pace so far
    against it (routes.eta.driving_pace over the legs driven since the route started);
  - for information, without history: the same with a neutral profile (a new account);
  - for information, the noise floor: an oracle that knows what no estimator can, each driver's
    pace, the simulation's traffic function and the test days' own mean time on site over plan.
    What it still gets wrong is the time on site of each stop, random around its mean, which
    nothing before the stop tells; so its ratio is about the lowest reachable on these days
    (aiming at the median of the next few stops' times rather than their mean would gain about
    0.01 on it: a sum of few skewed durations has its median below its mean).
Errors are |predicted - simulated arrival| in minutes, by stops ahead; the goal is a mean error at
least 30% lower than the baseline's. Also reported: how often the arrival falls in our window,
and the window's mean width. Pure Python (no database), seeded: the same figures on every run of
the same code. (With other seeds the ratio moves between about 0.74 and 0.83 with the draw of
days, and stays within 0.015 of the floor's.)
"""

import random
import statistics
from datetime import UTC, datetime, timedelta

from benchmarks import write_results

HISTORY_ROUTES = 150
TEST_ROUTES = 80
HISTORY_SEED = 20261127
TEST_SEED = 20261128
STOPS = (10, 25)
SPEED_KMH = 25
CENTRE = (-23.55, -46.63)
BUCKETS = [(0, 0, "next stop"), (1, 2, "2-3 ahead"), (3, 6, "4-7 ahead"), (7, 99, "8+ ahead")]


def _random_stops(rng, simulation):
    """A route's stops as operators build them: a district of about 4 x 4 km, 3 to 12 km from the
    depot, visited in a sensible order (nearest neighbour from the depot)."""
    count = rng.randint(*STOPS)
    district = (CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1))
    points = [
        (district[0] + rng.uniform(-0.02, 0.02), district[1] + rng.uniform(-0.02, 0.02))
        for _ in range(count)
    ]
    ordered, here = [], CENTRE
    while points:
        here = min(points, key=lambda p: (p[0] - here[0]) ** 2 + (p[1] - here[1]) ** 2)
        points.remove(here)
        ordered.append(here)
    return [
        simulation.SimStop(id=k, point=point, service_s=rng.choice([180, 300, 300, 480, 600]))
        for k, point in enumerate(ordered)
    ]


def _days(seed, count):
    """`count` simulated routes: (stops, events, start hour, day start, driver)."""
    from routes import simulation

    rng = random.Random(seed)
    days = []
    for _ in range(count):
        start_hour = rng.choice([7.5, 8.0, 9.0, 13.0])
        driver = simulation.Driver.drawn(random.Random(rng.random()), speed_kmh=SPEED_KMH)
        stops = _random_stops(rng, simulation)
        events = simulation.drive(driver, CENTRE, stops, start_hour=start_hour)
        day_start = datetime(2030, 3, 4, tzinfo=UTC) + timedelta(hours=start_hour)
        days.append((stops, events, start_hour, day_start, driver))
    return days


def _legs(stops, events, start_hour, provider):
    """The route's legs in the order driven, as (arrival t, (local start hour, nominal_s,
    actual_s)): from the route's start or the previous stop's completion (or failure) to the
    stop's arrival, nominal from one matrix of the route (what production does per route)."""
    _distances, durations = provider.matrix(
        [CENTRE] + [s.point for s in stops], speed_kmh=SPEED_KMH
    )
    index = {s.id: k for k, s in enumerate(stops, start=1)}
    legs, left_t, here = [], 0.0, 0
    for event in events:
        if event.kind == "stop_arrive":
            there = index[event.stop_id]
            hour = start_hour + left_t / 3600
            legs.append((event.t, (hour, durations[here][there], event.t - left_t)))
            here = there
        elif event.kind in ("stop_complete", "stop_fail"):
            left_t = event.t
    return legs


def _services(stops, events):
    """(planned_s, actual_s) of the route's completed stops (production learns from done ones)."""
    planned = {s.id: s.service_s for s in stops}
    arrived, result = {}, []
    for event in events:
        if event.kind == "stop_arrive":
            arrived[event.stop_id] = event.t
        elif event.kind == "stop_complete":
            result.append((planned[event.stop_id], event.t - arrived[event.stop_id]))
    return result


def _served(stops, events):
    """(stop, simulated time on site) of every stop of the route, completed or failed."""
    by_id = {s.id: s for s in stops}
    arrived = {e.stop_id: e.t for e in events if e.kind == "stop_arrive"}
    return [
        (by_id[e.stop_id], e.t - arrived[e.stop_id])
        for e in events
        if e.kind in ("stop_complete", "stop_fail")
    ]


def learned_profile(days, provider):
    """The TravelProfile routes.eta_learning learns from the history days."""
    from routes import eta_learning

    legs, services = [], []
    for stops, events, start_hour, _day_start, _driver in days:
        legs += [leg for _t, leg in _legs(stops, events, start_hour, provider)]
        services += _services(stops, events)
    return eta_learning.learn_profile(legs, services)


def _oracle(remaining, driver, done_t, start_hour, durations, service_factor):
    """The noise floor's arrivals (seconds since the route's start) at the remaining stops, after
    the stop before them was left at `done_t`: each leg at the driver's true speed in the traffic
    of the hour it starts (the leg matrix is the same HaversineProvider's), each stop at its
    plan times the true mean factor."""
    from routes import simulation

    arrivals, t = [], done_t
    for stop in remaining:
        index = stop.id + 1  # in [start] + stops, whose ids are their positions
        speed = driver.pace * simulation.traffic_factor(start_hour + t / 3600)
        t += durations[index - 1][index] / speed
        arrivals.append(t)
        t += stop.service_s * service_factor
    return arrivals


def _predictions(day, provider, profile, oracle_factor):
    """(stops ahead, error ours, error baseline, error without history, error of the noise
    floor, in our window, our window's width in minutes) for every remaining stop after each
    completed stop."""
    from routes import eta

    stops, events, start_hour, day_start, driver = day
    arrivals = {e.stop_id: e.t for e in events if e.kind == "stop_arrive"}
    legs = _legs(stops, events, start_hour, provider)
    _distances, durations = provider.matrix(
        [CENTRE] + [s.point for s in stops], speed_kmh=SPEED_KMH
    )
    rows = []
    position = CENTRE
    for event in events:
        if event.kind == "position":
            position = event.point
        if event.kind not in ("stop_complete", "stop_fail"):
            continue
        done = [s.id for s in stops].index(event.stop_id) + 1
        remaining = stops[done:]
        if not remaining:
            continue
        now = day_start + timedelta(seconds=event.t)
        driven = [leg for t, leg in legs if t <= event.t]
        common = {
            "origin": event.point or position,
            "now": now,
            "stops": [
                eta.RemainingStop(key=s.id, point=s.point, service_s=s.service_s) for s in remaining
            ],
            "provider": provider,
            "speed_kmh": SPEED_KMH,
        }
        ours = eta.stop_etas(
            **common,
            profile=profile,
            pace=eta.driving_pace(driven, profile=profile),
            service_pace=1.0,
        )
        baseline = eta.stop_etas(**common, pace=1.0)
        fresh = eta.stop_etas(**common, pace=eta.driving_pace(driven), service_pace=1.0)
        floor = _oracle(remaining, driver, event.t, start_hour, durations, oracle_factor)
        for mine, theirs, new, best in zip(ours, baseline, fresh, floor, strict=True):
            truth = day_start + timedelta(seconds=arrivals[mine.key])
            rows.append(
                (
                    mine.stops_ahead,
                    abs((mine.eta - truth).total_seconds()) / 60,
                    abs((theirs.eta - truth).total_seconds()) / 60,
                    abs((new.eta - truth).total_seconds()) / 60,
                    abs(best - arrivals[mine.key]) / 60,
                    mine.earliest <= truth <= mine.latest,
                    (mine.latest - mine.earliest).total_seconds() / 60,
                )
            )
    return rows


def _p90(values):
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def run():
    from routes.matrix import HaversineProvider

    provider = HaversineProvider()
    profile = learned_profile(_days(HISTORY_SEED, HISTORY_ROUTES), provider)
    test = _days(TEST_SEED, TEST_ROUTES)
    # The oracle's factor: the test days' own time on site over plan, for every stop.
    served = [(s.service_s, t) for stops, events, *_ in test for s, t in _served(stops, events)]
    oracle_factor = sum(t for _s, t in served) / sum(s for s, _t in served)
    rows = []
    for day in test:
        rows += _predictions(day, provider, profile, oracle_factor)

    hours = {f"{h:02d}": round(v, 3) for h, v in enumerate(profile.hourly) if 6 <= h <= 20}
    results = {
        "history_routes": HISTORY_ROUTES,
        "routes": TEST_ROUTES,
        "predictions": len(rows),
        "profile": {
            "hourly_6_to_20": hours,
            "service_factor": round(profile.service_factor, 3),
            "samples": profile.samples,
        },
        "buckets": {},
    }
    print(
        f"eta: profile learned from {HISTORY_ROUTES} simulated routes ({profile.samples} legs "
        f"and stops; service factor {profile.service_factor:.2f}; hourly 7-18: "
        + " ".join(f"{profile.hourly[h]:.2f}" for h in range(7, 19))
        + ")"
    )
    print(f"  tested on {TEST_ROUTES} other routes, {len(rows)} predictions (minutes of error)")
    columns = [("ours mean", 9), ("p90", 6), ("base mean", 9), ("p90", 6), ("ratio", 6),
               ("in window", 9), ("width", 6), ("no hist.", 8), ("floor", 6)]  # fmt: skip
    print(f"  {'':<10} " + " ".join(f"{name:>{size}}" for name, size in columns))
    for low, high, label in [*BUCKETS, (0, 99, "all")]:
        chosen = [r for r in rows if low <= r[0] <= high]
        if not chosen:
            continue
        ours = [r[1] for r in chosen]
        base = [r[2] for r in chosen]
        fresh = [r[3] for r in chosen]
        floor = [r[4] for r in chosen]
        inside = sum(r[5] for r in chosen) / len(chosen)
        width = statistics.mean(r[6] for r in chosen)
        ratio = statistics.mean(ours) / statistics.mean(base)
        fresh_ratio = statistics.mean(fresh) / statistics.mean(base)
        floor_ratio = statistics.mean(floor) / statistics.mean(base)
        results["buckets"][label] = {
            "ours_mean": round(statistics.mean(ours), 2),
            "ours_p90": round(_p90(ours), 2),
            "baseline_mean": round(statistics.mean(base), 2),
            "baseline_p90": round(_p90(base), 2),
            "ratio": round(ratio, 3),
            "in_window": round(inside, 3),
            "window_width_min": round(width, 1),
            "ratio_without_history": round(fresh_ratio, 3),
            "ratio_noise_floor": round(floor_ratio, 3),
        }
        print(
            f"  {label:<10} {statistics.mean(ours):9.1f} {_p90(ours):6.1f} "
            f"{statistics.mean(base):9.1f} {_p90(base):6.1f} {ratio:6.2f} {inside:9.0%} "
            f"{width:6.1f} {fresh_ratio:8.2f} {floor_ratio:6.2f}"
        )
    overall = results["buckets"]["all"]["ratio"]
    floor = results["buckets"]["all"]["ratio_noise_floor"]
    results["goal"] = "mean error <= 0.70 of the constant-speed baseline"
    results["met"] = overall <= 0.70
    print(f"  goal: mean error <= 0.70 x baseline: {'met' if results['met'] else 'NOT met'}")
    print(
        f"  (an oracle knowing each driver's pace and the traffic gets {floor:.2f}: "
        "the rest is the random time on site of each stop ahead)"
    )
    write_results("eta", results)
    return results
