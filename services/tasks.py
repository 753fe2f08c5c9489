"""Background jobs of the services app."""

from celery import shared_task

from . import actions


@shared_task
def redispatch_service_events():
    """Dispatches service events left undispatched for over a minute."""
    return actions.service_events_redispatch()
