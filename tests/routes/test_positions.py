"""The driver API's positions: batches stored once, in phone time, impossible points counted and
dropped, the driver's latest point kept, the route's ETA refreshed at most every 30 s."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.devices import device_login
from routes import actions, positions
from routes.models import Position, RouteStatus, StopStatus
from services.actions import Actor
from tests.factories import PASSWORD, DriverFactory, ServiceFactory

pytestmark = pytest.mark.django_db

URL = "/api/driver/v1/positions"
# Avenida Paulista, São Paulo, and a point about 350 m along it.
PAULISTA = (-23.5614, -46.6559)
NEARBY = (-23.5590, -46.6580)


class Phone:
    """The test client speaking JSON with one driver's device token."""

    def __init__(self, client, driver, device_id="phone-1"):
        _device, token = device_login(
            login=f"{driver.account.slug}.{driver.username}", password=PASSWORD, device_id=device_id
        )
        self.client = client
        self.driver = driver
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def send(self, points, key=None):
        return self.post({"positions": points}, key=key)

    def post(self, data, key=None):
        headers = dict(self.headers)
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(URL, data, content_type="application/json", **headers)


def point(when, where=PAULISTA, **extra):
    lat, lng = where
    return {"recorded_at": when.isoformat(), "lat": lat, "lng": lng, **extra}


def counts(accepted=0, duplicates=0, rejected=0):
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


@pytest.fixture
def phone(client, driver):
    return Phone(client, driver)


def stored(driver):
    return list(
        Position.objects.filter(driver=driver)
        .order_by("recorded_at")
        .values_list("recorded_at", "lat", "lng")
    )


# Storing ------------------------------------------------------------------------------------------


def test_a_batch_is_stored_for_the_calling_driver(phone, driver, now):
    t1, t2 = now - timedelta(seconds=20), now - timedelta(seconds=10)
    response = phone.send(
        [
            point(t1, accuracy_m=8, speed_mps=9.5, heading_deg=270, battery_pct=81),
            point(t2, NEARBY),
        ]
    )

    assert response.status_code == 200, response.content
    assert response.json() == counts(accepted=2)
    assert stored(driver) == [(t1, *PAULISTA), (t2, *NEARBY)]
    first = Position.objects.get(driver=driver, recorded_at=t1)
    assert first.account_id == driver.account_id
    assert (first.accuracy_m, first.speed_mps, first.heading_deg, first.battery_pct) == (
        8,
        9.5,
        270,
        81,
    )
    assert first.route_id is None
    assert first.received_at >= now


def test_duplicates_in_the_batch_and_across_batches_are_counted_not_stored(phone, driver, now):
    t1, t2, t3 = (now - timedelta(seconds=s) for s in (30, 20, 10))
    # The same moment written with another offset is the same point.
    same_as_t1 = t1.astimezone(timezone.get_fixed_timezone(-180)).isoformat()

    first = phone.send([point(t1), point(t2), point(t1), {**point(t1), "recorded_at": same_as_t1}])
    again = phone.send([point(t1), point(t2), point(t3)])

    assert first.json() == counts(accepted=2, duplicates=2)
    assert again.json() == counts(accepted=1, duplicates=2)
    assert [row[0] for row in stored(driver)] == [t1, t2, t3]


def test_points_out_of_order_are_stored_and_read_in_phone_time(phone, driver, now):
    times = [now - timedelta(seconds=s) for s in (50, 40, 30, 20, 10)]
    phone.send([point(times[4]), point(times[1])])
    # An offline phone's older points arrive after newer ones.
    response = phone.send([point(times[3]), point(times[0]), point(times[2])])

    assert response.json() == counts(accepted=3)
    assert [row[0] for row in stored(driver)] == times


def test_readings_that_make_no_sense_are_dropped_and_the_point_kept(phone, driver, now):
    response = phone.send([point(now, speed_mps=-1, heading_deg=-1, battery_pct=140)])

    assert response.json() == counts(accepted=1)
    row = Position.objects.get(driver=driver)
    assert (row.speed_mps, row.heading_deg, row.battery_pct) == (None, None, None)


# Impossible points --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "where", "extra"),
    [
        pytest.param(timedelta(minutes=-6), PAULISTA, {}, id="future"),
        pytest.param(timedelta(days=8), PAULISTA, {}, id="too-old"),
        pytest.param(timedelta(0), (90.5, -46.6), {}, id="lat-out-of-range"),
        pytest.param(timedelta(0), (-23.5, 180.1), {}, id="lng-out-of-range"),
        pytest.param(timedelta(0), (0, 0), {}, id="null-island"),
        pytest.param(timedelta(0), PAULISTA, {"accuracy_m": 1500}, id="inaccurate"),
        pytest.param(timedelta(0), PAULISTA, {"accuracy_m": -1}, id="no-fix"),
    ],
)
def test_impossible_points_are_rejected_and_counted(phone, driver, now, age, where, extra):
    good = point(now - timedelta(minutes=10))
    response = phone.send([good, point(now - age, where, **extra)])

    assert response.status_code == 200
    assert response.json() == counts(accepted=1, rejected=1)
    assert len(stored(driver)) == 1


@pytest.mark.parametrize(
    ("age", "where", "extra"),
    [
        pytest.param(timedelta(minutes=-4), PAULISTA, {}, id="clock-a-little-ahead"),
        pytest.param(timedelta(days=6, hours=23), PAULISTA, {}, id="a-week-offline"),
        pytest.param(timedelta(0), (-89.9, 179.9), {}, id="far-corner"),
        pytest.param(timedelta(0), (0, 0.001), {}, id="near-null-island"),
        pytest.param(timedelta(0), PAULISTA, {"accuracy_m": 1000}, id="accuracy-1-km"),
    ],
)
def test_points_near_the_limits_are_accepted(phone, now, age, where, extra):
    response = phone.send([point(now - age, where, **extra)])

    assert response.json() == counts(accepted=1)


def test_a_teleport_within_the_batch_is_rejected(phone, driver, now):
    t1, t2, t3 = (now - timedelta(seconds=s) for s in (30, 20, 10))
    # 10 s after Paulista, in Rio de Janeiro; 10 s later back on Paulista.
    response = phone.send([point(t1), point(t2, (-22.9068, -43.1729)), point(t3, NEARBY)])

    assert response.json() == counts(accepted=2, rejected=1)
    assert [row[0] for row in stored(driver)] == [t1, t3]


def test_a_teleport_from_the_last_stored_point_is_rejected(phone, driver, now):
    phone.send([point(now - timedelta(seconds=60))])

    response = phone.send([point(now - timedelta(seconds=50), (-22.9068, -43.1729))])

    assert response.json() == counts(rejected=1)


def test_a_wrong_stored_point_does_not_block_the_points_after_it(phone, driver, now):
    # A bad point got in first (nothing to compare it with): Rio de Janeiro.
    phone.send([point(now - timedelta(seconds=60), (-22.9068, -43.1729))])

    # Two points that agree with each other and not with it: the stored one was wrong.
    response = phone.send(
        [point(now - timedelta(seconds=50)), point(now - timedelta(seconds=40), NEARBY)]
    )

    assert response.json() == counts(accepted=2)
    driver.refresh_from_db()
    assert (driver.last_lat, driver.last_lng) == NEARBY


# The route and the driver -------------------------------------------------------------------------


def make_route(driver, services=None):
    services = services or [
        ServiceFactory(account=driver.account, lat=-23.5570, lng=-46.6620, deadline=None),
        ServiceFactory(account=driver.account, lat=-23.5505, lng=-46.6333, deadline=None),
    ]
    route = actions.route_create(
        account=driver.account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=services,
    )
    cache.delete(positions._eta_throttle_key(route.pk))
    return route


def test_points_get_the_route_in_progress_at_their_time(phone, driver, now):
    route = make_route(driver)
    early = now - timedelta(hours=2)
    phone.send([point(early)])  # the route is only planned
    actions.route_start(
        route=route, actor=Actor.for_driver(driver), recorded_at=now - timedelta(hours=1)
    )

    # Sent late: a point from before the start and one after it.
    response = phone.send(
        [point(now - timedelta(minutes=90)), point(now - timedelta(minutes=30), NEARBY)]
    )

    assert response.json() == counts(accepted=2)
    routes = dict(Position.objects.filter(driver=driver).values_list("recorded_at", "route_id"))
    assert routes == {
        early: None,
        now - timedelta(minutes=90): None,
        now - timedelta(minutes=30): route.pk,
    }
    path = route.positions.order_by("recorded_at").values_list("lat", "lng")
    assert list(path) == [NEARBY]


def test_late_points_of_a_finished_route_still_get_it(phone, driver, now):
    route = make_route(driver)
    actor = Actor.for_driver(driver)
    actions.route_start(route=route, actor=actor, recorded_at=now - timedelta(hours=3))
    actions.route_finish(route=route, actor=actor, recorded_at=now - timedelta(hours=1))

    phone.send([point(now - timedelta(hours=2)), point(now - timedelta(minutes=30), NEARBY)])

    routes = list(Position.objects.order_by("recorded_at").values_list("route_id", flat=True))
    assert routes == [route.pk, None]


def test_a_finished_route_stores_the_distance_its_positions_travelled(phone, driver, now):
    route = make_route(driver)
    actor = Actor.for_driver(driver)
    actions.route_start(route=route, actor=actor, recorded_at=now - timedelta(hours=1))
    # 1.1 km north in 100 m steps (0.0009° of latitude), then ten minutes parked at a stop
    # with the GPS wandering 5-8 m around it, and one reading 300 m off but 500 m inaccurate.
    drive = [
        point(now - timedelta(minutes=50) + timedelta(seconds=10 * i),
              (PAULISTA[0] + 0.0009 * i, PAULISTA[1]), accuracy_m=8)
        for i in range(12)
    ]  # fmt: skip
    parked = (PAULISTA[0] + 0.0009 * 11, PAULISTA[1])
    wander = [
        point(now - timedelta(minutes=40) + timedelta(seconds=30 * i),
              (parked[0] + (-1) ** i * 0.00005, parked[1] + 0.00004 * (i % 3)), accuracy_m=10)
        for i in range(20)
    ]  # fmt: skip
    off = point(now - timedelta(minutes=20), (parked[0] + 0.0027, parked[1]), accuracy_m=500)
    assert phone.send(drive + wander + [off]).json() == counts(accepted=33)

    actions.route_finish(route=route, actor=actor, recorded_at=now - timedelta(minutes=10))

    route.refresh_from_db()
    assert 1090 <= route.travelled_distance_m <= 1110  # 11 steps of 100 m; parked adds nothing

    # The phone comes back into coverage after the finish with points from before it.
    late = [
        point(now - timedelta(minutes=15) + timedelta(seconds=10 * i),
              (parked[0] + 0.0009 * i, parked[1]), accuracy_m=8)
        for i in range(1, 4)
    ]  # fmt: skip
    assert phone.send(late).json() == counts(accepted=3)
    route.refresh_from_db()
    assert 1390 <= route.travelled_distance_m <= 1410


def test_the_drivers_latest_point_moves_only_forward(phone, driver, now):
    newer, older = now - timedelta(seconds=10), now - timedelta(seconds=120)
    phone.send([point(newer - timedelta(seconds=30)), point(newer, NEARBY, battery_pct=64)])
    driver.refresh_from_db()
    assert (driver.last_lat, driver.last_lng, driver.last_position_at) == (*NEARBY, newer)
    assert driver.battery_pct == 64

    response = phone.send([point(older, PAULISTA, battery_pct=90)])

    assert response.json() == counts(accepted=1)
    driver.refresh_from_db()
    assert (driver.last_lat, driver.last_lng, driver.last_position_at) == (*NEARBY, newer)
    assert driver.battery_pct == 64


def test_positions_always_go_to_the_calling_driver(client, account_a, account_b, driver, now):
    other = DriverFactory(account=account_b, username="rui")
    phone = Phone(client, other, device_id="phone-2")

    # A body naming someone else changes nothing: the token says who sends.
    response = phone.send([{**point(now), "driver": driver.pk, "driver_id": driver.pk}])

    assert response.json() == counts(accepted=1)
    assert stored(driver) == []
    row = Position.objects.get()
    assert (row.driver_id, row.account_id) == (other.pk, account_b.pk)


# Requests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, positions.MAX_BATCH + 1])
def test_a_batch_of_the_wrong_size_is_a_422(phone, now, size):
    response = phone.send([point(now - timedelta(seconds=i)) for i in range(size)])

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "positions" in error["fields"]


@pytest.mark.parametrize(
    "bad",
    [
        {"lat": "north"},
        {"recorded_at": "2030-03-04T10:00:00"},  # no offset
        {"recorded_at": None},
        {"lng": None},
        {"battery_pct": 12.5},
    ],
)
def test_a_malformed_point_is_a_422_naming_it(phone, now, bad):
    response = phone.send([point(now), {**point(now - timedelta(seconds=5)), **bad}])

    assert response.status_code == 422
    assert any(name.startswith("positions.1") for name in response.json()["error"]["fields"])
    assert not Position.objects.exists()


def test_a_body_without_positions_is_a_422(phone):
    assert phone.post({}).status_code == 422
    assert phone.post({"positions": "none"}).status_code == 422


def test_without_a_token_it_is_a_401(client, now):
    response = client.post(URL, {"positions": [point(now)]}, content_type="application/json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_revoked_token_is_a_401(client, driver, now):
    phone = Phone(client, driver)
    Phone(client, driver)  # logging in again from the same device revokes the first token

    assert phone.send([point(now)]).status_code == 401


def test_a_replay_with_the_same_key_answers_the_first_counts(phone, driver, now):
    batch = [point(now - timedelta(seconds=10)), point(now, NEARBY)]

    first = phone.send(batch, key="batch-1")
    replay = phone.send(batch, key="batch-1")

    assert first.json() == replay.json() == counts(accepted=2)
    assert len(stored(driver)) == 2
    # Without the key, the same batch is answered as duplicates.
    assert phone.send(batch).json() == counts(duplicates=2)
    # The same key for another body is refused.
    other = phone.send([point(now - timedelta(seconds=30))], key="batch-1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_batch_of_100_takes_a_constant_number_of_queries(
    phone, driver, now, django_assert_max_num_queries
):
    route = make_route(driver)
    actions.route_start(
        route=route, actor=Actor.for_driver(driver), recorded_at=now - timedelta(hours=1)
    )
    cache.add(positions._eta_throttle_key(route.pk), 1, 30)  # the ETA refresh is another matter
    batch = [
        point(now - timedelta(seconds=2 * i), (PAULISTA[0] + i * 1e-4, PAULISTA[1]))
        for i in range(100)
    ]

    # Token, route, the insert (two statements on SQLite), the driver, a savepoint and its release.
    with django_assert_max_num_queries(8):
        response = phone.send(batch)

    assert response.json() == counts(accepted=100)


# ETA refresh --------------------------------------------------------------------------------------


def test_positions_refresh_the_routes_eta_at_most_every_30_s(
    phone, driver, now, django_capture_on_commit_callbacks
):
    route = make_route(driver)
    actions.route_start(
        route=route, actor=Actor.for_driver(driver), recorded_at=now - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        phone.send([point(now - timedelta(seconds=20))])
    stops = list(route.stops.order_by("sequence"))
    first_refresh = stops[0].eta_computed_at
    assert first_refresh is not None
    assert all(stop.eta and stop.eta_earliest <= stop.eta <= stop.eta_latest for stop in stops)
    route.refresh_from_db()
    assert route.eta_refreshed_at == first_refresh

    with django_capture_on_commit_callbacks(execute=True):
        phone.send([point(now - timedelta(seconds=10), NEARBY)])
    assert route.stops.order_by("sequence")[0].eta_computed_at == first_refresh

    # 30 s later (the throttle expired), the next batch refreshes it again.
    cache.delete(positions._eta_throttle_key(route.pk))
    with django_capture_on_commit_callbacks(execute=True):
        phone.send([point(now, NEARBY)])
    assert route.stops.order_by("sequence")[0].eta_computed_at > first_refresh


def test_positions_without_a_route_in_progress_queue_no_refresh(
    phone, driver, now, django_capture_on_commit_callbacks
):
    route = make_route(driver)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        phone.send([point(now)])

    assert callbacks == []
    assert route.stops.filter(eta_computed_at__isnull=False).count() == 0


def test_the_minute_sweep_refreshes_routes_whose_eta_is_stale(
    driver, now, django_capture_on_commit_callbacks
):
    from routes.tasks import refresh_active_etas

    route = make_route(driver)
    planned = make_route(DriverFactory(account=driver.account))
    actions.route_start(route=route, actor=Actor.for_driver(driver), recorded_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert refresh_active_etas.delay().get() == 1

    route.refresh_from_db()
    assert route.eta_refreshed_at is not None
    assert route.stops.filter(status=StopStatus.PENDING, eta_computed_at__isnull=True).count() == 0
    assert planned.stops.filter(eta_computed_at__isnull=False).count() == 0
    # Refreshed just now: the next sweep leaves it.
    with django_capture_on_commit_callbacks(execute=True):
        assert refresh_active_etas.delay().get() == 0
    assert route.status == RouteStatus.IN_PROGRESS


# PostgreSQL ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_counts_are_exact_on_postgresql(postgres, phone, driver, now):
    times = [now - timedelta(seconds=s) for s in range(120, 0, -1)]
    first = phone.send([point(t, extra_lat(i)) for i, t in enumerate(times[:100])])
    # Overlapping, with a repeat inside the batch and out of order.
    newest_first = [point(t, extra_lat(i)) for i, t in reversed(list(enumerate(times)))]
    second = phone.send([*newest_first[:60], point(times[-1], extra_lat(119))])

    assert first.json() == counts(accepted=100)
    assert second.json() == counts(accepted=20, duplicates=41)
    assert Position.objects.filter(driver=driver).count() == 120


def extra_lat(i):
    return (PAULISTA[0] + i * 1e-5, PAULISTA[1])
