"""The integration API's services (/api/v1/services): create one or up to 500, list, read, change
and cancel, authenticated by the account's API keys (`Authorization: Bearer <key>`).

A key sees its own account's services only; anything else is a 404. Every write goes through
services.actions with the key as the actor, and accepts an `Idempotency-Key` header.
"""

import base64
import binascii
import json
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from ninja import Query, Router, Status
from ninja.errors import ValidationError
from ninja.security import HttpBearer
from pydantic import SkipValidation
from pydantic import ValidationError as PydanticValidationError

from accounts.apikeys import api_key_authenticate
from accounts.idempotency import idempotent
from accounts.models import Agency, Branch, Carrier, Partner
from tracking.lib import br
from tracking.lib.errors import Conflict, DomainError, Invalid, NotFound

from .actions import (
    Actor,
    customer_find_or_create,
    service_cancel,
    service_create,
    service_update,
)
from .models import Service, ServiceEvent
from .schemas import (
    MAX_BULK,
    BulkOut,
    CancelIn,
    ErrorOut,
    ServiceBulkIn,
    ServiceFilters,
    ServiceIn,
    ServiceOut,
    ServicePage,
    ServicePatch,
    service_payload,
)


class ApiKeyAuth(HttpBearer):
    """The account's API key as a bearer token; request.auth is the ApiKey (with its account)."""

    def authenticate(self, request, token):
        return api_key_authenticate(token)


router = Router(auth=ApiKeyAuth(), tags=["services"])

# Every error an operation can answer, in the one error shape: 400 a body that is not JSON (or a
# refusal without a more specific status), 401 no valid credentials, 404 not found (or not the
# caller's), 409 a conflict with the current state (or a replay while the first runs), 422 invalid.
ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
# What the API calls a field -> the service's field, for the parts that differ.
ADDRESS_FIELDS = {"neighborhood": "district"}
# Fields that null clears to None; every other text field is cleared to "".
NULLABLE = {"weight_kg", "volume_m3", "declared_value", "deadline", "lat", "lng"}
# How each reference is found, in order: the first lookup that matches one row wins.
REFERENCES = {
    "branch": (Branch, ["name", "prefix"]),
    "partner": (Partner, ["name", "document"]),
    "carrier": (Carrier, ["name", "trade_name", "document"]),
    "agency": (Agency, ["name"]),
}


def _caller(request):
    return f"api:{request.auth.pk}"


def _actor(request):
    return Actor.integration(request.auth.name)


# Endpoints --------------------------------------------------------------------------------------


@router.post(
    "",
    response={201: ServiceOut, 200: ServiceOut | BulkOut, **ERRORS},
    summary="Create a service, or up to 500",
)
@idempotent(_caller)
def create_services(request, payload: Annotated[ServiceIn | ServiceBulkIn, SkipValidation]):
    """One service answers 201 with the service, or 200 with the existing one when the account
    already has its `external_id` (nothing is changed then; use PATCH).

    `{"services": [...]}` creates up to 500, each on its own: the answer (200) has one result per
    service, in order: `{"index", "status": "created" | "existing", "id"}` or `{"index", "error"}`.
    """
    if isinstance(payload, dict) and "services" in payload:
        return Status(200, _create_bulk(request, payload["services"]))
    data = _parse(ServiceIn, payload, request)
    service_id, created = _create_one(request, data)
    return Status(201 if created else 200, _payload(request, service_id))


@router.get("", response={200: ServicePage, **ERRORS}, summary="List services")
def list_services(request, filters: Query[ServiceFilters]):
    """The account's services, least recently changed first, a page at a time: pass
    `next_cursor` as `cursor` for the next page (null at the end)."""
    services = _services(request).order_by("updated_at", "pk")
    if filters.status:
        services = services.filter(status=filters.status)
    if filters.updated_since:
        services = services.filter(updated_at__gte=filters.updated_since)
    if filters.external_id:
        services = services.filter(external_id=filters.external_id)
    if filters.cursor:
        updated_at, pk = _decode_cursor(filters.cursor)
        services = services.filter(
            Q(updated_at__gt=updated_at) | Q(updated_at=updated_at, pk__gt=pk)
        )
    page = list(services[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    tzinfo = request.auth.account.tzinfo
    return {
        "results": [service_payload(service, tzinfo) for service in page],
        "next_cursor": _encode_cursor(page[-1]) if more else None,
    }


@router.get("/{service_id}", response={200: ServiceOut, **ERRORS}, summary="Read a service")
def get_service(request, service_id: int):
    return _payload(request, service_id)


@router.patch("/{service_id}", response={200: ServiceOut, **ERRORS}, summary="Change a service")
@idempotent(_caller)
def update_service(request, service_id: int, payload: ServicePatch):
    """Changes the fields sent (a pending service only: 409 otherwise)."""
    service = _service(request, service_id)
    values, customer_data, packages = _changes(request.auth.account, payload)
    with _as_api_errors(), transaction.atomic():
        # One transaction: a refused change (409) leaves the customer as it was, too.
        if customer_data is not None:
            values["customer"] = customer_find_or_create(
                account=request.auth.account, data=customer_data
            )
        service_update(service=service, actor=_actor(request), values=values, packages=packages)
    return _payload(request, service.pk)


@router.post(
    "/{service_id}/cancel", response={200: ServiceOut, **ERRORS}, summary="Cancel a service"
)
@idempotent(_caller)
def cancel_service(request, service_id: int, payload: CancelIn = None):
    """Cancels a service that has not started (pending, routed) or that failed; 409 otherwise.
    Cancelling a cancelled service changes nothing."""
    service = _service(request, service_id)
    note = (payload.note if payload else None) or ""
    service_cancel(service=service, actor=_actor(request), note=note)
    return _payload(request, service.pk)


# Creation ---------------------------------------------------------------------------------------


def _create_bulk(request, items):
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
        raise Invalid(
            f"Send between 1 and {MAX_BULK} services.",
            fields={"services": [f"A list of 1 to {MAX_BULK} services."]},
        )
    results = []
    for index, item in enumerate(items):
        try:
            data = _parse(ServiceIn, item, request)
            service_id, created = _create_one(request, data)
        except ValidationError as exc:
            results.append({"index": index, "error": _invalid_payload(exc.errors)})
        except DomainError as exc:
            results.append({"index": index, "error": exc.as_payload()["error"]})
        else:
            status = "created" if created else "existing"
            results.append({"index": index, "status": status, "id": service_id})
    return {"results": results}


def _create_one(request, data):
    """(service id, created): the account's service with data's external id, or a new one."""
    account = request.auth.account
    existing = _existing_id(account, data.external_id)
    if existing is not None:
        return existing, False
    values, customer_data, packages = _changes(account, data)
    values.setdefault("country", account.country)
    try:
        with _as_api_errors(), transaction.atomic():
            values["customer"] = customer_find_or_create(account=account, data=customer_data)
            service = service_create(
                account=account, actor=_actor(request), values=values, packages=packages or ()
            )
    except (IntegrityError, Conflict) as exc:
        # Another request created the same external id in the meantime: that one is the answer.
        existing = _existing_id(account, data.external_id)
        if existing is None:
            if isinstance(exc, Conflict):
                raise
            raise Conflict("A concurrent request changed the same data; retry.") from exc
        return existing, False
    return service.pk, True


def _existing_id(account, external_id):
    return (
        Service.objects.filter(account=account, external_id=external_id)
        .values_list("pk", flat=True)
        .first()
    )


def _changes(account, data):
    """What a ServiceIn or ServicePatch asks for, in the actions' terms: (service values,
    customer data or None, packages or None). Only the fields sent are included."""
    given = data.model_fields_set
    values = {}
    for name in (
        "external_id", "type", "order_number", "description", "weight_kg", "volume_m3",
        "service_time_min", "deadline",
    ):  # fmt: skip
        if name in given:
            values[name] = _stored(name, getattr(data, name))
    if "value" in given:
        values["declared_value"] = data.value
    if "invoice" in given:
        invoice = data.invoice
        for key in invoice.model_fields_set if invoice else ("number", "series"):
            values[f"invoice_{key}"] = (getattr(invoice, key) if invoice else None) or ""
    if data.address is not None:
        for key in data.address.model_fields_set:
            name = ADDRESS_FIELDS.get(key, key)
            values[name] = _stored(name, getattr(data.address, key))
        if values.get("country") == "":
            values["country"] = account.country
    for name in REFERENCES:
        if name in given:
            value = getattr(data, name)
            values[name] = _reference(account, name, value) if value else None
    customer_data = None
    if data.customer is not None:
        customer_data = data.customer.model_dump(exclude_none=True)
    packages = None
    if data.packages is not None:
        packages = _packages(data.packages)
    return values, customer_data, packages


def _stored(name, value):
    if value is None and name not in NULLABLE:
        return ""
    return value


def _packages(packages):
    seen = set()
    for index, package in enumerate(packages):
        if package.barcode in seen:
            raise Invalid(
                "The same barcode appears twice.",
                fields={f"packages.{index}.barcode": ["This barcode appears twice."]},
            )
        seen.add(package.barcode)
    return [
        {"barcode": package.barcode, "description": package.description or ""}
        for package in packages
    ]


def _reference(account, name, value):
    """The account's active branch, partner, carrier or agency that value names."""
    model, keys = REFERENCES[name]
    rows = model.objects.filter(account=account)
    for key in keys:
        if key == "document":
            lookup = {"document": br.digits(value)} if br.digits(value) else None
        else:
            lookup = {f"{key}__iexact": value}
        if lookup is None:
            continue
        found = list(rows.filter(**lookup)[:2])
        if len(found) > 1:
            raise Invalid(
                f"More than one {name} matches.",
                fields={name: [f"More than one {name} matches {value!r}; use its name."]},
            )
        if found:
            row = found[0]
            if not row.is_active:
                raise Invalid(f"The {name} is inactive.", fields={name: ["This is inactive."]})
            return row
    raise Invalid(f"Unknown {name}.", fields={name: [f"The account has no {name} {value!r}."]})


# Reading ----------------------------------------------------------------------------------------


def _services(request):
    """The key's account's services, with everything service_payload reads (three queries)."""
    events = ServiceEvent.objects.select_related(
        "reason", "failure_reason", "actor_user", "actor_driver"
    )
    return (
        Service.objects.filter(account=request.auth.account)
        .select_related("customer", "branch", "partner", "carrier", "agency")
        .prefetch_related("packages", Prefetch("events", queryset=events))
    )


def _service(request, service_id):
    service = Service.objects.filter(account=request.auth.account, pk=service_id).first()
    if service is None:
        raise NotFound("Not found.")
    return service


def _payload(request, service_id):
    service = _services(request).filter(pk=service_id).first()
    if service is None:
        raise NotFound("Not found.")
    return service_payload(service, request.auth.account.tzinfo)


def _encode_cursor(service):
    raw = json.dumps([service.updated_at.isoformat(), service.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, pk = json.loads(raw)
        updated_at = datetime.fromisoformat(updated_at)
        if updated_at.tzinfo is None or not 1900 <= updated_at.year <= 2999:
            raise ValueError
        if not isinstance(pk, int) or not 0 < pk < 2**63:
            raise ValueError
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise Invalid(
            "This cursor is not valid.", fields={"cursor": ["Use next_cursor as it came."]}
        ) from exc
    return updated_at, pk


# Errors -----------------------------------------------------------------------------------------


def _parse(schema, data, request):
    """data checked against schema (with the request as context, as django-ninja does), or
    django-ninja's ValidationError (422 with field paths)."""
    if not isinstance(data, dict):
        raise ValidationError([{"loc": (), "msg": "Send a JSON object."}])
    try:
        return schema.model_validate(data, context={"request": request})
    except PydanticValidationError as exc:
        raise ValidationError(exc.errors(include_url=False)) from exc


def _invalid_payload(errors):
    """The error shape of validation errors, with the field paths tracking.api gives a body."""
    fields = {}
    for error in errors:
        path = ".".join(str(part) for part in error.get("loc", ())) or "__all__"
        fields.setdefault(path, []).append(error.get("msg", ""))
    return Invalid("The request has invalid fields.", fields=fields).as_payload()["error"]


@contextmanager
def _as_api_errors():
    """The actions' refusals of a value (400) as the API's 422, every field with a message."""
    try:
        yield
    except DomainError as exc:
        if exc.status != 400:
            raise
        fields = {path: messages or [exc.message] for path, messages in exc.fields.items()}
        raise Invalid(exc.message, code=exc.code, fields=fields) from exc
