"""Planning jobs: optimizing that takes longer than a request should, run by a worker while the
page shows the search's progress (routes.models.PlanningJob).

Two kinds, told apart by the request: `{"route": id}` optimizes one planned route;
`{"services": [...], "crews": [[driver_id, vehicle_id], ...], "branch": id | null,
"departure_time": "HH:MM"}` splits the services among the crews into new routes.
"""

import logging
from datetime import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Branch, Driver, Vehicle
from services.actions import Actor
from services.models import Service, ServiceStatus
from tracking.lib.errors import DomainError

from . import actions
from .models import PlanningJob, PlanningJobStatus, Route
from .planning import Crew

logger = logging.getLogger(__name__)

# Share of the progress bar before the search starts (reading, matrix) and after it (storing).
SEARCH_FROM, SEARCH_TO = 5, 95
# A single route with more stops than this is optimized in the background (its search alone takes
# over 3 s, optimizer.default_time_limit).
LARGE_ROUTE_STOPS = 100


def planning_job_create(*, account, user, day, request, branch=None):
    """Queues a job and hands it to a worker (in-process when no broker is configured). `branch`
    scopes it: users of another branch do not see it."""
    from .tasks import run_planning_job

    job = PlanningJob.objects.create(
        account=account, created_by=user, date=day, request=request, branch=branch
    )
    transaction.on_commit(lambda: run_planning_job.delay(job.pk))
    return job


def planning_job_run(job_id):
    claimed = PlanningJob.objects.filter(pk=job_id, status=PlanningJobStatus.QUEUED).update(
        status=PlanningJobStatus.RUNNING, progress=SEARCH_FROM
    )
    if not claimed:
        return None
    job = PlanningJob.objects.select_related("account", "created_by").get(pk=job_id)
    try:
        result = _run(job)
    except DomainError as exc:
        _finish(job, PlanningJobStatus.FAILED, error=str(exc.message))
        return None
    except Exception:
        logger.exception("planning job %s failed", job_id)
        _finish(job, PlanningJobStatus.FAILED, error=_("The optimizer failed; try again."))
        raise
    _finish(job, PlanningJobStatus.DONE, result=result)
    return result


def _run(job):
    actor = Actor.for_user(job.created_by) if job.created_by else Actor.system()
    progress = _progress_reporter(job.pk)
    request = job.request
    if "route" in request:
        route = Route.objects.get(pk=request["route"], account=job.account)
        actions.route_optimize(route=route, progress=progress)
        return {"routes": [route.pk], "unassigned": []}
    account = job.account
    services = list(
        Service.objects.filter(
            account=account, pk__in=request["services"], status=ServiceStatus.PENDING
        ).select_related("schedule__window", "branch", "account")
    )
    drivers = Driver.objects.filter(account=account, is_active=True).in_bulk(
        [driver for driver, _ in request["crews"]]
    )
    vehicles = Vehicle.objects.filter(account=account, is_active=True).in_bulk(
        [vehicle for _, vehicle in request["crews"]]
    )
    crews = [
        Crew(driver=drivers[driver], vehicle=vehicles[vehicle])
        for driver, vehicle in request["crews"]
        if driver in drivers and vehicle in vehicles
    ]
    if not crews:
        raise DomainError(_("None of the chosen drivers and vehicles is active."), code="invalid")
    branch = None
    if request.get("branch"):
        branch = Branch.objects.filter(account=account, pk=request["branch"]).first()
    departure = request.get("departure_time")
    routes, unplaced = actions.routes_split(
        account=account,
        actor=actor,
        day=job.date,
        services=services,
        crews=crews,
        branch=branch,
        departure_time=time.fromisoformat(departure) if departure else None,
        progress=progress,
    )
    not_pending = set(request["services"]) - {service.pk for service in services}
    return {
        "routes": [route.pk for route in routes],
        "unassigned": [service.pk for service in unplaced] + sorted(not_pending),
    }


def _progress_reporter(job_id):
    def report(fraction):
        value = SEARCH_FROM + round((SEARCH_TO - SEARCH_FROM) * fraction)
        PlanningJob.objects.filter(pk=job_id).update(progress=value)

    return report


def _finish(job, status, *, result=None, error=""):
    PlanningJob.objects.filter(pk=job.pk).update(
        status=status,
        progress=100,
        result=result or {},
        error=error,
        finished_at=timezone.now(),
    )
