"""The dashboard's alerts: stops running late, drivers offline or stopped, today's failures and
unread chat messages, from hand-made routes; scoped to the user; on the home page."""

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import FailureReason, Role
from routes import actions, alerts
from routes.models import (
    Conversation,
    Message,
    MessageAuthor,
    Position,
    RouteStatus,
    Stop,
    StopStatus,
)
from scheduling.models import Origin, Schedule
from services.actions import Actor
from tests.factories import (
    BranchFactory,
    CustomerFactory,
    DeliveryWindowFactory,
    DriverFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TZ = zoneinfo.ZoneInfo("America/Sao_Paulo")  # the accounts' default (UTC-3, no DST in 2030)
NOW = datetime(2030, 3, 4, 14, 0, tzinfo=TZ)
HERE = (-23.55, -46.70)
METRE = 1 / 111_320  # about one metre of latitude, in degrees


def minutes(count, now=NOW):
    return now + timedelta(minutes=count)


def running_route(account, branch, name, *, started_at, deadlines=(None,), now=NOW):
    """A route in progress of driver `name` (first and last), one stop per deadline."""
    first, last = name.split()
    driver = DriverFactory(account=account, branch=branch, first_name=first, last_name=last)
    services = [
        ServiceFactory(
            account=account, branch=branch, lat=HERE[0], lng=HERE[1] + 0.01 * (k + 1),
            deadline=deadline, customer=CustomerFactory(account=account, name=f"{first} {k + 1}"),
        )
        for k, deadline in enumerate(deadlines)
    ]  # fmt: skip
    route = actions.route_create(
        account=account, actor=Actor.system(), driver=driver, vehicle=driver.vehicle,
        day=timezone.localdate(now, TZ), services=services, branch=branch,
    )  # fmt: skip
    route = actions.route_start(route=route, actor=Actor.for_driver(driver), recorded_at=started_at)
    return route, list(route.stops.order_by("sequence"))


def seen(route, at):
    route.driver.last_position_at = at
    route.driver.last_lat, route.driver.last_lng = HERE
    route.driver.save()


def track(route, points):
    """Positions of the route: (time, metres north of HERE)."""
    Position.objects.bulk_create(
        Position(
            account_id=route.account_id, driver=route.driver, route=route, recorded_at=at,
            lat=HERE[0] + north_m * METRE, lng=HERE[1],
        )
        for at, north_m in points
    )  # fmt: skip


def set_stop(stop, **values):
    Stop.objects.filter(pk=stop.pk).update(**values)


def scene(account, branch, now=NOW):
    """One of each alert, and near misses of each that must not be alerts. Returns the
    alerts expected, newest first, as (kind, route id, stop id, at, extra)."""
    # Late: a deadline the ETA will miss, one it will not, one passed without an ETA, a window
    # that ended, and a done stop long past its deadline.
    late, stops = running_route(
        account, branch, "Lia Late", started_at=minutes(-180, now),
        deadlines=[minutes(10, now), minutes(60, now), minutes(-5, now), None, minutes(-90, now)],
    )  # fmt: skip
    misses, keeps, passed, windowed, done = stops
    set_stop(misses, eta=minutes(30, now))
    set_stop(keeps, eta=minutes(30, now))
    set_stop(passed, eta=None, planned_arrival=None)
    # A window that ended two hours ago (from midnight, so it never spans two days).
    window_end = minutes(-120, now).astimezone(TZ)
    window = DeliveryWindowFactory(account=account, start=time(0), end=window_end.time())
    Schedule.objects.create(
        account=account, service=windowed.service, date=window_end.date(), window=window,
        origin=Origin.BACK_OFFICE,
    )  # fmt: skip
    set_stop(windowed, eta=minutes(5, now))
    set_stop(done, status=StopStatus.DONE, left_at=minutes(-60, now))
    seen(late, minutes(-1, now))
    track(late, [(minutes(-30, now), 2000), (minutes(-1, now), 0)])  # driving

    # Offline for 15 minutes; and a route started 5 minutes ago that has sent nothing yet.
    offline, _ = running_route(account, branch, "Otto Offline", started_at=minutes(-120, now))
    seen(offline, minutes(-15, now))
    running_route(account, branch, "Jo New", started_at=minutes(-5, now))

    # Within a few metres since 25 minutes ago; and one that got there 15 minutes ago.
    stopped, _ = running_route(account, branch, "Sara Stopped", started_at=minutes(-120, now))
    seen(stopped, minutes(-1, now))
    track(stopped, [(minutes(-30, now), 0), (minutes(-25, now), 10), (minutes(-10, now), 5),
                    (minutes(-1, now), 0)])  # fmt: skip
    recent, _ = running_route(account, branch, "Rui Recent", started_at=minutes(-120, now))
    seen(recent, minutes(-1, now))
    track(recent, [(minutes(-30, now), 1000), (minutes(-15, now), 0), (minutes(-1, now), 3)])

    # Failed today (a finished route), and yesterday.
    finished, (today_stop, yesterday_stop) = running_route(
        account, branch, "Fabi Failed", started_at=minutes(-300, now), deadlines=[None, None]
    )
    seen(finished, minutes(-50, now))
    type(finished).objects.filter(pk=finished.pk).update(status=RouteStatus.FINISHED)
    nobody = FailureReason.objects.get_or_create(account=account, description="Nobody home")[0]
    # An hour ago, or at midnight when the day is younger than that.
    failed_at = max(minutes(-60, now), datetime.combine(now.astimezone(TZ).date(), time(), TZ))
    set_stop(today_stop, status=StopStatus.FAILED, left_at=failed_at, failure_reason=nobody)
    set_stop(yesterday_stop, status=StopStatus.FAILED, left_at=failed_at - timedelta(days=1))

    # Two unread messages from the driver; one read, one of support's and a system note.
    conversation = Conversation.objects.create(account=account, route=late)
    for author, read_at, ago in (
        (MessageAuthor.DRIVER, None, -8),
        (MessageAuthor.DRIVER, None, -3),
        (MessageAuthor.DRIVER, minutes(-1, now), -20),
        (MessageAuthor.SUPPORT, None, -2),
        (MessageAuthor.SYSTEM, None, -2),
    ):
        message = Message.objects.create(
            account=account, conversation=conversation, author=author, text="Hi"
        )
        Message.objects.filter(pk=message.pk).update(created_at=minutes(ago, now), read_at=read_at)

    return [
        (alerts.LATE, late.pk, misses.pk, now, {"limit_kind": "deadline", "eta": minutes(30, now)}),
        (alerts.CHAT, late.pk, None, minutes(-3, now), {"count": 2}),
        (alerts.LATE, late.pk, passed.pk, minutes(-5, now), {"limit_kind": "deadline"}),
        (alerts.OFFLINE, offline.pk, None, minutes(-15, now), {"minutes": 15}),
        (alerts.STOPPED, stopped.pk, None, minutes(-25, now), {"minutes": 25}),
        (alerts.FAILED, finished.pk, today_stop.pk, failed_at, {"reason": "Nobody home"}),
        (alerts.LATE, late.pk, windowed.pk, window_end, {"limit_kind": "window"}),
    ]


def summary(found):
    return [(alert.kind, alert.route_id, alert.stop_id, alert.at) for alert in found.items]


@pytest.fixture
def centro(account_a):
    return BranchFactory(account=account_a, name="Centro")


def test_each_kind_of_alert_newest_first(manager_a, centro):
    expected = scene(manager_a.account, centro)
    found = alerts.alerts_for(user=manager_a, now=NOW)
    assert summary(found) == [(kind, route, stop, at) for kind, route, stop, at, _ in expected]
    for alert, (*_, extra) in zip(found.items, expected, strict=True):
        for name, value in extra.items():
            assert getattr(alert, name) == value, (alert.kind, name)
    assert found.counts == {"late": 3, "offline": 1, "stopped": 1, "failed": 1, "chat": 1}
    assert found.total == 7
    assert found.items[0].customer == "Lia 1" and found.items[1].driver == "Lia Late"


def test_nothing_to_say(manager_a):
    found = alerts.alerts_for(user=manager_a, now=NOW)
    assert found.items == [] and found.total == 0


def test_the_list_is_capped_but_the_counts_are_not(manager_a, centro, monkeypatch):
    monkeypatch.setattr(alerts, "MAX_ALERTS", 3)
    scene(manager_a.account, centro)
    found = alerts.alerts_for(user=manager_a, now=NOW)
    assert len(found.items) == 3 and found.total == 7


def test_other_accounts_and_other_branches_never_appear(manager_a, manager_b, centro, account_a):
    theirs = scene(manager_b.account, BranchFactory(account=manager_b.account))
    norte = BranchFactory(account=account_a, name="Norte")
    offline, _ = running_route(account_a, norte, "Nina Norte", started_at=minutes(-60))
    seen(offline, minutes(-30))
    mine = scene(account_a, centro)

    everything = alerts.alerts_for(user=manager_a, now=NOW)
    routes = {alert.route_id for alert in everything.items}
    assert offline.pk in routes and not routes & {route for _, route, *_ in theirs}
    assert everything.total == len(mine) + 1

    centro_operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=centro)
    assert summary(alerts.alerts_for(user=centro_operator, now=NOW)) == [
        (kind, route, stop, at) for kind, route, stop, at, _ in mine
    ]
    norte_operator = UserFactory(account=account_a, role=Role.OPERATOR, branch=norte)
    assert summary(alerts.alerts_for(user=norte_operator, now=NOW)) == [
        (alerts.OFFLINE, offline.pk, None, minutes(-30))
    ]


def count_queries(user):
    with CaptureQueriesContext(connection) as captured:
        alerts.alerts_for(user=user, now=NOW)
    return len(captured)


def test_the_alerts_take_the_same_queries_for_one_scene_or_many(manager_a, account_a, centro):
    scene(account_a, centro)
    one = count_queries(manager_a)
    for _ in range(3):
        scene(account_a, centro)
    assert alerts.alerts_for(user=manager_a, now=NOW).total == 4 * 7
    assert count_queries(manager_a) == one <= 6


# The home page -----------------------------------------------------------------------------------


def test_the_home_page_lists_the_alerts_with_links_to_their_routes(client_of, manager_a, centro):
    now = timezone.now()
    expected = scene(manager_a.account, centro, now=now)
    response = client_of(manager_a).get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-labelledby="alerts-title"' in html
    assert html.count("data-alert=") == len(expected)
    for kind, route, stop, _at, _extra in expected:
        link = reverse("routes:detail", args=[route]) + (f"#stop-{stop}" if stop else "")
        assert f'href="{link}"' in html, kind
    assert 'data-alert-count="late"><span class="badge text-bg-danger">3</span>' in html
    assert "2 unread messages" in html and "no position for 15 min" in html
    assert "not moving for 25 min" in html and "Fabi 1: Nobody home" in html
    # Newest first: the late stop (now) before the failure (an hour ago).
    assert html.index('data-alert="late"') < html.index('data-alert="failed"')


def test_the_home_page_without_alerts_says_so(client_of, operator_a):
    html = client_of(operator_a).get(reverse("home")).content.decode()
    assert "Nothing needs attention on the routes." in html


def test_roles_without_routes_see_no_alerts(client_of, account_a, centro):
    scene(account_a, centro, now=timezone.now())
    for role in (Role.CALL_CENTRE, Role.PARTNER):
        user = UserFactory(account=account_a, role=role)
        response = client_of(user).get(reverse("home"))
        assert "alerts" not in response.context
        assert 'data-testid="alerts"' not in response.content.decode()


def test_failures_count_for_the_accounts_day(manager_a, centro):
    """At 00:30 in São Paulo (03:30 UTC), a failure at 23:50 the evening before is not today's;
    one at 00:10 is."""
    early = datetime(2030, 3, 5, 0, 30, tzinfo=TZ)
    route, (stop,) = running_route(
        manager_a.account, centro, "Dia Um", started_at=early - timedelta(hours=3), now=early
    )
    seen(route, early)
    set_stop(stop, status=StopStatus.FAILED, left_at=early - timedelta(minutes=40))
    assert alerts.alerts_for(user=manager_a, now=early).counts["failed"] == 0
    set_stop(stop, left_at=early - timedelta(minutes=20))
    assert alerts.alerts_for(user=manager_a, now=early).counts["failed"] == 1
