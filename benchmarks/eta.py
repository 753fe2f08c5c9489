"""ETA error: routes.eta against a constant-speed ETA, on days simulated with realistic noise.

routes.simulation draws each driver's day: a personal pace, traffic that changes through the day,
time on site that varies by stop, GPS noise. After every completed stop (when the driver's app
would refresh), both estimators predict the arrival at every remaining stop from the driver's
latest position:
- baseline: legs at the vehicle's nominal speed plus the planned time on site (constant speed);
- ours: routes.eta.stop_etas with the observed pace (routes.eta.observed_pace) of the day so far.
Errors are |predicted - simulated arrival| in minutes, by stops ahead; the goal is a mean error at
least 30% lower than the baseline's. Also reported: how often the arrival falls in the ETA window.
Pure Python (no database), seeded: the same figures on every run of the same code.
"""

import json
import random
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROUTES = 80
STOPS = (10, 25)
SPEED_KMH = 25
CENTRE = (-23.55, -46.63)
RESULTS = Path(__file__).resolve().parent / "results"
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


def _predictions(events, stops, start, day_start, provider):
    """(stops ahead, error_ours, error_baseline, in_window) for every remaining stop after each
    completed stop."""
    from routes import eta

    arrivals = {e.stop_id: e.t for e in events if e.kind == "stop_arrive"}
    # What was planned to the end of each stop, at constant speed: the pace's denominator.
    planned_end, clock, here = {}, 0.0, start
    _distances, durations = provider.matrix([start] + [s.point for s in stops], speed_kmh=SPEED_KMH)
    for index, stop in enumerate(stops, start=1):
        clock += durations[0 if index == 1 else index - 1][index] + stop.service_s
        planned_end[stop.id] = clock
        here = stop.point
    del here

    rows = []
    position = start
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
        ahead = [
            eta.RemainingStop(key=s.id, point=s.point, service_s=s.service_s) for s in remaining
        ]
        pace = eta.observed_pace(elapsed_s=event.t, planned_s=planned_end[event.stop_id])
        ours = eta.stop_etas(
            origin=event.point or position,
            now=now,
            stops=ahead,
            provider=provider,
            speed_kmh=SPEED_KMH,
            pace=pace,
        )
        baseline = eta.stop_etas(
            origin=event.point or position,
            now=now,
            stops=ahead,
            provider=provider,
            speed_kmh=SPEED_KMH,
            pace=1.0,
        )
        for k, (mine, theirs) in enumerate(zip(ours, baseline, strict=True)):
            truth = day_start + timedelta(seconds=arrivals[mine.key])
            rows.append(
                (
                    k,
                    abs((mine.eta - truth).total_seconds()) / 60,
                    abs((theirs.eta - truth).total_seconds()) / 60,
                    mine.earliest <= truth <= mine.latest,
                )
            )
    return rows


def _p90(values):
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def run():
    from routes import simulation
    from routes.matrix import HaversineProvider

    provider = HaversineProvider()
    rng = random.Random(20261128)
    rows = []
    for _ in range(ROUTES):
        start_hour = rng.choice([7.5, 8.0, 9.0, 13.0])
        driver = simulation.Driver.drawn(random.Random(rng.random()), speed_kmh=SPEED_KMH)
        stops = _random_stops(rng, simulation)
        events = simulation.drive(driver, CENTRE, stops, start_hour=start_hour)
        day_start = datetime(2030, 3, 4, tzinfo=UTC) + timedelta(hours=start_hour)
        rows += _predictions(events, stops, CENTRE, day_start, provider)

    results = {"routes": ROUTES, "predictions": len(rows), "buckets": {}}
    print(f"eta: {ROUTES} simulated routes, {len(rows)} predictions (minutes of error)")
    header = ("ours mean", "p90", "base mean", "p90", "ratio", "in window")
    print(f"  {'':<10} {header[0]:>9} {header[1]:>6} {header[2]:>9} {header[3]:>6} "
          f"{header[4]:>6} {header[5]:>9}")  # fmt: skip
    for low, high, label in [*BUCKETS, (0, 99, "all")]:
        chosen = [r for r in rows if low <= r[0] <= high]
        if not chosen:
            continue
        ours = [r[1] for r in chosen]
        base = [r[2] for r in chosen]
        inside = sum(r[3] for r in chosen) / len(chosen)
        ratio = statistics.mean(ours) / statistics.mean(base)
        results["buckets"][label] = {
            "ours_mean": round(statistics.mean(ours), 2),
            "ours_p90": round(_p90(ours), 2),
            "baseline_mean": round(statistics.mean(base), 2),
            "baseline_p90": round(_p90(base), 2),
            "ratio": round(ratio, 3),
            "in_window": round(inside, 3),
        }
        print(
            f"  {label:<10} {statistics.mean(ours):9.1f} {_p90(ours):6.1f} "
            f"{statistics.mean(base):9.1f} {_p90(base):6.1f} {ratio:6.2f} {inside:9.0%}"
        )
    overall = results["buckets"]["all"]["ratio"]
    results["goal"] = "mean error <= 0.70 of the constant-speed baseline"
    results["met"] = overall <= 0.70
    print(f"  goal: mean error <= 0.70 x baseline: {'met' if results['met'] else 'NOT met'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "eta.json").write_text(json.dumps(results, indent=2))
    return results
