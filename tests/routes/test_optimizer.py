"""The optimizer on hand-made cases and on Solomon instances read from ../shared/data/vrp/."""

import time
from pathlib import Path

import pytest

from routes.matrix import EuclideanProvider, HaversineProvider
from routes.optimizer import Problem, Stop, Vehicle, default_time_limit, solve
from tests.conftest import require

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "vrp"
DEPOT = (-23.5503, -46.6339)
HOUR = 3600


def line_stop(stop_id, km_east, **kwargs):
    # About 1 km per 0.0098 degrees of longitude at São Paulo's latitude.
    return Stop(stop_id, (DEPOT[0], DEPOT[1] + km_east * 0.0098), **kwargs)


def test_windows_give_the_obvious_order():
    # The far stop must be served first, the near one last: the windows force the reverse order.
    stops = [
        line_stop("near", 1, service_s=60, window=(10 * HOUR, 11 * HOUR)),
        line_stop("middle", 3, service_s=60, window=(9 * HOUR, 10 * HOUR)),
        line_stop("far", 5, service_s=60, window=(8 * HOUR, 9 * HOUR)),
    ]
    vehicle = Vehicle("driver", speed_kmh=25, start=DEPOT, end=DEPOT, shift=(7 * HOUR, 18 * HOUR))
    plan = solve(Problem(stops, [vehicle], HaversineProvider()), time_limit_s=0.3)
    assert plan.routes == {"driver": ["far", "middle", "near"]}
    assert plan.unassigned == []
    assert 8 * HOUR <= plan.arrivals["far"] <= 9 * HOUR
    assert 9 * HOUR <= plan.arrivals["middle"] <= 10 * HOUR
    assert 10 * HOUR <= plan.arrivals["near"] <= 11 * HOUR
    assert plan.distance_m > 2 * 5000 and plan.duration_s > 0


def test_capacity_splits_stops_across_two_vehicles():
    stops = [line_stop(f"s{i}", i % 3 + 1, demand_kg=40, demand_m3=0.1) for i in range(4)]
    vehicles = [
        Vehicle(name, capacity_kg=100, capacity_m3=1, start=DEPOT, end=DEPOT) for name in "ab"
    ]
    plan = solve(Problem(stops, vehicles, HaversineProvider()), time_limit_s=0.3)
    assert plan.unassigned == []
    assert sorted(len(route) for route in plan.routes.values()) == [2, 2]
    assert sorted(s for route in plan.routes.values() for s in route) == ["s0", "s1", "s2", "s3"]


def test_cubic_metres_also_limit_a_vehicle():
    stops = [line_stop(f"s{i}", 1, demand_kg=1, demand_m3=0.6) for i in range(2)]
    vehicles = [Vehicle("only", capacity_kg=100, capacity_m3=1, start=DEPOT, end=DEPOT)]
    plan = solve(Problem(stops, vehicles, HaversineProvider()), time_limit_s=0.3)
    assert len(plan.routes["only"]) == 1 and len(plan.unassigned) == 1


def test_impossible_stops_are_unassigned_not_failing():
    stops = [
        line_stop("ok", 2, window=(9 * HOUR, 12 * HOUR)),
        line_stop("before_shift", 2, window=(5 * HOUR, 6 * HOUR)),
        line_stop("too_heavy", 3, demand_kg=500),
    ]
    vehicles = [Vehicle("v", capacity_kg=100, start=DEPOT, end=DEPOT, shift=(8 * HOUR, 17 * HOUR))]
    plan = solve(Problem(stops, vehicles, HaversineProvider()), time_limit_s=0.3)
    assert plan.routes == {"v": ["ok"]}
    assert sorted(plan.unassigned) == ["before_shift", "too_heavy"]


def test_open_route_ends_at_the_last_stop():
    stops = [line_stop("a", 2), line_stop("b", 4)]
    vehicle = Vehicle("v", start=DEPOT, end=None)
    plan = solve(Problem(stops, [vehicle], HaversineProvider()), time_limit_s=0.3)
    assert plan.routes == {"v": ["a", "b"]}
    distances, _ = HaversineProvider().matrix([DEPOT, stops[0].point, stops[1].point], speed_kmh=25)
    assert plan.distance_m == distances[0][1] + distances[1][2]


def test_nothing_to_do():
    plan = solve(Problem([], [Vehicle("v")], HaversineProvider()))
    assert plan.routes == {"v": []} and plan.unassigned == []
    plan = solve(Problem([line_stop("a", 1)], [], HaversineProvider()))
    assert plan.routes == {} and plan.unassigned == ["a"]


def test_default_time_limit_grows_with_size():
    assert [default_time_limit(n) for n in (5, 50, 200, 1000)] == [1, 3, 5, 10]


def assert_feasible(problem, plan, provider):
    """Every stop once, capacity respected, every service start inside its window and the vehicle
    back by the end of its shift, recomputed from the matrix with the earliest departures."""
    from benchmarks.optimizer import violations

    assert violations(problem, plan, provider) == []


@pytest.mark.parametrize(("name", "max_gap"), [("C101", 0.10), ("R101", 0.10), ("RC101", 0.10)])
def test_solomon_feasible_and_near_best_known(name, max_gap):
    require(DATA.is_dir(), f"VRP data missing at {DATA}")
    from benchmarks.optimizer import SCALE, best_known, solomon_problem

    problem = solomon_problem(name)
    plan = solve(problem, time_limit_s=2, duration_cost_per_s=0)
    assert plan.unassigned == []
    assert_feasible(problem, plan, EuclideanProvider(SCALE))
    assert plan.distance_m / SCALE <= best_known()[name] * (1 + max_gap)


def test_random_200_stops_with_two_hour_windows():
    from benchmarks.optimizer import random_route_problem

    problem = random_route_problem(200)
    started = time.monotonic()
    plan = solve(problem)  # default limit: 5 s for 200 stops
    elapsed = time.monotonic() - started
    print(f"200 stops: {elapsed:.1f} s, {len(plan.unassigned)} unassigned")
    assert_feasible(problem, plan, HaversineProvider())
    assert len(plan.unassigned) <= 2


def test_conflicting_windows_drop_one_stop():
    # Each stop alone is fine, but one driver cannot be 8 km apart in the same 10 minutes.
    stops = [
        line_stop("west", -4, window=(9 * HOUR, 9 * HOUR + 600)),
        line_stop("east", 4, window=(9 * HOUR, 9 * HOUR + 600)),
    ]
    vehicle = Vehicle("v", start=DEPOT, end=DEPOT, shift=(8 * HOUR, 17 * HOUR))
    plan = solve(Problem(stops, [vehicle], HaversineProvider()), time_limit_s=0.3)
    assert len(plan.routes["v"]) == 1 and len(plan.unassigned) == 1
