"""Background jobs of the routes app."""

from celery import shared_task

from accounts.models import Account

from . import actions, eta_learning, jobs, positions
from .models import Route, RouteStatus


@shared_task(acks_late=True, soft_time_limit=5 * 60, time_limit=6 * 60)
def run_planning_job(job_id):
    """Runs a queued planning job (a day split among drivers, or one large route optimized).
    Idempotent: a job that is running or finished is left alone."""
    return jobs.planning_job_run(job_id)


@shared_task
def drop_stale_stops(service_id):
    """Cancels the pending stops of a service that left its route (see routes.receivers)."""
    return actions.stops_drop_stale(service_id=service_id)


@shared_task(soft_time_limit=60, time_limit=90)
def refresh_route_eta(route_id):
    """Refreshes the ETAs of a route in progress (queued by its positions, at most every 30 s,
    and by refresh_active_etas). Idempotent; a route no longer in progress is left alone."""
    route = (
        Route.objects.select_related("driver", "vehicle", "branch", "account")
        .filter(pk=route_id, status=RouteStatus.IN_PROGRESS)
        .first()
    )
    if route is not None:
        positions.route_refresh_eta(route)


@shared_task(soft_time_limit=50, time_limit=60)
def refresh_active_etas():
    """Every minute (beat): queues refresh_route_eta for each route in progress whose ETAs are
    older than 30 s; one task per route, so routes refresh in parallel and a slow one (an OSRM
    timeout) holds up no other."""
    return positions.routes_refresh_due_etas()


@shared_task(soft_time_limit=50, time_limit=60)
def learn_travel_profiles():
    """Nightly (beat): queues learn_travel_profile for every active account, one task each, so a
    large account (or a slow OSRM server) holds up no other and each has its own time limit."""
    account_ids = Account.objects.filter(is_active=True).values_list("pk", flat=True)
    for account_id in account_ids.iterator():
        learn_travel_profile.delay(account_id)


@shared_task(soft_time_limit=10 * 60, time_limit=11 * 60)
def learn_travel_profile(account_id):
    """Learns and stores the account's travel profile for ETAs from its recent routes.
    Idempotent; an account gone or inactive is left alone."""
    account = Account.objects.filter(pk=account_id, is_active=True).first()
    if account is not None:
        eta_learning.travel_profile_learn(account=account)
