"""Routes and stops: their machines transition by transition, and the services that follow."""

import itertools
from datetime import date

import pytest

from routes import actions
from routes.models import (
    ROUTE_TRANSITIONS,
    STOP_TRANSITIONS,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
)
from services.actions import Actor
from services.models import EventKind, ServiceStatus
from tests.factories import DriverFactory, FailureReasonFactory, ServiceFactory
from tracking.lib.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db
DAY = date(2030, 3, 4)
R, T = RouteStatus, StopStatus


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a)


def build(account, driver, count=2, actor=None):
    services = [ServiceFactory(account=account) for _ in range(count)]
    route = actions.route_create(
        account=account,
        actor=actor or Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=DAY,
        services=services,
    )
    return route, services


def test_creating_a_route_routes_its_services_in_order(account_a, driver, operator_a):
    route, services = build(account_a, driver, 3, actor=Actor.for_user(operator_a))
    assert route.status == R.PLANNED
    assert list(route.stops.values_list("service_id", "sequence")) == [
        (service.pk, n) for n, service in enumerate(services, start=1)
    ]
    for service in services:
        service.refresh_from_db()
        assert service.status == ServiceStatus.ROUTED
        event = service.events.get(kind=EventKind.STATUS)
        assert event.data["route_id"] == route.pk
        assert str(operator_a) in event.actor_label


def test_a_service_that_is_not_pending_cannot_be_routed(account_a, driver):
    done = ServiceFactory(account=account_a, status=ServiceStatus.DONE)
    with pytest.raises(Conflict) as error:
        actions.route_create(
            account=account_a, actor=Actor.system(), driver=driver, vehicle=driver.vehicle,
            day=DAY, services=[done],
        )  # fmt: skip
    assert error.value.code == "service_not_pending"
    assert not Route.objects.exists()


def test_another_accounts_driver_or_service_is_refused(account_a, account_b, driver):
    foreign_driver = DriverFactory(account=account_b)
    with pytest.raises(DomainError):
        actions.route_create(
            account=account_a, actor=Actor.system(), driver=foreign_driver,
            vehicle=driver.vehicle, day=DAY, services=[],
        )  # fmt: skip
    with pytest.raises(DomainError):
        actions.route_create(
            account=account_a, actor=Actor.system(), driver=driver, vehicle=driver.vehicle,
            day=DAY, services=[ServiceFactory(account=account_b)],
        )  # fmt: skip


ROUTE_ALLOWED = {(R.PLANNED, R.IN_PROGRESS), (R.PLANNED, R.CANCELLED),
                 (R.IN_PROGRESS, R.FINISHED), (R.IN_PROGRESS, R.CANCELLED)}  # fmt: skip
STOP_ALLOWED = {
    (T.PENDING, T.IN_PROGRESS), (T.PENDING, T.CANCELLED),
    (T.IN_PROGRESS, T.ARRIVED), (T.IN_PROGRESS, T.PAUSED), (T.IN_PROGRESS, T.DONE),
    (T.IN_PROGRESS, T.FAILED), (T.ARRIVED, T.PAUSED), (T.ARRIVED, T.DONE), (T.ARRIVED, T.FAILED),
    (T.PAUSED, T.IN_PROGRESS), (T.PAUSED, T.FAILED),
}  # fmt: skip


def test_the_machines_are_exactly_the_documented_ones():
    assert {(a, b) for a, bs in ROUTE_TRANSITIONS.items() for b in bs} == ROUTE_ALLOWED
    assert {(a, b) for a, bs in STOP_TRANSITIONS.items() for b in bs} == STOP_ALLOWED


def test_route_start_and_finish_write_route_events(account_a, driver):
    route, services = build(account_a, driver)
    actions.route_start(route=route, actor=Actor.for_driver(driver), point=(-23.5, -46.6))
    actions.route_start(route=route, actor=Actor.for_driver(driver))  # a retry changes nothing
    route.refresh_from_db()
    assert route.status == R.IN_PROGRESS
    assert route.started_at is not None
    for service in services:
        events = service.events.filter(kind=EventKind.ROUTE)
        assert [event.data["route"] for event in events] == ["started"]
    actions.route_finish(route=route, actor=Actor.for_driver(driver))
    route.refresh_from_db()
    assert route.status == R.FINISHED
    # The stops never started are cancelled; their services wait for another route.
    assert set(route.stops.values_list("status", flat=True)) == {T.CANCELLED}
    for service in services:
        service.refresh_from_db()
        assert service.status == ServiceStatus.PENDING


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [pair for pair in itertools.permutations(R.values, 2) if pair not in ROUTE_ALLOWED],
)
def test_forbidden_route_moves(account_a, driver, from_status, to_status):
    route, _services = build(account_a, driver, 1)
    Route.objects.filter(pk=route.pk).update(status=from_status)
    move = {
        R.IN_PROGRESS: actions.route_start,
        R.FINISHED: actions.route_finish,
        R.CANCELLED: actions.route_cancel,
    }.get(to_status)
    if move is None:  # nothing moves a route back to planned
        return
    with pytest.raises(Conflict):
        move(route=route, actor=Actor.system())
    route.refresh_from_db()
    assert route.status == from_status


def test_editing_a_started_route_is_refused_with_a_clear_message(account_a, driver):
    route, services = build(account_a, driver)
    actions.route_start(route=route, actor=Actor.for_driver(driver))
    for edit in (
        lambda: actions.route_add_services(
            route=route, actor=Actor.system(), services=[ServiceFactory(account=account_a)]
        ),
        lambda: actions.route_remove_service(
            route=route, actor=Actor.system(), service=services[0]
        ),
        lambda: actions.route_reorder(route=route, stop_ids=[]),
    ):
        with pytest.raises(Conflict) as error:
            edit()
        assert error.value.code == "route_not_editable"
        assert "only planned routes can be changed" in error.value.message


def test_planned_routes_are_edited(account_a, driver):
    route, (first, second) = build(account_a, driver)
    third = ServiceFactory(account=account_a)
    actions.route_add_services(route=route, actor=Actor.system(), services=[third])
    stops = list(route.stops.order_by("sequence"))
    actions.route_reorder(route=route, stop_ids=[stops[2].pk, stops[0].pk, stops[1].pk])
    assert list(route.stops.order_by("sequence").values_list("service_id", flat=True)) == [
        third.pk, first.pk, second.pk,
    ]  # fmt: skip
    actions.route_remove_service(route=route, actor=Actor.system(), service=first)
    first.refresh_from_db()
    assert first.status == ServiceStatus.PENDING
    assert list(route.stops.order_by("sequence").values_list("sequence", flat=True)) == [1, 2]


@pytest.fixture
def running(account_a, driver):
    route, _services = build(account_a, driver, 1)
    actions.route_start(route=route, actor=Actor.for_driver(driver))
    return route.stops.get()


def move_stop(stop, to_status, **extra):
    return actions.stop_change_status(
        stop=stop, to_status=to_status, actor=Actor.for_driver(stop.route.driver), **extra
    )


# How to bring a stop to each status (None: only the route's finish or cancel gets there).
PATHS = {
    T.PENDING: [],
    T.IN_PROGRESS: [T.IN_PROGRESS],
    T.ARRIVED: [T.IN_PROGRESS, T.ARRIVED],
    T.PAUSED: [T.IN_PROGRESS, T.PAUSED],
    T.DONE: [T.IN_PROGRESS, T.DONE],
    T.FAILED: [T.IN_PROGRESS, T.FAILED],
    T.CANCELLED: None,
}
SERVICE_AFTER = {T.IN_PROGRESS: ServiceStatus.IN_PROGRESS, T.ARRIVED: ServiceStatus.IN_PROGRESS,
                 T.PAUSED: ServiceStatus.PAUSED, T.DONE: ServiceStatus.DONE,
                 T.FAILED: ServiceStatus.FAILED}  # fmt: skip


def reach(stop, status, account):
    for step in PATHS[status]:
        reason = FailureReasonFactory(account=account) if step == T.FAILED else None
        move_stop(stop, step, failure_reason=reason)
    return Stop.objects.get(pk=stop.pk)


@pytest.mark.parametrize(
    ("from_status", "to_status"), sorted(pair for pair in STOP_ALLOWED if pair[1] != T.CANCELLED)
)
def test_allowed_stop_moves_carry_the_service(account_a, running, from_status, to_status):
    stop = reach(running, from_status, account_a)
    extra = {}
    if to_status == T.FAILED:
        extra = {"failure_reason": FailureReasonFactory(account=account_a)}
    stop = move_stop(stop, to_status, point=(-23.55, -46.63), **extra)
    assert stop.status == to_status
    stop.service.refresh_from_db()
    assert stop.service.status == SERVICE_AFTER[to_status]


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [
        pair
        for pair in itertools.permutations(T.values, 2)
        if pair not in STOP_ALLOWED and PATHS[pair[0]] is not None and pair[1] != T.PENDING
    ],
)
def test_forbidden_stop_moves(account_a, running, from_status, to_status):
    stop = reach(running, from_status, account_a)
    extra = {"failure_reason": FailureReasonFactory(account=account_a)}
    with pytest.raises(Conflict):
        move_stop(stop, to_status, **extra)
    assert Stop.objects.get(pk=stop.pk).status == from_status


def test_failing_needs_a_reason_and_sometimes_a_description(account_a, running):
    stop = reach(running, T.ARRIVED, account_a)
    with pytest.raises(DomainError):
        move_stop(stop, T.FAILED)
    strict = FailureReasonFactory(account=account_a, requires_description=True)
    with pytest.raises(DomainError):
        move_stop(stop, T.FAILED, failure_reason=strict)
    stop = move_stop(stop, T.FAILED, failure_reason=strict, failure_description="Gate locked")
    event = stop.service.events.filter(to_status=ServiceStatus.FAILED).get()
    assert (event.failure_reason, event.note) == (strict, "Gate locked")


def test_stops_move_only_on_a_started_route(account_a, driver):
    route, _services = build(account_a, driver, 1)
    with pytest.raises(Conflict) as error:
        move_stop(route.stops.get(), T.IN_PROGRESS)
    assert error.value.code == "route_not_started"


def test_a_repeated_stop_update_from_the_phone_is_a_no_op(account_a, running):
    stop = move_stop(running, T.IN_PROGRESS)
    events = stop.service.events.count()
    move_stop(stop, T.IN_PROGRESS)
    assert stop.service.events.count() == events


def test_a_route_keeps_its_drivers_carrier_for_carrier_users(account_a):
    from tests.factories import CarrierFactory

    carrier = CarrierFactory(account=account_a)
    contracted = DriverFactory(account=account_a, carrier=carrier)
    route, _ = build(account_a, contracted, 1)
    own, _ = build(account_a, DriverFactory(account=account_a), 1)
    assert (route.carrier, own.carrier) == (carrier, None)
