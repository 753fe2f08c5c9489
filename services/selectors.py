"""Reads of services, scoped by accounts.access and ready to render."""

from datetime import datetime, time, timedelta

from django.db.models import Count, Q

from accounts import access

from .models import Service, ServiceStatus

OPEN_STATUSES = [
    ServiceStatus.PENDING,
    ServiceStatus.ROUTED,
    ServiceStatus.IN_PROGRESS,
    ServiceStatus.PAUSED,
]


def service_list(*, user, status=None):
    services = access.scope(user, Service.objects.all()).select_related("customer", "branch")
    if status:
        services = services.filter(status=status)
    return services


def service_day_counts(*, user, day, tzinfo):
    """Counts for the dashboard: services open now, and those finished on the given local day."""
    start = datetime.combine(day, time.min, tzinfo=tzinfo)
    end = start + timedelta(days=1)
    finished_today = Q(updated_at__gte=start, updated_at__lt=end)
    counts = access.scope(user, Service.objects.all()).aggregate(
        pending=Count("pk", filter=Q(status=ServiceStatus.PENDING)),
        routed=Count("pk", filter=Q(status=ServiceStatus.ROUTED)),
        in_progress=Count(
            "pk", filter=Q(status__in=[ServiceStatus.IN_PROGRESS, ServiceStatus.PAUSED])
        ),
        done=Count("pk", filter=Q(status=ServiceStatus.DONE) & finished_today),
        failed=Count("pk", filter=Q(status=ServiceStatus.FAILED) & finished_today),
    )
    return counts
