"""The scheduling report: how the services scheduled in a period were delivered, computed in the
database.

A service counts in the period by its schedule's date (scheduling.Schedule.date, a local date, so
the period's days are compared as dates; the account's time zone only decides "today" and the
default period). Scope: access.scope on Service, narrowed by branch, carrier, partner and driver
(a stop, any attempt, on one of the driver's routes), as the deliveries report.

The done time of a done service: its stored `finished_at` (when it became done, the time on the
phone for a driver's completion).

Columns:
- on_date: done no later than the end of the scheduled date (early deliveries count here);
- late: done after the scheduled date;
- failed: failed or returned (the delivery did not happen); cancelled: cancelled;
- not_yet: still open (pending, routed, in progress, paused);
- in_window / outside_window: done within the window's start and end on the scheduled date, or
  not. Windows are in the service's branch time zone, else the account's (as
  scheduling.selectors.service_tzinfo).

The window's start and end and the end of the scheduled date are stored on the schedule as
instants (scheduling.models.Schedule.save computes them in that time zone, correct across DST
changes), so every column is a comparison of two columns: three queries whatever the number of
services, days, windows or time zones, counted in one query.
"""

from dataclasses import dataclass

from django.db.models import Count, DateTimeField, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce

from accounts import access
from routes.models import Stop
from scheduling.models import Origin
from services.models import Service, ServiceStatus

from .deliveries import OPEN_STATUSES
from .groups import summed, total

# The columns every row of the report has, in order (the table's and the exports').
COLUMNS = [
    "total",
    "done",
    "on_date",
    "late",
    "failed",
    "cancelled",
    "not_yet",
    "in_window",
    "outside_window",
]


@dataclass
class SchedulingReport:
    filters: object  # reports.deliveries.DeliveryFilters
    totals: dict
    by_day: list
    by_origin: list

    def _rate(self, part, whole):
        return round(100 * self.totals[part] / whole, 1) if whole else None

    @property
    def on_date_rate(self):
        """Done on the scheduled date among done services, in percent (None without any)."""
        return self._rate("on_date", self.totals["done"])

    @property
    def in_window_rate(self):
        return self._rate("in_window", self.totals["done"])


def _done_at():
    return Coalesce(F("finished_at"), F("updated_at"), output_field=DateTimeField())


def scheduled_in_period(*, user, filters):
    """The services the user may see scheduled in the period, matching the filters, annotated
    with `done_at` (done services only matter)."""
    services = access.scope(user, Service.objects.all()).filter(
        schedule__date__gte=filters.first_day, schedule__date__lte=filters.last_day
    )
    for name in ("branch", "carrier", "partner"):
        value = getattr(filters, name)
        if value is not None:
            services = services.filter(**{name: value})
    if filters.driver is not None:
        services = services.filter(
            Exists(Stop.objects.filter(service_id=OuterRef("pk"), route__driver=filters.driver))
        )
    return services.annotate(done_at=_done_at())


def _counts():
    """The aggregate of each column, for .aggregate() (totals) and .annotate() (groups)."""
    done = Q(status=ServiceStatus.DONE)
    late = Q(done_at__gte=F("schedule__date_ends_at"))
    in_window = Q(done_at__gte=F("schedule__starts_at"), done_at__lte=F("schedule__ends_at"))
    return {
        "total": Count("pk"),
        "done": Count("pk", filter=done),
        "on_date": Count("pk", filter=done & ~late),
        "late": Count("pk", filter=done & late),
        "failed": Count("pk", filter=Q(status__in=[ServiceStatus.FAILED, ServiceStatus.RETURNED])),
        "cancelled": Count("pk", filter=Q(status=ServiceStatus.CANCELLED)),
        "not_yet": Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        "in_window": Count("pk", filter=done & in_window),
        "outside_window": Count("pk", filter=done & ~in_window),
    }


def scheduling_report(*, user, filters):
    """The whole report in one query, whatever the number of services: the services counted in
    groups of (date, origin), the tables those groups summed (reports.groups)."""
    groups = list(
        scheduled_in_period(user=user, filters=filters)
        .values("schedule__date", "schedule__origin")
        .annotate(**_counts())
        .order_by()
    )
    labels = dict(Origin.choices)
    by_day = summed(groups, lambda row: row["schedule__date"], COLUMNS)
    by_origin = summed(groups, lambda row: row["schedule__origin"], COLUMNS)
    return SchedulingReport(
        filters=filters,
        totals=total(groups, COLUMNS),
        by_day=[{"group": day, **values} for day, values in sorted(by_day.items())],
        by_origin=[
            {"group": str(labels.get(origin, origin)), **values}
            for origin, values in sorted(by_origin.items())
        ],
    )
