"""Scheduling's reactions to the service event log (receivers only enqueue) and to time zone
changes of branches and accounts (the schedules' stored instants follow)."""

from accounts.models import Account, Branch
from services.models import EventKind, ServiceEvent, ServiceStatus

RELEASING = {ServiceStatus.CANCELLED, ServiceStatus.RETURNED}


def on_service_event_recorded(sender, *, event_id, **kwargs):
    """A cancelled or returned service gives its window place back."""
    from .tasks import release_schedule

    event = (
        ServiceEvent.objects.filter(pk=event_id).values("service_id", "kind", "to_status").first()
    )
    if event and event["to_status"] in RELEASING:
        release_schedule.delay_on_commit(event["service_id"])
    if event and event["kind"] == EventKind.UPDATED:
        # Its branch (so its windows' time zone) may have changed.
        from .actions import schedules_refresh_instants
        from .models import Schedule

        schedules_refresh_instants(Schedule.objects.filter(service_id=event["service_id"]))


def on_time_zone_saved(sender, instance, **kwargs):
    """A branch's or an account's time zone changed: its schedules' instants are computed again
    (a branch's services, or the account's services without a branch time zone)."""
    from .actions import schedules_refresh_instants
    from .models import Schedule

    if "time_zone" in instance.get_deferred_fields():
        return
    before = getattr(instance, "_time_zone_loaded", None)
    instance._time_zone_loaded = instance.time_zone
    if before is None or before == instance.time_zone:
        return
    if sender is Branch:
        schedules = Schedule.objects.filter(service__branch=instance)
    else:
        schedules = Schedule.objects.filter(account=instance)
    schedules_refresh_instants(schedules)


def remember_time_zone(sender, instance, **kwargs):
    """Keeps the time zone a branch or an account was loaded with, to see it change on save."""
    if "time_zone" not in instance.get_deferred_fields():
        instance._time_zone_loaded = instance.time_zone


TIME_ZONE_MODELS = (Branch, Account)
