"""Scheduling's reactions to the service event log (receivers only enqueue)."""

from services.models import ServiceEvent, ServiceStatus

RELEASING = {ServiceStatus.CANCELLED, ServiceStatus.RETURNED}


def on_service_event_recorded(sender, *, event_id, **kwargs):
    """A cancelled or returned service gives its window place back."""
    from .tasks import release_schedule

    event = ServiceEvent.objects.filter(pk=event_id).values("service_id", "to_status").first()
    if event and event["to_status"] in RELEASING:
        release_schedule.delay_on_commit(event["service_id"])
