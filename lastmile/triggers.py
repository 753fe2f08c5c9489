"""When customers are told something: triggers read from the service event log (in the event's
transaction), and the two that depend on where the driver is and on the ETA ("driver arriving",
"out of deadline"), checked after each ETA refresh and every minute for routes in progress.
"""

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import Trigger
from routes.models import Route, RouteStatus, Stop, StopStatus
from services.models import EventKind, ServiceStatus
from tracking.lib.geo import haversine_m

from . import outbox
from .models import OutboxMessage

logger = logging.getLogger(__name__)


def event_trigger(event):
    """The trigger a service event fires (a string of accounts.Trigger), or None. Decided from
    the event's own fields, without queries: most events fire nothing."""
    if event.kind == EventKind.CREATED:
        return Trigger.SERVICE_REGISTERED
    if event.kind == EventKind.SCHEDULED:
        # Every date set or changed, unless set with the registration (scheduling says so).
        return Trigger.RESCHEDULED if (event.data or {}).get("notify", True) else None
    if event.kind == EventKind.ROUTE and (event.data or {}).get("route") == "started":
        return Trigger.ROUTE_STARTED
    # A failed service put back to pending (EventKind.RESCHEDULED) has no new date yet: when the
    # date is chosen with it, the "scheduled" event that follows in the same transaction confirms
    # it; without one, the next route's "route started" tells the customer.
    if event.kind != EventKind.STATUS:
        return None
    if event.to_status == ServiceStatus.IN_PROGRESS:
        # The driver is on the way; back from a pause tells the customer nothing new.
        return None if event.from_status == ServiceStatus.PAUSED else Trigger.DELIVERY_STARTED
    if event.to_status == ServiceStatus.DONE:
        return Trigger.DELIVERED
    if event.to_status == ServiceStatus.FAILED:
        return Trigger.DELIVERY_FAILED
    return None


def on_service_event_written(sender, *, event, **kwargs):
    """Receiver of services.signals.service_event_written, inside the event's transaction: writes
    the outbox rows of the trigger the event fires. A failure here is logged and rolled back to
    its savepoint: a notification problem never stops a delivery from being recorded."""
    trigger = event_trigger(event)
    if trigger is None:
        return
    try:
        with transaction.atomic():
            if trigger == Trigger.ROUTE_STARTED and _is_itinerant(event):
                trigger = Trigger.ITINERANT_ROUTE
            outbox.messages_queue(
                service_id=event.service_id,
                trigger=trigger,
                event=event,
                sequence=event_sequence(event),
            )
    except Exception:
        logger.exception("outbox: event %s (%s) wrote no messages", event.pk, trigger)


def event_sequence(event):
    """Which of its trigger's causes in the attempt the event is: a schedule change's number (each
    change is confirmed once), 0 for the rest (one message per trigger and attempt)."""
    if event.kind == EventKind.SCHEDULED:
        return int((event.data or {}).get("change") or 0)
    return 0


def _is_itinerant(event):
    """Whether the route of a "route started" event runs over several days (an end date)."""
    route_id = (event.data or {}).get("route_id")
    route = Route.objects.filter(pk=route_id).only("date", "end_date").first()
    return route is not None and route.end_date is not None and route.end_date > route.date


def route_check(*, route_id, now=None):
    """For a route in progress, fires "driver arriving" for the stop the driver is on the way to
    when the driver is within the account's distance of it or its ETA within the account's
    minutes, and "out of deadline" for each open stop whose ETA passed its service's deadline.
    Each fires once per attempt (the outbox writes nothing twice). Returns the rows written."""
    now = now or timezone.now()
    route = (
        Route.objects.select_related("account", "driver")
        .filter(pk=route_id, status=RouteStatus.IN_PROGRESS)
        .first()
    )
    if route is None:
        return []
    account = route.account
    stops = list(
        Stop.objects.filter(
            route=route,
            status__in=[StopStatus.PENDING, StopStatus.IN_PROGRESS, StopStatus.PAUSED],
        ).select_related("service")
    )
    driver_point = _driver_point(route)
    due = []
    for stop in stops:
        if stop.status == StopStatus.IN_PROGRESS and _is_arriving(stop, account, driver_point, now):
            due.append((stop, Trigger.DRIVER_ARRIVING))
        deadline = stop.service.deadline
        if deadline is not None and stop.eta is not None and stop.eta > deadline:
            due.append((stop, Trigger.OUT_OF_DEADLINE))
    if not due:
        return []
    # Most checks find what they would fire fired already: one query instead of a render each.
    fired = set(
        OutboxMessage.objects.filter(
            service_id__in={stop.service_id for stop, _trigger in due},
            trigger__in=[Trigger.DRIVER_ARRIVING, Trigger.OUT_OF_DEADLINE],
        ).values_list("service_id", "trigger", "attempt")
    )
    written = []
    for stop, trigger in due:
        attempt = outbox.message_attempt(stop.service)
        if (stop.service_id, trigger, attempt) in fired:
            continue
        with transaction.atomic():
            written += outbox.messages_queue(service_id=stop.service_id, trigger=trigger, stop=stop)
    return written


def _driver_point(route):
    """The driver's last position when it is from this route (not yesterday's), else None."""
    driver = route.driver
    if driver.last_lat is None or driver.last_lng is None or driver.last_position_at is None:
        return None
    if route.started_at is not None and driver.last_position_at < route.started_at:
        return None
    return (driver.last_lat, driver.last_lng)


def _is_arriving(stop, account, driver_point, now):
    point = stop.service.point
    if point is not None and driver_point is not None:
        near = haversine_m(driver_point, point) <= account.arriving_distance_m
        if near:
            return True
    if stop.eta is None:
        return False
    return (stop.eta - now).total_seconds() <= account.arriving_minutes * 60
