"""Background jobs of the routes app."""

from celery import shared_task

from . import actions, jobs


@shared_task(acks_late=True, soft_time_limit=5 * 60, time_limit=6 * 60)
def run_planning_job(job_id):
    """Runs a queued planning job (a day split among drivers, or one large route optimized).
    Idempotent: a job that is running or finished is left alone."""
    return jobs.planning_job_run(job_id)


@shared_task
def drop_stale_stops(service_id):
    """Cancels the pending stops of a service that left its route (see routes.receivers)."""
    return actions.stops_drop_stale(service_id=service_id)
