"""The driver app's API (/api/driver/v1/): log in per device, the driver's routes and stops, each
step and outcome as the phone recorded it, the account's lists, and the chat with support.

A driver sees and touches only their own routes and stops: anything else is a 404. Every write
goes through routes.actions (or routes.chat) with the driver as the actor and accepts an
`Idempotency-Key` header (a replay answers the first response and does nothing twice). Phones
send late and out of order: a step recorded before the stop's outcome but heard after it is kept
in the history at its phone time and undoes nothing.
"""

import zoneinfo

from axes.helpers import get_client_ip_address
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from accounts.devices import Throttled, device_login, device_revoke
from accounts.idempotency import idempotent
from accounts.models import ChatTicketType, FailureReason
from services.actions import Actor
from services.api import ERRORS
from services.schemas import ErrorOut
from tracking.lib.errors import Invalid, NotFound, error_payload

from . import planning
from .actions import route_finish, route_start, stop_change_status, stop_complete
from .chat import (
    conversation_open_for_failure,
    message_send,
    messages_after,
    messages_mark_read,
)
from .driver_auth import DeviceTokenAuth, device_caller
from .driver_schemas import (
    ChatTicketTypeListOut,
    CompleteIn,
    DriverRouteOut,
    DriverStopOut,
    FailIn,
    FailureReasonListOut,
    Id,
    MeOut,
    MessageIn,
    MessageListOut,
    MessageOut,
    MessagesQuery,
    RevokedOut,
    RouteListOut,
    RoutesQuery,
    StepIn,
    StopCompletedOut,
    TokenIn,
    TokenOut,
    driver_payload,
    me_payload,
    message_payload,
    route_payload,
    stop_payload,
)
from .models import (
    MessageAuthor,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
)

router = Router(auth=DeviceTokenAuth(), tags=["driver"])

# What each kind of proof the account may require is satisfied by.

# Logging in -------------------------------------------------------------------------------------


@router.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Log a device in",
)
def issue_token(request, payload: TokenIn, response: HttpResponse):
    """Issues a device token for the driver's login and password (401 when either is wrong, or
    the driver or account is inactive). After 5 failures for a login or from an address within
    15 minutes, 429 with `Retry-After` (seconds).

    Logging in again with the same `device_id` revokes the token that device had, so a retried
    login (it takes no `Idempotency-Key`: there is no caller before it) leaves one live token per
    device: the last one issued."""
    try:
        issued = device_login(
            login=payload.username,
            password=payload.password,
            device_id=payload.device_id,
            device_name=payload.device_name,
            # The address as the web login resolves it (PROXY_COUNT): behind a proxy,
            # REMOTE_ADDR alone would put every phone in one throttling bucket.
            address=get_client_ip_address(request) or "",
        )
    except Throttled as exc:
        response["Retry-After"] = str(exc.retry_after)
        message = _("Too many failed logins: try again later.")
        return Status(429, error_payload("throttled", message))
    if issued is None:
        message = _("Wrong login or password.")
        return Status(401, error_payload("invalid_credentials", message))
    device, token = issued
    return {"token": token, "driver": driver_payload(device.driver, request), "expires": None}


@router.post("/auth/revoke", response={200: RevokedOut, **ERRORS}, summary="Log this device out")
@idempotent(device_caller)
def revoke_token(request):
    """Revokes the calling device's token: from then on it is answered 401."""
    device_revoke(device=request.auth)
    return {"revoked": True}


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The driver and the app's settings")
def me(request):
    """The driver, their usual vehicle, the account's name and what the app must do: how often
    to send positions and which proof completing a stop needs."""
    driver = request.auth.driver
    return me_payload(driver, request, _time_zone(driver))


# Routes -----------------------------------------------------------------------------------------


@router.get("/routes", response={200: RouteListOut, **ERRORS}, summary="The driver's routes")
def list_routes(request, filters: Query[RoutesQuery]):
    """The driver's routes on the date (an itinerant route on every day it runs), cancelled ones
    left out, each with its stops in order."""
    driver = request.auth.driver
    tzinfo = _tzinfo(driver)
    day = filters.date or timezone.localdate(timezone=tzinfo)
    routes = (
        _routes(driver)
        .filter(Q(date=day) | Q(date__lt=day, end_date__gte=day))
        .exclude(status=RouteStatus.CANCELLED)
        .order_by("date", "departure_time", "pk")
    )
    return {"items": [route_payload(route, tzinfo) for route in routes]}


@router.get("/routes/{route_id}", response={200: DriverRouteOut, **ERRORS}, summary="A route")
def get_route(request, route_id: Id):
    """One of the driver's routes (also a cancelled one, so the app can drop it)."""
    return _route_payload(request, route_id)


@router.post(
    "/routes/{route_id}/start", response={200: DriverRouteOut, **ERRORS}, summary="Start a route"
)
@idempotent(device_caller)
def start_route(request, route_id: Id, payload: StepIn):
    """Starts a planned route (starting it again changes nothing); answers the route."""
    route = _own_route(request, route_id)
    route_start(
        route=route, actor=_actor(request), recorded_at=payload.recorded_at, point=payload.point
    )
    return _route_payload(request, route.pk)


@router.post(
    "/routes/{route_id}/finish",
    response={200: DriverRouteOut, **ERRORS},
    summary="Finish a route",
)
@idempotent(device_caller)
def finish_route(request, route_id: Id, payload: StepIn):
    """Finishes the route: stops never started are cancelled (their services go back to the
    back office). 409 while a stop is under way."""
    route = _own_route(request, route_id)
    route_finish(
        route=route, actor=_actor(request), recorded_at=payload.recorded_at, point=payload.point
    )
    return _route_payload(request, route.pk)


# Stops ------------------------------------------------------------------------------------------


@router.post(
    "/stops/{stop_id}/start", response={200: DriverStopOut, **ERRORS}, summary="Drive to a stop"
)
@idempotent(device_caller)
def start_stop(request, stop_id: Id, payload: StepIn):
    """The driver is on the way to the stop (the route must be started: 409 otherwise)."""
    return _step(request, stop_id, payload, StopStatus.IN_PROGRESS)


@router.post(
    "/stops/{stop_id}/arrive", response={200: DriverStopOut, **ERRORS}, summary="Arrive at a stop"
)
@idempotent(device_caller)
def arrive_stop(request, stop_id: Id, payload: StepIn):
    """The driver is at the address. An arrival recorded before the stop's outcome but sent
    after it is kept at its time and changes nothing else."""
    return _step(request, stop_id, payload, StopStatus.ARRIVED)


@router.post(
    "/stops/{stop_id}/pause", response={200: DriverStopOut, **ERRORS}, summary="Pause a stop"
)
@idempotent(device_caller)
def pause_stop(request, stop_id: Id, payload: StepIn):
    return _step(request, stop_id, payload, StopStatus.PAUSED)


@router.post(
    "/stops/{stop_id}/resume", response={200: DriverStopOut, **ERRORS}, summary="Resume a stop"
)
@idempotent(device_caller)
def resume_stop(request, stop_id: Id, payload: StepIn):
    return _step(request, stop_id, payload, StopStatus.IN_PROGRESS)


@router.post(
    "/stops/{stop_id}/complete",
    response={200: StopCompletedOut, **ERRORS},
    summary="Complete a stop",
)
@idempotent(device_caller)
def complete_stop(request, stop_id: Id, payload: CompleteIn):
    """Records the delivery (pickup, visit) as done. Scanned `barcodes` are optional, but each
    must be one of the service's packages (422 naming the others in `fields.barcodes`); the
    answer lists in `missing_packages` the packages neither scanned nor read from a label photo.

    When the account requires proof, upload it first (`POST stops/{id}/evidence`): a `signature`
    evidence when a signature is required, a `photo` or `label` when a photo is; otherwise 422
    with code `proof_required` and the missing kinds as `fields` keys."""
    stop = _own_stop(request, stop_id)
    stop, missing = stop_complete(
        stop=stop,
        actor=_actor(request),
        recorded_at=payload.recorded_at,
        point=payload.point,
        receiver_name=payload.receiver_name,
        receiver_document=payload.receiver_document,
        comment=payload.comment,
        barcodes=payload.barcodes,
    )
    data = _stop_payload(request, stop.pk)
    data["missing_packages"] = missing
    return data


@router.post(
    "/stops/{stop_id}/fail", response={200: DriverStopOut, **ERRORS}, summary="Fail a stop"
)
@idempotent(device_caller)
def fail_stop(request, stop_id: Id, payload: FailIn):
    """Records why the stop could not be done: `reason_id` is one of the account's active failure
    reasons (422 otherwise), `description` is required when the reason says so. A reason that
    `opens_chat` opens the stop's conversation with support (or reuses the open one) with a
    message saying why it failed."""
    stop = _own_stop(request, stop_id)
    reason = FailureReason.objects.filter(
        account_id=stop.account_id, pk=payload.reason_id, is_active=True
    ).first()
    if reason is None:
        message = _("Choose one of the account's failure reasons.")
        raise Invalid(message, fields={"reason_id": [message]})
    with transaction.atomic():
        was = Stop.objects.select_for_update().values_list("status", flat=True).get(pk=stop.pk)
        stop = stop_change_status(
            stop=stop,
            to_status=StopStatus.FAILED,
            actor=_actor(request),
            recorded_at=payload.recorded_at,
            point=payload.point,
            failure_reason=reason,
            failure_description=payload.description,
        )
        if was != StopStatus.FAILED and reason.opens_chat:
            conversation_open_for_failure(stop=stop)
    return _stop_payload(request, stop.pk)


# The account's lists ----------------------------------------------------------------------------


@router.get(
    "/failure-reasons", response={200: FailureReasonListOut, **ERRORS}, summary="Failure reasons"
)
def list_failure_reasons(request):
    """The account's active reasons a stop can fail for."""
    reasons = FailureReason.objects.filter(
        account_id=request.auth.driver.account_id, is_active=True
    )
    return {
        "items": [
            {
                "id": reason.pk,
                "description": reason.description,
                "opens_chat": reason.opens_chat,
                "requires_description": reason.requires_description,
            }
            for reason in reasons.order_by("description", "pk")
        ]
    }


@router.get(
    "/chat-ticket-types",
    response={200: ChatTicketTypeListOut, **ERRORS},
    summary="Chat ticket types",
)
def list_chat_ticket_types(request):
    """The account's active ways support resolves a chat (a reversible one can turn a failure
    into a success)."""
    types = ChatTicketType.objects.filter(account_id=request.auth.driver.account_id, is_active=True)
    return {
        "items": [
            {"id": kind.pk, "description": kind.description, "reversible": kind.reversible}
            for kind in types.order_by("description", "pk")
        ]
    }


# Chat -------------------------------------------------------------------------------------------


@router.get("/chat/messages", response={200: MessageListOut, **ERRORS}, summary="Chat messages")
def list_messages(request, filters: Query[MessagesQuery]):
    """The messages about one of the driver's routes and its stops, oldest first, at most 200:
    poll with `after` = the last id received for the new ones. Support's messages returned are
    marked as read by the driver."""
    route = _own_route(request, filters.route)
    messages = messages_after(route=route, after_id=filters.after)
    messages_mark_read(messages=messages, reader=MessageAuthor.DRIVER)
    tzinfo = _tzinfo(request.auth.driver)
    return {"items": [message_payload(message, tzinfo) for message in messages]}


@router.post("/chat/messages", response={201: MessageOut, **ERRORS}, summary="Write to support")
@idempotent(device_caller)
def post_message(request, payload: MessageIn):
    """Posts to the open conversation about the route, or about one of its stops with `stop`,
    opening one when none is open (201)."""
    route = _own_route(request, payload.route)
    stop = None
    if payload.stop is not None:
        stop = route.stops.filter(pk=payload.stop).first()
        if stop is None:
            raise NotFound(_("Not found."), fields={"stop": [_("Not a stop of this route.")]})
    message = message_send(route=route, stop=stop, author=MessageAuthor.DRIVER, text=payload.text)
    return Status(201, message_payload(message, _tzinfo(request.auth.driver)))


# Helpers ----------------------------------------------------------------------------------------


def _actor(request):
    return Actor.for_driver(request.auth.driver)


def _time_zone(driver):
    """The driver's own time zone, else the account's: what the app shows and what `today` is."""
    return driver.time_zone or driver.account.time_zone


def _tzinfo(driver):
    return zoneinfo.ZoneInfo(_time_zone(driver))


def _stops():
    """Stops with everything stop_payload reads, in the driver's order."""
    return (
        Stop.objects.select_related(*planning.STOP_RELATED)
        .prefetch_related("service__packages")
        .order_by("sequence", "pk")
    )


def _routes(driver):
    """The driver's routes with their stops and what route_payload reads (four queries)."""
    return Route.objects.filter(account_id=driver.account_id, driver=driver).prefetch_related(
        Prefetch("stops", queryset=_stops())
    )


def _own_route(request, route_id):
    driver = request.auth.driver
    route = Route.objects.filter(account_id=driver.account_id, driver=driver, pk=route_id).first()
    if route is None:
        raise NotFound(_("Not found."))
    return route


def _own_stop(request, stop_id):
    driver = request.auth.driver
    stop = (
        Stop.objects.filter(account_id=driver.account_id, route__driver=driver, pk=stop_id)
        .select_related("route", "service", "account")
        .first()
    )
    if stop is None:
        raise NotFound(_("Not found."))
    return stop


def _route_payload(request, route_id):
    driver = request.auth.driver
    route = _routes(driver).filter(pk=route_id).first()
    if route is None:
        raise NotFound(_("Not found."))
    return route_payload(route, _tzinfo(driver))


def _stop_payload(request, stop_id):
    driver = request.auth.driver
    return stop_payload(_stops().get(pk=stop_id), _tzinfo(driver))


def _step(request, stop_id, payload, to_status):
    stop = _own_stop(request, stop_id)
    stop_change_status(
        stop=stop,
        to_status=to_status,
        actor=_actor(request),
        recorded_at=payload.recorded_at,
        point=payload.point,
    )
    return _stop_payload(request, stop.pk)
