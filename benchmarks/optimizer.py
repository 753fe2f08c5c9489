"""The route optimizer on Solomon VRPTW instances: distance against the best known, per instance
and per class (C1, R1, RC1, C2, R2, RC2), as a ratio (1.000 = the best known).

The instances are read from ../shared/data/vrp/ (outside the repository, never copied in). Solomon
convention: Euclidean distances truncated to one decimal (scaled by 10 to integers), duration =
distance, distance-only objective, compared with the `distopt_distance_dimacs` column of
solomon_bks.csv. BENCH_OPTIMIZER_SECONDS changes the time limit per instance (5 s by default).
"""

import csv
import os
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "vrp"
SECONDS = float(os.environ.get("BENCH_OPTIMIZER_SECONDS", "5"))
SCALE = 10  # one decimal, as the DIMACS best-known values
INSTANCES = {
    "C1": ["C101", "C105"],
    "R1": ["R101", "R109"],
    "RC1": ["RC101", "RC105"],
    "C2": ["C201"],
    "R2": ["R201"],
    "RC2": ["RC201"],
}


def best_known():
    """Instance name -> distance-only best-known distance (DIMACS convention)."""
    with open(DATA / "solomon_bks.csv", newline="") as stream:
        return {
            row["instance"]: float(row["distopt_distance_dimacs"]) for row in csv.DictReader(stream)
        }


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


def run():
    from routes.optimizer import solve

    if not DATA.is_dir():
        print(f"optimizer: skipped, no data at {DATA}")
        return
    known = best_known()
    print(f"optimizer: Solomon VRPTW, {SECONDS:g} s per instance, distance / best known")
    ratios_by_class = {}
    for group, names in INSTANCES.items():
        for name in names:
            started = time.monotonic()
            plan = solve(solomon_problem(name), time_limit_s=SECONDS, duration_cost_per_s=0)
            elapsed = time.monotonic() - started
            distance = plan.distance_m / SCALE
            ratio = distance / known[name]
            ratios_by_class.setdefault(group, []).append(ratio)
            vehicles = sum(1 for route in plan.routes.values() if route)
            print(
                f"  {name:6} {distance:9.1f} vs {known[name]:9.1f}  ratio {ratio:.4f}"
                f"  ({vehicles} vehicles, {len(plan.unassigned)} unassigned, {elapsed:.1f} s)"
            )
    for group, ratios in ratios_by_class.items():
        print(f"  class {group:4} mean ratio {sum(ratios) / len(ratios):.4f}")
