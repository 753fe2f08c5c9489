"""Route optimization with PyVRP (hybrid genetic search; DESIGN.md, "Geography, ETA and
optimization").

Pure Python, usable without the ORM: build a `Problem` of `Stop`s and `Vehicle`s, call `solve()`,
get a `Plan`. One driver's route and a split across many vehicles use the same function.

Units: PyVRP takes integers only, so distances are metres, times are seconds (windows, shifts and
arrivals share one time base, e.g. seconds since the day's midnight), kilograms are scaled to grams
and cubic metres to cubic centimetres.

Stops that cannot be served (a window no vehicle can reach, more load than any vehicle carries) are
optional clients with a prize far above any route's cost: the solver serves every stop it can and
the rest land in `Plan.unassigned` instead of failing the whole solve.

Objective: 1 per metre plus `duration_cost_per_s` per second of route duration (travel, service and
waiting). With the default of 1, an hour of waiting costs as much as a 3.6 km detour, so the solver
does not buy short distances with long idle times; 0 gives the distance-only objective of the
Solomon benchmarks.
"""

import logging
import time
from dataclasses import dataclass, field

from pyvrp import Model

from routes.matrix import get_provider

logger = logging.getLogger(__name__)

KG = 1000  # grams per kilogram
M3 = 1_000_000  # cubic centimetres per cubic metre
UNLIMITED = 2**40  # capacity when a vehicle has none in a dimension
# Far above what serving one stop costs (10,000 km of detour or days of duration), yet small enough
# that PyVRP's bounded infeasibility penalties still outweigh it (a huge prize made the search keep
# a late stop rather than drop it).
UNSERVED_PRIZE = 10**7


@dataclass(frozen=True)
class Stop:
    id: object
    point: tuple  # (lat, lng), or (x, y) with EuclideanProvider
    service_s: int = 0
    demand_kg: float = 0
    demand_m3: float = 0
    window: tuple | None = None  # (earliest_s, latest_s) for the start of service


@dataclass(frozen=True)
class Vehicle:
    id: object
    capacity_kg: float | None = None  # None = unlimited
    capacity_m3: float | None = None
    speed_kmh: float = 25
    start: tuple | None = (0.0, 0.0)  # None = the route starts at its first stop
    end: tuple | None = None  # None = the route ends at its last stop (open route)
    shift: tuple = (0, 24 * 3600)  # (start_s, end_s): leave no earlier, be back no later


@dataclass
class Problem:
    stops: list
    vehicles: list
    matrix_provider: object = None  # None = routes.matrix.get_provider()


@dataclass
class Plan:
    routes: dict = field(default_factory=dict)  # vehicle id -> [stop ids in visiting order]
    unassigned: list = field(default_factory=list)  # stop ids
    distance_m: int = 0
    duration_s: int = 0
    arrivals: dict = field(default_factory=dict)  # stop id -> start of service (s)


def default_time_limit(stops):
    """Seconds to search: PyVRP always runs to its limit, so small problems get little time.
    1 s up to 20 stops, 3 s up to 100, 5 s up to 300 (Solomon-size instances are within about 1% of
    the best known by then, NOTES.md), 10 s beyond."""
    if stops <= 20:
        return 1.0
    if stops <= 100:
        return 3.0
    if stops <= 300:
        return 5.0
    return 10.0


def _scaled(value, factor):
    return UNLIMITED if value is None else round(value * factor)


class _Deadline:
    """PyVRP's stopping criterion (called once per iteration): stops at the time limit and reports
    the share of it spent to `progress(fraction)` at most every half second."""

    def __init__(self, limit_s, progress):
        self.limit_s, self.progress = limit_s, progress
        self.started = self.reported = None

    def __call__(self, best_cost):
        now = time.monotonic()
        if self.started is None:
            self.started = self.reported = now
        elapsed = now - self.started
        if self.progress is not None and now - self.reported >= 0.5:
            self.reported = now
            self.progress(min(elapsed / self.limit_s, 1.0))
        return elapsed > self.limit_s


def solve(problem, *, time_limit_s=None, seed=1, duration_cost_per_s=1, progress=None):
    """Assigns and orders the stops; returns a Plan. `progress(fraction)`, if given, hears how much
    of the time limit has passed while the search runs."""
    stops, vehicles = list(problem.stops), list(problem.vehicles)
    if not stops or not vehicles:
        return Plan(routes={v.id: [] for v in vehicles}, unassigned=[s.id for s in stops])
    provider = problem.matrix_provider or get_provider()
    if time_limit_s is None:
        time_limit_s = default_time_limit(len(stops))

    # Identical vehicles form one vehicle type (the search moves stops between them freely).
    groups = {}
    for vehicle in vehicles:
        key = (
            _scaled(vehicle.capacity_kg, KG),
            _scaled(vehicle.capacity_m3, M3),
            vehicle.speed_kmh,
            None if vehicle.start is None else tuple(vehicle.start),
            None if vehicle.end is None else tuple(vehicle.end),
            tuple(vehicle.shift),
        )
        groups.setdefault(key, []).append(vehicle.id)

    # Points: depots (vehicle starts and ends), then the stops. An open start or end, if needed, is
    # one virtual location that reaches and is reached by every location at no cost.
    depot_points = []
    for key in groups:
        for point in (key[3], key[4]):
            if point is not None and point not in depot_points:
                depot_points.append(point)
    points = depot_points + [tuple(s.point) for s in stops]
    open_point = any(key[3] is None or key[4] is None for key in groups)
    speeds = sorted({key[2] for key in groups})
    matrices = {speed: provider.matrix(points, speed_kmh=speed) for speed in speeds}

    # Stops no vehicle could serve even alone are left out of the model: unassigned at once.
    servable = [
        index
        for index, stop in enumerate(stops)
        if any(
            _serves_alone(key, stop, matrices[key[2]][1], points, len(depot_points) + index)
            for key in groups
        )
    ]
    stops_in_model = [stops[index] for index in servable]
    keep = list(range(len(depot_points))) + [len(depot_points) + index for index in servable]
    if not stops_in_model:
        return Plan(routes={v.id: [] for v in vehicles}, unassigned=[s.id for s in stops])

    model = Model()
    locations = [model.add_location(0, 0) for _ in keep]
    depots = {point: model.add_depot(locations[i]) for i, point in enumerate(depot_points)}
    if open_point:
        open_location = model.add_location(0, 0)
        open_depot = model.add_depot(open_location)
    for index, stop in enumerate(stops_in_model):
        early, late = stop.window if stop.window is not None else (0, 2**62)
        model.add_client(
            locations[len(depot_points) + index],
            delivery=[_scaled(stop.demand_kg, KG), _scaled(stop.demand_m3, M3)],
            service_duration=int(stop.service_s),
            tw_early=int(early),
            tw_late=int(late),
            prize=UNSERVED_PRIZE,
            required=False,
        )

    profiles = {speed: model.add_profile() for speed in speeds} if len(speeds) > 1 else {}
    for speed in speeds:
        distances, durations = matrices[speed]
        profile = profiles.get(speed)
        for i, frm in zip(keep, locations, strict=True):
            for j, to in zip(keep, locations, strict=True):
                if i != j:
                    model.add_edge(frm, to, distances[i][j], durations[i][j], profile=profile)
            if open_point:
                model.add_edge(frm, open_location, 0, 0, profile=profile)
                model.add_edge(open_location, frm, 0, 0, profile=profile)
        if open_point:
            model.add_edge(open_location, open_location, 0, 0, profile=profile)

    type_vehicles = []
    for key, ids in groups.items():
        cap_kg, cap_m3, speed, start, end, (shift_start, shift_end) = key
        model.add_vehicle_type(
            num_available=len(ids),
            capacity=[cap_kg, cap_m3],
            start_depot=open_depot if start is None else depots[start],
            end_depot=open_depot if end is None else depots[end],
            tw_early=int(shift_start),
            tw_late=int(shift_end),
            unit_distance_cost=1,
            unit_duration_cost=duration_cost_per_s,
            profile=profiles.get(speed),
        )
        type_vehicles.append(list(ids))

    started = time.monotonic()
    result = model.solve(_Deadline(time_limit_s, progress), seed=seed, display=False)
    logger.info(
        "solved %s stops, %s vehicles in %.1f s (limit %s s): cost %s, feasible %s",
        len(stops),
        len(vehicles),
        time.monotonic() - started,
        time_limit_s,
        result.cost(),
        result.is_feasible(),
    )
    return _plan(result.best, stops, stops_in_model, vehicles, type_vehicles)


def _serves_alone(key, stop, durations, points, stop_index):
    """Whether a vehicle of this group could serve the stop on a route of its own."""
    cap_kg, cap_m3, _, start, end, (shift_start, shift_end) = key
    if _scaled(stop.demand_kg, KG) > cap_kg or _scaled(stop.demand_m3, M3) > cap_m3:
        return False
    early, late = stop.window if stop.window is not None else (shift_start, shift_end)
    travel = 0 if start is None else durations[points.index(start)][stop_index]
    arrival = max(shift_start + travel, early)
    if arrival > late:
        return False
    if end is None:
        return True
    return arrival + stop.service_s + durations[stop_index][points.index(end)] <= shift_end


def _plan(solution, stops, stops_in_model, vehicles, type_vehicles):
    plan = Plan(routes={v.id: [] for v in vehicles})
    served = set()
    free = [list(ids) for ids in type_vehicles]
    for route in solution.routes():
        visits = [a for a in route.schedule() if a.is_client()]
        if not visits:
            continue
        if not route.is_feasible():  # never expected with optional stops; never hand it out
            logger.warning("dropping an infeasible route of %s stops", len(visits))
            continue
        vehicle_id = free[route.vehicle_type()].pop(0)
        plan.routes[vehicle_id] = [stops_in_model[a.idx].id for a in visits]
        for activity in visits:
            plan.arrivals[stops_in_model[activity.idx].id] = activity.start_time
            served.add(stops_in_model[activity.idx].id)
        plan.distance_m += route.distance()
        plan.duration_s += route.duration()
    plan.unassigned = [stop.id for stop in stops if stop.id not in served]
    return plan
