"""Learning travel profiles: the pure functions on synthetic data whose truth is known, and the
database side on routes run through routes.actions, stored and used by the ETA refresh."""

import math
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from routes import actions, eta, eta_learning, planning, positions
from routes.matrix import HaversineProvider, MatrixUnavailable
from routes.models import Route, StopStatus, TravelProfile
from routes.tasks import learn_travel_profiles
from services.actions import Actor
from tests.factories import AccountFactory, DriverFactory, ServiceFactory

# Pure learning ------------------------------------------------------------------------------------

# A city's day: slow at the morning and evening peaks, a little slow at lunch.
TRUTH = {7: 1.4, 8: 1.5, 9: 1.25, 10: 1.05, 11: 1.0, 12: 1.1, 13: 1.15, 14: 1.05, 15: 1.0,
         16: 1.1, 17: 1.4}  # fmt: skip


def legs_at(ratio_by_hour, per_hour, rng=None, noise=0.0):
    """`per_hour` legs in each hour, at its ratio to nominal, times a noise of +-`noise`."""
    rng = rng or random.Random(1)
    legs = []
    for hour, ratio in ratio_by_hour.items():
        for _ in range(per_hour):
            nominal_s = rng.uniform(60, 900)
            noisy = ratio * rng.uniform(1 - noise, 1 + noise)
            legs.append((hour + rng.random(), nominal_s, nominal_s * noisy))
    return legs


def test_the_hourly_multipliers_are_recovered():
    hourly = eta_learning.hourly_multipliers(legs_at(TRUTH, 60, noise=0.15))

    for hour, truth in TRUTH.items():
        assert hourly[hour] == pytest.approx(truth, abs=0.05), hour
    # The peak is not flattened by its neighbours.
    assert hourly[8] > hourly[7] > hourly[9] > hourly[10]


def test_a_thin_hour_is_shrunk_toward_the_overall_value():
    legs = legs_at(dict.fromkeys(range(8, 18), 1.2), 10)  # 100 legs at 1.2
    legs += [(3.5, 600, 1800), (3.9, 300, 900)]  # two legs at 3.0 in the night

    hourly = eta_learning.hourly_multipliers(legs)

    # Nobody drives at 2 or 4: the overall value (the trimmed mean leaves the two 3.0s out) is
    # the neighbours'; two legs weigh against HOUR_PRIOR_LEGS = 10 of it.
    assert hourly[3] == pytest.approx((2 * 3.0 + 10 * 1.2) / 12)
    # An hour without legs, far from any, is the overall value.
    assert hourly[22] == pytest.approx(1.2)
    assert hourly[12] == pytest.approx(1.2)


def test_a_thin_hour_leans_on_its_neighbours_first():
    legs = legs_at(dict.fromkeys(range(8, 17), 1.0), 50)
    legs += legs_at({17: 1.6}, 50)
    legs += [(18.2, 600, 960)]  # one leg at 1.6 after the evening peak

    hourly = eta_learning.hourly_multipliers(legs)

    # 17:00 is well known and slow (50 legs against 10 of its neighbours' 1.0), and 18:00
    # follows it rather than the day's 1.0.
    assert hourly[17] == pytest.approx((50 * 1.6 + 10 * 1.0) / 60, abs=0.01)
    assert 1.45 < hourly[18] < 1.6
    assert hourly[20] == pytest.approx(1.0, abs=0.01)


def test_outliers_are_ignored():
    rng = random.Random(7)
    legs = legs_at(dict.fromkeys(range(8, 18), 1.3), 60, rng, noise=0.1)
    for hour in range(8, 18):
        legs += [(hour + 0.5, 300, 300 * 50)] * 6  # a lunch break: out of range, dropped
        legs += [(hour + 0.5, 300, 300 * 5.5)] * 3  # plausible but far off: trimmed
        legs += [(hour + 0.5, 5, 600)]  # two taps at one address: too short to say anything
        legs += [(hour + 0.5, 300, 0)]  # a clock that did not move

    hourly = eta_learning.hourly_multipliers(legs)

    for hour in range(8, 18):
        assert hourly[hour] == pytest.approx(1.3, abs=0.03), hour


def test_without_data_everything_is_neutral():
    assert eta_learning.hourly_multipliers([]) == [1.0] * 24
    assert eta_learning.service_factor([]) == 1.0
    assert eta_learning.learn_profile([], []) == eta.NEUTRAL
    # Nothing usable is the same as nothing.
    assert eta_learning.learn_profile([(9.0, 10, 600)], [(0, 300)]) == eta.NEUTRAL


def test_the_service_factor_is_the_mean_shrunk_toward_one():
    # Ten stops planned at 5 minutes took 7.5: (10 x 450 + 10 x 300) / (10 x 300 + 10 x 300).
    assert eta_learning.service_factor([(300, 450)] * 10) == pytest.approx(1.25)


def test_the_service_factor_of_skewed_times_is_their_mean():
    rng = random.Random(3)
    services = [
        (planned, planned * math.exp(rng.gauss(0, 0.55)))
        for planned in [rng.choice([180, 300, 600]) for _ in range(4000)]
    ]
    # Log-normal with median = plan: the mean is exp(0.55² / 2) = 1.163 times the plan.
    assert eta_learning.service_factor(services) == pytest.approx(math.exp(0.55**2 / 2), abs=0.03)


def test_a_forgotten_tap_does_not_move_the_service_factor():
    services = [(300, 360)] * 1000 + [(300, 300 * 100)] * 5  # five stops "took" 8 hours

    # Each counts as SERVICE_RATIO_MAX = 4 times its plan.
    expected = (1000 * 360 + 5 * 1200 + 10 * 300) / (1005 * 300 + 10 * 300)
    assert eta_learning.service_factor(services) == pytest.approx(expected)
    assert eta_learning.service_factor(services) < 1.22


def test_learn_profile_counts_the_samples_it_used():
    learned = eta_learning.learn_profile(
        [*legs_at({9: 1.5}, 20), (9.0, 5, 60)], [*[(300, 330)] * 7, (0, 30)]
    )

    assert learned.samples == 27
    assert learned.hourly[9] == pytest.approx(1.5)
    assert learned.service_factor == pytest.approx((7 * 330 + 10 * 300) / (17 * 300))


# From the database --------------------------------------------------------------------------------

# Avenida Paulista and around, and a depot south of it.
POINTS = [(-23.5614, -46.6559), (-23.5570, -46.6620), (-23.5505, -46.6333)]
DEPOT = (-23.5700, -46.6450)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
PLANNED_MIN = 4


def yesterday_at(hour, minute=0):
    day = timezone.localdate() - timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SAO_PAULO)


def new_route(account, points=POINTS):
    driver = DriverFactory(account=account)
    services = [
        ServiceFactory(
            account=account, lat=lat, lng=lng, deadline=None, service_time_min=PLANNED_MIN
        )
        for lat, lng in points
    ]
    route = actions.route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=services,
    )
    Route.objects.filter(pk=route.pk).update(start_lat=DEPOT[0], start_lng=DEPOT[1])
    route.refresh_from_db()
    return route


def nominal_legs(route, points=POINTS):
    speed = planning.vehicle_speed_kmh(route.vehicle)
    _distances, durations = HaversineProvider().matrix([DEPOT, *points], speed_kmh=speed)
    return [durations[k][k + 1] for k in range(len(points))]


def move(stop, status, when):
    return actions.stop_change_status(
        stop=stop, to_status=status, actor=Actor.system(), recorded_at=when, point=None
    )


def run_route(route, started_at, *, leg_ratio, service_s, skip_arrival=()):
    """Drives the route from started_at: each leg `leg_ratio` times its nominal duration, each
    stop `service_s` on site; stops whose sequence is in skip_arrival are completed without an
    "arrive" tap. Returns when each leg started."""
    actions.route_start(route=route, actor=Actor.system(), recorded_at=started_at)
    clock, departures = started_at, []
    stops = list(route.stops.order_by("sequence"))
    for stop, nominal_s in zip(stops, nominal_legs(route), strict=True):
        departures.append(clock)
        move(stop, StopStatus.IN_PROGRESS, clock)
        clock += timedelta(seconds=nominal_s * leg_ratio)
        if stop.sequence not in skip_arrival:
            move(stop, StopStatus.ARRIVED, clock)
        clock += timedelta(seconds=service_s)
        move(stop, StopStatus.DONE, clock)
    actions.route_finish(route=route, actor=Actor.system(), recorded_at=clock)
    return departures


@pytest.mark.django_db
def test_a_finished_route_gives_its_legs_and_services(account_a, django_assert_num_queries):
    route = new_route(account_a)
    departures = run_route(route, yesterday_at(9), leg_ratio=2.0, service_s=360)
    run_route(new_route(account_a), yesterday_at(14), leg_ratio=2.0, service_s=360)

    with django_assert_num_queries(1):
        legs, services = eta_learning.account_history(
            account=account_a, since=yesterday_at(0), provider=HaversineProvider()
        )
    legs, services = legs[3:], services[3:]  # the latest route first

    nominal = nominal_legs(route)
    assert legs == [
        (eta.local_hour(left, SAO_PAULO), nominal_s, 2.0 * nominal_s)
        for left, nominal_s in zip(departures, nominal, strict=True)
    ]
    assert legs[0][0] == 9.0  # local time, not UTC
    assert services == [(PLANNED_MIN * 60, 360.0)] * 3


@pytest.mark.django_db
def test_learning_stores_the_expected_multipliers(account_a):
    run_route(new_route(account_a), yesterday_at(9), leg_ratio=2.0, service_s=360)

    stored = eta_learning.travel_profile_learn(account=account_a, provider=HaversineProvider())

    # Every leg took twice its nominal time: every hour (this one, and the overall value the
    # others fall back on) is 2.0; three stops of 6 minutes planned at 4, shrunk toward 1.0.
    assert stored.hourly == pytest.approx([2.0] * 24)
    assert stored.service_factor == pytest.approx((3 * 360 + 10 * 240) / (13 * 240))
    assert stored.samples == 6
    assert TravelProfile.objects.get(account=account_a) == stored
    assert eta_learning.account_travel_profile(account_a.pk) == eta.TravelProfile(
        hourly=tuple(stored.hourly), service_factor=stored.service_factor, samples=6
    )


@pytest.mark.django_db
def test_a_stop_without_an_arrival_has_no_leg_but_the_next_leg_starts_from_it(account_a):
    route = new_route(account_a)
    departures = run_route(route, yesterday_at(9), leg_ratio=1.5, service_s=300, skip_arrival={2})

    legs, services = eta_learning.account_history(
        account=account_a, since=yesterday_at(0), provider=HaversineProvider()
    )

    nominal = nominal_legs(route)
    assert [(hour, n) for hour, n, _actual in legs] == [
        (eta.local_hour(departures[0], SAO_PAULO), nominal[0]),
        (eta.local_hour(departures[2], SAO_PAULO), nominal[2]),
    ]
    assert len(services) == 2


@pytest.mark.django_db
def test_history_reads_whole_routes_up_to_the_limit(account_a):
    older = new_route(account_a)
    run_route(older, yesterday_at(8), leg_ratio=3.0, service_s=300)
    newer = new_route(account_a)
    run_route(newer, yesterday_at(13), leg_ratio=1.5, service_s=300)

    legs, services = eta_learning.account_history(
        account=account_a, since=yesterday_at(0), provider=HaversineProvider(), max_stops=4
    )

    # Four stops fit: the newer route's three and one of the older's, which is left out (its
    # first stop read would look like a leg from the depot).
    assert [actual / nominal for _hour, nominal, actual in legs] == pytest.approx([1.5] * 3)
    assert len(legs) == len(services) == 3

    before = eta_learning.account_history(
        account=account_a, since=yesterday_at(12), provider=HaversineProvider()
    )
    assert len(before[0]) == 3  # the older route started before `since`


@pytest.mark.django_db
def test_a_route_without_a_matrix_is_left_out(account_a):
    run_route(new_route(account_a), yesterday_at(9), leg_ratio=2.0, service_s=360)

    class Down(HaversineProvider):
        def matrix(self, points, *, speed_kmh):
            raise MatrixUnavailable("OSRM is down")

    stored = eta_learning.travel_profile_learn(account=account_a, provider=Down())

    assert stored.hourly == [1.0] * 24
    assert stored.samples == 0


@pytest.mark.django_db
def test_an_unusable_stored_profile_is_no_profile(account_a):
    assert eta_learning.account_travel_profile(account_a.pk) is None
    TravelProfile.objects.create(
        account=account_a, hourly=[1.0] * 3, service_factor=1.0, computed_at=timezone.now()
    )
    assert eta_learning.account_travel_profile(account_a.pk) is None


@pytest.mark.django_db
def test_the_learned_profile_slows_the_eta_of_a_new_route(account_a):
    run_route(new_route(account_a), yesterday_at(9), leg_ratio=2.0, service_s=360)
    today = new_route(account_a)
    now = timezone.now()
    actions.route_start(route=today, actor=Actor.system(), recorded_at=now)
    loaded = Route.objects.select_related("driver", "vehicle", "branch", "account")

    before = positions.route_refresh_eta(loaded.get(pk=today.pk), now=now)
    learn_travel_profiles.delay()
    after = positions.route_refresh_eta(loaded.get(pk=today.pk), now=now)

    assert all(late.eta > early.eta for late, early in zip(after, before, strict=True))
    # The first leg, from the depot, takes twice as long.
    assert after[0].eta - now == pytest.approx(2 * (before[0].eta - now), abs=timedelta(seconds=1))


@pytest.mark.django_db
def test_the_task_learns_every_active_accounts_profile(account_a, account_b):
    gone = AccountFactory(slug="gone", is_active=False)
    run_route(new_route(account_a), yesterday_at(9), leg_ratio=2.0, service_s=360)

    learn_travel_profiles.delay()

    profiles = {p.account_id: p for p in TravelProfile.objects.all()}
    assert set(profiles) == {account_a.pk, account_b.pk}
    assert profiles[account_a.pk].samples == 6
    assert profiles[account_b.pk].samples == 0  # nothing to learn from: neutral
    assert profiles[account_b.pk].hourly == [1.0] * 24
    assert gone.pk not in profiles

    learn_travel_profiles.delay()  # again: still one profile per account
    assert TravelProfile.objects.count() == 2
