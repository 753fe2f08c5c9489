"""ETAs: the pure functions with numbers worked out by hand (planar points where a leg takes as
many seconds as it is long), and the refresh that stores them on a route in progress."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Driver
from routes import actions, eta, planning, positions
from routes.matrix import EuclideanProvider, HaversineProvider
from routes.models import Route, StopStatus
from routes.tasks import refresh_route_eta
from services.actions import Actor
from tests.factories import DriverFactory, ServiceFactory

NOW = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
# A leg between planar points takes its length in seconds.
LINE = EuclideanProvider(scale=1)


def at(hour, minute, second=0):
    return datetime(2030, 3, 4, hour, minute, second, tzinfo=UTC)


def stop(key, y, service_s=0, **extra):
    return eta.RemainingStop(key=key, point=(0, y), service_s=service_s, **extra)


def etas(stops, origin=(0, 0), pace=1.0, now=NOW):
    return eta.stop_etas(
        origin=origin, now=now, stops=stops, provider=LINE, speed_kmh=25, pace=pace
    )


def windows(result):
    return [(r.key, r.earliest, r.eta, r.latest) for r in result]


# Pure functions -----------------------------------------------------------------------------------


def test_legs_and_service_times_add_up_and_windows_widen():
    result = etas([stop("a", 600, service_s=300), stop("b", 1500, service_s=120)])

    # a: 600 s away, 10 min ahead -> -(3 min + 5% of 600 s), +(5 min + 10% of 600 s).
    # b: leaves a at 10:15, 900 s more; 1,800 s of driving and service ahead, one stop between
    #    -> -(3 + 2 min + 90 s), +(5 + 3 min + 180 s).
    assert windows(result) == [
        ("a", at(10, 6, 30), at(10, 10), at(10, 16)),
        ("b", at(10, 23, 30), at(10, 30), at(10, 41)),
    ]
    assert [r.stops_ahead for r in result] == [0, 1]


def test_the_window_widens_with_every_stop_ahead():
    result = etas([stop(k, 600 * (k + 1)) for k in range(6)])

    widths = [r.latest - r.earliest for r in result]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)
    early = [r.eta - r.earliest for r in result]
    late = [r.latest - r.eta for r in result]
    # Being late is likelier than being early: the window leans to the late side.
    assert all(b > a for a, b in zip(early, late, strict=True))


def test_a_driver_early_for_a_window_waits_for_it():
    result = etas(
        [stop("a", 600, service_s=300, window_start=at(10, 30)), stop("b", 1500, service_s=120)]
    )

    # a: reached at 10:10, served from 10:30: the window does not start before 10:30.
    # b: leaves a at 10:35, 900 s more; the wait is not time "ahead" of uncertain work.
    assert windows(result) == [
        ("a", at(10, 30), at(10, 30), at(10, 36)),
        ("b", at(10, 43, 30), at(10, 50), at(11, 1)),
    ]


def test_a_window_already_open_changes_nothing():
    opened = etas([stop("a", 600, window_start=at(9, 0))])
    assert opened[0].eta == at(10, 10)


def test_the_pace_scales_legs_and_service_but_not_waiting():
    result = etas([stop("a", 600, service_s=300), stop("b", 1500)], pace=1.5)
    # 900 s to a, 450 s there, 1,350 s to b.
    assert [r.eta for r in result] == [at(10, 15), at(10, 45)]
    assert result[0].earliest == at(10, 15) - timedelta(minutes=3, seconds=45)
    assert result[0].latest == at(10, 15) + timedelta(minutes=5, seconds=90)

    waiting = etas(
        [stop("a", 600, service_s=300, window_start=at(10, 30)), stop("b", 1500)], pace=1.5
    )
    # Waits from 10:15 to 10:30 whatever the pace, then 450 s of service and 1,350 s of driving.
    assert [r.eta for r in waiting] == [at(10, 30), at(11, 0)]


def test_a_stop_the_driver_is_at_has_its_arrival_and_the_rest_follow_its_service():
    result = etas([stop("a", 600, service_s=600, arrived_at=at(9, 55)), stop("b", 1500)])

    assert windows(result)[0] == ("a", at(9, 55), at(9, 55), at(9, 55))
    # Leaves a at 10:05, 900 s to b; 1,200 s ahead with one stop between.
    assert windows(result)[1] == ("b", at(10, 14), at(10, 20), at(10, 30))

    overdue = etas([stop("a", 600, service_s=600, arrived_at=at(9, 30)), stop("b", 1500)])
    # Its service should have ended at 9:40: the driver leaves now.
    assert overdue[1].eta == at(10, 15)


def test_a_stop_without_coordinates_gets_no_eta_and_the_others_skip_it():
    result = etas([eta.RemainingStop(key="x", point=None, service_s=300), stop("a", 600)])

    assert windows(result)[0] == ("x", None, None, None)
    assert result[1].eta == at(10, 10)
    assert result[1].stops_ahead == 1


def test_without_a_position_the_first_leg_counts_as_nothing():
    result = etas([stop("a", 600, service_s=60), stop("b", 1200)], origin=None)
    assert [r.eta for r in result] == [NOW, at(10, 11)]


def test_the_window_never_opens_in_the_past():
    result = etas([stop("a", 60)])
    assert result[0].eta == at(10, 1)
    assert result[0].earliest == NOW


def test_the_matrix_is_asked_once_for_the_whole_route():
    class Counting(EuclideanProvider):
        calls = 0

        def matrix(self, points, *, speed_kmh=None):
            Counting.calls += 1
            assert speed_kmh == 25
            return super().matrix(points, speed_kmh=speed_kmh)

    eta.stop_etas(
        origin=(0, 0),
        now=NOW,
        stops=[stop(k, 100 * k) for k in range(1, 20)],
        provider=Counting(scale=1),
        speed_kmh=25,
    )
    assert Counting.calls == 1


@pytest.mark.parametrize(
    ("elapsed_min", "planned_min", "prior_min", "pace"),
    [
        (0, 0, 20, 1.0),  # nothing done yet
        (30, 0, 20, 1.0),  # a plan without durations
        (-5, 20, 20, 1.0),  # a phone clock behind the server's
        (30, 20, 0, 1.5),  # the plain ratio
        (40, 20, 20, 1.5),  # (40 + 20) / (20 + 20): shrunk toward 1.0
        (25, 5, 20, 1.6),  # (45 / 25 = 1.8) clamped
        (600, 60, 20, 1.6),
        (10, 180, 20, 0.7),  # (30 / 200) clamped
        (18, 30, 20, 0.76),  # (38 / 50)
    ],
)
def test_observed_pace(elapsed_min, planned_min, prior_min, pace):
    value = eta.observed_pace(
        elapsed_s=elapsed_min * 60, planned_s=planned_min * 60, prior_s=prior_min * 60
    )
    assert value == pytest.approx(pace)


def test_the_pace_starts_at_one_and_moves_toward_the_observed_ratio():
    paces = [eta.observed_pace(elapsed_s=1.3 * p, planned_s=p) for p in (0, 600, 3600, 36000)]
    assert paces[0] == 1.0
    assert paces == sorted(paces) and paces[-1] == pytest.approx(1.3, abs=0.01)


# Refreshing a route -------------------------------------------------------------------------------

# Avenida Paulista and around: a few hundred metres to a few kilometres apart.
POINTS = [(-23.5614, -46.6559), (-23.5570, -46.6620), (-23.5505, -46.6333)]


@pytest.fixture
def route(account_a):
    driver = DriverFactory(account=account_a)
    services = [
        ServiceFactory(account=account_a, lat=lat, lng=lng, deadline=None, service_time_min=4)
        for lat, lng in POINTS
    ]
    return actions.route_create(
        account=account_a,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=services,
    )


def move(stop, status, when):
    return actions.stop_change_status(
        stop=stop, to_status=status, actor=Actor.system(), recorded_at=when, point=None
    )


def loaded(route):
    return Route.objects.select_related("driver", "vehicle", "branch", "account").get(pk=route.pk)


@pytest.mark.django_db
def test_refreshing_a_route_stores_each_open_stops_eta_with_the_drivers_pace(
    route, django_assert_max_num_queries
):
    now = timezone.now()
    first, second, third = route.stops.order_by("sequence")
    actions.route_start(route=route, actor=Actor.system(), recorded_at=now - timedelta(hours=1))
    move(first, StopStatus.IN_PROGRESS, now - timedelta(minutes=55))
    move(first, StopStatus.DONE, now - timedelta(minutes=30))
    driver_at = (-23.5580, -46.6600)
    Driver.objects.filter(pk=route.driver_id).update(
        last_lat=driver_at[0], last_lng=driver_at[1], last_position_at=now - timedelta(seconds=5)
    )
    route = loaded(route)

    with django_assert_max_num_queries(6):
        result = positions.route_refresh_eta(route, now=now, provider=HaversineProvider())

    first.refresh_from_db()
    # The pace: 30 minutes to finish the first stop, planned to take its leg and 4 minutes.
    planned_end = first.planned_arrival + timedelta(minutes=4)
    pace = eta.observed_pace(
        elapsed_s=30 * 60,
        planned_s=(planned_end - planning.route_departure(route)).total_seconds(),
    )
    assert pace > 1
    speed = planning.vehicle_speed_kmh(route.vehicle)
    _distances, durations = HaversineProvider().matrix(
        [driver_at, POINTS[1], POINTS[2]], speed_kmh=speed
    )
    second_eta = now + timedelta(seconds=durations[0][1] * pace)
    third_eta = second_eta + timedelta(seconds=(4 * 60 + durations[1][2]) * pace)
    assert [r.key for r in result] == [second.pk, third.pk]

    second.refresh_from_db()
    third.refresh_from_db()
    assert second.eta == second_eta
    assert third.eta == third_eta
    for stop in (second, third):
        assert stop.eta_earliest < stop.eta < stop.eta_latest
        assert stop.eta_computed_at == now
    assert third.eta_latest - third.eta_earliest > second.eta_latest - second.eta_earliest
    assert first.eta_computed_at is None  # done: left as it was
    route.refresh_from_db()
    assert route.eta_refreshed_at == now


@pytest.mark.django_db
def test_the_stop_the_driver_is_at_comes_first(route):
    now = timezone.now()
    _first, second, third = route.stops.order_by("sequence")
    actions.route_start(route=route, actor=Actor.system(), recorded_at=now - timedelta(hours=1))
    # The driver went to the third stop before the second.
    move(third, StopStatus.IN_PROGRESS, now - timedelta(minutes=10))
    move(third, StopStatus.ARRIVED, now - timedelta(minutes=2))

    positions.route_refresh_eta(loaded(route), now=now, provider=HaversineProvider())

    second.refresh_from_db()
    third.refresh_from_db()
    assert third.eta == third.eta_earliest == third.eta_latest == now - timedelta(minutes=2)
    # The second stop comes after the third's service (4 minutes from its arrival) and the leg.
    assert second.eta > now + timedelta(minutes=2)


@pytest.mark.django_db
def test_without_positions_the_eta_counts_from_the_routes_start(route, account_a):
    now = timezone.now()
    actions.route_start(route=route, actor=Actor.system(), recorded_at=now)
    # A point from yesterday is not where the driver is.
    Driver.objects.filter(pk=route.driver_id).update(
        last_lat=-22.9, last_lng=-43.2, last_position_at=now - timedelta(days=1)
    )
    route.start_lat, route.start_lng = POINTS[0]
    Route.objects.filter(pk=route.pk).update(start_lat=POINTS[0][0], start_lng=POINTS[0][1])

    result = positions.route_refresh_eta(loaded(route), now=now, provider=HaversineProvider())

    # The first stop is at the start: it is due now.
    assert result[0].eta == now


@pytest.mark.django_db
def test_a_route_not_in_progress_is_left_alone(route):
    assert positions.route_refresh_eta(loaded(route)) is None
    refresh_route_eta.delay(route.pk)  # the task, too

    assert not route.stops.filter(eta_computed_at__isnull=False).exists()
    route.refresh_from_db()
    assert route.eta_refreshed_at is None


@pytest.mark.django_db
def test_the_task_refreshes_a_route_in_progress(route):
    actions.route_start(route=route, actor=Actor.system())

    refresh_route_eta.delay(route.pk)

    assert route.stops.filter(eta_computed_at__isnull=True).count() == 0
    refresh_route_eta.delay(10**9)  # gone: nothing to do
