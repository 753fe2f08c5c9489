"""A started route's page: what happened at each stop (times, planned against actual arrival,
ETA window, receiver, failure, evidence, events), a stop's status changed by hand with a reason,
and who may see or do any of it."""

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from routes import actions
from routes.models import Evidence, EvidenceKind, RouteStatus, StopStatus
from services.actions import Actor
from services.models import EventKind, ServiceEvent, ServiceStatus
from tests.factories import (
    BranchFactory,
    CustomerFactory,
    DriverFactory,
    FailureReasonFactory,
    ServiceFactory,
    StatusChangeReasonFactory,
    UserFactory,
)
from tracking.lib.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db

DAY = date(2030, 3, 4)
TZ = zoneinfo.ZoneInfo("America/Sao_Paulo")  # the account's default; UTC-3, no DST in 2030
START = (-23.55, -46.70)


def local(hour, minute=0):
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=TZ)


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def driver_a(account_a):
    branch = BranchFactory(account=account_a, name="Centro", lat=START[0], lng=START[1])
    return DriverFactory(account=account_a, branch=branch, first_name="Ana", last_name="Lima")


def make_route(account, driver, count):
    services = [
        ServiceFactory(
            account=account,
            lat=START[0],
            lng=START[1] + 0.01 * (k + 1),
            deadline=None,
            customer=CustomerFactory(account=account, name=f"Customer {k + 1}"),
        )
        for k in range(count)
    ]
    return actions.route_create(
        account=account, actor=Actor.system(), driver=driver, vehicle=driver.vehicle, day=DAY,
        services=services, branch=driver.branch,
    )  # fmt: skip


def started(route, driver):
    return actions.route_start(route=route, actor=Actor.for_driver(driver), recorded_at=local(9))


def stops_of(route):
    return list(route.stops.order_by("sequence").select_related("service"))


def step(stop, driver, status, at, **extra):
    return actions.stop_change_status(
        stop=stop, to_status=status, actor=Actor.for_driver(driver), recorded_at=at, **extra
    )


def detail_url(route):
    return reverse("routes:detail", args=[route.pk])


def status_url(route, stop):
    return reverse("routes:stop_status", args=[route.pk, stop.pk])


@pytest.fixture
def running(account_a, driver_a):
    """A route under way: stop 1 done late with a receiver and a photo, stop 2 failed, stop 3
    ahead with an ETA window."""
    route = started(make_route(account_a, driver_a, 3), driver_a)
    first, second, third = stops_of(route)
    type(first).objects.filter(pk=first.pk).update(planned_arrival=local(10, 5))
    step(first, driver_a, StopStatus.IN_PROGRESS, local(10))
    step(first, driver_a, StopStatus.ARRIVED, local(10, 20))
    step(
        first, driver_a, StopStatus.DONE, local(10, 25),
        receiver_name="Maria Souza", receiver_document="123.456.789-09",
    )  # fmt: skip
    Evidence.objects.create(
        account=account_a, stop=first, kind=EvidenceKind.PHOTO, image="evidence/2030/03/door.jpg",
        thumbnail="evidence/2030/03/thumbs/door.jpg", recorded_at=local(10, 24),
    )  # fmt: skip
    absent = FailureReasonFactory(account=account_a, description="Nobody home")
    step(second, driver_a, StopStatus.IN_PROGRESS, local(10, 30))
    step(
        second, driver_a, StopStatus.FAILED, local(10, 50),
        failure_reason=absent, failure_description="Gate locked, dog barking",
    )  # fmt: skip
    type(third).objects.filter(pk=third.pk).update(
        eta=local(11, 40), eta_earliest=local(11, 30), eta_latest=local(11, 55)
    )
    return route


@pytest.fixture
def reason_a(account_a):
    return StatusChangeReasonFactory(account=account_a, description="Driver's phone died")


# What the page shows ---------------------------------------------------------------------------


def test_a_started_route_shows_times_evidence_and_events_of_each_stop(
    client_of, operator_a, running
):
    response = client_of(operator_a).get(detail_url(running))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="stop-history"') == 3
    first, second, third = response.context["stop_rows"]

    # Planned 10:05, arrived 10:20: a quarter of an hour late.
    assert first["history"]["delay_min"] == 15
    for shown in ("10:00", "10:20", "10:25", "15 min late", "Maria Souza", "123.456.789-09"):
        assert shown in html, shown
    assert 'href="/media/evidence/2030/03/door.jpg"' in html
    assert 'src="/media/evidence/2030/03/thumbs/door.jpg"' in html
    assert 'alt="Photo at 10:24"' in html

    assert "Nobody home" in html and "Gate locked, dog barking" in html
    assert second["history"]["eta"] is None  # over: no ETA any more

    assert third["history"]["eta_window"] == (local(11, 30), local(11, 55))
    assert "11:30" in html and "11:55" in html

    # The first stop's events on this route, in phone time: routed, started, arrived, done.
    whats = [what for _event, what in first["history"]["events"]]
    assert whats == ["Pending → Routed", "Route started", "Routed → In progress", "Arrived",
                     "In progress → Done"]  # fmt: skip
    assert "Ana Lima" in html  # the driver, who made them

    # The printable sheet stays at hand once the route started.
    assert reverse("routes:sheet", args=[running.pk]) in html
    assert 'hx-trigger="every 20s"' in html


def test_a_planned_route_has_no_history_yet(client_of, operator_a, account_a, driver_a):
    route = make_route(account_a, driver_a, 2)
    response = client_of(operator_a).get(detail_url(route))
    assert 'data-testid="stop-history"' not in response.content.decode()
    assert all(row["history"] is None for row in response.context["stop_rows"])


def test_early_arrivals_count_negative_minutes(client_of, operator_a, account_a, driver_a):
    route = started(make_route(account_a, driver_a, 1), driver_a)
    (stop,) = stops_of(route)
    type(stop).objects.filter(pk=stop.pk).update(planned_arrival=local(10, 30))
    step(stop, driver_a, StopStatus.IN_PROGRESS, local(10))
    step(stop, driver_a, StopStatus.DONE, local(10, 22))  # no "arrived": leaving counts
    response = client_of(operator_a).get(detail_url(route))
    assert response.context["stop_rows"][0]["history"]["delay_min"] == -8
    assert "8 min early" in response.content.decode()


# Changing a stop's status by hand --------------------------------------------------------------


def test_the_change_form_opens_above_the_plan(client_of, operator_a, running, reason_a):
    third = stops_of(running)[2]
    html = client_of(operator_a).get(detail_url(running)).content.decode()
    assert status_url(running, third) in html
    assert status_url(running, stops_of(running)[0]) not in html  # done: nothing to change

    response = client_of(operator_a).get(status_url(running, third))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="stop-status-form"' in html
    assert "Change the status of stop 3 · Customer 3" in html
    assert "Driver&#x27;s phone died" in html
    assert html.index('id="stop-status"') < html.index('id="route-plan"')


def test_an_operator_marks_a_stop_done_by_hand_with_a_reason(
    client_of, operator_a, running, reason_a
):
    third = stops_of(running)[2]
    response = client_of(operator_a).post(
        status_url(running, third),
        {
            "stop-status-to_status": "done",
            "stop-status-reason": reason_a.pk,
            "stop-status-note": "Customer confirmed by phone",
        },
    )
    assert response.status_code == 302
    assert response.url == detail_url(running)
    assert flashed(response) == ["Stop 3 (Customer 3) is now done."]
    third.refresh_from_db()
    third.service.refresh_from_db()
    assert third.status == StopStatus.DONE and third.service.status == ServiceStatus.DONE
    assert third.left_at is not None and third.comment == "Customer confirmed by phone"
    # A stop not started goes through "on the way"; every status event names the operator and
    # the reason.
    events = list(
        ServiceEvent.objects.filter(
            service=third.service, kind=EventKind.STATUS, data__by_hand=True
        )
        .order_by("recorded_at", "pk")
        .values_list("from_status", "to_status", "actor_user", "reason", "note")
    )
    assert events == [
        ("routed", "in_progress", operator_a.pk, reason_a.pk, ""),
        ("in_progress", "done", operator_a.pk, reason_a.pk, "Customer confirmed by phone"),
    ]
    html = client_of(operator_a).get(detail_url(running)).content.decode()
    assert "Reason: Driver&#x27;s phone died" in html


def test_a_failure_by_hand_needs_its_failure_reason(client_of, operator_a, running, reason_a):
    third = stops_of(running)[2]
    client = client_of(operator_a)
    data = {"stop-status-to_status": "failed", "stop-status-reason": reason_a.pk}
    response = client.post(status_url(running, third), data)
    assert response.status_code == 200
    assert "Choose why the delivery failed." in response.content.decode()

    closed = FailureReasonFactory(
        account=running.account, description="Closed", requires_description=True
    )
    data["stop-status-failure_reason"] = closed.pk
    response = client.post(status_url(running, third), data)
    assert "Describe what happened." in response.content.decode()

    data["stop-status-failure_description"] = "Shop closed for lunch"
    assert client.post(status_url(running, third), data).status_code == 302
    third.refresh_from_db()
    assert (third.status, third.failure_reason, third.failure_description) == (
        StopStatus.FAILED, closed, "Shop closed for lunch",
    )  # fmt: skip
    event = ServiceEvent.objects.filter(service=third.service, to_status="failed").get()
    assert (event.reason, event.failure_reason, event.actor_user) == (reason_a, closed, operator_a)


def test_without_a_reason_nothing_changes(client_of, operator_a, running, reason_a):
    third = stops_of(running)[2]
    before = ServiceEvent.objects.count()
    response = client_of(operator_a).post(
        status_url(running, third), {"stop-status-to_status": "done"}
    )
    assert response.status_code == 200
    assert response.context["status_change"][1].errors["reason"] == ["This field is required."]
    assert 'role="alert">This field is required.' in response.content.decode()
    third.refresh_from_db()
    assert third.status == StopStatus.PENDING and ServiceEvent.objects.count() == before


def test_another_accounts_reason_is_not_offered_nor_accepted(
    client_of, operator_a, running, account_b
):
    theirs = StatusChangeReasonFactory(account=account_b, description="Their reason")
    third = stops_of(running)[2]
    response = client_of(operator_a).post(
        status_url(running, third),
        {"stop-status-to_status": "done", "stop-status-reason": theirs.pk},
    )
    assert response.status_code == 200 and "Their reason" not in response.content.decode()
    assert "reason" in response.context["status_change"][1].errors
    third.refresh_from_db()
    assert third.status == StopStatus.PENDING


def test_a_finished_route_says_why_its_stops_do_not_change(
    client_of, operator_a, running, driver_a, reason_a
):
    actions.route_finish(route=running, actor=Actor.for_driver(driver_a), recorded_at=local(12))
    failed = stops_of(running)[1]
    client = client_of(operator_a)
    html = client.get(detail_url(running)).content.decode()
    assert 'data-testid="change-stop-status"' not in html
    response = client.post(
        status_url(running, failed),
        {"stop-status-to_status": "done", "stop-status-reason": reason_a.pk},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This route is finished: only stops of a route in progress change by hand" in html
    assert reverse("services:detail", args=[failed.service_id]) in html
    failed.refresh_from_db()
    assert failed.status == StopStatus.FAILED


def test_the_action_refuses_what_the_machine_does_not_allow(running, operator_a, reason_a):
    done = stops_of(running)[0]
    actor = Actor.for_user(operator_a)
    with pytest.raises(Conflict, match="A stop that is done cannot become failed"):
        actions.stop_change_status_by_hand(
            stop=done, to_status=StopStatus.FAILED, actor=actor, reason=reason_a,
            failure_reason=FailureReasonFactory(account=running.account),
        )  # fmt: skip
    with pytest.raises(DomainError, match="Choose a reason"):
        actions.stop_change_status_by_hand(
            stop=stops_of(running)[2], to_status=StopStatus.DONE, actor=actor, reason=None
        )


def test_a_stop_changed_by_the_driver_meanwhile_is_a_message(
    client_of, operator_a, running, driver_a, reason_a
):
    third = stops_of(running)[2]
    client = client_of(operator_a)
    assert client.get(status_url(running, third)).status_code == 200
    step(third, driver_a, StopStatus.IN_PROGRESS, local(11))
    step(third, driver_a, StopStatus.DONE, local(11, 10))
    response = client.post(
        status_url(running, third),
        {"stop-status-to_status": "done", "stop-status-reason": reason_a.pk},
    )
    assert response.status_code == 200
    assert "This stop is done: it cannot be changed by hand." in response.content.decode()


# Who may ---------------------------------------------------------------------------------------


def test_outsiders_get_404_and_change_nothing(
    client_of, manager_b, running, account_a, account_b, reason_a
):
    third = stops_of(running)[2]
    data = {"stop-status-to_status": "done", "stop-status-reason": reason_a.pk}
    outsiders = [
        manager_b,
        UserFactory(account=account_a, role=Role.CALL_CENTRE),
        UserFactory(account=account_a, role=Role.OPERATOR, branch=BranchFactory(account=account_a)),
    ]
    for user in outsiders:
        client = client_of(user)
        assert client.get(detail_url(running)).status_code == 404
        assert client.get(status_url(running, third)).status_code == 404
        assert client.post(status_url(running, third), data).status_code == 404
    third.refresh_from_db()
    assert third.status == StopStatus.PENDING


def test_a_stop_of_another_route_is_not_found(client_of, operator_a, running, account_a):
    other = make_route(account_a, DriverFactory(account=account_a), 1)
    response = client_of(operator_a).get(status_url(running, stops_of(other)[0]))
    assert response.status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, running):
    response = client.get(status_url(running, stops_of(running)[2]))
    assert response.status_code == 302 and "login" in response.url


# Queries ---------------------------------------------------------------------------------------


def queries_for_detail(client, route):
    client.get(detail_url(route))  # a session's first request records when the user was seen
    with CaptureQueriesContext(connection) as captured:
        assert client.get(detail_url(route)).status_code == 200
    return len(captured)


def busy_route(account, driver, size):
    """A started route of `size` stops, each done with a photo, so each has events and
    evidence to show."""
    route = started(make_route(account, driver, size), driver)
    for k, stop in enumerate(stops_of(route)):
        at = local(10) + timedelta(minutes=10 * k)
        step(stop, driver, StopStatus.IN_PROGRESS, at)
        step(stop, driver, StopStatus.ARRIVED, at + timedelta(minutes=3))
        step(stop, driver, StopStatus.DONE, at + timedelta(minutes=5), receiver_name="R")
        Evidence.objects.create(
            account=account, stop=stop, kind=EvidenceKind.PHOTO, image=f"e/{stop.pk}.jpg",
            thumbnail=f"e/t{stop.pk}.jpg", recorded_at=at + timedelta(minutes=4),
        )  # fmt: skip
    return route


def test_the_started_route_page_does_not_query_per_stop(client_of, operator_a, account_a):
    client = client_of(operator_a)
    small = busy_route(account_a, DriverFactory(account=account_a), 3)
    large = busy_route(account_a, DriverFactory(account=account_a), 30)
    assert large.status == RouteStatus.IN_PROGRESS
    assert queries_for_detail(client, small) == queries_for_detail(client, large)
