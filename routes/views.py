"""The operators' pages for routes: the day's routes, the builder (a new route from pending
services, or more stops for a planned one), a route with its plan (reorder by hand, optimize,
departure, remove stops, cancel) and, once started, what happened at each stop (a stop's outcome
can be recorded by hand), its printable sheet, and background planning jobs.

Managers and operators of an account (accounts.access's ROUTES); anyone else gets a 404, and so
does any route or job outside the user's scope. Every write goes through routes.actions; their
DomainErrors become messages or form errors. Numbers shown come from planning.route_plan.
"""

from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from accounts import access
from services.actions import Actor
from tracking.lib.errors import DomainError

from . import actions, jobs, planning, selectors
from .forms import (
    AddStopsForm,
    CandidateFilterForm,
    DepartureForm,
    RouteForm,
    RouteListForm,
    SplitForm,
    StopStatusForm,
)
from .models import PlanningJobStatus, RouteStatus, StopStatus

# The map tiles every dashboard map uses (the services pages' too); only tiles leave the site.
MAP_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
MAP_ATTRIBUTION = "&copy; OpenStreetMap contributors"
# A stop warning's badge; planning.WARNINGS has the full sentence, shown with it.
WARNING_LABELS = {
    "no_location": gettext_lazy("No coordinates"),
    "window_missed": gettext_lazy("Window missed"),
    "past_deadline": gettext_lazy("Past deadline"),
}
# A started route's stops still to be reached: they show their ETA window.
ETA_STOP_STATUSES = {StopStatus.PENDING, StopStatus.IN_PROGRESS, StopStatus.PAUSED}
# What a route event of a service's history says (its data's "route" or "stop").
ROUTE_EVENT_LABELS = {
    "started": gettext_lazy("Route started"),
    "finished": gettext_lazy("Route finished"),
}


def routes_section(view):
    """Logged in, in an account, and allowed in the routes section; anyone else gets a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not access.can_see_section(user, access.ROUTES) or user.account_id is None:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _wants_partial(request):
    return bool(request.htmx) and not request.htmx.history_restore_request


def hours_minutes(seconds):
    """A duration as h:mm (2:05)."""
    minutes = round((seconds or 0) / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _km(distance_m):
    return formats.number_format((distance_m or 0) / 1000, 1, use_l10n=True)


def _not_editable_message(route):
    return _("This route is %(status)s: only planned routes can be changed.") % {
        "status": route.get_status_display().lower()
    }


# The day's routes -------------------------------------------------------------------------------


@routes_section
def index(request):
    user = request.user
    today = user.account.today()
    form = RouteListForm(request.GET, user=user, today=today)
    filters = form.filters()
    routes = list(selectors.route_list(user=user, filters=filters))
    for route in routes:
        route.duration_display = hours_minutes(route.planned_duration_s)
        route.distance_km = route.planned_distance_m / 1000
    day = filters.day
    context = {
        "form": form,
        "routes": routes,
        "day": day,
        "today": today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "totals": selectors.route_list_totals(routes),
        "pending_count": None if routes else selectors.pending_service_count(user),
        "filtered": any(form.cleaned_data.get(name) for name in ("branch", "driver", "status")),
    }
    return render(request, "routes/index.html", context)


# The builder ------------------------------------------------------------------------------------


def _route_to_extend(request):
    """The planned route `?route=` names, for adding stops to it; None for a new route."""
    value = request.GET.get("route", "")
    if not value:
        return None
    if not value.isdigit():
        raise Http404
    return selectors.route_detail(user=request.user, pk=int(value))


@routes_section
def create(request):
    """The builder: filter pending services, pick them from the list or the map, build."""
    user = request.user
    route = _route_to_extend(request)
    if route is not None and not route.is_editable:
        messages.warning(request, _not_editable_message(route))
        return redirect("routes:detail", pk=route.pk)
    posted = request.method == "POST"
    form_class = AddStopsForm if route else RouteForm
    form = form_class(request.POST if posted else None, user=user)
    # The filters come back with the posted form, so a refused route shows the same list.
    filter_data = QueryDict(request.POST.get("filters", "")) if posted else request.GET
    filters_form = CandidateFilterForm(
        filter_data, user=user, today=user.account.today(), route=route
    )
    if posted and form.is_valid():
        try:
            saved = _build(form, user, route)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            count = len(form.cleaned_data["services"])
            if route:
                text = ngettext(
                    "%(count)s stop added to the route.",
                    "%(count)s stops added to the route.",
                    count,
                )
            else:
                text = ngettext(
                    "Route created with %(count)s stop.",
                    "Route created with %(count)s stops.",
                    count,
                )
            messages.success(request, text % {"count": count})
            return redirect("routes:detail", pk=saved.pk)
    selected = form["services"].value() if posted else []
    context = _builder_context(user, filters_form, route, selected)
    context["form"] = form
    if _wants_partial(request) and not posted:
        context["partial"] = True
        response = render(request, "routes/_partials/candidates.html", context)
        # The form sends every field; the address bar keeps only those that filter.
        push_url(response, f"{request.path}?{context['filter_query'].urlencode()}")
    else:
        response = render(request, "routes/builder.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@routes_section
@require_POST
def split(request):
    """The builder's selection split among several drivers: a planning job, whose page shows the
    search's progress and then the routes it made."""
    user = request.user
    form = SplitForm(request.POST, user=user)
    if form.is_valid():
        job = jobs.planning_job_create(
            account=user.account,
            user=user,
            day=form.cleaned_data["date"],
            request=form.job_request(),
            branch=form.start_branch(),
        )
        return redirect("routes:job", pk=job.pk)
    filters_form = CandidateFilterForm(
        QueryDict(request.POST.get("filters", "")), user=user, today=user.account.today()
    )
    context = _builder_context(user, filters_form, None, form["services"].value())
    checked = {int(pk) for pk in request.POST.getlist("crew") if pk.isdigit()}
    # The single-route fields keep what was typed, without their own errors.
    kept = {name: request.POST.get(name) for name in ("departure_time", "branch", "date")}
    context.update(form=RouteForm(user=user, initial=kept), split_form=form, split_checked=checked)
    return render(request, "routes/builder.html", context)


def _build(form, user, route):
    data = form.cleaned_data
    actor = Actor.for_user(user)
    if route is not None:
        return actions.route_add_services(route=route, actor=actor, services=data["services"])
    return actions.route_create(
        account=user.account,
        actor=actor,
        driver=data["driver"],
        vehicle=data["vehicle"],
        day=data["date"],
        services=data["services"],
        branch=form.start_branch(),
        departure_time=data["departure_time"],
        end_date=data.get("end_date"),
    )


def _builder_context(user, filters_form, route, selected):
    tzinfo = planning.route_tzinfo(route) if route else user.account.tzinfo
    candidates = selectors.route_candidates(
        user=user, filters=filters_form.filters(), tzinfo=tzinfo
    )
    listed = list(candidates[: selectors.CANDIDATE_LIMIT + 1])
    over_limit = len(listed) > selectors.CANDIDATE_LIMIT
    listed = listed[: selectors.CANDIDATE_LIMIT]
    selected_ids = list(dict.fromkeys(int(pk) for pk in selected if str(pk).isdigit()))
    listed_ids = {service.pk for service in listed}
    filter_query = QueryDict(mutable=True)
    filter_query.update(filters_form.query())
    if route is not None:
        filter_query["route"] = route.pk
    return {
        "route": route,
        "filters_form": filters_form,
        "day": filters_form.day,
        "candidates": listed,
        "candidate_count": candidates.count() if over_limit else len(listed),
        "over_limit": over_limit,
        "limit": selectors.CANDIDATE_LIMIT,
        "selected_ids": selected_ids,
        # Chosen services the current filters do not list: still part of the route to build.
        "carried": selectors.services_by_ids(
            user=user, ids=[pk for pk in selected_ids if pk not in listed_ids]
        ),
        "filter_query": filter_query,
        "area": filters_form.cleaned_data.get("area"),
        "map_tiles": MAP_TILES,
        "map_attribution": MAP_ATTRIBUTION,
        # Splitting among several drivers (new routes only).
        "split_drivers": []
        if route
        else list(selectors.active_drivers(user).select_related("vehicle")),
        "split_vehicles": [] if route else list(selectors.active_vehicles(user)),
    }


# One route --------------------------------------------------------------------------------------


@routes_section
def detail(request, pk):
    route = selectors.route_detail(user=request.user, pk=pk)
    return _render_route(request, route, job=selectors.route_active_job(route))


def _render_route(request, route, *, job=None, status_change=None):
    """The route's page, or (htmx) its plan partial: summary, warnings, stops and map data; once
    started, what happened at each stop. status_change: (stop, form) for a change by hand."""
    started = route.status != RouteStatus.PLANNED
    plan = planning.route_plan(route, selectors.route_history_stops(route) if started else None)
    context = _plan_context(route, plan, history=started)
    context.update(
        job=job,
        status_change=status_change,
        departure_form=DepartureForm(initial={"departure_time": route.departure_time}),
        poll_query=f"?route={route.pk}",
        map_tiles=MAP_TILES,
        map_attribution=MAP_ATTRIBUTION,
        not_editable_message=None if route.is_editable else _not_editable_message(route),
    )
    partial = _wants_partial(request)
    context["partial"] = partial  # the page shows messages above; the partial, its own
    template = "routes/_partials/plan.html" if partial else "routes/detail.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _plan_context(route, plan, *, history=False):
    """What the plan shows; with history (stops from selectors.route_history_stops), each stop's
    times, evidence and events too."""
    tzinfo = planning.route_tzinfo(route)
    vehicle = route.vehicle
    return {
        "route": route,
        "plan": plan,
        "route_tz": tzinfo,
        "editable": route.is_editable,
        "distance_km": plan.distance_m / 1000,
        "duration_display": hours_minutes(plan.duration_s),
        "warning_count": plan.stop_warning_count + len(plan.warnings),
        "history": history,
        "stop_rows": [_stop_row(stop_plan, route if history else None) for stop_plan in plan.stops],
        "capacity_kg": vehicle.capacity_kg,
        "capacity_m3": vehicle.capacity_m3,
        "map_data": _map_data(route, plan, tzinfo),
    }


def _stop_row(stop_plan, history_route=None):
    return {
        "plan": stop_plan,
        "wait_min": round(stop_plan.wait_s / 60),
        "leg_km": stop_plan.leg_m / 1000,
        "warnings": [
            (code, WARNING_LABELS.get(code, code), message)
            for code, message in zip(stop_plan.warnings, stop_plan.warning_messages, strict=True)
        ],
        "history": _stop_history(stop_plan.stop, history_route) if history_route else None,
    }


def _stop_history(stop, route):
    """A started route's stop: planned against actual arrival (minutes late, negative when
    early), the ETA window while it is still ahead, its evidence and its events on the route."""
    actual = stop.arrived_at or stop.left_at  # a stop completed without "arrived" counts its end
    planned = stop.planned_arrival
    delay_min = round((actual - planned).total_seconds() / 60) if actual and planned else None
    ahead = route.status == RouteStatus.IN_PROGRESS and stop.status in ETA_STOP_STATUSES
    return {
        "actual_arrival": actual,
        "delay_min": delay_min,
        "delay_abs": abs(delay_min) if delay_min is not None else None,
        "eta": stop.eta if ahead else None,
        "eta_window": (stop.eta_earliest, stop.eta_latest)
        if ahead and stop.eta_earliest and stop.eta_latest
        else None,
        "evidence": list(stop.evidence.all()),
        "events": [(event, _event_what(event)) for event in stop.service.route_events],
        "can_change": bool(actions.stop_manual_targets(stop, route)),
    }


def _event_what(event):
    """One line for an event of a stop's history: the status it reached, or the route step."""
    data = event.data or {}
    if event.to_status:
        to_status = event.get_to_status_display()
        if not event.from_status:
            return to_status
        return f"{event.get_from_status_display()} → {to_status}"
    if data.get("route") in ROUTE_EVENT_LABELS:
        return ROUTE_EVENT_LABELS[data["route"]]
    if data.get("stop") in StopStatus.values:
        return StopStatus(data["stop"]).label
    return event.get_kind_display()


def _map_data(route, plan, tzinfo):
    """What the page's map draws: the start, each located stop, and the path through them."""
    stops = []
    for stop_plan in plan.stops:
        stop, service = stop_plan.stop, stop_plan.stop.service
        if service.lat is None or service.lng is None:
            continue
        arrival = stop_plan.arrival
        stops.append(
            {
                "id": stop.pk,
                "sequence": stop.sequence,
                "lat": service.lat,
                "lng": service.lng,
                "status": stop.status,
                "label": service.customer.name,
                "address": service.address_line,
                "arrival": timezone.localtime(arrival, tzinfo).strftime("%H:%M") if arrival else "",
                "warning": bool(stop_plan.warnings),
            }
        )
    start = planning.route_start(route)
    data = {
        "start": list(start) if start else None,
        "startLabel": route.start_address or _("Start"),
        "stops": stops,
        "path": [list(point) for point in plan.path],
        "track": [],
        "driver": None,
    }
    if route.status != RouteStatus.PLANNED:
        data["track"] = selectors.route_track(route)
        driver = route.driver
        if route.status == RouteStatus.IN_PROGRESS and driver.last_position_at is not None:
            data["driver"] = {
                "lat": driver.last_lat,
                "lng": driver.last_lng,
                "label": str(driver),
                "at": timezone.localtime(driver.last_position_at, tzinfo).strftime("%H:%M"),
            }
    return data


def _after_change(request, route, *, job=None):
    """After a write on a route: its re-rendered plan (htmx) or its page."""
    if _wants_partial(request):
        route = selectors.route_detail(user=request.user, pk=route.pk)
        return _render_route(request, route, job=job)
    return redirect("routes:detail", pk=route.pk)


@routes_section
@require_POST
def reorder(request, pk):
    """A new order: every stop id in order (drag and drop), or one stop moved up or down."""
    route = selectors.route_detail(user=request.user, pk=pk)
    try:
        actions.route_reorder(route=route, stop_ids=_new_order(route, request.POST))
    except DomainError as error:
        messages.error(request, error.message)
    return _after_change(request, route)


def _new_order(route, data):
    for move, step in (("up", -1), ("down", 1)):
        if move in data:
            order = list(route.stops.order_by("sequence").values_list("pk", flat=True))
            moved = _int(data[move])
            if moved not in order:
                break
            index = order.index(moved)
            target = min(max(index + step, 0), len(order) - 1)
            order.insert(target, order.pop(index))
            return order
    ids = [_int(value) for value in data.getlist("stop")]
    if None in ids or not ids:
        raise DomainError(_("The new order could not be read; reload the page."), code="invalid")
    return ids


def _int(value):
    value = str(value).strip()
    return int(value) if value.isdigit() else None


@routes_section
@require_POST
def optimize(request, pk):
    """The optimizer's order: in the request for a small route, as a background job (its
    progress shown on the page) for a large one."""
    route = selectors.route_detail(user=request.user, pk=pk)
    job, before = None, route.planned_distance_m
    if not route.is_editable:
        messages.error(request, _not_editable_message(route))
    elif (job := selectors.route_active_job(route)) is not None:
        messages.info(request, _("This route is already being optimized in the background."))
    elif route.stops.count() > jobs.LARGE_ROUTE_STOPS:
        job = jobs.planning_job_create(
            account=route.account,
            user=request.user,
            day=route.date,
            request={"route": route.pk},
            branch=route.branch,
        )
        job.refresh_from_db()  # a worker in-process (no broker) has already run it
        if not job.is_finished:
            messages.info(
                request, _("The route is large: it is being optimized in the background.")
            )
        elif job.status == PlanningJobStatus.FAILED:
            messages.error(request, job.error)
        else:
            _optimized(request, before, route)
    else:
        try:
            actions.route_optimize(route=route)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            _optimized(request, before, route)
    return _after_change(request, route, job=job)


def _optimized(request, before_m, route):
    route.refresh_from_db(fields=["planned_distance_m"])
    after_m = route.planned_distance_m
    messages.success(
        request,
        _("Optimized: %(before)s km → %(after)s km.")
        % {"before": _km(before_m), "after": _km(after_m)},
    )


@routes_section
@require_POST
def update_plan(request, pk):
    """A new departure time; arrivals and the finish move with it."""
    route = selectors.route_detail(user=request.user, pk=pk)
    form = DepartureForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a departure time, e.g. 08:00."))
        return _after_change(request, route)
    departure = form.cleaned_data["departure_time"]
    try:
        actions.route_update_plan(route=route, departure_time=departure)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Departure set to %(time)s.") % {"time": f"{departure:%H:%M}"})
    return _after_change(request, route)


@routes_section
@require_POST
def remove_stop(request, pk, stop_pk):
    route = selectors.route_detail(user=request.user, pk=pk)
    stop = get_object_or_404(route.stops.select_related("service"), pk=stop_pk)
    try:
        actions.route_remove_service(
            route=route, actor=Actor.for_user(request.user), service=stop.service
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(service)s was taken out of the route; it is pending again.")
            % {"service": stop.service},
        )
    return _after_change(request, route)


@routes_section
@require_POST
def cancel(request, pk):
    route = selectors.route_detail(user=request.user, pk=pk)
    try:
        actions.route_cancel(route=route, actor=Actor.for_user(request.user))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Route cancelled: its services are pending again."))
    return redirect("routes:detail", pk=route.pk)


@routes_section
def stop_status(request, pk, stop_pk):
    """A stop's outcome recorded by hand (the driver's phone died, the customer called): the
    route's page with the form (GET), the change with its reason for status change (POST)."""
    route = selectors.route_detail(user=request.user, pk=pk)
    stop = get_object_or_404(route.stops.select_related("service__customer"), pk=stop_pk)
    posted = request.method == "POST"
    form = StopStatusForm(
        request.POST if posted else None, user=request.user, stop=stop, route=route
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            actions.stop_change_status_by_hand(
                stop=stop,
                to_status=data["to_status"],
                actor=Actor.for_user(request.user),
                reason=data["reason"],
                failure_reason=data.get("failure_reason"),
                failure_description=data.get("failure_description", ""),
                note=data["note"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("Stop %(sequence)s (%(customer)s) is now %(status)s.")
                % {
                    "sequence": stop.sequence,
                    "customer": stop.service.customer.name,
                    "status": StopStatus(data["to_status"]).label.lower(),
                },
            )
            return redirect("routes:detail", pk=route.pk)
    return _render_route(
        request, route, job=selectors.route_active_job(route), status_change=(stop, form)
    )


@routes_section
def sheet(request, pk):
    """The printable route sheet: every stop in order with what the driver needs at the door."""
    route = selectors.route_detail(user=request.user, pk=pk)
    plan = planning.route_plan(route, selectors.route_sheet_stops(route))
    context = _plan_context(route, plan)
    context["printed_at"] = timezone.now()
    return render(request, "routes/sheet.html", context)


# Planning jobs ----------------------------------------------------------------------------------


@routes_section
def job(request, pk):
    """A planning job's progress (polled by its page or by the route's page) and outcome."""
    user = request.user
    planning_job = selectors.planning_job_detail(user=user, pk=pk)
    route_id = _int(request.GET.get("route", ""))
    from_route = route_id is not None and route_id == planning_job.request.get("route")
    if from_route and planning_job.is_finished and request.htmx:
        # The route's page polled until the search ended: show it with its new order.
        if planning_job.status == PlanningJobStatus.DONE:
            messages.success(request, _("Optimized in the background: the new order is below."))
        else:
            messages.error(request, planning_job.error or _("The optimization failed."))
        return HttpResponseClientRedirect(reverse("routes:detail", args=[route_id]))
    context = {
        "job": planning_job,
        "job_routes": selectors.planning_job_routes(user=user, job=planning_job),
        "poll_query": f"?route={route_id}" if from_route else "",
    }
    template = "routes/_partials/job.html" if _wants_partial(request) else "routes/job.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
