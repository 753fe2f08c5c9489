"""ETAs: the pure functions with numbers worked out by hand (planar points where a leg takes as
many seconds as it is long), with and without a travel profile, and the refresh that stores them
on a route in progress."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Driver
from routes import actions, eta, planning, positions
from routes.matrix import EuclideanProvider, HaversineProvider
from routes.models import Route, StopStatus, TravelProfile
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


def etas(stops, origin=(0, 0), pace=1.0, now=NOW, **extra):
    return eta.stop_etas(
        origin=origin, now=now, stops=stops, provider=LINE, speed_kmh=25, pace=pace, **extra
    )


def profile(hours=None, service_factor=1.0):
    """A profile with 1.0 at every hour but those given ({hour: multiplier})."""
    hourly = [1.0] * 24
    for hour, value in (hours or {}).items():
        hourly[hour] = value
    return eta.TravelProfile(hourly=tuple(hourly), service_factor=service_factor)


@pytest.fixture
def round_window(monkeypatch):
    """Window constants whose sums of squares come out round (3-4-5 triangles, in minutes)."""
    monkeypatch.setattr(eta, "EARLY_BASE", timedelta(minutes=3))
    monkeypatch.setattr(eta, "EARLY_PER_STOP", timedelta(minutes=4))
    monkeypatch.setattr(eta, "EARLY_SHARE", 0.0)
    monkeypatch.setattr(eta, "LATE_BASE", timedelta(minutes=6))
    monkeypatch.setattr(eta, "LATE_PER_STOP", timedelta(minutes=8))
    monkeypatch.setattr(eta, "LATE_SHARE", 0.0)


def windows(result):
    return [(r.key, r.earliest, r.eta, r.latest) for r in result]


# Pure functions -----------------------------------------------------------------------------------


def test_legs_and_service_times_add_up():
    result = etas([stop("a", 600, service_s=300), stop("b", 1500, service_s=120)])

    # a: 600 s away. b: leaves a at 10:15, 900 s more.
    assert [(r.key, r.eta, r.stops_ahead) for r in result] == [
        ("a", at(10, 10), 0),
        ("b", at(10, 30), 1),
    ]
    assert all(r.earliest < r.eta < r.latest for r in result)


def test_the_window_adds_up_the_spreads_of_the_stops_and_the_time_ahead(round_window):
    # Next stop: the base alone.
    assert eta.eta_window(at(11, 0), now=NOW, stops_ahead=0, time_ahead_s=3600) == (
        at(10, 57),
        at(11, 6),
    )
    # One stop between: sqrt(3² + 4²) = 5 minutes early, sqrt(6² + 8²) = 10 late.
    assert eta.eta_window(at(11, 0), now=NOW, stops_ahead=1, time_ahead_s=3600) == (
        at(10, 55),
        at(11, 10),
    )
    # Four stops between: the stops' part doubles (independent deviations add in variance).
    assert eta.eta_window(at(11, 0), now=NOW, stops_ahead=4, time_ahead_s=3600) == (
        at(11, 0) - timedelta(seconds=round((3**2 + 4 * 4**2) ** 0.5 * 60)),
        at(11, 0) + timedelta(seconds=round((6**2 + 4 * 8**2) ** 0.5 * 60)),
    )


def test_the_window_grows_with_the_time_ahead(round_window, monkeypatch):
    monkeypatch.setattr(eta, "EARLY_BASE", timedelta(0))
    monkeypatch.setattr(eta, "EARLY_SHARE", 0.05)
    monkeypatch.setattr(eta, "LATE_BASE", timedelta(0))
    monkeypatch.setattr(eta, "LATE_SHARE", 0.1)

    # 2 h ahead, no stop between: 5% (6 min) early, 10% (12 min) late.
    assert eta.eta_window(at(12, 0), now=NOW, stops_ahead=0, time_ahead_s=7200) == (
        at(11, 54),
        at(12, 12),
    )


def test_the_window_widens_with_every_stop_ahead():
    result = etas([stop(k, 600 * (k + 1)) for k in range(6)])

    widths = [r.latest - r.earliest for r in result]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)
    early = [r.eta - r.earliest for r in result]
    late = [r.latest - r.eta for r in result]
    # Being late is likelier than being early: the window leans to the late side.
    assert all(b > a for a, b in zip(early, late, strict=True))


def test_a_driver_early_for_a_window_waits_for_it(round_window):
    result = etas(
        [stop("a", 600, service_s=300, window_start=at(10, 30)), stop("b", 1500, service_s=120)]
    )

    # a: reached at 10:10, served from 10:30: the window does not start before 10:30.
    # b: leaves a at 10:35, 900 s more, one stop between: -5, +10 minutes.
    assert windows(result) == [
        ("a", at(10, 30), at(10, 30), at(10, 36)),
        ("b", at(10, 45), at(10, 50), at(11, 0)),
    ]


def test_a_window_already_open_changes_nothing():
    opened = etas([stop("a", 600, window_start=at(9, 0))])
    assert opened[0].eta == at(10, 10)


def test_the_pace_scales_legs_and_service_but_not_waiting():
    result = etas([stop("a", 600, service_s=300), stop("b", 1500)], pace=1.5)
    # 900 s to a, 450 s there, 1,350 s to b.
    assert [r.eta for r in result] == [at(10, 15), at(10, 45)]

    waiting = etas(
        [stop("a", 600, service_s=300, window_start=at(10, 30)), stop("b", 1500)], pace=1.5
    )
    # Waits from 10:15 to 10:30 whatever the pace, then 450 s of service and 1,350 s of driving.
    assert [r.eta for r in waiting] == [at(10, 30), at(11, 0)]


def test_a_stop_the_driver_is_at_has_its_arrival_and_the_rest_follow_its_service(round_window):
    result = etas([stop("a", 600, service_s=600, arrived_at=at(9, 55)), stop("b", 1500)])

    assert windows(result)[0] == ("a", at(9, 55), at(9, 55), at(9, 55))
    # Leaves a at 10:05, 900 s to b, one stop between: -5, +10 minutes.
    assert windows(result)[1] == ("b", at(10, 15), at(10, 20), at(10, 30))

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


# With a travel profile ---------------------------------------------------------------------------


def test_a_profile_has_a_multiplier_for_each_hour():
    hourly = profile({8: 1.5, 23: 0.9})

    assert hourly.multiplier(8.0) == hourly.multiplier(8.99) == 1.5
    assert hourly.multiplier(9.0) == 1.0
    assert hourly.multiplier(23.5) == hourly.multiplier(-0.5) == 0.9  # the day wraps around
    assert eta.NEUTRAL.multiplier(17.2) == 1.0
    with pytest.raises(ValueError, match="24"):
        eta.TravelProfile(hourly=(1.0,) * 23)


def test_a_profile_scales_each_leg_by_the_hour_it_starts_and_service_by_its_factor():
    slow = profile({10: 2.0, 11: 1.5}, service_factor=1.2)
    result = etas([stop("a", 600, service_s=500), stop("b", 1500), stop("c", 2100)], profile=slow)

    # a: 600 s at 10:00's 2.0 -> 10:20; 500 s x 1.2 there -> leaves 10:30.
    # b: 900 s, starting at 10:30 (still 2.0) -> 11:00.
    # c: 600 s, starting at 11:00 (1.5) -> 11:15.
    assert [r.eta for r in result] == [at(10, 20), at(11, 0), at(11, 15)]


def test_with_a_profile_the_pace_scales_the_legs_and_the_service_pace_the_service():
    slow = profile({10: 2.0}, service_factor=1.2)
    result = etas(
        [stop("a", 600, service_s=500), stop("b", 1500)], profile=slow, pace=1.1, service_pace=1.0
    )

    # a: 600 s x 2.0 x 1.1 = 1,320 s -> 10:22; 500 s x 1.2 = 600 s there -> leaves 10:32.
    # b: 900 s x 2.0 x 1.1 = 1,980 s -> 11:05.
    assert [r.eta for r in result] == [at(10, 22), at(11, 5)]


def test_the_hour_is_the_local_one():
    morning_peak = profile({7: 2.0})
    sao_paulo = ZoneInfo("America/Sao_Paulo")  # 10:00 UTC is 7:00 there

    assert etas([stop("a", 600)], profile=morning_peak, tzinfo=sao_paulo)[0].eta == at(10, 20)
    assert etas([stop("a", 600)], profile=morning_peak)[0].eta == at(10, 10)  # 10:00 in UTC


def test_the_driving_pace_is_what_the_profile_does_not_explain():
    # A 10-minute leg at 8:00 took 15, a 5-minute one at 10:00 took 5.
    legs = [(8.0, 600, 900), (10.25, 300, 300)]

    # Against the morning peak the profile knows, the driver is on time.
    assert eta.driving_pace(legs, profile=profile({8: 1.5})) == 1.0
    # Without a profile the peak looks like a slow driver: (1,200 + 300) / (900 + 300).
    assert eta.driving_pace(legs, prior_s=300) == pytest.approx(1.25)
    assert eta.driving_pace(legs, prior_s=0) == pytest.approx(1200 / 900)


def test_the_driving_pace_winsorizes_a_break_and_starts_at_one():
    assert eta.driving_pace([]) == 1.0
    # A lunch break in a 5-minute leg counts as three times the leg: (900 + 300) / (300 + 300).
    assert eta.driving_pace([(12.0, 300, 3600)], prior_s=300) == pytest.approx(2.0 * 0.8)
    # Legs without a nominal duration (two stops at one address) or backwards are left out.
    assert eta.driving_pace([(12.0, 0, 60), (12.0, 300, -5)]) == 1.0


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


DEPOT = (-23.5700, -46.6450)


def set_start(route, point=DEPOT):
    Route.objects.filter(pk=route.pk).update(start_lat=point[0], start_lng=point[1])


@pytest.mark.django_db
def test_refreshing_a_route_stores_each_open_stops_eta_with_the_drivers_pace(
    route, django_assert_max_num_queries
):
    now = timezone.now()
    set_start(route)
    first, second, third = route.stops.order_by("sequence")
    actions.route_start(route=route, actor=Actor.system(), recorded_at=now - timedelta(hours=1))
    move(first, StopStatus.IN_PROGRESS, now - timedelta(minutes=59))
    move(first, StopStatus.ARRIVED, now - timedelta(minutes=35))
    move(first, StopStatus.DONE, now - timedelta(minutes=30))
    driver_at = (-23.5580, -46.6600)
    Driver.objects.filter(pk=route.driver_id).update(
        last_lat=driver_at[0], last_lng=driver_at[1], last_position_at=now - timedelta(seconds=5)
    )
    route = loaded(route)

    with django_assert_max_num_queries(7):
        result = positions.route_refresh_eta(route, now=now, provider=HaversineProvider())

    # The driving pace: 25 minutes from the depot to the first stop, against its nominal leg
    # (no profile learned yet: a neutral one).
    speed = planning.vehicle_speed_kmh(route.vehicle)
    _distances, depot_leg = HaversineProvider().matrix([DEPOT, POINTS[0]], speed_kmh=speed)
    hour = eta.local_hour(now - timedelta(hours=1), planning.route_tzinfo(route))
    pace = eta.driving_pace([(hour, depot_leg[0][1], 25 * 60)])
    assert pace > 1
    _distances, durations = HaversineProvider().matrix(
        [driver_at, POINTS[1], POINTS[2]], speed_kmh=speed
    )
    # Legs at the driver's pace, time on site as planned (4 minutes).
    second_eta = now + timedelta(seconds=durations[0][1] * pace)
    third_eta = second_eta + timedelta(seconds=4 * 60 + durations[1][2] * pace)
    assert [r.key for r in result] == [second.pk, third.pk]

    first.refresh_from_db()
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
def test_refreshing_a_route_uses_the_accounts_travel_profile(route, account_a):
    now = timezone.now()
    set_start(route, POINTS[0])
    actions.route_start(route=route, actor=Actor.system(), recorded_at=now)
    without = positions.route_refresh_eta(loaded(route), now=now, provider=HaversineProvider())

    TravelProfile.objects.create(
        account=account_a, hourly=[2.0] * 24, service_factor=1.5, samples=500, computed_at=now
    )
    slow = positions.route_refresh_eta(loaded(route), now=now, provider=HaversineProvider())

    # The first stop is at the start (due now either way); the later ones take twice the
    # driving and one and a half times the service.
    assert slow[0].eta == without[0].eta == now
    four, six = timedelta(minutes=4), timedelta(minutes=6)
    assert slow[1].eta - now == 2 * (without[1].eta - now - four) + six
    assert slow[2].eta > without[2].eta
    speed = planning.vehicle_speed_kmh(route.vehicle)
    _distances, durations = HaversineProvider().matrix(POINTS, speed_kmh=speed)
    assert slow[2].eta == now + timedelta(
        seconds=2 * durations[0][1] + 6 * 60 + 2 * durations[1][2] + 6 * 60
    )


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
