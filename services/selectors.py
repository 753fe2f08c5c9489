"""Reads of services, scoped by accounts.access and ready to render."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q
from django.utils.dateparse import parse_datetime

from accounts import access
from accounts.models import Customer
from tracking.lib import br

from .models import EventKind, Service, ServiceEvent, ServiceStatus

OPEN_STATUSES = [
    ServiceStatus.PENDING,
    ServiceStatus.ROUTED,
    ServiceStatus.IN_PROGRESS,
    ServiceStatus.PAUSED,
]

# The list's sort keys: what a user may ask for (a key, "-" in front for descending) and the
# columns it sorts by. Anything else falls back to DEFAULT_SORT; the primary key breaks ties so
# pages never overlap.
SORTS = {
    "created": ["created_at"],
    "deadline": ["deadline"],
    "order": ["order_number"],
    "customer": ["customer__name"],
    "status": ["status"],
    "type": ["type"],
    "city": ["city"],
}
DEFAULT_SORT = "-created"
# Columns that may be empty: those go last whichever the direction. The others keep plain
# ORDER BY so PostgreSQL can walk the (account, created_at) index.
NULLABLE_SORTS = {"deadline"}
_DOCUMENT_LIKE = re.compile(r"[\d.\-/\s]+")
# Foreign keys every list row shows (one JOIN instead of one query per row).
LIST_RELATED = ["customer", "branch", "carrier", "partner", "agency"]


@dataclass(frozen=True)
class ServiceFilters:
    """What the services list is narrowed by; empty values do not filter.

    Date ranges are local days (both ends included) in the time zone given to the selector.
    """

    q: str = ""
    type: str = ""
    status: str = ""
    created_from: date | None = None
    created_to: date | None = None
    deadline_from: date | None = None
    deadline_to: date | None = None
    branch: object = None
    carrier: object = None
    partner: object = None
    driver: object = None
    customer: str = ""
    invoice: str = ""
    order: str = ""


def service_list(*, user, status=None, filters=None, sort=None, tzinfo=None):
    """The services the user may see, narrowed by status and filters, in the order asked for
    (a key of SORTS; the newest first by default)."""
    services = access.scope(user, Service.objects.all()).select_related(*LIST_RELATED)
    if status:
        services = services.filter(status=status)
    if filters is not None:
        services = _filtered(services, filters, tzinfo)
    return services.order_by(*service_ordering(sort))


def service_ordering(sort):
    descending = bool(sort) and sort.startswith("-")
    key = (sort or "").lstrip("-")
    if key not in SORTS:
        return service_ordering(DEFAULT_SORT)
    nulls_last = True if key in NULLABLE_SORTS else None
    if descending:
        return [*(F(name).desc(nulls_last=nulls_last) for name in SORTS[key]), "-pk"]
    return [*(F(name).asc(nulls_last=nulls_last) for name in SORTS[key]), "pk"]


def service_status_counts(*, user, filters=None, tzinfo=None):
    """How many services match the filters in each status, in one query. The status filter
    itself is left out, so the counts say where each other status would lead."""
    services = access.scope(user, Service.objects.all())
    if filters is not None:
        services = _filtered(services, filters, tzinfo, with_status=False)
    counts = services.aggregate(
        **{status: Count("pk", filter=Q(status=status)) for status in ServiceStatus.values}
    )
    return {status: counts[status] for status in ServiceStatus.values}


def _filtered(services, filters, tzinfo, *, with_status=True):
    if filters.type:
        services = services.filter(type=filters.type)
    if with_status and filters.status:
        services = services.filter(status=filters.status)
    services = services.filter(
        _day_range("created_at", filters.created_from, filters.created_to, tzinfo)
    )
    services = services.filter(
        _day_range("deadline", filters.deadline_from, filters.deadline_to, tzinfo)
    )
    for name in ("branch", "carrier", "partner"):
        value = getattr(filters, name)
        if value is not None:
            services = services.filter(**{name: value})
    if filters.driver is not None:
        services = services.filter(_routed_to(filters.driver))
    if filters.customer:
        services = services.filter(_customer_match(filters.customer))
    if filters.invoice:
        services = services.filter(invoice_number=filters.invoice.strip())
    if filters.order:
        services = services.filter(order_number=filters.order.strip())
    if filters.q:
        services = services.filter(_text_match(filters.q.strip()))
    return services


def _routed_to(driver):
    """Services with a stop (any attempt) on one of the driver's routes. A subquery rather than a
    join, so a service with several such stops is still one row; and a lookup by name, as
    services do not import routes (routes depend on services)."""
    return Exists(Service.objects.filter(pk=OuterRef("pk"), stops__route__driver_id=driver.pk))


def _day_range(field, first, last, tzinfo):
    condition = Q()
    if first:
        condition &= Q(**{f"{field}__gte": datetime.combine(first, time.min, tzinfo=tzinfo)})
    if last:
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tzinfo)
        condition &= Q(**{f"{field}__lt": end})
    return condition


def _customer_match(text, prefix="customer__"):
    """A customer by part of their name or trade name, or by their document (typed with or
    without punctuation)."""
    text = text.strip()
    condition = Q(**{f"{prefix}name__icontains": text}) | Q(
        **{f"{prefix}trade_name__icontains": text}
    )
    number = br.digits(text)
    # Only text that looks like a document ("123.456", "12.345.678/0001-90") searches documents:
    # the digits of "ORDER-00012" are not a CPF.
    if len(number) >= 3 and _DOCUMENT_LIKE.fullmatch(text):
        condition |= Q(**{f"{prefix}document__contains": number})
    return condition


def _text_match(text):
    """The free text box: order, invoice and external id, the customer, and the address."""
    condition = _customer_match(text)
    for name in (
        "order_number",
        "invoice_number",
        "external_id",
        "street",
        "district",
        "city",
        "postal_code",
    ):
        condition |= Q(**{f"{name}__icontains": text})
    return condition


def service_detail(*, user, pk):
    """One service the user may see (Http404 otherwise) with its related rows, packages and
    event log loaded."""
    events = ServiceEvent.objects.select_related(
        "actor_user", "actor_driver", "reason", "failure_reason"
    ).order_by("recorded_at", "pk")
    queryset = Service.objects.select_related(*LIST_RELATED, "account").prefetch_related(
        "packages", Prefetch("events", queryset=events)
    )
    return access.get_object_or_404(user, queryset, pk=pk)


def service_event_changes(event):
    """The fields an `updated` event changed, as (label, before, after) for the timeline."""
    if event.kind != EventKind.UPDATED:
        return []
    changes = []
    for name, values in (event.data or {}).get("changed", {}).items():
        before, after = [*values, None, None][:2]
        try:
            field = Service._meta.get_field(name)
        except LookupError:
            field = None
        if field is None or field.auto_created:  # a reverse relation: the packages
            label = getattr(getattr(field, "related_model", None), "_meta", None)
            label = label.verbose_name_plural if label else name
        else:
            label = field.verbose_name
        changes.append((label, _plain_value(field, before), _plain_value(field, after)))
    return changes


def _plain_value(field, value):
    """A recorded value as the timeline shows it: lists joined, datetimes as datetimes (shown in
    the account's time zone), related rows by their number."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if value is None or field is None:
        return value
    if field.get_internal_type() == "DateTimeField" and isinstance(value, str):
        return parse_datetime(value) or value
    if field.is_relation and not field.auto_created:
        return f"#{value}"
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    return value


def customers_for_services(*, user):
    """The customers a user may pick for a service: the account's. A user narrowed to a
    branch, partner or carrier only gets customers of services they can see."""
    customers = access.scope(user, Customer.objects.all())
    if user.carrier_id or user.branch_id or user.partner_id:
        customers = customers.filter(
            pk__in=access.scope(user, Service.objects.all()).values("customer_id")
        )
    return customers


def customer_search(*, user, text, limit=20):
    """Customers to pick for a service by name, trade name, document or e-mail."""
    customers = customers_for_services(user=user)
    text = (text or "").strip()
    if text:
        customers = customers.filter(_customer_match(text, prefix="") | Q(email__icontains=text))
    return customers.order_by("name", "pk")[:limit]


def service_day_counts(*, user, day, tzinfo):
    """Counts for the dashboard: services open now, and those finished on the given local day."""
    start = datetime.combine(day, time.min, tzinfo=tzinfo)
    end = start + timedelta(days=1)
    finished_today = Q(finished_at__gte=start, finished_at__lt=end)
    counts = access.scope(user, Service.objects.all()).aggregate(
        pending=Count("pk", filter=Q(status=ServiceStatus.PENDING)),
        routed=Count("pk", filter=Q(status=ServiceStatus.ROUTED)),
        in_progress=Count("pk", filter=Q(status=ServiceStatus.IN_PROGRESS)),
        done=Count("pk", filter=Q(status=ServiceStatus.DONE) & finished_today),
        failed=Count("pk", filter=Q(status=ServiceStatus.FAILED) & finished_today),
    )
    return counts
