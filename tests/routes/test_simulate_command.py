"""`manage.py simulate` runs a driver through a route over the real HTTP driver API."""

import io
from datetime import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from routes import actions
from routes.models import Position, RouteStatus, StopStatus
from services.actions import Actor
from services.models import ServiceStatus
from tests.factories import PASSWORD, BranchFactory, DriverFactory, ServiceFactory, VehicleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_simulated_driver_runs_the_route_through_the_api(account_a, live_server):
    branch = BranchFactory(account=account_a, lat=-23.55, lng=-46.63)
    vehicle = VehicleFactory(account=account_a, speed_kmh=30)
    driver = DriverFactory(account=account_a, branch=branch, vehicle=vehicle)
    services = [
        ServiceFactory(account=account_a, lat=-23.55, lng=-46.63 + 0.004 * k, deadline=None)
        for k in (1, 2, 3)
    ]
    route = actions.route_create(
        account=account_a,
        actor=Actor.system(),
        driver=driver,
        vehicle=vehicle,
        day=account_a.today(),
        services=services,
        departure_time=time(0, 0),
    )

    errors = io.StringIO()
    call_command(
        "simulate",
        stderr=errors,
        url=live_server.url,
        account=account_a.slug,
        password=PASSWORD,
        speedup=5000,
        fail_rate=0,
        seed=3,
    )

    assert errors.getvalue() == ""  # no step or batch refused
    route.refresh_from_db()
    assert route.status == RouteStatus.FINISHED
    assert set(route.stops.values_list("status", flat=True)) == {StopStatus.DONE}
    assert all(stop.arrived_at for stop in route.stops.all())
    for service in services:
        service.refresh_from_db()
        assert service.status == ServiceStatus.DONE
    # Sped up, the day is placed in the past so that its points imply real speeds: all stored.
    positions = Position.objects.filter(route=route).order_by("recorded_at")
    assert positions.count() > 10
    assert positions.last().recorded_at <= route.finished_at
    driver.refresh_from_db()
    assert driver.last_position_at is not None


def test_without_a_planned_route_it_says_what_to_do(account_a):
    with pytest.raises(CommandError, match="No planned route today"):
        call_command("simulate", account=account_a.slug)
