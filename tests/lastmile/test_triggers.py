"""Triggers: which events fire which notification, and the checks after ETA refreshes that fire
"driver arriving" (geofence or minutes to the ETA) and "out of deadline", each once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Driver, Trigger
from lastmile import triggers
from lastmile.models import OutboxMessage
from lastmile.tasks import check_active_routes
from routes import actions as route_actions
from routes import positions
from routes.matrix import HaversineProvider
from routes.models import Route, Stop, StopStatus
from services.actions import Actor
from services.models import EventKind, ServiceEvent, ServiceStatus
from tests.lastmile.fakes import agency_with_templates, route_of, service_registered

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()
HOME = (-23.5617, -46.6560)
NEAR = (-23.5630, -46.6560)  # about 145 m south
FAR = (-23.6000, -46.6560)  # about 4.3 km south


def event(kind, from_status="", to_status="", **data):
    return ServiceEvent(kind=kind, from_status=from_status, to_status=to_status, data=data)


S = ServiceStatus


@pytest.mark.parametrize(
    ("the_event", "trigger"),
    [
        (event(EventKind.CREATED, to_status=S.PENDING), Trigger.SERVICE_REGISTERED),
        (event(EventKind.ROUTE, route="started", route_id=1), Trigger.ROUTE_STARTED),
        (event(EventKind.ROUTE, route="finished", route_id=1), None),
        (event(EventKind.ROUTE, stop="arrived", route_id=1), None),
        (event(EventKind.STATUS, S.PENDING, S.ROUTED), None),
        (event(EventKind.STATUS, S.ROUTED, S.IN_PROGRESS), Trigger.DELIVERY_STARTED),
        (event(EventKind.STATUS, S.PAUSED, S.IN_PROGRESS), None),
        (event(EventKind.STATUS, S.IN_PROGRESS, S.DONE), Trigger.DELIVERED),
        (event(EventKind.STATUS, S.FAILED, S.DONE), Trigger.DELIVERED),
        (event(EventKind.STATUS, S.IN_PROGRESS, S.FAILED), Trigger.DELIVERY_FAILED),
        (event(EventKind.STATUS, S.PENDING, S.CANCELLED), None),
        (event(EventKind.UPDATED), None),
        # Back to pending without a date: the "scheduled" event with the date confirms it.
        (event(EventKind.RESCHEDULED, S.FAILED, S.PENDING), None),
        (event(EventKind.SCHEDULED, change=1, notify=True), Trigger.RESCHEDULED),
        (event(EventKind.SCHEDULED, change=3), Trigger.RESCHEDULED),
        (event(EventKind.SCHEDULED, change=1, notify=False), None),
    ],
)
def test_which_events_fire_which_trigger(the_event, trigger):
    assert triggers.event_trigger(the_event) == trigger


def test_each_schedule_change_is_its_own_cause_and_the_rest_fire_once_per_attempt():
    assert triggers.event_sequence(event(EventKind.SCHEDULED, change=2)) == 2
    assert triggers.event_sequence(event(EventKind.CREATED, to_status=S.PENDING)) == 0
    assert triggers.event_sequence(event(EventKind.STATUS, S.IN_PROGRESS, S.DONE)) == 0


@pytest.fixture
def on_the_way(account_a):
    """A route in progress whose driver is on the way to the only stop (deadline tomorrow)."""
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency, lat=HOME[0], lng=HOME[1])
    route = route_of(account_a, [service])
    route_actions.route_start(route=route, actor=SYSTEM)
    stop = route.stops.get()
    route_actions.stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=SYSTEM)
    return Stop.objects.select_related("service", "route").get(pk=stop.pk)


def driver_at(stop, point, seen=None):
    Driver.objects.filter(pk=stop.route.driver_id).update(
        last_lat=point[0], last_lng=point[1], last_position_at=seen or timezone.now()
    )


def eta_in(stop, minutes):
    Stop.objects.filter(pk=stop.pk).update(eta=timezone.now() + timedelta(minutes=minutes))


def fired(stop, trigger):
    return set(
        OutboxMessage.objects.filter(service_id=stop.service_id, trigger=trigger).values_list(
            "channel", "attempt"
        )
    )


def test_a_driver_inside_the_geofence_fires_driver_arriving_once(on_the_way):
    driver_at(on_the_way, NEAR)
    eta_in(on_the_way, 30)
    written = triggers.route_check(route_id=on_the_way.route_id)
    assert {m.trigger for m in written} == {Trigger.DRIVER_ARRIVING}
    assert fired(on_the_way, Trigger.DRIVER_ARRIVING) == {("sms", 1), ("email", 1)}
    sms_row = OutboxMessage.objects.get(trigger=Trigger.DRIVER_ARRIVING, channel="sms")
    assert sms_row.body.startswith("Acme Express: Carlos is arriving with your order PED-10422.")

    assert triggers.route_check(route_id=on_the_way.route_id) == []
    assert OutboxMessage.objects.filter(trigger=Trigger.DRIVER_ARRIVING).count() == 2


def test_minutes_to_the_eta_fire_it_too(on_the_way):
    driver_at(on_the_way, FAR)
    eta_in(on_the_way, 4)  # the account says 5 minutes
    triggers.route_check(route_id=on_the_way.route_id)
    assert fired(on_the_way, Trigger.DRIVER_ARRIVING)


def test_far_and_late_fires_nothing(on_the_way, account_a):
    account_a.arriving_distance_m = 100
    account_a.save(update_fields=["arriving_distance_m"])
    driver_at(on_the_way, NEAR)  # 145 m: outside this account's 100 m
    eta_in(on_the_way, 20)
    assert triggers.route_check(route_id=on_the_way.route_id) == []


def test_yesterdays_position_does_not_count(on_the_way):
    route = on_the_way.route
    driver_at(on_the_way, NEAR, seen=route.started_at - timedelta(hours=12))
    eta_in(on_the_way, 30)
    assert triggers.route_check(route_id=route.pk) == []


def test_a_stop_not_yet_on_the_way_is_not_arriving(account_a):
    agency = agency_with_templates(account_a)
    service = service_registered(account_a, agency=agency, lat=HOME[0], lng=HOME[1])
    route = route_of(account_a, [service])
    route_actions.route_start(route=route, actor=SYSTEM)
    stop = route.stops.select_related("route").get()
    driver_at(stop, NEAR)
    eta_in(stop, 2)
    assert triggers.route_check(route_id=route.pk) == []


def test_an_eta_past_the_deadline_fires_out_of_deadline_once(on_the_way):
    driver_at(on_the_way, FAR)
    deadline = on_the_way.service.deadline
    Stop.objects.filter(pk=on_the_way.pk).update(eta=deadline + timedelta(minutes=10))
    triggers.route_check(route_id=on_the_way.route_id)
    assert fired(on_the_way, Trigger.OUT_OF_DEADLINE) == {("sms", 1), ("email", 1)}
    assert triggers.route_check(route_id=on_the_way.route_id) == []

    Stop.objects.filter(pk=on_the_way.pk).update(eta=deadline - timedelta(minutes=10))
    Stop.objects.filter(pk=on_the_way.pk).update(eta=deadline + timedelta(minutes=20))
    assert triggers.route_check(route_id=on_the_way.route_id) == []


def test_an_eta_before_the_deadline_fires_nothing(on_the_way):
    driver_at(on_the_way, FAR)
    Stop.objects.filter(pk=on_the_way.pk).update(
        eta=on_the_way.service.deadline - timedelta(minutes=1)
    )
    assert triggers.route_check(route_id=on_the_way.route_id) == []


def test_a_route_no_longer_in_progress_is_not_checked(on_the_way):
    driver_at(on_the_way, NEAR)
    Route.objects.filter(pk=on_the_way.route_id).update(status="finished")
    assert triggers.route_check(route_id=on_the_way.route_id) == []


def test_an_eta_refresh_runs_the_check_after_commit(on_the_way, django_capture_on_commit_callbacks):
    driver_at(on_the_way, NEAR)
    route = Route.objects.select_related("driver", "vehicle", "branch", "account").get(
        pk=on_the_way.route_id
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        positions.route_refresh_eta(route, provider=HaversineProvider())
    assert not fired(on_the_way, Trigger.DRIVER_ARRIVING)
    for callback in callbacks:
        callback()
    assert fired(on_the_way, Trigger.DRIVER_ARRIVING) == {("sms", 1), ("email", 1)}


def test_the_minute_check_covers_every_route_in_progress(on_the_way):
    driver_at(on_the_way, NEAR)
    assert check_active_routes.delay().get() == 1
    assert fired(on_the_way, Trigger.DRIVER_ARRIVING)
