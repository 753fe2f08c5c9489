"""The integration API's routes (/api/v1/routes): plan one driver's route from pending services
and read it back with live statuses and ETAs, with the same API keys as services.api.

A key sees its own account's routes, drivers, vehicles and services only; anything else is a 404
(or, for the driver and vehicle named in a body, a 422). Creating goes through
routes.actions.route_create with the key as the actor and accepts an `Idempotency-Key` header.
"""

from datetime import time

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Router, Status

from accounts.idempotency import idempotent
from accounts.models import Driver, Vehicle
from services.api import ERRORS, ApiKeyAuth, _actor, _caller, _reference
from services.models import Service
from tracking.lib import br
from tracking.lib.errors import Conflict, Invalid, NotFound

from . import planning
from .actions import route_create, route_optimize
from .models import Route
from .schemas import RouteIn, RouteOut, route_payload

router = Router(auth=ApiKeyAuth(), tags=["routes"])


@router.post("", response={201: RouteOut, **ERRORS}, summary="Plan a route")
@idempotent(_caller)
def create_route(request, payload: RouteIn):
    """Creates a planned route for the driver and vehicle on the date, one stop per service in
    the order given, and answers its plan (201): planned arrivals, distance, duration and
    warnings. With `"optimize": true` the stops are then put in the optimizer's order, within
    this request (large routes take longer: see `optimize`).

    The services must be the account's (404 naming those that are not) and pending (409 naming
    the first that is not); nothing is created when any of them is refused."""
    account = request.auth.account
    by_external_id = payload.external_ids is not None
    if by_external_id == (payload.services is not None):
        message = _("Send either services or external_ids, not both.")
        if not by_external_id:
            message = _("Send services or external_ids.")
        raise Invalid(message, fields={"services": [message], "external_ids": [message]})
    driver = _driver(account, payload.driver)
    vehicle = _vehicle(account, payload.vehicle)
    branch = _reference(account, "branch", payload.branch) if payload.branch else None
    if by_external_id:
        services = _services(account, "external_ids", "external_id", payload.external_ids)
    else:
        services = _services(account, "services", "pk", payload.services)
    departure = time.fromisoformat(payload.departure_time) if payload.departure_time else None
    try:
        route = route_create(
            account=account,
            actor=_actor(request),
            driver=driver,
            vehicle=vehicle,
            day=payload.date,
            services=services,
            branch=branch,
            departure_time=departure,
        )
    except Conflict as exc:
        if by_external_id and exc.code == "service_not_pending":
            # Name the service the way the caller did.
            external = {str(service.pk): service.external_id for service in services}
            named = [external.get(pk, pk) for pk in exc.fields.get("services", [])]
            raise Conflict(exc.message, code=exc.code, fields={"external_ids": named}) from exc
        raise
    if payload.optimize:
        # Outside create's transaction, so the search holds no locks. Its only refusal (the
        # route changed meanwhile) needs someone to edit a route only this request knows yet;
        # were it to happen, the route stays as created, in the order given, and the 409 says so.
        route_optimize(route=route)
    return Status(201, _payload(account, route.pk))


@router.get("/{route_id}", response={200: RouteOut, **ERRORS}, summary="Read a route")
def get_route(request, route_id: int):
    """The route with its stops in order, their live statuses and ETAs, and its plan's
    warnings."""
    return _payload(request.auth.account, route_id)


# Resolving the body -----------------------------------------------------------------------------


def _driver(account, username):
    driver = Driver.objects.filter(account=account, username=username, is_active=True).first()
    if driver is None:
        message = _("No active driver with this username.")
        raise Invalid(message, fields={"driver": [message]})
    return driver


def _vehicle(account, plate):
    try:
        plate = br.normalise_plate(plate)
    except ValidationError as exc:  # not shaped like a plate
        message = " ".join(exc.messages)
        raise Invalid(message, fields={"vehicle": [message]}) from exc
    vehicle = Vehicle.objects.filter(account=account, plate=plate, is_active=True).first()
    if vehicle is None:
        message = _("No active vehicle with this plate.")
        raise Invalid(message, fields={"vehicle": [message]})
    return vehicle


def _services(account, field, key, values):
    """The account's services whose `key` is each of values, in that order; NotFound naming the
    values that match none (also those of another account: they look the same)."""
    found = {
        getattr(service, key): service
        for service in Service.objects.filter(account=account, **{f"{key}__in": values})
    }
    missing = [str(value) for value in values if value not in found]
    if missing:
        raise NotFound(
            _("The account has no such services: %(missing)s.") % {"missing": ", ".join(missing)},
            fields={field: missing},
        )
    return [found[value] for value in values]


# Reading ----------------------------------------------------------------------------------------


def _payload(account, route_id):
    """The account's route as the API shows it, in two queries (the route, then its stops with
    what planning reads), none per stop."""
    route = (
        Route.objects.filter(account=account, pk=route_id)
        .select_related("driver", "vehicle", "branch", "account")
        .first()
    )
    if route is None:
        raise NotFound(_("Not found."))
    plan = planning.route_plan(route, planning.route_stops(route))
    return route_payload(route, plan)
