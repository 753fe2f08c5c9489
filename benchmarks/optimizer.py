"""The route optimizer on the Solomon VRPTW set: distance against the best known, per instance
and per class (C1, R1, RC1, C2, R2, RC2), as a ratio (1.000 = the best known); and a 200-stop
route with two-hour windows and weight and volume capacity, which must come out feasible within
its time limit. Prints the figures and writes benchmarks/results/optimizer.json.

The instances are read from ../shared/data/vrp/ (outside the repository, never copied in). Solomon
convention: Euclidean distances truncated to one decimal (scaled by 10 to integers), duration =
distance, distance-only objective, compared with the `distopt_distance_dimacs` column of
solomon_bks.csv. All 56 instances by default (about 5 minutes); BENCH_OPTIMIZER_INSTANCES
(names separated by commas) runs some, BENCH_OPTIMIZER_SECONDS changes the time limit per
instance (5 s by default).
"""

import csv
import os
import random
import time
from pathlib import Path

from benchmarks import write_results

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "vrp"
SECONDS = float(os.environ.get("BENCH_OPTIMIZER_SECONDS", "5"))
ONLY = [name for name in os.environ.get("BENCH_OPTIMIZER_INSTANCES", "").split(",") if name]
SCALE = 10  # one decimal, as the DIMACS best-known values
# The mean gap to the best known each class must stay within.
GOALS = {"C1": 0.005, "R1": 0.005, "RC1": 0.005, "C2": 0.01, "R2": 0.01, "RC2": 0.01}
# The 200-stop route: found feasible (every stop served) within this many seconds.
ROUTE_STOPS, ROUTE_SECONDS = 200, 5.0
HOUR = 3600
SAO_PAULO = (-23.5503, -46.6339)


def best_known():
    """Instance name -> distance-only best-known distance (DIMACS convention)."""
    return {row["instance"]: float(row["distopt_distance_dimacs"]) for row in _bks_rows()}


def instances():
    """{class: [instance names]}: the whole set, or BENCH_OPTIMIZER_INSTANCES."""
    grouped = {}
    for row in _bks_rows():
        if not ONLY or row["instance"] in ONLY:
            grouped.setdefault(row["set"], []).append(row["instance"])
    return grouped


def _bks_rows():
    with open(DATA / "solomon_bks.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def solomon_problem(name, scale=SCALE):
    """A Problem for a Solomon instance: node 1 is the depot, times and distances times scale."""
    import vrplib  # installed with pyvrp

    from routes.matrix import EuclideanProvider
    from routes.optimizer import Problem, Stop, Vehicle

    instance = vrplib.read_instance(str(DATA / "solomon" / f"{name}.vrp"))
    coords = instance["node_coord"]
    windows = instance["time_window"]
    service = instance["service_time"]
    demand = instance["demand"]

    def service_at(index):
        return int(service if isinstance(service, int | float) else service[index]) * scale

    stops = [
        Stop(
            id=index,
            point=(float(coords[index][0]), float(coords[index][1])),
            service_s=service_at(index),
            demand_kg=float(demand[index]),
            window=(int(windows[index][0]) * scale, int(windows[index][1]) * scale),
        )
        for index in range(1, len(coords))
    ]
    depot = (float(coords[0][0]), float(coords[0][1]))
    vehicles = [
        Vehicle(
            id=number,
            capacity_kg=float(instance["capacity"]),
            start=depot,
            end=depot,
            shift=(int(windows[0][0]) * scale, int(windows[0][1]) * scale),
        )
        for number in range(int(instance["vehicles"]))
    ]
    return Problem(stops=stops, vehicles=vehicles, matrix_provider=EuclideanProvider(scale))


def random_route_problem(stops=ROUTE_STOPS, seed=7):
    """A day of one depot in São Paulo: `stops` stops within about 9 km, each with a two-hour
    window (starting at 8, 10, 12 or 14 h), 3 minutes on site, 0.5 to 8 kg and 1 to 50 litres; 12
    vehicles of 400 kg and 3 m³ at 22 km/h on a 7 to 19 h shift. Distances by great circle."""
    from routes.matrix import HaversineProvider
    from routes.optimizer import Problem, Stop, Vehicle

    rng = random.Random(seed)
    problem_stops = []
    for number in range(stops):
        start = rng.choice([8, 10, 12, 14]) * HOUR
        point = (SAO_PAULO[0] + rng.uniform(-0.08, 0.08), SAO_PAULO[1] + rng.uniform(-0.08, 0.08))
        problem_stops.append(
            Stop(
                f"s{number}",
                point,
                service_s=180,
                demand_kg=rng.uniform(0.5, 8),
                demand_m3=rng.uniform(0.001, 0.05),
                window=(start, start + 2 * HOUR),
            )
        )
    vehicles = [
        Vehicle(f"v{n}", capacity_kg=400, capacity_m3=3, speed_kmh=22, start=SAO_PAULO,
                end=SAO_PAULO, shift=(7 * HOUR, 19 * HOUR))
        for n in range(12)
    ]  # fmt: skip
    return Problem(problem_stops, vehicles, HaversineProvider())


def violations(problem, plan, provider):
    """What makes a plan infeasible, recomputed from the matrix with the earliest departures:
    a stop visited twice or neither visited nor unassigned, a vehicle over its capacity, a
    service started after its window, a vehicle back after its shift. Empty when feasible."""
    found = []
    vehicles = {vehicle.id: vehicle for vehicle in problem.vehicles}
    stops = {stop.id: stop for stop in problem.stops}
    visited = [stop_id for route in plan.routes.values() for stop_id in route]
    if len(visited) != len(set(visited)):
        found.append("a stop is visited twice")
    if set(visited) | set(plan.unassigned) != set(stops) or set(visited) & set(plan.unassigned):
        found.append("the visited and unassigned stops are not the problem's stops, once each")
    for vehicle_id, route in plan.routes.items():
        if not route:
            continue
        vehicle = vehicles[vehicle_id]
        for name in ("kg", "m3"):
            capacity = getattr(vehicle, f"capacity_{name}") or float("inf")
            if sum(getattr(stops[s], f"demand_{name}") for s in route) > capacity + 1e-9:
                found.append(f"{vehicle_id} carries more {name} than it can")
        points = [vehicle.start, *(stops[s].point for s in route), vehicle.end or vehicle.start]
        _, durations = provider.matrix(points, speed_kmh=vehicle.speed_kmh)
        now = vehicle.shift[0]
        for position, stop_id in enumerate(route, start=1):
            stop = stops[stop_id]
            now += durations[position - 1][position]
            if stop.window:
                now = max(now, stop.window[0])
                if now > stop.window[1]:
                    found.append(f"{stop_id} served late")
            now += stop.service_s
        if (
            vehicle.end is not None
            and now + durations[len(route)][len(route) + 1] > vehicle.shift[1]
        ):
            found.append(f"{vehicle_id} back after its shift")
    return found


def run():
    from routes.matrix import EuclideanProvider, HaversineProvider
    from routes.optimizer import solve

    if not DATA.is_dir():
        print(f"optimizer: skipped, no data at {DATA}")
        return None
    known = best_known()
    results = {"seconds": SECONDS, "instances": {}, "classes": {}}
    print(f"optimizer: Solomon VRPTW, {SECONDS:g} s per instance, distance / best known")
    for group, names in instances().items():
        for name in names:
            problem = solomon_problem(name)
            started = time.monotonic()
            plan = solve(problem, time_limit_s=SECONDS, duration_cost_per_s=0)
            elapsed = time.monotonic() - started
            distance = plan.distance_m / SCALE
            ratio = distance / known[name]
            vehicles = sum(1 for route in plan.routes.values() if route)
            problems = violations(problem, plan, EuclideanProvider(SCALE))
            results["instances"][name] = {
                "class": group, "distance": distance, "best_known": known[name], "ratio": ratio,
                "vehicles": vehicles, "unassigned": len(plan.unassigned), "seconds": elapsed,
                "feasible": not problems and not plan.unassigned,
            }  # fmt: skip
            print(
                f"  {name:6} {distance:9.1f} vs {known[name]:9.1f}  ratio {ratio:.4f}"
                f"  ({vehicles} vehicles, {len(plan.unassigned)} unassigned, {elapsed:.1f} s"
                f"{'' if not problems else ', INFEASIBLE: ' + problems[0]})"
            )
    for group, goal in GOALS.items():
        found = [item for item in results["instances"].values() if item["class"] == group]
        if not found:
            continue
        gap = sum(item["ratio"] for item in found) / len(found) - 1
        met = gap <= goal and all(item["feasible"] for item in found)
        results["classes"][group] = {
            "instances": len(found), "mean_gap": gap, "goal": goal, "met": met,
        }  # fmt: skip
        print(
            f"  class {group:4} mean gap {gap:6.2%} over {len(found):2} instances"
            f"  (goal <= {goal:.1%}: {'met' if met else 'NOT met'})"
        )

    problem = random_route_problem()
    started = time.monotonic()
    # The search gets half a second less: the goal counts building the matrix and the model too.
    plan = solve(problem, time_limit_s=ROUTE_SECONDS - 0.5)
    elapsed = time.monotonic() - started
    problems = violations(problem, plan, HaversineProvider())
    met = not problems and not plan.unassigned and elapsed <= ROUTE_SECONDS
    results["route_200"] = {
        "stops": ROUTE_STOPS, "seconds": elapsed, "unassigned": len(plan.unassigned),
        "violations": problems, "routes": sum(1 for route in plan.routes.values() if route),
        "distance_km": plan.distance_m / 1000, "met": met,
    }  # fmt: skip
    print(
        f"  {ROUTE_STOPS} stops with 2-hour windows and capacity: {elapsed:.1f} s,"
        f" {results['route_200']['routes']} routes, {plan.distance_m / 1000:.1f} km,"
        f" {len(plan.unassigned)} unassigned, {len(problems)} violations"
        f"  (goal: feasible in <= {ROUTE_SECONDS:g} s: {'met' if met else 'NOT met'})"
    )
    results["met"] = met and all(item["met"] for item in results["classes"].values())
    write_results("optimizer", results)
    return results
