"""Phones send late: a step taken before the stop's outcome but heard after it is kept in the
history at the phone's time and undoes nothing."""

from datetime import UTC, date, datetime

import pytest

from routes import actions
from routes.models import StopStatus
from services.actions import Actor
from services.models import EventKind, ServiceStatus
from tests.factories import DriverFactory, ServiceFactory
from tracking.lib.errors import Conflict

pytestmark = pytest.mark.django_db
T = StopStatus


def at(hour, minute):
    return datetime(2030, 3, 4, hour, minute, tzinfo=UTC)


@pytest.fixture
def stop(account_a):
    driver = DriverFactory(account=account_a)
    route = actions.route_create(
        account=account_a,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=date(2030, 3, 4),
        services=[ServiceFactory(account=account_a)],
    )
    actions.route_start(route=route, actor=Actor.system(), recorded_at=at(9, 0))
    return route.stops.get()


def move(stop, status, when, **kwargs):
    return actions.stop_change_status(
        stop=stop, to_status=status, actor=Actor.system(), recorded_at=when, **kwargs
    )


def test_an_arrival_heard_after_the_completion_is_kept_at_its_phone_time(stop):
    move(stop, T.IN_PROGRESS, at(9, 50))
    move(stop, T.DONE, at(10, 5), receiver_name="Ana")

    late = move(stop, T.ARRIVED, at(10, 2), point=(-23.5, -46.6))

    stop.refresh_from_db()
    assert stop.status == T.DONE and late.status == T.DONE
    assert stop.arrived_at == at(10, 2)
    assert (stop.arrived_lat, stop.arrived_lng) == (-23.5, -46.6)
    assert stop.left_at == at(10, 5)
    stop.service.refresh_from_db()
    assert stop.service.status == ServiceStatus.DONE
    history = list(stop.service.events.order_by("recorded_at").values_list("recorded_at", "kind"))
    assert (at(10, 2), EventKind.ROUTE) in history
    # Sent once more, it adds nothing.
    count = stop.service.events.count()
    move(stop, T.ARRIVED, at(10, 2))
    assert stop.service.events.count() == count


def test_a_start_heard_after_the_arrival_fills_the_start(stop):
    # The phone's "start" was lost; "arrive" comes first, then the retried "start".
    move(stop, T.IN_PROGRESS, at(9, 40))
    stop.refresh_from_db()
    stop.started_at = None
    stop.save(update_fields=["started_at"])
    move(stop, T.ARRIVED, at(9, 55))

    move(stop, T.IN_PROGRESS, at(9, 41))

    stop.refresh_from_db()
    assert stop.status == T.ARRIVED
    assert stop.started_at == at(9, 41)


def test_a_step_newer_than_the_outcome_is_still_refused(stop):
    move(stop, T.IN_PROGRESS, at(9, 50))
    move(stop, T.DONE, at(10, 5))

    with pytest.raises(Conflict):
        move(stop, T.ARRIVED, at(10, 30))
