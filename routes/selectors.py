"""Reads of routes for the operators' pages: a day's routes, one route, its printable stops, the
pending services a route is built from, the drivers and vehicles offered, and planning jobs.
Everything is scoped by accounts.access, so what a user cannot see is simply not there."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q

from accounts import access
from accounts.models import Branch, Driver, Vehicle
from scheduling.models import DeliveryWindow
from services.models import Service, ServiceEvent, ServiceStatus
from services.selectors import ServiceFilters, service_list

from . import planning
from .models import Evidence, PlanningJob, PlanningJobStatus, Position, Route, StopStatus

# The builder lists at most this many candidates (and says so when there are more).
CANDIDATE_LIMIT = 500


@dataclass(frozen=True)
class RouteFilters:
    """What the day's list is narrowed by; None and "" do not filter."""

    day: date
    branch: object = None
    driver: object = None
    status: str = ""


def route_list(*, user, filters):
    """The routes the user may see that run on filters.day (an itinerant route runs on every day
    from its date to its end date), with their stop counts, by departure time."""
    day = filters.day
    routes = access.scope(user, Route.objects.all()).filter(
        Q(date=day) | Q(date__lt=day, end_date__gte=day)
    )
    if filters.branch is not None:
        routes = routes.filter(branch=filters.branch)
    if filters.driver is not None:
        routes = routes.filter(driver=filters.driver)
    if filters.status:
        routes = routes.filter(status=filters.status)
    return (
        routes.select_related("driver", "vehicle", "branch")
        .annotate(
            stops_total=Count("stops"),
            stops_done=Count("stops", filter=Q(stops__status=StopStatus.DONE)),
            stops_failed=Count("stops", filter=Q(stops__status=StopStatus.FAILED)),
        )
        .order_by("departure_time", "driver__first_name", "driver__last_name", "pk")
    )


def route_list_totals(routes):
    """Stops and planned kilometres of a list of routes (already loaded)."""
    return {
        "stops": sum(route.stops_total for route in routes),
        "distance_km": sum(route.planned_distance_m for route in routes) / 1000,
    }


def route_detail(*, user, pk):
    """One route the user may see (Http404 otherwise), with what its page and plan read."""
    queryset = Route.objects.select_related("driver", "vehicle", "branch", "account")
    return access.get_object_or_404(user, queryset, pk=pk)


def route_sheet_stops(route):
    """The route's stops in order with what the printed sheet shows: the plan's reads plus the
    packages and their barcodes."""
    return list(
        route.stops.select_related(*planning.STOP_RELATED)
        .prefetch_related("service__packages")
        .order_by("sequence")
    )


def route_active_job(route):
    """The background optimization of this route still queued or running, if any."""
    return (
        PlanningJob.objects.filter(
            account_id=route.account_id,
            request__route=route.pk,
            status__in=[PlanningJobStatus.QUEUED, PlanningJobStatus.RUNNING],
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def planning_job_detail(*, user, pk):
    """One planning job of the user's account (Http404 otherwise)."""
    return access.get_object_or_404(user, PlanningJob.objects.all(), pk=pk)


def planning_job_routes(*, user, job):
    """The routes a finished job made or changed, those the user may see."""
    ids = (job.result or {}).get("routes") or []
    return list(
        access.scope(user, Route.objects.filter(pk__in=ids))
        .select_related("driver", "vehicle")
        .order_by("pk")
    )


# Drivers, vehicles, branches and windows offered ------------------------------------------------


def active_drivers(user):
    return access.scope(user, Driver.objects.filter(is_active=True)).order_by(
        "first_name", "last_name", "pk"
    )


def active_vehicles(user):
    return access.scope(user, Vehicle.objects.filter(is_active=True)).order_by("plate")


def drivers_in_scope(user):
    """Every driver the user may see, active or not (a filter finds old routes too)."""
    return access.scope(user, Driver.objects.all()).order_by("first_name", "last_name", "pk")


def branches_in_scope(user):
    return access.scope(user, Branch.objects.filter(is_active=True)).order_by("name")


def delivery_windows(user, *, weekday=None):
    """The account's active windows a user may filter by: the account's defaults and those of
    the branches the user sees (a branch user: their branch's)."""
    windows = DeliveryWindow.objects.filter(account_id=user.account_id, is_active=True)
    if user.branch_id:
        windows = windows.filter(Q(branch__isnull=True) | Q(branch_id=user.branch_id))
    if weekday is not None:
        windows = windows.filter(weekday=weekday)
    return windows.select_related("branch").order_by("weekday", "start", "name", "pk")


# The builder's candidates -----------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateFilters:
    """What the builder's list of pending services is narrowed by.

    area is (south, west, north, east) in degrees; max_kg keeps services up to that weight (and
    those without one)."""

    day: date
    window: object = None
    branch: object = None
    max_kg: Decimal | None = None
    q: str = ""
    area: tuple | None = None
    deadline_by: date | None = None  # only services due by the end of that day


def route_candidates(*, user, filters, tzinfo):
    """The pending services the user may route on filters.day: those scheduled for that day, and
    the unscheduled ones whose deadline is not before that day (or that have no deadline);
    narrowed by the filters and ordered by window, then deadline (how a route takes them by
    default). Times are local to tzinfo."""
    services = service_list(
        user=user,
        status=ServiceStatus.PENDING,
        filters=ServiceFilters(q=filters.q, branch=filters.branch),
    )
    day_starts = datetime.combine(filters.day, time.min, tzinfo=tzinfo)
    services = services.filter(
        Q(schedule__date=filters.day)
        | Q(schedule__isnull=True) & (Q(deadline__isnull=True) | Q(deadline__gte=day_starts))
    )
    if filters.window is not None:
        services = services.filter(schedule__window=filters.window)
    if filters.max_kg is not None:
        services = services.filter(Q(weight_kg__lte=filters.max_kg) | Q(weight_kg__isnull=True))
    if filters.deadline_by is not None:
        next_day = datetime.combine(filters.deadline_by + timedelta(days=1), time.min, tzinfo)
        services = services.filter(deadline__lt=next_day)
    if filters.area is not None:
        south, west, north, east = filters.area
        services = services.filter(lat__gte=south, lat__lte=north, lng__gte=west, lng__lte=east)
    return (
        services.select_related(None)
        .select_related("customer", "schedule__window")
        .order_by(
            F("schedule__window__start").asc(nulls_last=True),
            F("deadline").asc(nulls_last=True),
            "pk",
        )
    )


def services_by_ids(*, user, ids):
    """The services of these ids the user may see, in the order of ids."""
    found = access.scope(user, Service.objects.filter(pk__in=ids)).select_related("customer")
    by_id = {service.pk: service for service in found}
    return [by_id[pk] for pk in ids if pk in by_id]


def pending_service_count(user):
    return access.scope(user, Service.objects.filter(status=ServiceStatus.PENDING)).count()


# Most points of a route's travelled path sent to its page: a day of positions every 10 s is
# about 3,000; every n-th point keeps the shape at a fraction of the weight.
TRACK_POINTS = 1500


def route_track(route):
    """The route's travelled path as [[lat, lng], ...] in phone-time order, thinned to at most
    TRACK_POINTS points (the latest always kept)."""
    points = list(
        Position.objects.filter(route=route).order_by("recorded_at").values_list("lat", "lng")
    )
    return [list(point) for point in thinned(points, TRACK_POINTS)]


def thinned(points, limit):
    """Every n-th point so that at most about `limit` remain, the last one always kept."""
    if len(points) <= limit:
        return points
    step = -(-len(points) // limit)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


def route_history_stops(route):
    """The route's stops as planning.route_stops gives them, with what a started route's page
    shows of each: its failure reason, its evidence, and its service's events on this route
    (who, what, when), in a constant number of queries."""
    events = (
        ServiceEvent.objects.filter(data__route_id=route.pk)
        .select_related("actor_user", "actor_driver", "reason", "failure_reason")
        .order_by("recorded_at", "pk")
    )
    return list(
        route.stops.exclude(status=StopStatus.CANCELLED)
        .select_related(*planning.STOP_RELATED, "failure_reason")
        .prefetch_related(
            Prefetch("evidence", queryset=Evidence.objects.order_by("recorded_at", "pk")),
            Prefetch("service__events", queryset=events, to_attr="route_events"),
        )
        .order_by("sequence")
    )
