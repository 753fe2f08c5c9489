"""Background jobs of the lastmile app: sending the outbox, and the ETA-driven triggers."""

from celery import shared_task

from routes.models import Route, RouteStatus

from . import sending, triggers


# acks_late: a worker lost mid-send leaves the task for another one, whose claim then waits for
# the row to go stale (sending.STALE_CLAIM) before settling it.
@shared_task(acks_late=True, soft_time_limit=45, time_limit=60)
def send_message(message_id):
    """Sends one outbox message once (see lastmile.sending). Idempotent: a message already
    sent, failed, not yet due or held by another worker is left alone."""
    return sending.message_send(message_id=message_id)


@shared_task(soft_time_limit=50, time_limit=60)
def sweep_outbox():
    """Every minute (beat): queues send_message for retries whose backoff is over, for messages
    whose first enqueue was lost, and for messages a dead worker left `sending`."""
    message_ids = sending.messages_due()
    for message_id in message_ids:
        send_message.delay(message_id)
    return len(message_ids)


@shared_task(soft_time_limit=50, time_limit=60)
def check_route(route_id):
    """Fires "driver arriving" and "out of deadline" for the route's stops when due (once each
    per attempt). Idempotent; a route no longer in progress is left alone."""
    return len(triggers.route_check(route_id=route_id))


@shared_task(soft_time_limit=50, time_limit=60)
def check_active_routes():
    """Every minute (beat): queues check_route for each route in progress, one task each, so
    a route whose driver sends no positions is still checked against its ETAs."""
    route_ids = list(
        Route.objects.filter(status=RouteStatus.IN_PROGRESS).values_list("pk", flat=True)
    )
    for route_id in route_ids:
        check_route.delay(route_id)
    return len(route_ids)
