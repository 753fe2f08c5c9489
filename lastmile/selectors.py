"""Reads of the customers' Last Mile page: the service behind a tracking token (or nothing), and
what its page shows, in a handful of queries. Nothing here leaves the one service: no other
customer's stop, address or position is ever read for the page."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Trigger
from routes.models import Evidence, EvidenceKind, RouteStatus, Stop, StopStatus
from routes.views import MAP_ATTRIBUTION, MAP_TILES
from scheduling.selectors import (
    available_slots,
    cutoff_passed,
    policy_for,
    service_tzinfo,
    window_bounds,
)
from services.models import (
    FINAL_STATUSES,
    EventKind,
    Service,
    ServiceEvent,
    ServiceStatus,
    ServiceType,
)
from tracking.lib.geo import haversine_m

# What new_tracking_token makes (URL-safe base64); anything else is not looked up at all.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# While the service is in one of these, the page refreshes its live part.
LIVE_STATUSES = {ServiceStatus.ROUTED, ServiceStatus.IN_PROGRESS, ServiceStatus.PAUSED}
# The statuses in which a service has a current attempt (its latest stop).
ATTEMPT_STATUSES = LIVE_STATUSES | {ServiceStatus.DONE}
# The driver is on the way to this address or at the door: the only time the map is shown.
MAP_STOP_STATUSES = {StopStatus.IN_PROGRESS, StopStatus.ARRIVED}
ETA_STOP_STATUSES = {StopStatus.PENDING, StopStatus.IN_PROGRESS, StopStatus.PAUSED}
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#0D6EFD"

DONE_LABELS = {
    ServiceType.DELIVERY: Trigger.DELIVERED.label,
    ServiceType.PICKUP: gettext_lazy("Picked up"),
    ServiceType.VISIT: gettext_lazy("Visit done"),
}
FAILED_LABELS = {
    ServiceType.DELIVERY: Trigger.DELIVERY_FAILED.label,
    ServiceType.PICKUP: gettext_lazy("Pickup failed"),
    ServiceType.VISIT: gettext_lazy("Visit failed"),
}


# The token --------------------------------------------------------------------------------------


def service_by_token(token, *, now=None):
    """The service whose Last Mile link this is, or None for a malformed, unknown or expired
    token (the caller cannot tell them apart). One query on the token's unique index."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    # The schedule (with its window) and the rating are read when used, not joined here: with
    # them PostgreSQL spent 5 to 9 ms planning this query on every request (nine tables), under
    # 1 ms without, for two small queries of their own (benchmarks/lastmile.py).
    service = (
        Service.objects.select_related("account", "agency", "branch", "customer__account")
        .filter(tracking_token=token)
        .first()
    )
    if service is None or link_expired(service, now=now):
        return None
    return service


def link_expires_at(service):
    """When the link stops working: the account's tracking_link_days after the service ended
    (done, cancelled or returned); None while it has not ended."""
    if service.status not in FINAL_STATUSES:
        return None
    ended_at = service.finished_at or service.updated_at
    return ended_at + timedelta(days=service.account.tracking_link_days)


def link_expired(service, *, now=None):
    expires_at = link_expires_at(service)
    return expires_at is not None and (now or timezone.now()) >= expires_at


# Brand ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    colour: str
    text_colour: str


def _relative_luminance(colour):
    def linear(channel):
        value = int(channel, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def readable_text_colour(colour):
    """White on the background colour when that reaches WCAG AA (4.5:1), else whichever of white
    and black contrasts more."""
    luminance = _relative_luminance(colour)
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return "#ffffff" if on_white >= min(4.5, on_black) else "#000000"


def service_brand(service):
    """The agency's name, logo and header colour; without an agency, the account's name."""
    agency = service.agency
    name = agency.name if agency else service.account.name
    logo_url = agency.logo.url if agency and agency.logo else ""
    colour = agency.header_colour if agency else DEFAULT_COLOUR
    # Validated by the model, checked again: it goes into a style attribute.
    if not HEX_COLOUR.match(colour or ""):
        colour = DEFAULT_COLOUR
    return Brand(name, logo_url, colour, readable_text_colour(colour))


# Attempts ---------------------------------------------------------------------------------------


def service_stops(service):
    """The service's attempts (stops not cancelled), oldest first, with route, driver, vehicle,
    failure reason and the photos taken (signatures and labels are not the customer's to see)."""
    photos = Evidence.objects.filter(kind=EvidenceKind.PHOTO).order_by("recorded_at", "pk")
    return list(
        Stop.objects.filter(service=service)
        .exclude(status=StopStatus.CANCELLED)
        .select_related("route__driver", "route__vehicle", "failure_reason")
        .prefetch_related(Prefetch("evidence", queryset=photos, to_attr="photos"))
        .order_by("pk")
    )


def current_stop(service, stops):
    """The attempt under way or the one that succeeded; None while there is none (pending, or
    failed and not yet routed again)."""
    if service.status not in ATTEMPT_STATUSES or not stops:
        return None
    latest = stops[-1]
    return None if latest.status == StopStatus.FAILED else latest


def failed_attempts(stops):
    return [stop for stop in stops if stop.status == StopStatus.FAILED]


# The live part ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapView:
    """What the map shows: the address and, when known since this stop started, the driver."""

    destination: tuple | None
    driver: tuple | None
    distance_m: float | None
    tiles: str = MAP_TILES
    attribution: str = MAP_ATTRIBUTION

    @property
    def distance_km(self):
        return None if self.distance_m is None else round(self.distance_m / 1000, 1)


@dataclass(frozen=True)
class Live:
    """The part of the page that refreshes while the service is under way."""

    headline: str
    state: str
    polling: bool
    arrived: bool = False
    eta: tuple | None = None  # (earliest, latest), aware
    eta_day: object = None  # the ETA's date when it is not today (local time)
    map: MapView | None = None
    driver_shown: bool = False


def headline(service, stop):
    """The service's status in the customer's words."""
    status = service.status
    if status == ServiceStatus.PENDING:
        if service.attempt_count:
            return _("Rescheduled")
        return _("Scheduled") if getattr(service, "schedule", None) else _("Registered")
    if status == ServiceStatus.ROUTED:
        if stop is not None and stop.route.status == RouteStatus.IN_PROGRESS:
            return _("Out for delivery")
        return _("Preparing for delivery")
    if status == ServiceStatus.IN_PROGRESS:
        if stop is not None and stop.status == StopStatus.ARRIVED:
            return _("The driver has arrived")
        return _("On the way")
    if status == ServiceStatus.PAUSED:
        return _("In progress")
    if status == ServiceStatus.DONE:
        return DONE_LABELS[service.type]
    if status == ServiceStatus.FAILED:
        return FAILED_LABELS[service.type]
    if status == ServiceStatus.CANCELLED:
        return _("Cancelled")
    return _("Returned to the sender")


def map_view(service, stop):
    """The map, only while this service's own stop is on the way or at the door on a route in
    progress; None at any other time (before, after, or while the driver serves others)."""
    if (
        stop is None
        or service.status != ServiceStatus.IN_PROGRESS
        or stop.status not in MAP_STOP_STATUSES
        or stop.route.status != RouteStatus.IN_PROGRESS
    ):
        return None
    destination = service.point
    driver = _driver_point(stop)
    if destination is None and driver is None:
        return None
    distance_m = haversine_m(driver, destination) if driver and destination else None
    return MapView(destination, driver, distance_m)


def _driver_point(stop):
    """The driver's latest point if taken since this stop started (an older one is where the
    driver was before heading here)."""
    driver = stop.route.driver
    since = stop.started_at or stop.route.started_at
    seen_at = driver.last_position_at
    if seen_at is None or driver.last_lat is None or driver.last_lng is None:
        return None
    if since is not None and seen_at < since:
        return None
    return (driver.last_lat, driver.last_lng)


def live_status(service, stops):
    """The live part of the page (times in the active time zone: the view sets the service's)."""
    stop = current_stop(service, stops)
    arrived = bool(
        stop and service.status == ServiceStatus.IN_PROGRESS and stop.status == StopStatus.ARRIVED
    )
    eta = None
    if (
        stop is not None
        and service.status in LIVE_STATUSES
        and stop.status in ETA_STOP_STATUSES
        and stop.eta_earliest is not None
        and stop.eta_latest is not None
    ):
        eta = (stop.eta_earliest, stop.eta_latest)
    eta_day = None
    if eta is not None and timezone.localdate(eta[0]) != timezone.localdate():
        eta_day = timezone.localdate(eta[0])
    shown_map = map_view(service, stop)
    driver_shown = bool(
        stop is not None
        and service.status in ATTEMPT_STATUSES
        and stop.route.status in (RouteStatus.IN_PROGRESS, RouteStatus.FINISHED)
    )
    # Anything that changes what the rest of the page shows: the page reloads when it differs.
    state = "/".join(
        [
            service.status,
            str(stop.pk if stop else 0),
            stop.status if stop else "",
            stop.route.status if stop else "",
            "map" if shown_map else "",
        ]
    )
    return Live(
        headline=headline(service, stop),
        state=state,
        polling=service.status in LIVE_STATUSES,
        arrived=arrived,
        eta=eta,
        eta_day=eta_day,
        map=shown_map,
        driver_shown=driver_shown,
    )


# Timeline ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str
    label: str
    detail: str = ""


def service_timeline(service):
    """The events a customer cares about, in the order they happened (phone time): registered,
    date set, route started, on the way, arrived, done or failed (with the reason), rescheduled,
    cancelled, returned. Who did it and notes stay with the operators."""
    events = (
        ServiceEvent.objects.filter(
            service=service,
            kind__in=[
                EventKind.CREATED,
                EventKind.SCHEDULED,
                EventKind.STATUS,
                EventKind.RESCHEDULED,
                EventKind.ROUTE,
            ],
        )
        .select_related("failure_reason")
        .order_by("recorded_at", "pk")
    )
    steps = (_step(service, event) for event in events)
    return [step for step in steps if step is not None]


def _step(service, event):
    kind, at = event.kind, event.recorded_at
    data = event.data or {}
    if kind == EventKind.CREATED:
        return Step(at, "registered", Trigger.SERVICE_REGISTERED.label)
    if kind == EventKind.SCHEDULED:
        return Step(at, "scheduled", _("Delivery date set"), _schedule_detail(data))
    if kind == EventKind.RESCHEDULED:
        return Step(at, "rescheduled", _("Rescheduled"))
    if kind == EventKind.ROUTE:
        if data.get("route") == "started":
            return Step(at, "route_started", Trigger.ROUTE_STARTED.label)
        if data.get("stop") == StopStatus.ARRIVED:
            return Step(at, "arrived", _("Arrived"))
        if data.get("stop") == StopStatus.IN_PROGRESS:  # a late "started" from the phone
            return Step(at, "on_the_way", _("On the way"))
        return None
    to_status = event.to_status
    if to_status == ServiceStatus.IN_PROGRESS and event.from_status == ServiceStatus.ROUTED:
        return Step(at, "on_the_way", _("On the way"))
    if to_status == ServiceStatus.DONE:
        return Step(at, "done", DONE_LABELS[service.type])
    if to_status == ServiceStatus.FAILED:
        reason = event.failure_reason.description if event.failure_reason else ""
        return Step(at, "failed", FAILED_LABELS[service.type], reason)
    if to_status == ServiceStatus.CANCELLED:
        return Step(at, "cancelled", _("Cancelled"))
    if to_status == ServiceStatus.RETURNED:
        return Step(at, "returned", _("Returned to the sender"))
    return None


def _schedule_detail(data):
    try:
        day = date.fromisoformat(data.get("date", ""))
    except (TypeError, ValueError):
        return ""
    window = f"{data.get('start', '')}–{data.get('end', '')}".strip("–")
    return " · ".join(part for part in (date_format(day, "DATE_FORMAT"), window) if part)


# Rescheduling -----------------------------------------------------------------------------------


def customer_may_schedule(service, *, stops=None, now=None):
    """Whether the customer may choose the date from the page: a pending service (before the
    cut-off of the date it has), or a failed one whose last attempt failed for a reason that is
    the customer's (FailureReason.customer_fault) and that has attempts left."""
    now = now or timezone.now()
    if service.status == ServiceStatus.PENDING:
        schedule = getattr(service, "schedule", None)
        if schedule is None:
            return True
        cutoff_hours, _horizon = policy_for(account=service.account, branch=service.branch)
        starts_at, _ends = window_bounds(schedule.window, schedule.date, service_tzinfo(service))
        return not cutoff_passed(starts_at, cutoff_hours, now)
    if service.status != ServiceStatus.FAILED:
        return False
    if service.attempt_count + 1 >= service.account.max_attempts:
        return False
    attempts = failed_attempts(service_stops(service) if stops is None else stops)
    reason = attempts[-1].failure_reason if attempts else None
    return bool(reason and reason.customer_fault)


@dataclass(frozen=True)
class Choice:
    """A slot offered on the page: what its button sends ("2030-01-07_12": date and window) and
    whether it is the date the service has now."""

    slot: object
    value: str
    current: bool


def schedule_choices(service, *, stops=None, now=None):
    """[(date, [Choice, ...]), ...]: the windows the customer can pick now, by day; [] when the
    customer may not choose (or nothing is offered)."""
    now = now or timezone.now()
    if not customer_may_schedule(service, stops=stops, now=now):
        return []
    schedule = getattr(service, "schedule", None)
    current = (schedule.date, schedule.window_id) if schedule else None
    choices = [
        Choice(
            slot,
            f"{slot.date.isoformat()}_{slot.window.pk}",
            (slot.date, slot.window.pk) == current,
        )
        for slot in available_slots(service=service, now=now)
    ]
    return [(day, list(group)) for day, group in groupby(choices, key=lambda c: c.slot.date)]


# The page ---------------------------------------------------------------------------------------


@dataclass
class LastMilePage:
    service: Service
    brand: Brand
    live: Live
    stop: Stop | None
    driver: object
    vehicle: object
    schedule: object
    timeline: list = field(default_factory=list)
    packages: list = field(default_factory=list)
    attempts: list = field(default_factory=list)
    choices: list = field(default_factory=list)
    rating: object = None
    can_rate: bool = False


def lastmile_page(service, *, now=None):
    """Everything the page shows for the service (found by service_by_token)."""
    stops = service_stops(service)
    live = live_status(service, stops)
    stop = current_stop(service, stops)
    rating = getattr(service, "rating", None)
    schedule = getattr(service, "schedule", None)
    if service.status not in {ServiceStatus.PENDING, ServiceStatus.ROUTED}:
        schedule = None  # only an agreed date still ahead is worth showing
    return LastMilePage(
        service=service,
        brand=service_brand(service),
        live=live,
        stop=stop,
        driver=stop.route.driver if live.driver_shown else None,
        vehicle=stop.route.vehicle if live.driver_shown else None,
        schedule=schedule,
        timeline=service_timeline(service),
        packages=list(service.packages.all()),
        attempts=failed_attempts(stops),
        choices=schedule_choices(service, stops=stops, now=now),
        rating=rating,
        can_rate=service.status == ServiceStatus.DONE and rating is None,
    )
