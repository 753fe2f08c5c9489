"""Routes' reactions to the service event log (receivers only enqueue)."""

from services.models import ServiceEvent, ServiceStatus

# A routed service that becomes one of these left its route from outside the routes app.
LEAVING = {ServiceStatus.PENDING, ServiceStatus.CANCELLED}


def on_service_event_recorded(sender, *, event_id, **kwargs):
    """A routed service cancelled or put back to pending loses its pending stop."""
    from .tasks import drop_stale_stops

    event = (
        ServiceEvent.objects.filter(pk=event_id)
        .values("service_id", "from_status", "to_status")
        .first()
    )
    if event and event["from_status"] == ServiceStatus.ROUTED and event["to_status"] in LEAVING:
        drop_stale_stops.delay_on_commit(event["service_id"])
