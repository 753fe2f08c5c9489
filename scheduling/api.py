"""The integration API's scheduling (/api/v1/services/{id}/availability and /schedule): the dates
and windows a service can take, and choosing one, with the same API keys as services.api.

A key sees its own account's services only; anything else is a 404. Scheduling goes through
scheduling.actions.service_schedule with the key as the actor (origin "integration") and accepts
an `Idempotency-Key` header.
"""

from datetime import date

from ninja import Router, Schema
from pydantic import Field

from accounts.idempotency import idempotent
from services.actions import Actor
from services.api import ERRORS, ApiKeyAuth
from services.models import Service
from tracking.lib.errors import DomainError, Invalid, NotFound

from .actions import SCHEDULABLE, service_schedule
from .models import DeliveryWindow, Origin, Schedule
from .selectors import available_slots

router = Router(auth=ApiKeyAuth(), tags=["scheduling"])


# Shapes -----------------------------------------------------------------------------------------


class WindowOut(Schema):
    id: int
    name: str
    start: str = Field(description="HH:MM, in the branch's local time.")
    end: str = Field(description="HH:MM, in the branch's local time.")


class SlotOut(Schema):
    date: date
    window: WindowOut
    remaining: int = Field(description="Places left in the window on that date.")


class ScheduleOut(Schema):
    date: date
    window: WindowOut
    origin: Origin = Field(description="Who chose it: integration, customer or back_office.")


class AvailabilityOut(Schema):
    schedule: ScheduleOut | None = Field(description="The service's current date and window.")
    slots: list[SlotOut] = Field(
        description="The dates and windows the service can take now, by date and start time."
    )


class ScheduleIn(Schema):
    date: date
    window_id: int = Field(description="A window's `id`, as availability lists it.")


class ServiceScheduleOut(Schema):
    id: int
    status: str
    schedule: ScheduleOut | None


def _caller(request):
    return f"api:{request.auth.pk}"


# Endpoints --------------------------------------------------------------------------------------


@router.get(
    "/{service_id}/availability",
    response={200: AvailabilityOut, **ERRORS},
    summary="The dates and windows a service can take",
)
def service_availability(request, service_id: int):
    """The (date, window) pairs with places left, from today to the account's horizon, without
    holidays and before each window's cut-off. Empty when the service can no longer be
    scheduled (it is not pending or failed)."""
    service = _service(request, service_id)
    slots = available_slots(service=service) if service.status in SCHEDULABLE else []
    return {
        "schedule": _schedule_payload(_current(service)),
        "slots": [
            {"date": slot.date, "window": window_payload(slot.window), "remaining": slot.remaining}
            for slot in slots
        ],
    }


@router.post(
    "/{service_id}/schedule",
    response={200: ServiceScheduleOut, **ERRORS},
    summary="Set or change a service's delivery date and window",
)
@idempotent(_caller)
def schedule_service(request, service_id: int, payload: ScheduleIn):
    """Sets the date and window (one of availability's). 422 when the window is unknown or not
    offered on that date; 409 when it is full, too late to change, or the service is no longer
    pending (or failed). Choosing the same date and window again changes nothing."""
    service = _service(request, service_id)
    window = DeliveryWindow.objects.filter(
        account=request.auth.account, pk=payload.window_id
    ).first()
    if window is None:
        raise Invalid(
            "Unknown window.",
            code="unknown_window",
            fields={"window_id": ["The account has no window with this id."]},
        )
    try:
        service_schedule(
            service=service,
            day=payload.date,
            window=window,
            actor=Actor.integration(request.auth.name),
        )
    except DomainError as exc:
        if exc.status != 400:
            raise
        fields = {path: messages or [exc.message] for path, messages in exc.fields.items()}
        raise Invalid(exc.message, code=exc.code, fields=fields) from exc
    service.refresh_from_db(fields=["status"])
    return {
        "id": service.pk,
        "status": service.status,
        "schedule": _schedule_payload(_current(service)),
    }


# Payloads ---------------------------------------------------------------------------------------


def window_payload(window):
    return {
        "id": window.pk,
        "name": window.name,
        "start": window.start.strftime("%H:%M"),
        "end": window.end.strftime("%H:%M"),
    }


def schedule_payload(service):
    """{"date", "window", "origin"} of the service's schedule, or None: what an API answer about
    the service can add as its `schedule`."""
    return _schedule_payload(_current(service))


def _schedule_payload(schedule):
    if schedule is None:
        return None
    return {
        "date": schedule.date,
        "window": window_payload(schedule.window),
        "origin": schedule.origin,
    }


def _current(service):
    return Schedule.objects.filter(service=service).select_related("window").first()


def _service(request, service_id):
    service = (
        Service.objects.filter(account=request.auth.account, pk=service_id)
        .select_related("account", "branch")
        .first()
    )
    if service is None:
        raise NotFound("Not found.")
    return service
