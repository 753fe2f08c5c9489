"""The deliveries report: how the services of a period ended, computed in the database.

Which date places a service in the period (its "outcome time"):
- a service with an outcome (done, failed, returned, cancelled): when it reached it, its stored
  `finished_at` (the time on the phone for a driver's outcome);
- an open service (pending, routed, in progress, paused): its `created_at`.
Periods are local days of the account's time zone, both ends included. Both times are indexed
with the account, so the period is two index ranges, never a scan of the account's services.

Deadline compliance: done at or before the deadline is on time; done after it is late; open with
the deadline passed (now) is late; open with the deadline still ahead is not yet due. Failed,
returned and cancelled services, and those without a deadline, are outside it.

First-attempt success: a done service that was never rescheduled after a failure (its
`attempt_count` is 0; a failure turned into a success by a reversible chat ticket stays a first
attempt).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.models import Branch, Carrier, Partner
from routes.models import Stop, StopStatus
from services.models import Service, ServiceStatus

from .groups import summed, total

OPEN_STATUSES = [
    ServiceStatus.PENDING,
    ServiceStatus.ROUTED,
    ServiceStatus.IN_PROGRESS,
    ServiceStatus.PAUSED,
]
# The columns every row of the report has, in order (the table's and the exports').
COLUMNS = [
    "total",
    "done",
    "failed",
    "returned",
    "cancelled",
    "open",
    "on_time",
    "late",
    "not_yet_due",
    "first_attempt",
]


@dataclass(frozen=True)
class DeliveryFilters:
    """The report's filters: a period of local days (both included) and optional narrowing."""

    first_day: date
    last_day: date
    branch: object = None
    carrier: object = None
    partner: object = None
    driver: object = None


@dataclass
class DeliveryReport:
    filters: DeliveryFilters
    totals: dict
    by_day: list
    by_branch: list
    by_carrier: list
    by_partner: list
    by_failure_reason: list

    @property
    def first_attempt_rate(self):
        """Share of done services done at the first attempt, in percent (None without any)."""
        done = self.totals["done"]
        return round(100 * self.totals["first_attempt"] / done, 1) if done else None

    @property
    def on_time_rate(self):
        measured = self.totals["on_time"] + self.totals["late"]
        return round(100 * self.totals["on_time"] / measured, 1) if measured else None


def period_bounds(filters, tzinfo):
    """The period as aware datetimes [start, end) in the account's time zone."""
    start = datetime.combine(filters.first_day, time.min, tzinfo=tzinfo)
    end = datetime.combine(filters.last_day + timedelta(days=1), time.min, tzinfo=tzinfo)
    return start, end


def _outcome_at():
    return Coalesce(F("finished_at"), F("created_at"), output_field=DateTimeField())


def _scoped(user, filters):
    """The services the user may see, narrowed by branch, carrier and partner."""
    services = access.scope(user, Service.objects.all())
    for name in ("branch", "carrier", "partner"):
        value = getattr(filters, name)
        if value is not None:
            services = services.filter(**{name: value})
    return services


def services_in_period(*, user, filters, tzinfo):
    """The services the user may see whose outcome time falls in the period, matching the
    filters (the driver: a stop, any attempt, on one of the driver's routes), annotated with
    `outcome_at`."""
    start, end = period_bounds(filters, tzinfo)
    services = _scoped(user, filters)
    if filters.driver is not None:
        services = services.filter(
            Exists(Stop.objects.filter(service_id=OuterRef("pk"), route__driver=filters.driver))
        )
    finished = Q(finished_at__gte=start, finished_at__lt=end)
    opened = Q(finished_at__isnull=True, created_at__gte=start, created_at__lt=end)
    return services.filter(finished | opened).annotate(outcome_at=_outcome_at())


def _counts(now):
    """The aggregate of each column, for .aggregate() (totals) and .annotate() (groups)."""
    done = Q(status=ServiceStatus.DONE)
    is_open = Q(status__in=OPEN_STATUSES)
    has_deadline = Q(deadline__isnull=False)
    return {
        "total": Count("pk"),
        "done": Count("pk", filter=done),
        "failed": Count("pk", filter=Q(status=ServiceStatus.FAILED)),
        "returned": Count("pk", filter=Q(status=ServiceStatus.RETURNED)),
        "cancelled": Count("pk", filter=Q(status=ServiceStatus.CANCELLED)),
        "open": Count("pk", filter=is_open),
        "on_time": Count("pk", filter=done & has_deadline & Q(outcome_at__lte=F("deadline"))),
        "late": Count(
            "pk",
            filter=(done & has_deadline & Q(outcome_at__gt=F("deadline")))
            | (is_open & Q(deadline__lt=now)),
        ),
        "not_yet_due": Count("pk", filter=is_open & Q(deadline__gte=now)),
        "first_attempt": Count("pk", filter=done & Q(attempt_count=0)),
    }


def _labelled(sums, names, empty_label):
    """Rows of sums by id, labelled by name (empty_label for none) and ordered by it."""
    rows = [
        {"group": names.get(pk, str(empty_label)) if pk else str(empty_label), "pk": pk, **values}
        for pk, values in sums.items()
    ]
    rows.sort(key=lambda row: (row["group"], row["pk"] or 0))
    for row in rows:
        del row["pk"]
    return rows


def _names(model, ids):
    """Names by id (the ids come from the services the user may see)."""
    ids = [pk for pk in ids if pk is not None]
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))


def failure_reasons(*, user, filters, tzinfo):
    """Stops failed in the period (by their `left_at`) of the services the user may see, per
    failure reason; with a driver, that driver's stops."""
    start, end = period_bounds(filters, tzinfo)
    stops = Stop.objects.filter(
        service__in=_scoped(user, filters).values("pk"),
        status=StopStatus.FAILED,
        left_at__gte=start,
        left_at__lt=end,
    )
    if filters.driver is not None:
        stops = stops.filter(route__driver=filters.driver)
    return list(
        stops.values("failure_reason")
        .annotate(
            group=Coalesce("failure_reason__description", Value(str(_("No reason given")))),
            failed_stops=Count("pk"),
        )
        .order_by("-failed_stops", "group")
        .values("group", "failed_stops")
    )


def delivery_report(*, user, filters, tzinfo, now=None):
    """The whole report in a fixed number of queries, whatever the number of services: the
    services of the period are counted once, in groups of (day, branch, carrier, partner), and
    the report's tables are those groups summed (a few thousand group rows at most, not services);
    then the names of the groups' branches, carriers and partners, and the failure reasons."""
    now = now or timezone.now()
    in_period = services_in_period(user=user, filters=filters, tzinfo=tzinfo)
    groups = list(
        in_period.annotate(day=TruncDate("outcome_at", tzinfo=tzinfo))
        .values("day", "branch_id", "carrier_id", "partner_id")
        .annotate(**_counts(now))
        .order_by()
    )
    by_day = [
        {"group": day, **values}
        for day, values in sorted(summed(groups, lambda row: row["day"], COLUMNS).items())
    ]

    def by(field, model, empty_label):
        sums = summed(groups, lambda row: row[field], COLUMNS)
        return _labelled(sums, _names(model, sums), empty_label)

    return DeliveryReport(
        filters=filters,
        totals=total(groups, COLUMNS),
        by_day=by_day,
        by_branch=by("branch_id", Branch, _("No branch")),
        by_carrier=by("carrier_id", Carrier, _("No carrier")),
        by_partner=by("partner_id", Partner, _("No partner")),
        by_failure_reason=failure_reasons(user=user, filters=filters, tzinfo=tzinfo),
    )
