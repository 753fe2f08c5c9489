"""Reads of scheduling: which (date, window) pairs a service can take, and its time window."""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import Holiday

from .models import DeliveryWindow, SchedulingPolicy, WindowBooking

DEFAULT_CUTOFF_HOURS = 12
DEFAULT_HORIZON_DAYS = 14


@dataclass(frozen=True)
class Slot:
    date: date
    window: DeliveryWindow
    remaining: int
    starts_at: datetime  # aware
    ends_at: datetime  # aware


def service_tzinfo(service):
    """The time zone the service's windows are in: its branch's, else its account's."""
    name = (service.branch.time_zone if service.branch_id else "") or service.account.time_zone
    return zoneinfo.ZoneInfo(name)


def policy_for(*, account, branch):
    """(cut-off hours, horizon days) for the branch, else the account default, else built-in."""
    policies = {
        policy.branch_id: policy
        for policy in SchedulingPolicy.objects.filter(account=account).filter(
            Q(branch__isnull=True) | Q(branch=branch)
        )
    }
    chosen = policies.get(branch.pk if branch else None) or policies.get(None)
    if chosen is None:
        return DEFAULT_CUTOFF_HOURS, DEFAULT_HORIZON_DAYS
    return chosen.cutoff_hours, chosen.horizon_days


def windows_for(*, account, branch):
    """The active windows offered: the branch's own when it has any, else the account default."""
    if branch is not None:
        own = list(DeliveryWindow.objects.filter(account=account, branch=branch, is_active=True))
        if own:
            return own
    return list(DeliveryWindow.objects.filter(account=account, branch__isnull=True, is_active=True))


def window_bounds(window, day, tzinfo):
    """The window on that local date as aware datetimes (correct across DST changes)."""
    starts = datetime.combine(day, window.start, tzinfo=tzinfo)
    ends = datetime.combine(day, window.end, tzinfo=tzinfo)
    return starts, ends


def cutoff_passed(starts_at, cutoff_hours, now):
    # Compared in UTC: wall-clock arithmetic on aware datetimes is wrong across a DST change.
    return starts_at.astimezone(UTC) - timedelta(hours=cutoff_hours) <= now.astimezone(UTC)


def available_slots(*, service, now=None, include_full=False):
    """The (date, window) pairs the service can take now: weekday windows of its branch (or the
    account default), from today to the horizon, without holidays, before each window's cut-off,
    with capacity left (unless include_full). Ordered by date and start."""
    now = now or timezone.now()
    account = service.account
    branch = service.branch if service.branch_id else None
    tzinfo = service_tzinfo(service)
    cutoff_hours, horizon_days = policy_for(account=account, branch=branch)
    windows = windows_for(account=account, branch=branch)
    if not windows:
        return []
    today = now.astimezone(tzinfo).date()
    last = today + timedelta(days=horizon_days)
    holidays = set(
        Holiday.objects.filter(account=account, date__range=(today, last)).values_list(
            "date", flat=True
        )
    )
    booked = {
        (booking.window_id, booking.date): booking.booked
        for booking in WindowBooking.objects.filter(window__in=windows, date__range=(today, last))
    }
    slots = []
    for offset in range(horizon_days + 1):
        day = today + timedelta(days=offset)
        if day in holidays:
            continue
        for window in windows:
            if window.weekday != day.weekday():
                continue
            starts_at, ends_at = window_bounds(window, day, tzinfo)
            if cutoff_passed(starts_at, cutoff_hours, now):
                continue
            remaining = window.capacity - booked.get((window.pk, day), 0)
            if remaining <= 0 and not include_full:
                continue
            slots.append(Slot(day, window, max(remaining, 0), starts_at, ends_at))
    slots.sort(key=lambda slot: (slot.date, slot.starts_at))
    return slots


def service_time_window(service):
    """When the service may be served, as aware datetimes (start, end) for the route optimizer:
    its scheduled window; without one, from now until its deadline; (None, None) when open."""
    schedule = getattr(service, "schedule", None)
    if schedule is not None:
        return window_bounds(schedule.window, schedule.date, service_tzinfo(service))
    return (None, service.deadline)


def window_usage(*, account, branch, start, days):
    """[(date, window, booked)] for the calendar: every offered window of each day in the range."""
    windows = windows_for(account=account, branch=branch)
    end = start + timedelta(days=days - 1)
    booked = {
        (booking.window_id, booking.date): booking.booked
        for booking in WindowBooking.objects.filter(window__in=windows, date__range=(start, end))
    }
    usage = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        for window in sorted(windows, key=lambda w: w.start):
            if window.weekday == day.weekday():
                usage.append((day, window, booked.get((window.pk, day), 0)))
    return usage
