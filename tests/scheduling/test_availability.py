"""Availability: weekday windows, holidays, cut-off, horizon, capacity, time zones and DST."""

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection

from scheduling import selectors
from scheduling.actions import service_schedule
from scheduling.models import DeliveryWindow, Schedule, ScheduleChange, SchedulingPolicy
from services.actions import Actor
from services.models import EventKind, ServiceStatus
from tests.factories import BranchFactory, HolidayFactory, ServiceFactory
from tracking.lib.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db

# Monday 2030-03-04, 09:00 in São Paulo (UTC-3, no DST there since 2019).
MONDAY = date(2030, 3, 4)


def at(day, hour, tz="America/Sao_Paulo"):
    import zoneinfo

    return datetime.combine(day, time(hour), tzinfo=zoneinfo.ZoneInfo(tz))


def window(account, weekday, start, end, capacity=2, branch=None, name=None):
    return DeliveryWindow.objects.create(
        account=account,
        branch=branch,
        weekday=weekday,
        name=name or f"{start}-{end}",
        start=time(start),
        end=time(end),
        capacity=capacity,
    )


def policy(account, cutoff_hours=12, horizon_days=7, branch=None):
    return SchedulingPolicy.objects.create(
        account=account, branch=branch, cutoff_hours=cutoff_hours, horizon_days=horizon_days
    )


def pairs(slots):
    return [(slot.date, slot.window.name) for slot in slots]


@pytest.fixture
def service(account_a):
    account_a.time_zone = "America/Sao_Paulo"
    account_a.save()
    return ServiceFactory(account=account_a, branch=None)


def test_weekday_windows_within_the_horizon(account_a, service):
    policy(account_a, cutoff_hours=0, horizon_days=7)
    window(account_a, 0, 8, 12, name="mon-am")
    window(account_a, 2, 13, 18, name="wed-pm")
    slots = selectors.available_slots(service=service, now=at(MONDAY, 7))
    assert pairs(slots) == [
        (MONDAY, "mon-am"),
        (MONDAY + timedelta(days=2), "wed-pm"),
        (MONDAY + timedelta(days=7), "mon-am"),
    ]


def test_holidays_are_never_offered(account_a, service):
    policy(account_a, cutoff_hours=0, horizon_days=7)
    window(account_a, 2, 13, 18, name="wed-pm")
    HolidayFactory(account=account_a, date=MONDAY + timedelta(days=2))
    assert pairs(selectors.available_slots(service=service, now=at(MONDAY, 7))) == []


def test_cutoff_hides_windows_starting_too_soon(account_a, service):
    policy(account_a, cutoff_hours=12, horizon_days=1)
    window(account_a, 0, 20, 22, name="mon-night")
    window(account_a, 1, 8, 12, name="tue-am")
    # At 08:00 Monday: Monday 20:00 is 12 h away (cut-off reached); Tuesday 08:00 is 24 h away.
    assert pairs(selectors.available_slots(service=service, now=at(MONDAY, 8))) == [
        (MONDAY + timedelta(days=1), "tue-am")
    ]
    assert pairs(selectors.available_slots(service=service, now=at(MONDAY, 7))) == [
        (MONDAY, "mon-night"),
        (MONDAY + timedelta(days=1), "tue-am"),
    ]


def test_full_windows_are_left_out(account_a, service):
    policy(account_a, cutoff_hours=0, horizon_days=0)
    full = window(account_a, 0, 13, 18, capacity=1, name="mon-pm")
    other = ServiceFactory(account=account_a)
    service_schedule(
        service=other, day=MONDAY, window=full, actor=Actor.system(), now=at(MONDAY, 7)
    )
    assert selectors.available_slots(service=service, now=at(MONDAY, 7)) == []
    slots = selectors.available_slots(service=service, now=at(MONDAY, 7), include_full=True)
    assert [(slot.window.name, slot.remaining) for slot in slots] == [("mon-pm", 0)]


def test_branch_windows_and_policy_win_over_the_account_default(account_a):
    branch = BranchFactory(account=account_a, time_zone="America/Manaus")
    policy(account_a, cutoff_hours=0, horizon_days=0)
    policy(account_a, cutoff_hours=0, horizon_days=1, branch=branch)
    window(account_a, 0, 8, 12, name="default")
    window(account_a, 1, 8, 12, name="branch-tue", branch=branch)
    service = ServiceFactory(account=account_a, branch=branch)
    slots = selectors.available_slots(service=service, now=at(MONDAY, 7))
    assert pairs(slots) == [(MONDAY + timedelta(days=1), "branch-tue")]
    # The branch's windows are in the branch's time zone (Manaus, UTC-4).
    assert slots[0].starts_at.astimezone(UTC).hour == 12


def test_today_is_the_branch_local_date(account_a):
    # 02:00 UTC on Tuesday is still Monday 23:00 in São Paulo.
    policy(account_a, cutoff_hours=0, horizon_days=0)
    window(account_a, 1, 8, 12, name="tue")
    service = ServiceFactory(account=account_a)
    now = datetime(2030, 3, 5, 2, 0, tzinfo=UTC)
    assert pairs(selectors.available_slots(service=service, now=now)) == []
    now = datetime(2030, 3, 5, 4, 0, tzinfo=UTC)  # 01:00 Tuesday local
    assert pairs(selectors.available_slots(service=service, now=now)) == [(date(2030, 3, 5), "tue")]


def test_cutoff_is_measured_in_real_hours_across_a_dst_change(account_a):
    # New York moves to summer time on Sunday 2030-03-10 at 02:00 (clocks jump to 03:00).
    account_a.time_zone = "America/New_York"
    account_a.save()
    policy(account_a, cutoff_hours=24, horizon_days=3)
    window(account_a, 0, 8, 12, name="mon-am")  # Monday 2030-03-11 08:00 EDT = 12:00 UTC
    service = ServiceFactory(account=account_a)
    # Sunday 07:30 EDT (11:30 UTC) is 24.5 real hours before the window: still open. Sunday
    # 08:30 EDT (12:30 UTC) is 23.5 real hours before: closed, although subtracting 24 wall-clock
    # hours from Monday 08:00 (Sunday 08:00) would wrongly keep it open until 08:00 EDT.
    sunday = datetime(2030, 3, 10, 12, 30, tzinfo=UTC)
    saturday_late = datetime(2030, 3, 10, 11, 30, tzinfo=UTC)
    assert pairs(selectors.available_slots(service=service, now=sunday)) == []
    assert pairs(selectors.available_slots(service=service, now=saturday_late)) == [
        (date(2030, 3, 11), "mon-am")
    ]
    slot = selectors.available_slots(service=service, now=saturday_late)[0]
    assert slot.starts_at.astimezone(UTC) == datetime(2030, 3, 11, 12, 0, tzinfo=UTC)


def test_schedule_records_change_event_and_origin(account_a, service, operator_a):
    policy(account_a, cutoff_hours=0, horizon_days=7)
    am = window(account_a, 0, 8, 12, name="am")
    pm = window(account_a, 0, 13, 18, name="pm")
    now = at(MONDAY, 7)
    service_schedule(
        service=service, day=MONDAY, window=am, actor=Actor.integration("ERP"), now=now
    )
    service_schedule(
        service=service, day=MONDAY, window=pm, actor=Actor.for_user(operator_a), now=now
    )
    schedule = Schedule.objects.get(service=service)
    assert (schedule.window, schedule.origin, schedule.set_by) == (pm, "back_office", operator_a)
    changes = list(
        ScheduleChange.objects.filter(service=service).values_list("origin", "to_window")
    )
    assert changes == [("integration", am.pk), ("back_office", pm.pk)]
    assert service.events.filter(kind=EventKind.SCHEDULED).count() == 2
    # The place in the first window was given back.
    slots = selectors.available_slots(service=service, now=now)
    remaining = {slot.window.name: slot.remaining for slot in slots if slot.date == MONDAY}
    assert remaining == {"am": 2, "pm": 1}


def test_forbidden_schedules(account_a, service):
    policy(account_a, cutoff_hours=12, horizon_days=7)
    am = window(account_a, 1, 8, 12, name="tue-am")
    other_account_window = window(ServiceFactory().account, 1, 8, 12)
    now = at(MONDAY, 7)
    with pytest.raises(DomainError):
        service_schedule(service=service, day=MONDAY, window=am, actor=Actor.system(), now=now)
    with pytest.raises(DomainError):
        service_schedule(
            service=service, day=MONDAY + timedelta(days=1), window=other_account_window,
            actor=Actor.system(), now=now,
        )  # fmt: skip
    service_schedule(
        service=service, day=MONDAY + timedelta(days=1), window=am, actor=Actor.system(), now=now
    )
    # Past the cut-off of the current window, it can no longer be changed.
    late = at(MONDAY + timedelta(days=1), 0)
    with pytest.raises(Conflict) as error:
        service_schedule(
            service=service, day=MONDAY + timedelta(days=8), window=am, actor=Actor.customer(),
            now=late,
        )  # fmt: skip
    assert error.value.code == "cutoff_passed"
    service.status = ServiceStatus.DONE
    service.save()
    with pytest.raises(Conflict) as error:
        service_schedule(
            service=service, day=MONDAY + timedelta(days=8), window=am, actor=Actor.system(),
            now=now,
        )  # fmt: skip
    assert error.value.code == "not_schedulable"


def test_a_failed_service_is_rescheduled_when_given_a_new_date(account_a, service):
    policy(account_a, cutoff_hours=0, horizon_days=7)
    am = window(account_a, 0, 8, 12)
    service.status = ServiceStatus.FAILED
    service.save()
    service_schedule(
        service=service, day=MONDAY, window=am, actor=Actor.customer(), now=at(MONDAY, 7)
    )
    service.refresh_from_db()
    assert (service.status, service.attempt_count) == (ServiceStatus.PENDING, 1)
    assert Schedule.objects.get(service=service).origin == "customer"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_customers_racing_for_the_last_place_never_both_get_it(postgres, account_a):
    policy(account_a, cutoff_hours=0, horizon_days=7)
    last = window(account_a, 0, 8, 12, capacity=1)
    first, second = ServiceFactory(account=account_a), ServiceFactory(account=account_a)
    barrier = threading.Barrier(2)
    outcomes = []

    def book(service):
        # Each thread has its own database connection.
        try:
            barrier.wait(timeout=10)
            service_schedule(
                service=service, day=MONDAY, window=last, actor=Actor.customer(), now=at(MONDAY, 7)
            )
            outcomes.append("booked")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["booked", "window_full"]
    assert Schedule.objects.filter(window=last, date=MONDAY).count() == 1
    assert last.bookings.get(date=MONDAY).booked == 1


def test_service_time_window_feeds_the_optimizer(account_a, service):
    policy(account_a, cutoff_hours=0, horizon_days=7)
    am = window(account_a, 0, 8, 12)
    assert selectors.service_time_window(service) == (None, service.deadline)
    service_schedule(
        service=service, day=MONDAY, window=am, actor=Actor.system(), now=at(MONDAY, 7)
    )
    service.refresh_from_db()
    start, end = selectors.service_time_window(service)
    assert (start, end) == (at(MONDAY, 8), at(MONDAY, 12))
    assert start.tzinfo is not None


def test_cancelling_a_scheduled_service_gives_its_place_back_once(
    account_a, service, django_capture_on_commit_callbacks
):
    from services.actions import service_cancel
    from services.models import ServiceEvent

    policy(account_a, cutoff_hours=0, horizon_days=0)
    am = window(account_a, 0, 8, 12, capacity=1)
    service_schedule(
        service=service, day=MONDAY, window=am, actor=Actor.system(), now=at(MONDAY, 7)
    )
    assert am.bookings.get(date=MONDAY).booked == 1
    with django_capture_on_commit_callbacks(execute=True):
        service_cancel(service=service, actor=Actor.system())
    assert am.bookings.get(date=MONDAY).booked == 0
    # The event dispatched again (the sweep) does not give the place back twice.
    from scheduling.receivers import on_service_event_recorded

    event = ServiceEvent.objects.get(service=service, to_status="cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        on_service_event_recorded(sender=None, event_id=event.pk)
    assert am.bookings.get(date=MONDAY).booked == 0
