"""Background jobs of the services app."""

from celery import shared_task

from . import actions


@shared_task
def redispatch_service_events():
    """Dispatches service events left undispatched for over a minute."""
    return actions.service_events_redispatch()


# Outgoing webhooks ------------------------------------------------------------------------------
from . import webhooks  # noqa: E402


@shared_task(acks_late=True, soft_time_limit=30, time_limit=45)
def deliver_webhook(delivery_id):
    """Makes the webhook delivery's due attempt (a no-op when nothing is due); failures are
    retried by send_due_webhooks after the backoff recorded on the delivery."""
    return webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task
def send_due_webhooks():
    """Enqueues every webhook delivery whose next attempt is due: retries after backoff, and
    deliveries whose first enqueue was lost."""
    delivery_ids = webhooks.webhook_deliveries_due()
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
    return len(delivery_ids)


@shared_task
def purge_webhook_deliveries():
    """Deletes webhook deliveries older than webhooks.KEEP_DAYS days."""
    return webhooks.webhook_deliveries_purge()


@shared_task(
    acks_late=True,
    # Far above the global limits: 100,000 rows (services.imports.MAX_ROWS) at a few ms each.
    soft_time_limit=45 * 60,
    time_limit=50 * 60,
)
def import_services(job_id):
    """Imports an uploaded spreadsheet of services (an accounts.ImportJob). Idempotent: a job
    that is finished or running elsewhere is left alone; a stalled one goes on where it stopped."""
    from .imports import import_job_run

    return import_job_run(job_id=job_id)


@shared_task
def resume_import_jobs():
    """Queues again the services imports whose task was lost (a broker restart, a lost worker)."""
    from .imports import import_jobs_resume

    return import_jobs_resume()


@shared_task
def purge_import_files():
    """Deletes the uploaded files of services imports that ended over a month ago."""
    from .imports import import_files_purge

    return import_files_purge()
