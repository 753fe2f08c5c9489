"""The live tracking page and its data endpoint: who sees which routes (managers and operators
their account's or branch's, carrier users their carrier's, nobody another account's), the
filters, deadline compliance, online and stale drivers, the travelled distance and path, the
changes-only payload, and a constant number of queries whatever the number of routes."""

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from routes import tracking_selectors as tracking
from routes.models import Position, Route, RouteStatus, Stop, StopStatus
from scheduling.models import Schedule
from tests.factories import (
    BranchFactory,
    CarrierFactory,
    CustomerFactory,
    DeliveryWindowFactory,
    DriverFactory,
    PartnerFactory,
    ServiceFactory,
    UserFactory,
)
from tracking.lib.geo import haversine_m

pytestmark = pytest.mark.django_db

PAGE = reverse("routes:tracking")
DATA = reverse("routes:tracking_data")
START = (-23.55, -46.70)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def make_route(account, *, driver=None, stops=2, day=None, status=RouteStatus.PLANNED,
               branch=None, carrier=None, name="Ana", **fields):  # fmt: skip
    """A route of `stops` stops along a line east of START, one service each (no deadline)."""
    driver = driver or DriverFactory(
        account=account, first_name=name, last_name="Lima", carrier=carrier, branch=branch
    )
    running = status in (RouteStatus.IN_PROGRESS, RouteStatus.FINISHED)
    fields.setdefault("started_at", timezone.now() - timedelta(hours=1) if running else None)
    route = Route.objects.create(
        account=account,
        driver=driver,
        vehicle=driver.vehicle,
        branch=branch,
        carrier=carrier,
        date=day or account.today(),
        status=status,
        planned_distance_m=12_300,
        planned_duration_s=2 * 3600,
        **fields,
    )
    for k in range(1, stops + 1):
        service = ServiceFactory(
            account=account,
            lat=START[0],
            lng=START[1] + 0.01 * k,
            deadline=None,
            customer=CustomerFactory(account=account, name=f"{name} customer {k}"),
        )
        Stop.objects.create(account=account, route=route, service=service, sequence=k)
    return route


def add_positions(route, points, *, start=None):
    """Positions of the route's driver one minute apart (the last one the driver's latest)."""
    start = start or timezone.now() - timedelta(minutes=len(points))
    driver = route.driver
    for index, (lat, lng) in enumerate(points):
        Position.objects.create(
            account=route.account,
            driver=driver,
            route=route,
            recorded_at=start + timedelta(minutes=index),
            lat=lat,
            lng=lng,
        )
    driver.last_lat, driver.last_lng = points[-1]
    driver.last_position_at = start + timedelta(minutes=len(points) - 1)
    driver.save(update_fields=["last_lat", "last_lng", "last_position_at"])


def readable(payload):
    """The payload with its items as dicts, as the page reads them (named by `columns`)."""
    columns = payload.get("columns", {})
    return payload | {
        kind: [
            values if isinstance(values, dict) else dict(zip(columns[kind], values, strict=True))
            for values in payload[kind]
        ]
        for kind in ("routes", "stops", "drivers")
        if kind in payload
    }


def snapshot_of(client, **params):
    response = client.get(DATA, params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return readable(response.json())


def route_ids(payload):
    return sorted(route["id"] for route in readable(payload)["routes"])


# Who sees the page --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["manager_a", "operator_a"])
def test_managers_and_operators_see_the_days_routes(client_of, request, persona, account_a):
    route = make_route(account_a, status=RouteStatus.IN_PROGRESS)
    make_route(account_a, day=account_a.today() - timedelta(days=1), name="Yesterday")
    client = client_of(request.getfixturevalue(persona))

    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="tracking-route"') == 2  # the route's row, the row template
    assert f'data-route="{route.pk}"' in html
    assert reverse("routes:detail", args=[route.pk]) in html  # the driver's name opens the route
    assert route_ids(page.context["payload"]) == [route.pk]
    assert route_ids(snapshot_of(client)) == [route.pk]


def test_a_carrier_user_sees_only_its_carriers_routes(client_of, account_a):
    carrier = CarrierFactory(account=account_a)
    ours = make_route(account_a, carrier=carrier, status=RouteStatus.IN_PROGRESS, name="Ours")
    make_route(account_a, carrier=CarrierFactory(account=account_a), name="Theirs")
    make_route(account_a, name="Own fleet")
    user = UserFactory(account=account_a, role=Role.CARRIER, carrier=carrier)
    client = client_of(user)

    page = client.get(PAGE)
    assert page.status_code == 200
    assert route_ids(page.context["payload"]) == [ours.pk]
    assert "carrier" not in page.context["form"].fields  # its own carrier only
    # The route's page is not in a carrier user's sections: the name is not a link.
    assert reverse("routes:detail", args=[ours.pk]) not in page.content.decode()
    assert page.context["config"]["detailUrl"] == ""
    assert route_ids(snapshot_of(client)) == [ours.pk]
    # Another carrier's id in the filter is refused, not obeyed.
    assert route_ids(snapshot_of(client, driver=Route.objects.get(driver__first_name="Theirs")
                                 .driver_id)) == [ours.pk]  # fmt: skip


def test_a_branch_operator_sees_only_its_branch(client_of, account_a):
    centre, north = BranchFactory(account=account_a), BranchFactory(account=account_a)
    ours = make_route(account_a, branch=centre)
    make_route(account_a, branch=north, name="North")
    client = client_of(UserFactory(account=account_a, role=Role.OPERATOR, branch=centre))
    assert route_ids(snapshot_of(client)) == [ours.pk]
    assert route_ids(snapshot_of(client, branch=north.pk)) == [ours.pk]


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CALL_CENTRE, Role.INTEGRATION])
def test_roles_without_the_section_get_a_404(client_of, account_a, role):
    make_route(account_a)
    user = UserFactory(
        account=account_a,
        role=role,
        partner=PartnerFactory(account=account_a) if role == Role.PARTNER else None,
    )
    client = client_of(user)
    assert client.get(PAGE).status_code == 404
    assert client.get(DATA).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client):
    for address in (PAGE, DATA):
        response = client.get(address)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_an_outsider_never_sees_another_accounts_routes(client_of, account_a, manager_b):
    theirs = make_route(account_a, status=RouteStatus.IN_PROGRESS, branch=BranchFactory(
        account=account_a), carrier=CarrierFactory(account=account_a))  # fmt: skip
    add_positions(theirs, [START, (START[0], START[1] + 0.01)])
    mine = make_route(manager_b.account, name="Mine")
    client = client_of(manager_b)

    page = client.get(PAGE, {"route": theirs.pk})
    assert page.status_code == 200
    assert route_ids(page.context["payload"]) == [mine.pk]
    assert "Ana customer" not in page.content.decode()
    # Another account's ids in every parameter: ignored, never a leak.
    for params in (
        {"route": theirs.pk, "after": 0},
        {"driver": theirs.driver_id},
        {"branch": theirs.branch_id},
        {"carrier": theirs.carrier_id},
    ):
        payload = snapshot_of(client, **params)
        assert route_ids(payload) == [mine.pk], params
        assert "track" not in payload
        assert {stop["route"] for stop in payload["stops"]} == {mine.pk}
        assert [driver["id"] for driver in payload["drivers"]] == [mine.driver_id]


# Filters ------------------------------------------------------------------------------------------


def test_filters_narrow_the_day(client_of, manager_a, account_a):
    today = account_a.today()
    branch, carrier = BranchFactory(account=account_a), CarrierFactory(account=account_a)
    planned = make_route(account_a, name="Planned")
    running = make_route(account_a, status=RouteStatus.IN_PROGRESS, branch=branch, name="Running")
    carried = make_route(account_a, carrier=carrier, name="Carried")
    itinerant = make_route(
        account_a, day=today - timedelta(days=2), end_date=today + timedelta(days=1), name="Trip"
    )
    make_route(account_a, day=today + timedelta(days=1), name="Tomorrow")
    client = client_of(manager_a)

    assert route_ids(snapshot_of(client)) == sorted(
        [planned.pk, running.pk, carried.pk, itinerant.pk]
    )
    assert route_ids(snapshot_of(client, status="in_progress")) == [running.pk]
    assert route_ids(snapshot_of(client, branch=branch.pk)) == [running.pk]
    assert route_ids(snapshot_of(client, carrier=carrier.pk)) == [carried.pk]
    assert route_ids(snapshot_of(client, driver=planned.driver_id)) == [planned.pk]
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert len(snapshot_of(client, date=tomorrow)["routes"]) == 2  # Tomorrow and the trip
    # A value that cannot be read is ignored: the day's routes, not an error.
    assert len(snapshot_of(client, date="not-a-date", status="bogus")["routes"]) == 4
    page = client.get(PAGE, {"status": "in_progress", "route": planned.pk})
    assert page.context["filtered"] is True
    assert route_ids(page.context["payload"]) == [running.pk]
    # The page's refreshes ask for the same filters (the selected route is the page's own).
    assert page.context["config"]["dataUrl"] == f"{DATA}?status=in_progress"


# Deadline compliance ----------------------------------------------------------------------------

NOW = datetime(2030, 3, 4, 13, 0, tzinfo=UTC)  # 10:00 in São Paulo


def at(hour, minute=0):
    return datetime(2030, 3, 4, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"eta": at(14), "eta_latest": at(14, 20)}, tracking.ON_TIME),
        ({"eta": at(14), "eta_latest": at(15, 30)}, tracking.AT_RISK),
        ({"eta": at(15, 10), "eta_latest": at(15, 30)}, tracking.LATE),
        ({"planned_arrival": at(14)}, tracking.ON_TIME),
        ({"planned_arrival": at(15, 5)}, tracking.LATE),
        ({}, tracking.ON_TIME),  # nothing expected yet, deadline ahead
        ({"status": StopStatus.ARRIVED, "arrived_at": at(14, 59), "eta_latest": at(16)},
         tracking.ON_TIME),
        ({"status": StopStatus.ARRIVED, "arrived_at": at(15, 1)}, tracking.LATE),
        ({"status": StopStatus.DONE, "eta": at(16)}, None),
        ({"status": StopStatus.FAILED}, None),
        ({"status": StopStatus.CANCELLED}, None),
    ],
)  # fmt: skip
def test_stop_compliance_compares_the_eta_with_the_due_time(fields, expected):
    fields.setdefault("status", StopStatus.PENDING)
    assert tracking.stop_compliance(due_at=at(15), now=NOW, **fields) == expected


def test_a_stop_still_open_after_its_due_time_is_late_whatever_its_eta():
    late_now = at(15, 1)
    assert tracking.stop_compliance(
        status=StopStatus.IN_PROGRESS, due_at=at(15), now=late_now, eta=at(14)
    ) == tracking.LATE  # fmt: skip
    assert tracking.stop_compliance(status=StopStatus.PENDING, due_at=None, now=NOW) is None


def test_the_due_time_is_the_deadline_or_the_window_end_whichever_first():
    day, zone = NOW.date(), "America/Sao_Paulo"
    assert tracking.stop_due_s(deadline_s=None) is None
    assert tracking.stop_due_s(deadline_s=at(20).timestamp()) == at(20).timestamp()
    window_end = tracking.stop_due_s(
        deadline_s=at(20).timestamp(), window_day=day, window_end=time(12), time_zone=zone
    )
    assert window_end == at(15).timestamp()  # 12:00 in São Paulo
    assert tracking.stop_due_s(
        deadline_s=at(14).timestamp(), window_day=day, window_end=time(12), time_zone=zone
    ) == at(14).timestamp()  # fmt: skip
    assert tracking.stop_due_s(
        deadline_s=None, window_day=day, window_end=time(12), time_zone=zone
    ) == at(15).timestamp()  # fmt: skip


def test_the_route_shows_the_worst_compliance_of_its_open_stops(client_of, manager_a, account_a):
    route = make_route(account_a, stops=6, status=RouteStatus.IN_PROGRESS)
    stops = list(route.stops.order_by("sequence").select_related("service"))
    now = timezone.now()
    soon, later = now + timedelta(hours=1), now + timedelta(hours=3)
    window = DeliveryWindowFactory(account=account_a, start=time(0, 0), end=time(0, 1))

    def due(stop, deadline):
        stop.service.deadline = deadline
        stop.service.save(update_fields=["deadline"])

    due(stops[0], later)  # on time
    Stop.objects.filter(pk=stops[0].pk).update(eta=soon, eta_latest=soon + timedelta(minutes=10))
    due(stops[1], later)  # at risk: the window's latest end is after the deadline
    Stop.objects.filter(pk=stops[1].pk).update(eta=soon, eta_latest=later + timedelta(hours=1))
    due(stops[2], soon)  # late: expected after the deadline
    Stop.objects.filter(pk=stops[2].pk).update(eta=later, eta_latest=later)
    # Late by its window: the window ended at 00:01 today.
    Schedule.objects.create(
        account=account_a, service=stops[3].service, date=account_a.today(), window=window,
        origin="back_office",
    )  # fmt: skip
    Stop.objects.filter(pk=stops[3].pk).update(eta=soon, eta_latest=soon)
    due(stops[4], now - timedelta(minutes=1))  # done after its deadline: not open, not counted
    Stop.objects.filter(pk=stops[4].pk).update(status=StopStatus.DONE)
    # stops[5]: no deadline, no window.

    payload = snapshot_of(client_of(manager_a))
    by_id = {stop["id"]: stop for stop in payload["stops"]}
    assert [by_id[stop.pk]["compliance"] for stop in stops] == [
        tracking.ON_TIME, tracking.AT_RISK, tracking.LATE, tracking.LATE, None, None,
    ]  # fmt: skip
    assert by_id[stops[0].pk]["eta"] == timezone.localtime(soon, account_a.tzinfo).strftime("%H:%M")
    assert by_id[stops[3].pk]["due"] == "00:01"
    (summary,) = payload["routes"]
    assert summary["compliance"] == tracking.LATE
    assert (summary["late"], summary["at_risk"]) == (2, 1)
    assert (summary["done"], summary["failed"], summary["left"], summary["total"]) == (1, 0, 5, 6)


# Drivers: online, stale, battery -------------------------------------------------------------


def test_drivers_are_online_and_fresh_within_five_minutes():
    now = NOW
    assert tracking.driver_online(last_seen_at=now - timedelta(minutes=4), last_position_at=None,
                                  now=now)  # fmt: skip
    assert tracking.driver_online(
        last_seen_at=now - timedelta(hours=1), last_position_at=now - timedelta(seconds=30), now=now
    )
    assert not tracking.driver_online(
        last_seen_at=now - timedelta(minutes=6), last_position_at=now - timedelta(minutes=5),
        now=now,
    )  # fmt: skip
    assert not tracking.driver_online(last_seen_at=None, last_position_at=None, now=now)
    assert not tracking.position_stale(now - timedelta(minutes=4, seconds=59), now=now)
    assert tracking.position_stale(now - timedelta(minutes=5), now=now)
    assert tracking.position_stale(None, now=now)


def test_the_payload_says_where_each_driver_is_and_how_fresh(client_of, manager_a, account_a):
    fresh = make_route(account_a, status=RouteStatus.IN_PROGRESS, name="Fresh")
    add_positions(fresh, [START, (START[0], START[1] + 0.01)])
    fresh.driver.battery_pct = 64
    fresh.driver.save(update_fields=["battery_pct"])
    old = make_route(account_a, status=RouteStatus.IN_PROGRESS, name="Old")
    add_positions(old, [START], start=timezone.now() - timedelta(minutes=20))
    never = make_route(account_a, name="Never")
    # A position from yesterday does not put a driver of a planned route on today's map.
    never.driver.last_lat, never.driver.last_lng = START
    never.driver.last_position_at = timezone.now() - timedelta(days=1)
    never.driver.save()

    drivers = {driver["name"]: driver for driver in snapshot_of(client_of(manager_a))["drivers"]}
    assert drivers["Fresh Lima"] | {"at": None} == {
        "id": fresh.driver_id, "name": "Fresh Lima", "route": fresh.pk, "lat": START[0],
        "lng": START[1] + 0.01, "at": None, "battery": 64, "online": True, "stale": False,
    }  # fmt: skip
    assert drivers["Old Lima"]["lat"] == START[0]
    assert (drivers["Old Lima"]["online"], drivers["Old Lima"]["stale"]) == (False, True)
    assert drivers["Never Lima"]["lat"] is None
    assert (drivers["Never Lima"]["online"], drivers["Never Lima"]["stale"]) == (False, True)


def test_a_driver_with_two_routes_is_drawn_once_with_the_one_under_way(
    client_of, manager_a, account_a
):
    driver = DriverFactory(account=account_a)
    make_route(account_a, driver=driver, status=RouteStatus.FINISHED)
    running = make_route(account_a, driver=driver, status=RouteStatus.IN_PROGRESS)
    make_route(account_a, driver=driver)
    drivers = snapshot_of(client_of(manager_a))["drivers"]
    assert [(item["id"], item["route"]) for item in drivers] == [(driver.pk, running.pk)]


# Distance and path --------------------------------------------------------------------------------


def test_the_travelled_distance_sums_the_positions_and_counts_new_ones_only(
    client_of, manager_a, account_a
):
    route = make_route(account_a, status=RouteStatus.IN_PROGRESS)
    points = [(START[0], START[1] + 0.001 * k) for k in range(5)]
    start = timezone.now() - timedelta(minutes=30)
    add_positions(route, points, start=start)
    expected = sum(haversine_m(a, b) for a, b in pairwise(points))
    client = client_of(manager_a)
    assert snapshot_of(client)["routes"][0]["travelled_m"] == round(expected)

    # New points: the next refresh reads only those (and adds the leg from the last one counted).
    more = [(START[0] + 0.001, START[1] + 0.004), (START[0] + 0.002, START[1] + 0.004)]
    add_positions(route, more, start=start + timedelta(minutes=10))
    expected += haversine_m(points[-1], more[0]) + haversine_m(more[0], more[1])
    with CaptureQueriesContext(connection) as captured:
        travelled = snapshot_of(client)["routes"][0]["travelled_m"]
    assert travelled == round(expected)
    (read,) = [q["sql"] for q in captured.captured_queries if "routes_position" in q["sql"]]
    assert "recorded_at" in read.split("WHERE", 1)[1]  # from the cursor, not every point
    # The planned distance is beside it, in metres.
    assert snapshot_of(client)["routes"][0]["planned_m"] == 12_300


def test_the_selected_routes_path_comes_whole_then_only_what_is_new(
    client_of, manager_a, account_a
):
    route = make_route(account_a, status=RouteStatus.IN_PROGRESS)
    other = make_route(account_a, status=RouteStatus.IN_PROGRESS, name="Other")
    start = timezone.now() - timedelta(minutes=30)
    add_positions(route, [START, (START[0], START[1] + 0.01)], start=start)
    add_positions(other, [(0.5, 0.5)], start=start)
    client = client_of(manager_a)

    assert "track" not in snapshot_of(client)  # no route selected: no path
    track = snapshot_of(client, route=route.pk)["track"]
    assert track["route"] == route.pk and track["reset"] is True
    assert track["points"] == [list(START), [START[0], START[1] + 0.01]]
    add_positions(route, [(START[0], START[1] + 0.02)], start=start + timedelta(minutes=5))
    newer = snapshot_of(client, route=route.pk, after=track["after"])["track"]
    assert newer["reset"] is False
    assert newer["points"] == [[START[0], START[1] + 0.02]]
    again = snapshot_of(client, route=route.pk, after=newer["after"])["track"]
    assert again["points"] == [] and again["after"] == newer["after"]
    # A route id that is not on the page (not a number, not in the view) gets no path.
    assert "track" not in snapshot_of(client, route="x")
    assert "track" not in snapshot_of(client, route=route.pk, status="planned")


def test_a_long_path_is_thinned_keeping_its_last_point(monkeypatch, account_a):
    route = make_route(account_a, status=RouteStatus.IN_PROGRESS)
    add_positions(route, [(START[0], START[1] + 0.0001 * k) for k in range(25)])
    monkeypatch.setattr(tracking, "TRACK_POINTS", 10)
    points = tracking.route_track(route_id=route.pk)["points"]
    assert len(points) <= 11
    assert points[0] == list(START) and points[-1] == [START[0], START[1] + 0.0024]


# The payload: changes only ------------------------------------------------------------------------


def test_a_refresh_sends_only_what_changed_since_the_pages_version(client_of, manager_a, account_a):
    route = make_route(account_a, stops=3, status=RouteStatus.IN_PROGRESS)
    add_positions(route, [START])
    make_route(account_a, name="Quiet")
    client = client_of(manager_a)
    first = readable(client.get(PAGE).context["payload"])
    assert first["full"] is True
    assert len(first["routes"]) == 2 and len(first["stops"]) == 5 and len(first["drivers"]) == 2

    nothing = snapshot_of(client, since=first["version"])
    assert nothing["version"] == first["version"]
    assert nothing["full"] is False
    assert set(nothing) == {"version", "full", "now"}  # a quiet refresh is a few bytes

    # The driver moves and completes the first stop; a planned stop of the other is removed.
    stop = route.stops.order_by("sequence").first()
    Stop.objects.filter(pk=stop.pk).update(status=StopStatus.DONE)
    add_positions(route, [(START[0], START[1] + 0.01)])
    removed = Stop.objects.filter(route__driver__first_name="Quiet").last()
    removed_pk = removed.pk
    removed.delete()
    changes = snapshot_of(client, since=first["version"])
    assert changes["full"] is False
    assert [item["id"] for item in changes["stops"]] == [stop.pk]
    assert changes["stops"][0]["status"] == StopStatus.DONE
    assert [item["id"] for item in changes["drivers"]] == [route.driver_id]
    assert changes["drivers"][0]["lng"] == START[1] + 0.01
    assert sorted(item["id"] for item in changes["routes"]) == sorted([route.pk, removed.route_id])
    assert changes["removed"] == {"routes": [], "stops": [removed_pk], "drivers": []}

    # A version the server no longer has (or never had): everything again.
    for since in ("0" * 24, "garbage", ""):
        assert snapshot_of(client, since=since)["full"] is True


def test_changes_are_never_computed_from_another_users_snapshot(client_of, manager_a, account_a):
    make_route(account_a)
    version = client_of(manager_a).get(DATA).json()["version"]
    # A branch operator sees none of it: the manager's version is unknown to them.
    operator = UserFactory(
        account=account_a, role=Role.OPERATOR, branch=BranchFactory(account=account_a)
    )
    payload = snapshot_of(client_of(operator), since=version)
    assert payload["full"] is True
    assert "removed" not in payload and payload["routes"] == []


# Queries ----------------------------------------------------------------------------------------


def busy_day(account, count):
    branch, carrier = BranchFactory(account=account), CarrierFactory(account=account)
    window = DeliveryWindowFactory(account=account)
    for index in range(count):
        route = make_route(
            account, stops=3, status=RouteStatus.IN_PROGRESS, branch=branch, carrier=carrier,
            name=f"Driver{index}",
        )  # fmt: skip
        first = route.stops.select_related("service").first()
        Schedule.objects.create(
            account=account, service=first.service, date=account.today(), window=window,
            origin="back_office",
        )  # fmt: skip
        add_positions(route, [START, (START[0], START[1] + 0.01)])
    return route


def count_queries(client, url, params):
    client.get(url, params)  # the session's first request does a little more
    cache.clear()  # the travelled distances read from scratch: the worst case
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_the_number_of_queries_does_not_grow_with_the_routes(client_of, manager_a, account_a, url):
    client = client_of(manager_a)
    last = busy_day(account_a, 2)
    params = {"route": last.pk}
    few = count_queries(client, url, params)
    last = busy_day(account_a, 18)
    params = {"route": last.pk}
    many = count_queries(client, url, params)
    assert len(snapshot_of(client)["routes"]) == 20
    assert many == few
    # Session, user and account, then routes, stops, positions (and the selected path).
    if url == DATA:
        assert few <= 7


def test_a_quiet_refresh_reads_no_positions(client_of, manager_a, account_a):
    busy_day(account_a, 3)
    client = client_of(manager_a)
    version = snapshot_of(client)["version"]
    with CaptureQueriesContext(connection) as captured:
        assert snapshot_of(client, since=version)["version"] == version
    assert not [q for q in captured.captured_queries if "routes_position" in q["sql"]]
