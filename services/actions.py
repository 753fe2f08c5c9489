"""Every write on services: one transaction each, an event recorded, side effects after commit."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer, PartyKind, StatusChangeReason, supported_language
from tracking.lib import br
from tracking.lib.errors import Conflict, DomainError
from tracking.lib.transitions import require_transition

from .models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    TRANSITIONS,
    ActorType,
    EventKind,
    Package,
    Service,
    ServiceEvent,
    ServiceStatus,
)
from .signals import service_event_recorded, service_event_written

logger = logging.getLogger(__name__)

# Fields a caller may set on a service (the rest are kept by the actions themselves).
SERVICE_FIELDS = [
    "type", "customer", "agency", "branch", "partner", "carrier", "external_id", "order_number",
    "invoice_number", "invoice_series", "description", "weight_kg", "volume_m3", "declared_value",
    "service_time_min", "deadline", "street", "number", "complement", "district", "city", "state",
    "postal_code", "country", "lat", "lng",
]  # fmt: skip
CUSTOMER_FIELDS = [
    "kind", "name", "trade_name", "document", "email", "phone", "external_code", "language",
]  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Who made a change: a web user, a driver, the customer, an integration or the system."""

    type: str
    user: object = None
    driver: object = None
    label: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def for_user(cls, user):
        return cls(ActorType.USER, user=user)

    @classmethod
    def for_driver(cls, driver):
        return cls(ActorType.DRIVER, driver=driver)

    @classmethod
    def integration(cls, label):
        return cls(ActorType.INTEGRATION, label=label)

    @classmethod
    def customer(cls):
        return cls(ActorType.CUSTOMER, label="customer")

    @classmethod
    def system(cls, label="system"):
        return cls(ActorType.SYSTEM, label=label)

    @property
    def is_operator(self):
        return self.type == ActorType.USER


def _record_event(
    *,
    service,
    actor,
    kind,
    from_status="",
    to_status="",
    reason=None,
    failure_reason=None,
    note="",
    point=None,
    recorded_at=None,
    data=None,
):
    """Writes one event in the caller's transaction and dispatches it after commit."""
    event = ServiceEvent.objects.create(
        account_id=service.account_id,
        service=service,
        kind=kind,
        actor_type=actor.type,
        actor_user=actor.user,
        actor_driver=actor.driver,
        actor_label=actor.label,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        failure_reason=failure_reason,
        note=note,
        lat=point[0] if point else None,
        lng=point[1] if point else None,
        recorded_at=recorded_at or timezone.now(),
        data=data or {},
    )
    service_event_written.send(sender=ServiceEvent, event=event)
    transaction.on_commit(lambda: _dispatch_after_commit(event.pk))
    return event


def service_record_event(*, service, actor, kind, note="", data=None, recorded_at=None):
    """Records an event that is not a status change (e.g. a delivery date set by a higher app),
    in the caller's transaction, dispatched after commit like every event."""
    return _record_event(
        service=service, actor=actor, kind=kind, note=note, data=data, recorded_at=recorded_at
    )


def _dispatch_after_commit(event_id):
    # The change is committed whatever happens here; an event left undispatched (a receiver could
    # not enqueue, the broker is down) is picked up by the periodic sweep.
    try:
        service_event_dispatch(event_id=event_id)
    except Exception:
        logger.exception("service event %s: dispatch failed; the sweep will retry", event_id)


def service_event_dispatch(*, event_id):
    """Sends service_event_recorded for the event once and marks it dispatched. Idempotent: an
    event already dispatched (or being dispatched by another process) is left alone."""
    with transaction.atomic():
        event = (
            ServiceEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, dispatched_at__isnull=True)
            .only("pk", "account_id")
            .first()
        )
        if event is None:
            return False
        service_event_recorded.send(
            sender=ServiceEvent, event_id=event.pk, account_id=event.account_id
        )
        ServiceEvent.objects.filter(pk=event.pk).update(dispatched_at=timezone.now())
    return True


def service_events_redispatch(*, older_than=timedelta(minutes=1), limit=1000):
    """Dispatches events still undispatched after older_than (a broker or process was lost)."""
    cutoff = timezone.now() - older_than
    ids = list(
        ServiceEvent.objects.filter(dispatched_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(service_event_dispatch(event_id=event_id) for event_id in ids)


def customer_find_or_create(*, account, data):
    """The account's customer matching data by external code, then document, then e-mail;
    created when none matches, and updated with the fields data brings. Never duplicates.
    Raises DomainError for a language that is not one of settings.LANGUAGES."""
    with transaction.atomic():
        return _customer_find_or_create(account, data)


def _customer_find_or_create(account, data):
    data = {key: value for key, value in data.items() if key in CUSTOMER_FIELDS and value}
    if data.get("document"):
        data["document"] = br.digits(data["document"])
        data.setdefault(
            "kind", PartyKind.COMPANY if len(data["document"]) == 14 else PartyKind.PERSON
        )
    if data.get("language"):
        language = supported_language(data["language"])
        if language is None:
            raise DomainError(
                _("Unknown language."), code="invalid", fields={"customer.language": []}
            )
        data["language"] = language
    customers = Customer.objects.select_for_update().filter(account=account)
    customer = None
    for key in ("external_code", "document", "email"):
        if data.get(key):
            lookup = {f"{key}__iexact": data[key]} if key == "email" else {key: data[key]}
            customer = customers.filter(**lookup).order_by("pk").first()
            if customer is not None:
                break
    if customer is None:
        if not data.get("name"):
            raise DomainError(
                _("The customer needs a name."), code="invalid", fields={"customer.name": []}
            )
        return Customer.objects.create(account=account, **data)
    changed = [key for key, value in data.items() if getattr(customer, key) != value]
    for key in changed:
        setattr(customer, key, data[key])
    if changed:
        customer.save(update_fields=changed)
    return customer


def _check_references(account, values):
    for name in ("customer", "agency", "branch", "partner", "carrier"):
        obj = values.get(name)
        if obj is not None and obj.account_id != account.pk:
            raise DomainError(_("Not found."), code="invalid", fields={name: [_("Not found.")]})


def _set_packages(service, packages, *, new=False):
    """Replaces the service's packages by the given [{"barcode", "description"}] (a new service
    has none to replace: two queries fewer a service in a bulk import)."""
    barcodes = [package["barcode"].strip() for package in packages]
    if len(set(barcodes)) != len(barcodes):
        raise DomainError(
            _("The same barcode appears twice."), code="invalid", fields={"packages": []}
        )
    existing = {}
    if not new:
        service.packages.exclude(barcode__in=barcodes).delete()
        existing = {package.barcode: package for package in service.packages.all()}
    for package in packages:
        kept = existing.get(package["barcode"].strip())
        description = package.get("description", "")
        if kept is not None and kept.description != description:
            kept.description = description
            kept.save(update_fields=["description"])
    Package.objects.bulk_create(
        Package(
            account_id=service.account_id,
            service=service,
            barcode=package["barcode"].strip(),
            description=package.get("description", ""),
        )
        for package in packages
        if package["barcode"].strip() not in existing
    )


def service_create(*, account, actor, values, packages=(), recorded_at=None):
    """Creates a pending service with its packages and a `created` event. Raises Conflict when
    the external id exists already (callers that want idempotency look it up first)."""
    values = {key: value for key, value in values.items() if key in SERVICE_FIELDS}
    _check_references(account, values)
    with transaction.atomic():
        external_id = values.get("external_id")
        if (
            external_id
            and Service.objects.filter(account=account, external_id=external_id).exists()
        ):
            raise Conflict(
                _("A service with this external id exists already."),
                code="duplicate_external_id",
                fields={"external_id": [external_id]},
            )
        service = Service.objects.create(account=account, status=ServiceStatus.PENDING, **values)
        if packages:
            _set_packages(service, packages, new=True)
        _record_event(
            service=service,
            actor=actor,
            kind=EventKind.CREATED,
            to_status=ServiceStatus.PENDING,
            recorded_at=recorded_at,
        )
    return service


def service_update(*, service, actor, values, packages=None):
    """Changes a pending service's fields (and packages when given); records what changed.
    Raises Conflict when the service is no longer pending."""
    values = {key: value for key, value in values.items() if key in SERVICE_FIELDS}
    _check_references(service.account, values)
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if not service.is_editable:
            raise Conflict(
                _("Only pending services can be edited; this one is %(status)s.")
                % {"status": service.get_status_display().lower()},
                code="not_editable",
            )
        external_id = values.get("external_id")
        if (
            external_id
            and Service.objects.filter(account_id=service.account_id, external_id=external_id)
            .exclude(pk=service.pk)
            .exists()
        ):
            raise Conflict(
                _("A service with this external id exists already."),
                code="duplicate_external_id",
                fields={"external_id": [external_id]},
            )
        changed = {}
        for key, value in values.items():
            old = getattr(service, key)
            if old != value:
                changed[key] = [_plain(old), _plain(value)]
                setattr(service, key, value)
        if changed:
            service.save(update_fields=[*changed, "updated_at"])
        if packages is not None:
            before = sorted(service.packages.values_list("barcode", flat=True))
            _set_packages(service, packages)
            after = sorted(service.packages.values_list("barcode", flat=True))
            if before != after:
                changed["packages"] = [before, after]
        if changed:
            _record_event(
                service=service, actor=actor, kind=EventKind.UPDATED, data={"changed": changed}
            )
    return service


def _plain(value):
    """A JSON-friendly form of a field value for the event's record of changes."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def service_change_status(
    *,
    service,
    to_status,
    actor,
    reason=None,
    failure_reason=None,
    note="",
    point=None,
    recorded_at=None,
    data=None,
):
    """Moves a service along the status machine and records the event. A change by an operator
    needs a reason for status change. Moving to the status it already has is a no-op (phones
    repeat themselves). Raises Conflict for a transition the machine does not allow."""
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.status == to_status:
            return service
        require_transition(
            TRANSITIONS,
            ServiceStatus,
            service.status,
            to_status,
            _("A %(from)s service cannot become %(to)s."),
        )
        if actor.is_operator:
            _require_reason(service, reason)
        from_status = service.status
        service.status = to_status
        service.finished_at = _finished_at(to_status, recorded_at)
        service.save(update_fields=["status", "finished_at", "updated_at"])
        _record_event(
            service=service,
            actor=actor,
            kind=EventKind.STATUS,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            failure_reason=failure_reason,
            note=note,
            point=point,
            recorded_at=recorded_at,
            data=data,
        )
    return service


def _finished_at(status, recorded_at):
    """Service.finished_at for a service now in status: when an open service reached an outcome
    (the device's time when given), None while it is open."""
    if status in OPEN_STATUSES:
        return None
    return recorded_at or timezone.now()


def _require_reason(service, reason):
    if reason is None:
        raise DomainError(
            _("Choose a reason for the status change."),
            code="reason_required",
            fields={"reason": []},
        )
    if not isinstance(reason, StatusChangeReason) or reason.account_id != service.account_id:
        raise DomainError(_("Not found."), code="invalid", fields={"reason": [_("Not found.")]})
    if not reason.is_active:
        raise DomainError(
            _("This reason is no longer in use."), code="invalid", fields={"reason": []}
        )


def service_reschedule(*, service, actor, reason=None, note="", recorded_at=None):
    """Puts a failed service back to pending with one more attempt counted; once the account's
    maximum of attempts is reached it is returned to the sender instead. Returns the service."""
    with transaction.atomic():
        service = Service.objects.select_for_update().select_related("account").get(pk=service.pk)
        if service.status != ServiceStatus.FAILED:
            raise Conflict(_("Only failed services can be rescheduled."), code="invalid_transition")
        if actor.is_operator:
            _require_reason(service, reason)
        attempts = service.attempt_count + 1
        to_status = (
            ServiceStatus.RETURNED
            if attempts >= service.account.max_attempts
            else ServiceStatus.PENDING
        )
        service.attempt_count = attempts
        service.status = to_status
        service.finished_at = _finished_at(to_status, recorded_at)
        service.save(update_fields=["attempt_count", "status", "finished_at", "updated_at"])
        _record_event(
            service=service,
            actor=actor,
            kind=EventKind.RESCHEDULED if to_status == ServiceStatus.PENDING else EventKind.STATUS,
            from_status=ServiceStatus.FAILED,
            to_status=to_status,
            reason=reason,
            note=note,
            recorded_at=recorded_at,
            data={"attempt_count": attempts},
        )
    return service


def service_cancel(*, service, actor, reason=None, note=""):
    """Cancels a service that has not started (pending, routed) or failed. Idempotent."""
    return service_change_status(
        service=service, to_status=ServiceStatus.CANCELLED, actor=actor, reason=reason, note=note
    )


def service_delete(*, service):
    """Deletes a pending service that never left the back office (no route, no attempt)."""
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.status != ServiceStatus.PENDING or service.attempt_count:
            raise Conflict(
                _("Only pending services without attempts can be deleted."), code="not_deletable"
            )
        service.delete()


def is_final(service):
    return service.status in FINAL_STATUSES
