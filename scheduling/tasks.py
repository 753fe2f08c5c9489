"""Background jobs of scheduling."""

from celery import shared_task

from . import actions


@shared_task
def release_schedule(service_id):
    """Gives a cancelled or returned service's window place back."""
    return actions.schedule_release(service_id=service_id)
