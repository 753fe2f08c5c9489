"""Writes of scheduling: setting or changing a service's delivery date and window."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from services.actions import service_record_event, service_reschedule
from services.models import ActorType, EventKind, Service, ServiceStatus
from tracking.lib.errors import Conflict, DomainError

from .models import Origin, Schedule, ScheduleChange, WindowBooking, schedule_instants
from .selectors import available_slots, cutoff_passed, policy_for, service_tzinfo, window_bounds

ORIGIN_OF_ACTOR = {
    ActorType.USER: Origin.BACK_OFFICE,
    ActorType.INTEGRATION: Origin.INTEGRATION,
    ActorType.CUSTOMER: Origin.CUSTOMER,
    ActorType.SYSTEM: Origin.BACK_OFFICE,
    ActorType.DRIVER: Origin.BACK_OFFICE,
}
SCHEDULABLE = {ServiceStatus.PENDING, ServiceStatus.FAILED}


def service_schedule(*, service, day, window, actor, now=None, confirm_first_date=True):
    """Sets or changes the service's date and window. Allowed while the service is pending or
    failed (a failed one is rescheduled: back to pending with one more attempt), for a window it
    can take now (weekday, horizon, holidays, cut-off, capacity) and, when changing, before the
    current window's cut-off. Raises Conflict (full, not allowed) or DomainError (not offered).
    Choosing the same date and window again changes nothing. The customer is sent a confirmation
    of every setting or change, except a first date when confirm_first_date is False (callers
    that set it together with the service's registration, which the customer is told of)."""
    now = now or timezone.now()
    with transaction.atomic():
        service = (
            Service.objects.select_for_update(of=("self",))
            .select_related("account", "branch")
            .get(pk=service.pk)
        )
        if service.status not in SCHEDULABLE:
            raise Conflict(
                _("The delivery date of a %(status)s service cannot be changed.")
                % {"status": service.get_status_display().lower()},
                code="not_schedulable",
            )
        if (
            service.status == ServiceStatus.FAILED
            and service.attempt_count + 1 >= service.account.max_attempts
        ):
            raise Conflict(
                _("This service reached its maximum of attempts and goes back to the sender."),
                code="max_attempts",
            )
        current = Schedule.objects.filter(service=service).select_related("window").first()
        if current and current.date == day and current.window_id == window.pk:
            return current
        if window.account_id != service.account_id:
            raise DomainError(_("Not found."), code="invalid", fields={"window_id": []})
        tzinfo = service_tzinfo(service)
        if current is not None and service.status == ServiceStatus.PENDING:
            cutoff_hours, _horizon = policy_for(account=service.account, branch=service.branch)
            starts_at, _ends = window_bounds(current.window, current.date, tzinfo)
            if cutoff_passed(starts_at, cutoff_hours, now):
                raise Conflict(
                    _("It is too late to change this delivery date."), code="cutoff_passed"
                )
        offered = {
            (slot.date, slot.window.pk)
            for slot in available_slots(service=service, now=now, include_full=True)
        }
        if (day, window.pk) not in offered:
            raise DomainError(
                _("This date and window are not offered for this service."),
                code="window_not_offered",
                fields={"date": [], "window_id": []},
            )
        _book(service.account_id, window, day)
        if current is not None:
            _release(current.window_id, current.date)
        if service.status == ServiceStatus.FAILED:
            service = service_reschedule(service=service, actor=actor, reason=None)
        origin = ORIGIN_OF_ACTOR[actor.type]
        label = actor.label or (str(actor.user) if actor.user else "")
        ScheduleChange.objects.create(
            account_id=service.account_id,
            service=service,
            from_date=current.date if current else None,
            from_window=current.window if current else None,
            to_date=day,
            to_window=window,
            origin=origin,
            user=actor.user,
            label=label,
        )
        schedule, _created = Schedule.objects.update_or_create(
            service=service,
            defaults={
                "account_id": service.account_id,
                "date": day,
                "window": window,
                "origin": origin,
                "set_by": actor.user,
                "set_by_label": label,
            },
        )
        service_record_event(
            service=service,
            actor=actor,
            kind=EventKind.SCHEDULED,
            data={
                "date": day.isoformat(),
                "window": window.name,
                "start": window.start.strftime("%H:%M"),
                "end": window.end.strftime("%H:%M"),
                "origin": origin,
                # The change's number for the service (1 for the first date): the confirmation
                # of each change is sent once, and a later change gets its own.
                "change": ScheduleChange.objects.filter(service=service).count(),
                "notify": current is not None or confirm_first_date,
                "previous": (
                    {"date": current.date.isoformat(), "window": current.window.name}
                    if current
                    else None
                ),
            },
        )
    return schedule


def _book(account_id, window, day):
    """Takes one place of the window on that day, or raises Conflict when it is full. One
    conditional UPDATE: concurrent bookings of the last place cannot both succeed."""
    booking, _created = WindowBooking.objects.get_or_create(
        window=window, date=day, defaults={"account_id": account_id}
    )
    taken = WindowBooking.objects.filter(pk=booking.pk, booked__lt=window.capacity).update(
        booked=F("booked") + 1
    )
    if not taken:
        raise Conflict(_("This window is full. Choose another one."), code="window_full")


def _release(window_id, day):
    WindowBooking.objects.filter(window_id=window_id, date=day, booked__gt=0).update(
        booked=F("booked") - 1
    )


def schedule_release(*, service_id):
    """Gives the service's place back (it was cancelled or returned), once; keeps the record of
    its date. Idempotent."""
    with transaction.atomic():
        released = Schedule.objects.filter(service_id=service_id, released_at__isnull=True).update(
            released_at=timezone.now()
        )
        if released:
            schedule = Schedule.objects.get(service_id=service_id)
            _release(schedule.window_id, schedule.date)
    return bool(released)


def schedules_refresh_instants(schedules):
    """Computes the stored instants of these schedules again (after a time zone or branch
    change), in chunks."""
    batch = []
    rows = schedules.select_related("window", "service__branch", "service__account")
    for schedule in rows.iterator(chunk_size=1000):
        schedule.starts_at, schedule.ends_at, schedule.date_ends_at = schedule_instants(
            schedule.date, schedule.window, schedule.service
        )
        batch.append(schedule)
        if len(batch) == 1000:
            Schedule.objects.bulk_update(batch, ["starts_at", "ends_at", "date_ends_at"])
            batch = []
    if batch:
        Schedule.objects.bulk_update(batch, ["starts_at", "ends_at", "date_ends_at"])
