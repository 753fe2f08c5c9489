"""Background jobs of the reports app."""

from celery import shared_task

from . import export_jobs


@shared_task(acks_late=True, soft_time_limit=30 * 60, time_limit=31 * 60)
def run_export_job(job_id):
    """Writes a queued export's file. Idempotent: a job running or finished is left alone."""
    return export_jobs.export_job_run(job_id)


@shared_task(soft_time_limit=5 * 60, time_limit=6 * 60)
def tidy_export_jobs():
    """Every ten minutes (beat): lost enqueues queued again, dead jobs failed, old files deleted."""
    return export_jobs.export_jobs_tidy()
