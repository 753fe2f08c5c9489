"""The simulated day differs from the plan the way real days do, reproducibly."""

import itertools
import random

from routes import simulation
from tracking.lib.geo import haversine_m

START = (-23.55, -46.63)
STOPS = [
    simulation.SimStop(id=k, point=(-23.55, -46.63 + 0.0098 * k), service_s=300) for k in (1, 2, 3)
]


def run(seed=1, **kwargs):
    driver = simulation.Driver(speed_kmh=36, rng=random.Random(seed), **kwargs)
    return simulation.drive(driver, START, STOPS, start_hour=22.0)


def test_a_route_is_started_every_stop_visited_in_order_and_finished():
    events = run(fail_rate=0)
    steps = [(e.kind, e.stop_id) for e in events if e.kind != "position"]
    assert steps[0] == ("route_start", None) and steps[-1] == ("route_finish", None)
    assert [s for s in steps if s[0] == "stop_arrive"] == [("stop_arrive", k) for k in (1, 2, 3)]
    assert all(kind != "stop_fail" for kind, _ in steps)
    times = [e.t for e in events]
    assert times == sorted(times)


def test_travel_follows_speed_pace_and_traffic():
    events = run(fail_rate=0, pace=1.0)
    arrive = next(e.t for e in events if e.kind == "stop_arrive")
    metres = haversine_m(START, STOPS[0].point) * 1.3
    # At 22:00 traffic lets the vehicle go faster than its nominal 10 m/s.
    assert abs(arrive - metres / (10 * simulation.traffic_factor(22.0))) < 2
    slower = run(fail_rate=0, pace=0.8)
    assert next(e.t for e in slower if e.kind == "stop_arrive") > arrive


def test_the_peaks_are_slower_than_the_night():
    assert simulation.traffic_factor(8) < simulation.traffic_factor(13)
    assert simulation.traffic_factor(13) < simulation.traffic_factor(2)
    assert simulation.traffic_factor(18) < 0.75


def test_positions_come_every_interval_and_near_the_path():
    events = run(position_interval_s=30, gps_noise_m=5)
    positions = [e for e in events if e.kind == "position"]
    assert {round(b.t - a.t) for a, b in itertools.pairwise(positions)} == {30}
    assert all(abs(p.point[0] - START[0]) < 0.001 for p in positions)  # along one street


def test_the_same_seed_gives_the_same_day_and_failures_happen():
    assert run(seed=7) == run(seed=7)
    kinds = [e.kind for seed in range(20) for e in run(seed=seed, fail_rate=0.5)]
    assert "stop_fail" in kinds and "stop_complete" in kinds
