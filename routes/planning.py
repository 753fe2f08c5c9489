"""Plans of routes: when the driver reaches each stop, how far and how long the route is, what is
wrong with it (warnings), and the optimizer's order for one route or for a day split among drivers.

One simulation serves every order, hand-made or optimized: from the route's start at its departure
time, each leg at the vehicle's speed through the matrix provider, waiting for a window to open,
then the service's time on site. The optimizer only chooses the order; the numbers shown and
stored always come from `route_plan`, so a dragged and an optimized route compare fairly.

Times given to the optimizer are seconds since midnight of the route's date in the route's time
zone (its branch's, else the account's), computed as elapsed time so DST days stay right.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduling.selectors import service_time_window

from . import matrix, optimizer
from .models import Stop, StopStatus

logger = logging.getLogger(__name__)

# What a warning code means, for the pages and the API.
WARNINGS = {
    "no_location": _("No coordinates: the stop is left out of distances and of the map."),
    "window_missed": _("Arrives after the window closes."),
    "past_deadline": _("Arrives after the deadline."),
    "over_capacity_kg": _("The load is heavier than the vehicle's capacity."),
    "over_capacity_m3": _("The load is bulkier than the vehicle's capacity."),
}
# Services read with the stops: the time window needs the schedule, the branch and the account.
STOP_RELATED = [
    "service__schedule__window",
    "service__branch",
    "service__account",
    "service__customer",
]


@dataclass
class StopPlan:
    stop: Stop
    arrival: datetime | None  # when service starts (after any wait for the window); None = no point
    leg_m: int = 0
    leg_s: int = 0
    wait_s: int = 0
    window: tuple = (None, None)  # aware (start, end); either may be None
    warnings: list = field(default_factory=list)

    @property
    def warning_messages(self):
        return [WARNINGS[code] for code in self.warnings]


@dataclass
class RoutePlan:
    stops: list
    departure: datetime
    finish: datetime
    distance_m: int = 0
    duration_s: int = 0
    load_kg: float = 0
    load_m3: float = 0
    warnings: list = field(default_factory=list)
    path: list = field(default_factory=list)  # [(lat, lng)] start, stops in order, end

    @property
    def warning_messages(self):
        return [WARNINGS[code] for code in self.warnings]

    @property
    def stop_warning_count(self):
        return sum(1 for stop in self.stops if stop.warnings)


def route_tzinfo(route):
    return place_tzinfo(route.branch, route.account)


def route_departure(route):
    return datetime.combine(route.date, route.departure_time, tzinfo=route_tzinfo(route))


def vehicle_speed_kmh(vehicle):
    return vehicle.speed_kmh or matrix.DEFAULT_SPEED_KMH.get(vehicle.type, 25)


def _point(lat, lng):
    return None if lat is None or lng is None else (lat, lng)


def route_start(route):
    return _point(route.start_lat, route.start_lng)


def route_end(route):
    return _point(route.end_lat, route.end_lng)


def service_point(service):
    return _point(service.lat, service.lng)


class _FallbackProvider(matrix.MatrixProvider):
    """The configured provider; when it is unreachable (an OSRM server down), haversine, so a
    plan is still shown rather than an error page. The fallback is logged."""

    def __init__(self, provider):
        self.provider = provider

    def matrix(self, points, *, speed_kmh):
        try:
            return self.provider.matrix(points, speed_kmh=speed_kmh)
        except matrix.MatrixUnavailable:
            logger.warning("travel matrix unavailable, falling back to haversine", exc_info=True)
            return matrix.HaversineProvider().matrix(points, speed_kmh=speed_kmh)


def matrix_provider():
    provider = matrix.get_provider()
    if isinstance(provider, matrix.HaversineProvider):
        return provider
    return _FallbackProvider(provider)


def route_stops(route):
    """The route's stops in order (cancelled ones are not part of it), with what planning reads
    of their services."""
    stops = route.stops.exclude(status=StopStatus.CANCELLED)
    return list(stops.select_related(*STOP_RELATED).order_by("sequence"))


def route_plan(route, stops=None, *, provider=None):
    """The plan of the route in the order of `stops` (default: its stops by sequence)."""
    if stops is None:
        stops = route_stops(route)
    departure = route_departure(route)
    start, end = route_start(route), route_end(route)
    located = [stop for stop in stops if service_point(stop.service) is not None]
    points = ([start] if start else []) + [service_point(s.service) for s in located]
    if end:
        points.append(end)
    provider = provider or matrix_provider()
    distances, durations = (
        provider.matrix(points, speed_kmh=vehicle_speed_kmh(route.vehicle))
        if len(points) > 1
        else ([[0]], [[0]])
    )

    plans, clock, total_m = [], departure, 0
    previous = 0 if start else None  # index in points of where the driver is
    index = 1 if start else 0
    for stop in stops:
        service = stop.service
        window = service_time_window(service)
        plan = StopPlan(stop=stop, arrival=None, window=window)
        plans.append(plan)
        if service_point(service) is None:
            plan.warnings.append("no_location")
            continue
        if previous is not None:
            plan.leg_m, plan.leg_s = distances[previous][index], durations[previous][index]
        arrival = clock + timedelta(seconds=plan.leg_s)
        opens, closes = window
        if opens is not None and arrival < opens:
            plan.wait_s = int((opens - arrival).total_seconds())
            arrival = opens
        plan.arrival = arrival
        if closes is not None and arrival > closes and _scheduled(service):
            plan.warnings.append("window_missed")
        if service.deadline is not None and arrival > service.deadline:
            plan.warnings.append("past_deadline")
        clock = arrival + timedelta(minutes=service.service_time_min)
        total_m += plan.leg_m
        previous, index = index, index + 1
    if end and previous is not None:
        total_m += distances[previous][index]
        clock += timedelta(seconds=durations[previous][index])

    route_plan = RoutePlan(
        stops=plans,
        departure=departure,
        finish=clock,
        distance_m=total_m,
        duration_s=int((clock - departure).total_seconds()),
        load_kg=sum(float(s.service.weight_kg or 0) for s in stops),
        load_m3=sum(float(s.service.volume_m3 or 0) for s in stops),
        path=points,
    )
    vehicle = route.vehicle
    if vehicle.capacity_kg is not None and route_plan.load_kg > float(vehicle.capacity_kg):
        route_plan.warnings.append("over_capacity_kg")
    if vehicle.capacity_m3 is not None and route_plan.load_m3 > float(vehicle.capacity_m3):
        route_plan.warnings.append("over_capacity_m3")
    return route_plan


def _scheduled(service):
    """Whether the service has a booked window (without one, its window ends at the deadline,
    which is warned about as such)."""
    return getattr(service, "schedule", None) is not None


def route_refresh_plan(route):
    """Stores the plan of the route's current order: each pending stop's planned arrival (and its
    ETA, until the driver's positions give a better one), the route's distance and duration."""
    plan = route_plan(route)
    changed = []
    for stop_plan in plan.stops:
        stop = stop_plan.stop
        if stop.status != StopStatus.PENDING:
            continue
        stop.planned_arrival = stop.eta = stop_plan.arrival
        changed.append(stop)
    Stop.objects.bulk_update(changed, ["planned_arrival", "eta"])
    route.planned_distance_m = plan.distance_m
    route.planned_duration_s = plan.duration_s
    route.save(update_fields=["planned_distance_m", "planned_duration_s", "updated_at"])
    return plan


# Optimizing -------------------------------------------------------------------------------------


def _seconds(moment, midnight):
    return int((moment - midnight).total_seconds())


def _optimizer_stop(service, midnight, *, key):
    opens, closes = service_time_window(service)
    window = None
    if opens is not None or closes is not None:
        early = max(_seconds(opens, midnight), 0) if opens is not None else 0
        late = _seconds(closes, midnight) if closes is not None else 2**40
        window = (early, late)
    return optimizer.Stop(
        id=key,
        point=service_point(service),
        service_s=service.service_time_min * 60,
        demand_kg=float(service.weight_kg or 0),
        demand_m3=float(service.volume_m3 or 0),
        window=window,
    )


def _shift(day, end_date, departure_time, tzinfo):
    """(start, end) in seconds since the day's midnight: from the departure to the end of the
    route's last day."""
    midnight = datetime.combine(day, time(0), tzinfo=tzinfo)
    last = datetime.combine((end_date or day) + timedelta(days=1), time(0), tzinfo=tzinfo)
    departure = datetime.combine(day, departure_time, tzinfo=tzinfo)
    return midnight, (_seconds(departure, midnight), _seconds(last, midnight))


def optimized_order(route, *, time_limit_s=None, progress=None):
    """The stop ids of a planned route in the order of the shortest plan that keeps the windows.
    Capacity is not a constraint here (the services were chosen; an overload is a warning). Stops
    the optimizer cannot place (no coordinates, a window no order reaches) go last, in their
    current order, and keep their warnings."""
    stops = route_stops(route)
    located = [s for s in stops if service_point(s.service) is not None]
    midnight, shift = _shift(route.date, route.end_date, route.departure_time, route_tzinfo(route))
    problem = optimizer.Problem(
        stops=[_optimizer_stop(s.service, midnight, key=s.pk) for s in located],
        vehicles=[
            optimizer.Vehicle(
                id=route.pk,
                speed_kmh=vehicle_speed_kmh(route.vehicle),
                start=route_start(route),
                end=route_end(route),
                shift=shift,
            )
        ],
        matrix_provider=matrix_provider(),
    )
    result = optimizer.solve(problem, time_limit_s=time_limit_s, progress=progress)
    order = result.routes.get(route.pk, [])
    placed = set(order)
    return order + [s.pk for s in stops if s.pk not in placed]


@dataclass(frozen=True)
class Crew:
    driver: object
    vehicle: object


def start_place(branch, driver):
    """Where a route starts: its branch, else the driver's branch (None: at its first stop)."""
    return branch or driver.branch


def place_tzinfo(branch, account):
    return ZoneInfo((branch.time_zone if branch else "") or account.time_zone)


def split_plan(
    *, services, crews, day, tzinfo, departure_time, branch=None, progress=None, time_limit_s=None
):
    """Splits services among crews (one vehicle each, leaving its start at `departure_time`),
    with windows, capacity and shifts. Returns ({crew index: [services in order]}, [unplaced
    services]); services without coordinates are unplaced."""
    midnight, shift = _shift(day, None, departure_time, tzinfo)
    located = [s for s in services if service_point(s) is not None]
    problem = optimizer.Problem(
        stops=[_optimizer_stop(s, midnight, key=s.pk) for s in located],
        vehicles=[
            optimizer.Vehicle(
                id=index,
                capacity_kg=_float(crew.vehicle.capacity_kg),
                capacity_m3=_float(crew.vehicle.capacity_m3),
                speed_kmh=vehicle_speed_kmh(crew.vehicle),
                start=_place_point(start_place(branch, crew.driver)),
                end=None,
                shift=shift,
            )
            for index, crew in enumerate(crews)
        ],
        matrix_provider=matrix_provider(),
    )
    result = optimizer.solve(problem, time_limit_s=time_limit_s, progress=progress)
    by_id = {s.pk: s for s in services}
    routes = {index: [by_id[pk] for pk in ids] for index, ids in result.routes.items() if ids}
    placed = {s.pk for ordered in routes.values() for s in ordered}
    return routes, [s for s in services if s.pk not in placed]


def _place_point(place):
    return None if place is None else place.point


def _float(value):
    return None if value is None else float(value)


def now_local(route):
    return timezone.localtime(timezone.now(), route_tzinfo(route))
