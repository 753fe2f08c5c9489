"""Plans of routes (times, distances, warnings), the optimizer's order on real routes, the day
split among drivers, planning jobs, and stops that follow their services out of a route."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from routes import actions, jobs, planning
from routes.matrix import HaversineProvider
from routes.models import PlanningJob, PlanningJobStatus, Route, RouteStatus, StopStatus
from scheduling.models import Schedule
from services.actions import Actor, service_cancel, service_change_status
from services.models import ServiceStatus
from tests.factories import (
    BranchFactory,
    DeliveryWindowFactory,
    DriverFactory,
    ServiceFactory,
    StatusChangeReasonFactory,
    VehicleFactory,
)
from tracking.lib.errors import Conflict
from tracking.lib.geo import haversine_m

pytestmark = pytest.mark.django_db
DAY = date(2030, 3, 4)  # a Monday
SP = ZoneInfo("America/Sao_Paulo")
DEPOT = (-23.55, -46.63)
# Points east of the depot along one street, 1 km apart (at this latitude, 0.0098° of longitude).
EAST = [(DEPOT[0], DEPOT[1] + 0.0098 * k) for k in range(1, 7)]


@pytest.fixture
def branch(account_a):
    return BranchFactory(
        account=account_a, lat=DEPOT[0], lng=DEPOT[1], time_zone="America/Sao_Paulo"
    )


@pytest.fixture
def driver(account_a, branch):
    vehicle = VehicleFactory(account=account_a, speed_kmh=36)  # 10 m/s: easy arithmetic
    return DriverFactory(account=account_a, branch=branch, vehicle=vehicle)


def services_at(account, points, **fields):
    fields.setdefault("deadline", None)
    fields.setdefault("service_time_min", 5)
    return [ServiceFactory(account=account, lat=lat, lng=lng, **fields) for lat, lng in points]


def build(account, driver, services, **kwargs):
    return actions.route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=DAY,
        services=services,
        **kwargs,
    )


def schedule(service, window):
    Schedule.objects.create(
        account=service.account, service=service, date=DAY, window=window, origin="back_office"
    )


def leg_s(a, b):
    """Seconds between two points at 10 m/s on the default haversine provider."""
    return round(round(haversine_m(a, b) * 1.3) / 10)


def at(hour, minute=0, second=0):
    return datetime.combine(DAY, time(hour, minute, second), tzinfo=SP)


# The plan of an order ------------------------------------------------------------------------


def test_the_plan_counts_legs_at_the_vehicle_speed_and_time_on_site(account_a, driver):
    first, second = services_at(account_a, EAST[:2])
    route = build(account_a, driver, [first, second])

    plan = planning.route_plan(route)

    depart = at(8)
    arrive_first = depart + timedelta(seconds=leg_s(DEPOT, EAST[0]))
    arrive_second = arrive_first + timedelta(minutes=5, seconds=leg_s(EAST[0], EAST[1]))
    assert [s.arrival for s in plan.stops] == [arrive_first, arrive_second]
    assert plan.finish == arrive_second + timedelta(minutes=5)
    assert plan.duration_s == (plan.finish - depart).total_seconds()
    expected_m = round(haversine_m(DEPOT, EAST[0]) * 1.3) + round(haversine_m(*EAST[:2]) * 1.3)
    assert plan.distance_m == expected_m
    assert plan.path == [DEPOT, EAST[0], EAST[1]]
    # What the route stores is that plan.
    route.refresh_from_db()
    assert route.planned_distance_m == expected_m
    assert route.planned_duration_s == plan.duration_s
    stops = list(route.stops.order_by("sequence"))
    assert [s.planned_arrival for s in stops] == [arrive_first, arrive_second]
    assert [s.eta for s in stops] == [arrive_first, arrive_second]


def test_a_route_with_an_end_address_counts_the_way_back(account_a, driver):
    (service,) = services_at(account_a, EAST[:1])
    route = build(account_a, driver, [service])
    route = actions.route_update_plan(route=route, end=("Depot", *DEPOT))

    plan = planning.route_plan(route)

    assert plan.distance_m == 2 * round(haversine_m(DEPOT, EAST[0]) * 1.3)
    assert plan.path[-1] == DEPOT


def test_an_early_arrival_waits_for_the_window_and_a_late_one_is_warned(account_a, driver):
    early, late = services_at(account_a, EAST[:2])
    morning = DeliveryWindowFactory(account=account_a, start=time(10), end=time(12))
    dawn = DeliveryWindowFactory(account=account_a, start=time(6), end=time(7))
    schedule(early, morning)
    schedule(late, dawn)

    plan = planning.route_plan(build(account_a, driver, [early, late]))

    first, second = plan.stops
    assert first.arrival == at(10)
    assert first.wait_s == (at(10) - at(8)).total_seconds() - leg_s(DEPOT, EAST[0])
    assert first.warnings == []
    assert second.warnings == ["window_missed"]
    assert str(planning.WARNINGS["window_missed"]) in map(str, second.warning_messages)


def test_past_deadline_missing_coordinates_and_overload_are_warned(account_a, driver):
    driver.vehicle.capacity_kg = Decimal("10")
    driver.vehicle.capacity_m3 = Decimal("1")
    driver.vehicle.save()
    (overdue,) = services_at(account_a, EAST[:1], deadline=at(8, 1), weight_kg=Decimal("8"))
    (nowhere,) = services_at(account_a, [(None, None)], weight_kg=Decimal("4"))

    plan = planning.route_plan(build(account_a, driver, [overdue, nowhere]))

    assert plan.stops[0].warnings == ["past_deadline"]
    assert plan.stops[1].warnings == ["no_location"]
    assert plan.stops[1].arrival is None
    assert plan.warnings == ["over_capacity_kg"]
    assert plan.load_kg == 12
    assert plan.stop_warning_count == 2


def test_reordering_and_editing_keep_the_stored_plan_true(account_a, driver):
    services = services_at(account_a, [EAST[0], EAST[5], EAST[1]])
    route = build(account_a, driver, services)
    zigzag = route.planned_distance_m

    stops = list(route.stops.order_by("sequence"))
    actions.route_reorder(route=route, stop_ids=[stops[0].pk, stops[2].pk, stops[1].pk])
    route.refresh_from_db()
    assert route.planned_distance_m < zigzag

    straight = route.planned_distance_m
    actions.route_remove_service(route=route, actor=Actor.system(), service=services[1])
    route.refresh_from_db()
    assert route.planned_distance_m < straight

    (farther,) = services_at(account_a, EAST[5:6])
    actions.route_add_services(route=route, actor=Actor.system(), services=[farther])
    route.refresh_from_db()
    assert route.planned_distance_m == straight


def test_a_later_departure_moves_every_arrival(account_a, driver):
    route = build(account_a, driver, services_at(account_a, EAST[:2]))
    before = list(route.stops.order_by("sequence").values_list("planned_arrival", flat=True))

    actions.route_update_plan(route=route, departure_time=time(9, 30))

    after = list(route.stops.order_by("sequence").values_list("planned_arrival", flat=True))
    assert [b - a for a, b in zip(before, after, strict=True)] == [timedelta(minutes=90)] * 2


def test_an_unreachable_matrix_server_falls_back_to_haversine(account_a, driver, settings):
    settings.OSRM_URL = "http://127.0.0.1:9"  # discard port: nothing answers
    settings.OSRM_TIMEOUT_S = 1
    route = build(account_a, driver, services_at(account_a, EAST[:2]))

    plan = planning.route_plan(route)

    assert plan.distance_m == planning.route_plan(route, provider=HaversineProvider()).distance_m


# Optimizing one route ----------------------------------------------------------------------


def test_optimizing_straightens_a_zigzag_route(account_a, driver):
    order = [EAST[3], EAST[0], EAST[5], EAST[1], EAST[4], EAST[2]]
    services = services_at(account_a, order)
    route = build(account_a, driver, services)
    zigzag = route.planned_distance_m

    actions.route_optimize(route=route, time_limit_s=0.5)

    route.refresh_from_db()
    points = [(s.service.lat, s.service.lng) for s in route.stops.order_by("sequence")]
    assert points == EAST
    assert route.planned_distance_m < zigzag / 2


def test_optimizing_keeps_windows_and_puts_unplaceable_stops_last(account_a, driver):
    near, far = services_at(account_a, [EAST[0], EAST[5]])
    (nowhere,) = services_at(account_a, [(None, None)])
    schedule(near, DeliveryWindowFactory(account=account_a, start=time(14), end=time(16)))
    schedule(far, DeliveryWindowFactory(account=account_a, start=time(8), end=time(10)))
    route = build(account_a, driver, [nowhere, near, far])

    actions.route_optimize(route=route, time_limit_s=0.5)

    ordered = [s.service for s in route.stops.order_by("sequence")]
    # Straight out would reach the near stop first, but its window is in the afternoon and the far
    # one's closes at ten.
    assert ordered == [far, near, nowhere]
    plan = planning.route_plan(route)
    assert [s.warnings for s in plan.stops] == [[], [], ["no_location"]]


def test_a_started_route_is_not_optimized(account_a, driver):
    route = build(account_a, driver, services_at(account_a, EAST[:2]))
    actions.route_start(route=route, actor=Actor.system())

    with pytest.raises(Conflict, match="only planned routes"):
        actions.route_optimize(route=route, time_limit_s=0.1)


# Splitting a day among drivers -------------------------------------------------------------


def crews(account, branch, count, capacity_kg):
    result = []
    for _ in range(count):
        vehicle = VehicleFactory(account=account, capacity_kg=Decimal(capacity_kg), speed_kmh=36)
        driver = DriverFactory(account=account, branch=branch, vehicle=vehicle)
        result.append(planning.Crew(driver=driver, vehicle=vehicle))
    return result


def test_the_day_is_split_within_capacity(account_a, branch):
    services = services_at(account_a, EAST, weight_kg=Decimal("10"))
    (nowhere,) = services_at(account_a, [(None, None)])
    team = crews(account_a, branch, 2, capacity_kg=30)

    routes, unplaced = actions.routes_split(
        account=account_a,
        actor=Actor.system(),
        day=DAY,
        services=[*services, nowhere],
        crews=team,
        time_limit_s=0.5,
    )

    assert unplaced == [nowhere]
    assert len(routes) == 2
    assert {route.driver for route in routes} == {crew.driver for crew in team}
    routed = [stop.service for route in routes for stop in route.stops.all()]
    assert sorted(s.pk for s in routed) == sorted(s.pk for s in services)
    for route in routes:
        assert route.stops.count() == 3  # 30 kg each
        assert route.start_lat == DEPOT[0]
        assert route.planned_distance_m > 0
    nowhere.refresh_from_db()
    assert nowhere.status == ServiceStatus.PENDING


def test_a_service_routed_elsewhere_during_the_search_is_left_out(account_a, branch, driver):
    services = services_at(account_a, EAST[:3])
    taken = services[1]

    def someone_else_routes_it(fraction):
        if taken.status == ServiceStatus.PENDING:
            build(account_a, driver, [taken])
            taken.refresh_from_db()

    routes, unplaced = actions.routes_split(
        account=account_a,
        actor=Actor.system(),
        day=DAY,
        services=services,
        crews=crews(account_a, branch, 1, capacity_kg=100),
        progress=someone_else_routes_it,
        time_limit_s=0.8,
    )

    assert taken.status == ServiceStatus.ROUTED  # the callback ran during the search
    assert unplaced == [taken]
    assert [s.service for s in routes[0].stops.order_by("sequence")] == [
        services[0],
        services[2],
    ]


# Planning jobs -------------------------------------------------------------------------------


def test_a_split_job_creates_routes_and_reports_what_it_could_not_place(
    account_a, branch, manager_a
):
    services = services_at(account_a, EAST[:4])
    done = ServiceFactory(account=account_a, status=ServiceStatus.DONE)
    team = crews(account_a, branch, 2, capacity_kg=1000)
    inactive = DriverFactory(account=account_a, is_active=False)
    request = {
        "services": [s.pk for s in services] + [done.pk],
        "crews": [[c.driver.pk, c.vehicle.pk] for c in team] + [[inactive.pk, inactive.vehicle.pk]],
        "branch": branch.pk,
        "departure_time": "07:30",
    }

    job = jobs.planning_job_create(account=account_a, user=manager_a, day=DAY, request=request)
    result = jobs.planning_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == PlanningJobStatus.DONE
    assert job.progress == 100
    assert job.result == result
    assert result["unassigned"] == [done.pk]
    routes = Route.objects.filter(pk__in=result["routes"])
    assert {r.departure_time for r in routes} == {time(7, 30)}
    assert sum(r.stops.count() for r in routes) == 4
    assert inactive.pk not in {r.driver_id for r in routes}
    # A second run (a redelivered task) does nothing.
    assert jobs.planning_job_run(job.pk) is None
    assert Route.objects.filter(account=account_a).count() == len(result["routes"])


def test_a_route_job_optimizes_the_route(account_a, driver, manager_a):
    route = build(account_a, driver, services_at(account_a, [EAST[2], EAST[0], EAST[1]]))
    zigzag = route.planned_distance_m

    job = jobs.planning_job_create(
        account=account_a, user=manager_a, day=DAY, request={"route": route.pk}
    )
    jobs.planning_job_run(job.pk)

    job.refresh_from_db()
    route.refresh_from_db()
    assert job.status == PlanningJobStatus.DONE
    assert route.planned_distance_m < zigzag


def test_a_job_that_cannot_run_fails_with_a_reason(account_a, manager_a):
    inactive = DriverFactory(account=account_a, is_active=False)
    job = PlanningJob.objects.create(
        account=account_a,
        date=DAY,
        request={"services": [], "crews": [[inactive.pk, inactive.vehicle.pk]]},
    )

    jobs.planning_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == PlanningJobStatus.FAILED
    assert "active" in job.error


# Stops follow their services -----------------------------------------------------------------


def test_a_routed_service_cancelled_elsewhere_leaves_its_route(
    account_a, driver, operator_a, django_capture_on_commit_callbacks
):
    kept, cancelled, unrouted = services_at(account_a, EAST[:3])
    route = build(account_a, driver, [kept, cancelled, unrouted])
    full = route.planned_distance_m

    with django_capture_on_commit_callbacks(execute=True):
        service_cancel(service=cancelled, actor=Actor.system())
    with django_capture_on_commit_callbacks(execute=True):
        service_change_status(
            service=unrouted,
            to_status=ServiceStatus.PENDING,
            actor=Actor.for_user(operator_a),
            reason=StatusChangeReasonFactory(account=account_a),
        )

    assert list(route.stops.values_list("service_id", "sequence")) == [(kept.pk, 1)]
    route.refresh_from_db()
    assert route.status == RouteStatus.PLANNED
    assert route.planned_distance_m < full


def test_a_service_cancelled_while_its_route_runs_keeps_a_cancelled_stop(
    account_a, driver, django_capture_on_commit_callbacks
):
    first, second = services_at(account_a, EAST[:2])
    route = build(account_a, driver, [first, second])
    actions.route_start(route=route, actor=Actor.system())

    with django_capture_on_commit_callbacks(execute=True):
        service_cancel(service=second, actor=Actor.system())

    statuses = dict(route.stops.values_list("service_id", "status"))
    assert statuses == {first.pk: StopStatus.PENDING, second.pk: StopStatus.CANCELLED}
    assert [s.stop.service for s in planning.route_plan(route).stops] == [first]
