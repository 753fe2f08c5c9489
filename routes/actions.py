"""Every write on routes and stops: one transaction each; service statuses follow through the
services actions, so every change lands in the service event log."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from services.actions import Actor, service_change_status, service_record_event
from services.models import EventKind, Package, Service, ServiceStatus
from tracking.lib.errors import Conflict, DomainError, Invalid
from tracking.lib.transitions import require_transition

from . import planning, positions
from .models import (
    FINAL_STOP_STATUSES,
    ROUTE_TRANSITIONS,
    STOP_TRANSITIONS,
    EvidenceKind,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
)

# What a stop's new status makes of its service.
SERVICE_STATUS_FOR_STOP = {
    StopStatus.IN_PROGRESS: ServiceStatus.IN_PROGRESS,
    StopStatus.PAUSED: ServiceStatus.PAUSED,
    StopStatus.DONE: ServiceStatus.DONE,
    StopStatus.FAILED: ServiceStatus.FAILED,
}


def _not_found(field):
    return DomainError(_("Not found."), code="invalid", fields={field: [_("Not found.")]})


def route_create(
    *, account, actor, driver, vehicle, day, services, branch=None, end_date=None,
    departure_time=None,
):  # fmt: skip
    """Creates a planned route with one stop per service, in the given order; the services become
    routed and the plan is stored. It starts from the branch (else the driver's branch). Raises
    DomainError for another account's or inactive driver/vehicle, and Conflict for a service that
    is not pending or is given twice."""
    if driver.account_id != account.pk or not driver.is_active:
        raise _not_found("driver")
    if vehicle.account_id != account.pk or not vehicle.is_active:
        raise _not_found("vehicle")
    ids = [service.pk for service in services]
    if len(set(ids)) != len(ids):
        raise Conflict(_("A service appears twice in the route."), code="duplicate_service")
    with transaction.atomic():
        start = planning.start_place(branch, driver)
        route = Route(
            account=account,
            driver=driver,
            vehicle=vehicle,
            branch=branch,
            carrier_id=driver.carrier_id,
            date=day,
            end_date=end_date,
            start_address=start.address_line if start else "",
            start_lat=start.lat if start else None,
            start_lng=start.lng if start else None,
            created_by=actor.user,
        )
        if departure_time is not None:
            route.departure_time = departure_time
        route.save()
        _add_stops(route, actor, ids, first_sequence=1)
        planning.route_refresh_plan(route)
    return route


def routes_split(
    *, account, actor, day, services, crews, branch=None, departure_time=None, progress=None,
    time_limit_s=None,
):  # fmt: skip
    """Splits pending services among crews (planning.Crew: driver and vehicle) with the optimizer
    and creates one planned route per crew that got stops. Returns (routes, unplaced services);
    services taken by another route while the search ran are left out of the new routes and
    counted as unplaced."""
    departure_time = departure_time or Route._meta.get_field("departure_time").default
    by_crew, unplaced = planning.split_plan(
        services=services,
        crews=crews,
        day=day,
        tzinfo=planning.place_tzinfo(branch, account),
        departure_time=departure_time,
        branch=branch,
        progress=progress,
        time_limit_s=time_limit_s,
    )
    routes = []
    with transaction.atomic():
        ids = [service.pk for ordered in by_crew.values() for service in ordered]
        pending = set(
            Service.objects.select_for_update()
            .filter(pk__in=ids, account=account, status=ServiceStatus.PENDING)
            .values_list("pk", flat=True)
        )
        for index, ordered in sorted(by_crew.items()):
            unplaced += [service for service in ordered if service.pk not in pending]
            ordered = [service for service in ordered if service.pk in pending]
            if not ordered:
                continue
            routes.append(
                route_create(
                    account=account,
                    actor=actor,
                    driver=crews[index].driver,
                    vehicle=crews[index].vehicle,
                    day=day,
                    services=ordered,
                    branch=branch,
                    departure_time=departure_time,
                )
            )
    return routes, unplaced


def _add_stops(route, actor, service_ids, first_sequence):
    services = {
        service.pk: service
        for service in Service.objects.select_for_update().filter(
            pk__in=service_ids, account_id=route.account_id
        )
    }
    stops = []
    for offset, service_id in enumerate(service_ids):
        service = services.get(service_id)
        if service is None:
            raise _not_found("services")
        if service.status != ServiceStatus.PENDING:
            raise Conflict(
                _("Service %(service)s is %(status)s, not pending: it cannot be routed.")
                % {"service": service, "status": service.get_status_display().lower()},
                code="service_not_pending",
                fields={"services": [str(service_id)]},
            )
        service_change_status(
            service=service,
            to_status=ServiceStatus.ROUTED,
            actor=_flow_actor(actor),
            data={"route_id": route.pk},
        )
        stops.append(
            Stop(
                account_id=route.account_id,
                route=route,
                service=service,
                sequence=first_sequence + offset,
            )
        )
    Stop.objects.bulk_create(stops)


def _flow_actor(actor):
    """Routing a service (or taking it out of a planned route) is the normal flow, not a manual
    status correction: an operator needs no reason for it, so the change is recorded as the
    system's, naming the operator."""
    if actor.is_operator:
        return Actor.system(label=str(actor.user))
    return actor


def _lock_planned(route):
    return _require_planned(Route.objects.select_for_update().get(pk=route.pk))


def _require_planned(route):
    if route.status != RouteStatus.PLANNED:
        raise Conflict(
            _("This route is %(status)s: only planned routes can be changed.")
            % {"status": route.get_status_display().lower()},
            code="route_not_editable",
        )
    return route


def route_add_services(*, route, actor, services):
    """Adds services at the end of a planned route. Raises Conflict once the route started."""
    with transaction.atomic():
        route = _lock_planned(route)
        last = route.stops.aggregate(last=Max("sequence"))["last"] or 0
        existing = set(route.stops.values_list("service_id", flat=True))
        ids = [service.pk for service in services if service.pk not in existing]
        _add_stops(route, actor, ids, first_sequence=last + 1)
        planning.route_refresh_plan(route)
    return route


def route_remove_service(*, route, actor, service):
    """Takes a service out of a planned route; it goes back to pending."""
    with transaction.atomic():
        route = _lock_planned(route)
        stop = route.stops.filter(service=service).first()
        if stop is None:
            raise _not_found("service")
        stop.delete()
        _renumber(route)
        _back_to_pending(service, actor, route)
        planning.route_refresh_plan(route)
    return route


def _back_to_pending(service, actor, route):
    service_change_status(
        service=service,
        to_status=ServiceStatus.PENDING,
        actor=_flow_actor(actor),
        data={"route_id": route.pk, "removed": True},
    )


def route_reorder(*, route, stop_ids):
    """Sets the planned route's order to stop_ids (all of its stops, each once)."""
    with transaction.atomic():
        route = _lock_planned(route)
        stops = {stop.pk: stop for stop in route.stops.all()}
        if sorted(stop_ids) != sorted(stops):
            raise DomainError(
                _("Give every stop of the route once."), code="invalid", fields={"stops": []}
            )
        for sequence, stop_id in enumerate(stop_ids, start=1):
            stops[stop_id].sequence = sequence
        Stop.objects.bulk_update(stops.values(), ["sequence"])
        planning.route_refresh_plan(route)
    return route


def route_optimize(*, route, time_limit_s=None, progress=None):
    """Puts a planned route in the optimizer's order and stores its plan. The search runs outside
    any transaction; if stops were added or removed meanwhile, Conflict (optimize again)."""
    route = _require_planned(Route.objects.get(pk=route.pk))  # refuse before searching
    order = planning.optimized_order(route, time_limit_s=time_limit_s, progress=progress)
    with transaction.atomic():
        route = _lock_planned(route)
        if set(route.stops.values_list("pk", flat=True)) != set(order):
            raise Conflict(
                _("The route changed while it was being optimized; optimize it again."),
                code="route_changed",
            )
        return route_reorder(route=route, stop_ids=order)


def route_update_plan(*, route, departure_time=None, start=None, end=None):
    """Changes when and where a planned route starts or ends; start and end are
    (address, lat, lng) or None to leave them. Stores the new plan."""
    with transaction.atomic():
        route = _lock_planned(route)
        fields = ["updated_at"]
        if departure_time is not None:
            route.departure_time = departure_time
            fields.append("departure_time")
        for name, place in (("start", start), ("end", end)):
            if place is not None:
                address, lat, lng = place
                setattr(route, f"{name}_address", address)
                setattr(route, f"{name}_lat", lat)
                setattr(route, f"{name}_lng", lng)
                fields += [f"{name}_address", f"{name}_lat", f"{name}_lng"]
        route.save(update_fields=fields)
        planning.route_refresh_plan(route)
    return route


def _renumber(route):
    stops = list(route.stops.order_by("sequence"))
    for sequence, stop in enumerate(stops, start=1):
        stop.sequence = sequence
    Stop.objects.bulk_update(stops, ["sequence"])


def _move_route(route, to_status):
    if route.status == to_status:
        return False
    require_transition(
        ROUTE_TRANSITIONS,
        RouteStatus,
        route.status,
        to_status,
        _("A %(from)s route cannot become %(to)s."),
    )
    route.status = to_status
    return True


def route_start(*, route, actor, recorded_at=None, point=None):
    """The driver starts the route (idempotent); every service hears of it in its event log."""
    with transaction.atomic():
        route = Route.objects.select_for_update().get(pk=route.pk)
        if not _move_route(route, RouteStatus.IN_PROGRESS):
            return route
        route.started_at = recorded_at or timezone.now()
        route.save(update_fields=["status", "started_at", "updated_at"])
        _route_event(route, actor, "started", recorded_at, point)
        _refresh_eta_after_commit(route.pk)
    return route


def route_finish(*, route, actor, recorded_at=None, point=None):
    """The driver finishes the route (idempotent). Stops never started are cancelled and their
    services go back to pending, to be routed again; a stop still under way is a Conflict."""
    with transaction.atomic():
        route = Route.objects.select_for_update().get(pk=route.pk)
        if route.status == RouteStatus.FINISHED:
            return route
        busy = route.stops.filter(
            status__in=[StopStatus.IN_PROGRESS, StopStatus.ARRIVED, StopStatus.PAUSED]
        )
        if busy.exists():
            raise Conflict(
                _("A stop is still under way: complete or fail it first."), code="stop_under_way"
            )
        _move_route(route, RouteStatus.FINISHED)
        route.finished_at = recorded_at or timezone.now()
        route.travelled_distance_m = positions.route_travelled_distance_m(route.pk)
        route.save(update_fields=["status", "finished_at", "travelled_distance_m", "updated_at"])
        _cancel_pending_stops(route, actor)
        _route_event(route, actor, "finished", recorded_at, point)
    return route


def route_cancel(*, route, actor):
    """Cancels a route before any stop started; its services go back to pending."""
    with transaction.atomic():
        route = Route.objects.select_for_update().get(pk=route.pk)
        if route.status == RouteStatus.CANCELLED:
            return route
        if route.stops.exclude(status__in=[StopStatus.PENDING, StopStatus.CANCELLED]).exists():
            raise Conflict(
                _("Stops of this route have started: it can no longer be cancelled."),
                code="route_started",
            )
        _move_route(route, RouteStatus.CANCELLED)
        route.save(update_fields=["status", "updated_at"])
        _cancel_pending_stops(route, actor)
    return route


def _cancel_pending_stops(route, actor):
    for stop in route.stops.filter(status=StopStatus.PENDING).select_related("service"):
        stop.status = StopStatus.CANCELLED
        stop.save(update_fields=["status"])
        if stop.service.status == ServiceStatus.ROUTED:
            _back_to_pending(stop.service, actor, route)


def _refresh_eta_after_commit(route_id):
    """A step of the driver changes every later ETA: refresh them at once (not throttled like
    positions are), after the step is committed."""

    def enqueue():
        from .tasks import refresh_route_eta

        refresh_route_eta.delay(route_id)

    transaction.on_commit(enqueue, robust=True)


def _route_event(route, actor, what, recorded_at, point):
    for stop in route.stops.exclude(status=StopStatus.CANCELLED).select_related("service"):
        service_record_event(
            service=stop.service,
            actor=actor,
            kind=EventKind.ROUTE,
            recorded_at=recorded_at,
            data={"route_id": route.pk, "route": what, "point": point},
        )


def stop_change_status(
    *,
    stop,
    to_status,
    actor,
    recorded_at=None,
    point=None,
    failure_reason=None,
    failure_description="",
    receiver_name="",
    receiver_document="",
    comment="",
    data=None,
):
    """Moves a stop along its machine and its service along with it, recording when and where
    on the phone. Repeating the current status is a no-op (phones retry). Raises Conflict for a
    move the machine does not allow or when the route is not in progress."""
    recorded_at = recorded_at or timezone.now()
    with transaction.atomic():
        stop = Stop.objects.select_for_update().select_related("route").get(pk=stop.pk)
        if stop.status == to_status:
            return stop
        if _is_late_step(stop, to_status, recorded_at):
            return _record_late_step(stop, to_status, actor, recorded_at, point)
        if stop.route.status != RouteStatus.IN_PROGRESS:
            raise Conflict(_("Start the route first."), code="route_not_started")
        require_transition(
            STOP_TRANSITIONS,
            StopStatus,
            stop.status,
            to_status,
            _("A stop that is %(from)s cannot become %(to)s."),
        )
        if to_status == StopStatus.FAILED:
            if failure_reason is None or failure_reason.account_id != stop.account_id:
                message = _("Choose why the delivery failed.")
                raise Invalid(
                    message, code="failure_reason_required", fields={"reason_id": [message]}
                )
            if failure_reason.requires_description and not failure_description.strip():
                message = _("Describe what happened.")
                raise Invalid(message, fields={"description": [message]})
        fields = ["status"]
        lat, lng = point if point else (None, None)
        if to_status == StopStatus.IN_PROGRESS and stop.started_at is None:
            stop.started_at, stop.started_lat, stop.started_lng = recorded_at, lat, lng
            fields += ["started_at", "started_lat", "started_lng"]
        if to_status == StopStatus.ARRIVED:
            stop.arrived_at, stop.arrived_lat, stop.arrived_lng = recorded_at, lat, lng
            fields += ["arrived_at", "arrived_lat", "arrived_lng"]
        if to_status in FINAL_STOP_STATUSES:
            stop.left_at, stop.left_lat, stop.left_lng = recorded_at, lat, lng
            stop.receiver_name, stop.receiver_document = receiver_name, receiver_document
            stop.comment = comment
            stop.failure_reason, stop.failure_description = failure_reason, failure_description
            fields += [
                "left_at", "left_lat", "left_lng", "receiver_name", "receiver_document",
                "comment", "failure_reason", "failure_description",
            ]  # fmt: skip
        stop.status = to_status
        stop.save(update_fields=fields)
        _refresh_eta_after_commit(stop.route_id)
        if to_status == StopStatus.ARRIVED:  # no status of the service, but part of its history
            service_record_event(
                service=stop.service,
                actor=actor,
                kind=EventKind.ROUTE,
                recorded_at=recorded_at,
                data={"route_id": stop.route_id, "stop_id": stop.pk, "stop": "arrived",
                      "point": point},
            )  # fmt: skip
        service_status = SERVICE_STATUS_FOR_STOP.get(to_status)
        if service_status is not None:
            service_change_status(
                service=stop.service,
                to_status=service_status,
                actor=actor,
                failure_reason=failure_reason,
                note=failure_description or comment,
                point=point,
                recorded_at=recorded_at,
                data={"route_id": stop.route_id, "stop_id": stop.pk, **(data or {})},
            )
    return stop


# Evidence kinds that satisfy each proof rule of the account.
PROOFS = {
    "signature": {EvidenceKind.SIGNATURE},
    "photo": {EvidenceKind.PHOTO, EvidenceKind.LABEL},
}


def stop_complete(
    *, stop, actor, recorded_at=None, point=None, receiver_name="", receiver_document="",
    comment="", barcodes=(),
):  # fmt: skip
    """Completes a stop with its proof: scanned barcodes must be the service's packages (Invalid
    naming the others) and the account's proof rules must be met by the stop's evidence (Invalid,
    code proof_required, naming what is missing). Returns (stop, missing_packages): the packages
    neither scanned nor read from a label. Scanned barcodes go into the event."""
    barcodes = list(barcodes)
    with transaction.atomic():
        locked = Stop.objects.select_for_update().select_related("account").get(pk=stop.pk)
        packages = list(
            Package.objects.filter(service_id=locked.service_id).values_list("barcode", flat=True)
        )
        unknown = [barcode for barcode in barcodes if barcode not in packages]
        if unknown:
            raise Invalid(
                _("Not packages of this service: %(barcodes)s.") % {"barcodes": ", ".join(unknown)},
                fields={"barcodes": unknown},
            )
        evidence = list(locked.evidence.values_list("kind", "barcodes"))
        if locked.status != StopStatus.DONE:  # a repeat of a completion needs nothing more
            _require_proof(locked.account, {kind for kind, _codes in evidence})
        stop = stop_change_status(
            stop=locked,
            to_status=StopStatus.DONE,
            actor=actor,
            recorded_at=recorded_at,
            point=point,
            receiver_name=receiver_name,
            receiver_document=receiver_document,
            comment=comment,
            data={"barcodes": barcodes} if barcodes else None,
        )
    seen = set(barcodes).union(*(codes or [] for _kind, codes in evidence))
    return stop, [barcode for barcode in packages if barcode not in seen]


def _require_proof(account, kinds):
    missing = {}
    if account.signature_required and not PROOFS["signature"] & kinds:
        missing["signature"] = [_("The receiver's signature is required.")]
    if account.photo_required and not PROOFS["photo"] & kinds:
        missing["photo"] = [_("A photo is required.")]
    if missing:
        raise Invalid(
            _("Upload the proof of delivery first: %(missing)s.") % {"missing": ", ".join(missing)},
            code="proof_required",
            fields=missing,
        )


# Steps on the way to a stop's outcome, and the statuses that come after each.
LATE_STEP_AFTER = {
    StopStatus.IN_PROGRESS: {
        StopStatus.ARRIVED,
        StopStatus.PAUSED,
        StopStatus.DONE,
        StopStatus.FAILED,
    },
    StopStatus.ARRIVED: {StopStatus.PAUSED, StopStatus.DONE, StopStatus.FAILED},
}


def _is_late_step(stop, to_status, recorded_at):
    """Whether the phone reports a step (started, arrived) that it took before the stop's
    current status but that reaches the server after it: offline phones send in any order."""
    if stop.status not in LATE_STEP_AFTER.get(to_status, ()):
        return False
    latest = max((t for t in (stop.started_at, stop.arrived_at, stop.left_at) if t), default=None)
    return latest is None or recorded_at <= latest


def _record_late_step(stop, to_status, actor, recorded_at, point):
    """Keeps a late step in the history at its phone time without undoing what came after."""
    lat, lng = point if point else (None, None)
    fields = []
    if to_status == StopStatus.IN_PROGRESS and stop.started_at is None:
        stop.started_at, stop.started_lat, stop.started_lng = recorded_at, lat, lng
        fields = ["started_at", "started_lat", "started_lng"]
    if to_status == StopStatus.ARRIVED and stop.arrived_at is None:
        stop.arrived_at, stop.arrived_lat, stop.arrived_lng = recorded_at, lat, lng
        fields = ["arrived_at", "arrived_lat", "arrived_lng"]
    if not fields:  # already known: a replay
        return stop
    stop.save(update_fields=fields)
    service_record_event(
        service=stop.service,
        actor=actor,
        kind=EventKind.ROUTE,
        recorded_at=recorded_at,
        data={"route_id": stop.route_id, "stop_id": stop.pk, "stop": to_status, "point": point},
    )
    return stop


def stops_drop_stale(*, service_id):
    """Takes a service that left its route from elsewhere (cancelled, or put back to pending by
    hand on the services page) out of the route: a planned route loses the stop and is re-planned
    (it was never an attempt); a route under way keeps it as cancelled. Idempotent."""
    with transaction.atomic():
        stale = list(
            Stop.objects.select_for_update()
            .filter(service_id=service_id, status=StopStatus.PENDING)
            .exclude(service__status=ServiceStatus.ROUTED)
            .select_related("route")
        )
        for stop in stale:
            if stop.route.status == RouteStatus.PLANNED:
                stop.delete()
                _renumber(stop.route)
                planning.route_refresh_plan(stop.route)
            else:
                stop.status = StopStatus.CANCELLED
                stop.save(update_fields=["status"])
    return len(stale)


def stop_reverse_failure(*, stop, actor, ticket_type, conversation=None):
    """Turns a failed stop, and its failed service, into done because a reversible chat ticket
    says so ("the customer came back"); the service's event names the ticket and conversation.
    Raises Invalid for a ticket type that is not reversible (or of another account), Conflict
    when the stop is not failed or its service has moved on (rescheduled, returned)."""
    if ticket_type.account_id != stop.account_id or not ticket_type.reversible:
        message = _("Only a reversible ticket type can turn a failed stop into a done one.")
        raise Invalid(message, fields={"ticket_type": [message]})
    with transaction.atomic():
        stop = Stop.objects.select_for_update().select_related("service").get(pk=stop.pk)
        if stop.status != StopStatus.FAILED:
            raise Conflict(
                _("This stop is %(status)s, not failed: there is no failure to reverse.")
                % {"status": stop.get_status_display().lower()},
                code="stop_not_failed",
            )
        if stop.service.status != ServiceStatus.FAILED:
            raise Conflict(
                _("Its service is %(status)s now: the failure can no longer be reversed.")
                % {"status": stop.service.get_status_display().lower()},
                code="service_not_failed",
            )
        stop.status = StopStatus.DONE
        stop.failure_reason, stop.failure_description = None, ""
        stop.save(update_fields=["status", "failure_reason", "failure_description"])
        data = {"route_id": stop.route_id, "stop_id": stop.pk, "ticket_type_id": ticket_type.pk}
        if conversation is not None:
            data["conversation_id"] = conversation.pk
        service_change_status(
            service=stop.service,
            to_status=ServiceStatus.DONE,
            # The ticket is the justification, not a reason for status change: recorded as the
            # system's, naming the user, like the routing flow.
            actor=_flow_actor(actor),
            note=ticket_type.description,
            data=data,
        )
    return stop


# The outcomes an operator may record by hand for a stop of a route under way (the driver's phone
# died, the customer called): a stop not started yet (or paused) gets there through "on the way".
MANUAL_STOP_TARGETS = [StopStatus.DONE, StopStatus.FAILED]


def _manual_steps(from_status, to_status):
    """The stop statuses a change by hand goes through to reach to_status, or None."""
    if to_status not in MANUAL_STOP_TARGETS:
        return None
    if to_status in STOP_TRANSITIONS[from_status]:
        return [to_status]
    if (
        StopStatus.IN_PROGRESS in STOP_TRANSITIONS[from_status]
        and to_status in STOP_TRANSITIONS[StopStatus.IN_PROGRESS]
    ):
        return [StopStatus.IN_PROGRESS, to_status]
    return None


def stop_manual_targets(stop, route):
    """The statuses an operator may give this stop by hand now (none once the route is over)."""
    if route.status != RouteStatus.IN_PROGRESS:
        return []
    return [status for status in MANUAL_STOP_TARGETS if _manual_steps(stop.status, status)]


def stop_change_status_by_hand(
    *, stop, to_status, actor, reason, failure_reason=None, failure_description="", note="",
):  # fmt: skip
    """An operator records a stop's outcome (done or failed) without the driver's phone, with a
    reason for status change that every service event it writes carries; no proof of delivery is
    asked. Raises DomainError without a valid reason, Invalid for a failure without its reason
    (or description), Conflict when the route is not in progress or the stop cannot get there."""
    recorded_at = timezone.now()
    with transaction.atomic():
        stop = Stop.objects.select_for_update().select_related("route", "service").get(pk=stop.pk)
        if reason is None:
            message = _("Choose a reason for the status change.")
            raise Invalid(message, code="reason_required", fields={"reason": [message]})
        if stop.route.status != RouteStatus.IN_PROGRESS:
            raise Conflict(
                _("This route is %(status)s: only stops of a route in progress change by hand.")
                % {"status": stop.route.get_status_display().lower()},
                code="route_not_in_progress",
            )
        steps = _manual_steps(stop.status, to_status)
        if steps is None:
            raise Conflict(
                _("A stop that is %(from)s cannot become %(to)s.")
                % {
                    "from": stop.get_status_display().lower(),
                    "to": StopStatus(to_status).label.lower(),
                },
                code="invalid_transition",
            )
        data = {"route_id": stop.route_id, "stop_id": stop.pk, "by_hand": True}
        outcome_note = failure_description or note  # as stop_change_status notes a driver's
        for step in steps:
            failed = step == StopStatus.FAILED
            # The service moves first, by the operator with the reason (services.actions asks
            # operators for one); stop_change_status then finds it there and moves the stop.
            service_change_status(
                service=stop.service,
                to_status=SERVICE_STATUS_FOR_STOP[step],
                actor=actor,
                reason=reason,
                failure_reason=failure_reason if failed else None,
                note=outcome_note if step == to_status else "",
                recorded_at=recorded_at,
                data=data,
            )
            stop = stop_change_status(
                stop=stop,
                to_status=step,
                actor=actor,
                recorded_at=recorded_at,
                failure_reason=failure_reason if failed else None,
                failure_description=failure_description if failed else "",
                comment=note if step == to_status else "",
            )
    return stop
