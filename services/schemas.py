"""The integration API's shapes: what an integration sends about a service and what it reads back.

Input is checked here, field by field, so errors name their path (`customer.document`,
`address.postal_code`): Brazilian documents, phones in the account's country, CEP and UF, coordinate
ranges, deadlines with an offset, and no NUL character in any text (PostgreSQL refuses them).
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from localflavor.br.br_states import STATE_CHOICES
from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from accounts.models import supported_language
from tracking.lib import br

from .models import ServiceStatus, ServiceType

MAX_BULK = 500
MAX_PACKAGES = 200
MAX_UTC_OFFSET = timedelta(hours=14)
UFS = frozenset(code for code, _name in STATE_CHOICES)
NOT_BUILT_YET = (
    "Always an empty list for now: {what} will be filled in when routes are built on this API."
)


def _storable(value):
    # PostgreSQL refuses NUL in text, and JSON's "\ud800" escapes decode to text that is not UTF-8.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Text cannot contain NUL characters.")
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise PydanticCustomError("invalid_text", "Text must be valid Unicode.") from exc
    return value


def text(max_length, min_length=None):
    """A string, stripped, at most max_length characters, that PostgreSQL can store."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=max_length, min_length=min_length),
        AfterValidator(_storable),
    ]


def real_offset(value):
    """Refuses a UTC offset no place has (beyond ±14:00): Python reads offsets up to ±23:59,
    and PostgreSQL refuses those beyond ±15:59 when the time is stored or compared (a 500)."""
    if abs(value.utcoffset()) > MAX_UTC_OFFSET:
        raise PydanticCustomError("out_of_range", "Use a UTC offset between -14:00 and +14:00.")
    return value


def _reasonable_time(value):
    # Far-off years overflow when converted to UTC, and PostgreSQL stores nothing after 9999.
    if not 1900 <= value.year <= 2999:
        raise PydanticCustomError("out_of_range", "Use a time between the years 1900 and 2999.")
    return real_offset(value)


# A date and time with its UTC offset ("2026-12-01T18:00:00-03:00").
Moment = Annotated[AwareDatetime, AfterValidator(_reasonable_time)]


def _checked(normalise, value, *args):
    """Runs one of tracking.lib.br's normalise_* and turns its error into a pydantic one."""
    try:
        return normalise(value, *args)
    except DjangoValidationError as exc:
        raise PydanticCustomError(
            exc.code or "invalid", "{message}", {"message": " ".join(exc.messages)}
        ) from exc


def account_country(info: ValidationInfo):
    """The country of the calling key's account (django-ninja passes the request as context)."""
    request = (info.context or {}).get("request")
    account = getattr(getattr(request, "auth", None), "account", None)
    return getattr(account, "country", None) or "BR"


def _not_null(value):
    if value is None:
        raise PydanticCustomError("not_null", "This field cannot be null.")
    return value


# Input ------------------------------------------------------------------------------------------


class Nested(BaseModel):
    """An object inside a body. Plain pydantic rather than ninja's Schema: a Schema reads the
    attributes of whatever it is given, so `"customer": 5` or `"invoice": "x"` passed as an
    object with no fields (an empty invoice stored, a customer "not sent"); here anything but a
    JSON object is refused with the field's path. (Bodies themselves: tracking.api.ObjectParser.)"""


class CustomerIn(Nested):
    """Who receives (or hands over) the goods. An existing customer of the account is found by
    external code, then document, then e-mail, and updated with what is sent; otherwise one is
    created (then `name` is required)."""

    name: text(200) | None = None
    trade_name: text(200) | None = None
    document: text(20) | None = Field(None, description="CPF or CNPJ, with or without punctuation.")
    email: text(254) | None = None
    phone: text(30) | None = Field(
        None, description="Read in the account's country when it has no country code."
    )
    external_code: text(60) | None = Field(
        None, description="Your code for the customer; the first key to find it again."
    )
    language: text(16) | None = Field(
        None,
        description=(
            "Of the customer's Last Mile page and messages: en, pt-br or es (pt_BR, pt and es-AR "
            "are read too); the account's when not set."
        ),
    )

    @field_validator("language")
    @classmethod
    def _language(cls, value):
        if not value:
            return value
        language = supported_language(value)
        if language is None:
            codes = ", ".join(code for code, _name in settings.LANGUAGES)
            raise PydanticCustomError("invalid_language", "Use one of {codes}.", {"codes": codes})
        return language

    @field_validator("document")
    @classmethod
    def _document(cls, value):
        return _checked(br.normalise_document, value) if value else value

    @field_validator("email")
    @classmethod
    def _email(cls, value):
        if value:
            _checked(validate_email, value)
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value, info: ValidationInfo):
        return _checked(br.normalise_phone, value, account_country(info)) if value else value


class AddressIn(Nested):
    """Where the service happens. In Brazil (the default country) the CEP and UF are checked."""

    street: text(200, min_length=1)
    number: text(20) | None = None
    complement: text(100) | None = None
    neighborhood: text(100) | None = None
    city: text(100, min_length=1)
    country: Annotated[text(2), StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = Field(
        None, description="ISO 3166 code, e.g. BR; the account's country by default."
    )
    state: text(2) | None = Field(None, description="UF, e.g. SP.")
    postal_code: text(12) | None = Field(None, description="CEP, e.g. 01310-200.")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    lng: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)

    @field_validator("country")
    @classmethod
    def _country(cls, value):
        return value.upper() if value else value

    @field_validator("state")
    @classmethod
    def _state(cls, value, info: ValidationInfo):
        if not value:
            return value
        value = value.upper()
        if _in_brazil(info) and value not in UFS:
            raise PydanticCustomError("invalid_state", "Use a Brazilian UF, e.g. SP.")
        return value

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value, info: ValidationInfo):
        if not value:
            return value
        if _in_brazil(info):
            return _checked(br.normalise_postal_code, value)
        if len(value) > 9:
            raise PydanticCustomError("invalid_postal_code", "A postal code has 9 characters.")
        return value

    @model_validator(mode="after")
    def _point(self):
        if (self.lat is None) != (self.lng is None):
            raise PydanticCustomError("incomplete_point", "Give both lat and lng, or neither.")
        return self


def _in_brazil(info: ValidationInfo):
    return (info.data.get("country") or account_country(info)) == "BR"


class AddressPatch(AddressIn):
    """The address fields to change; those left out keep their value."""

    street: text(200, min_length=1) | None = None
    city: text(100, min_length=1) | None = None


class InvoiceIn(Nested):
    number: text(60) | None = None
    series: text(10) | None = None


class PackageIn(Nested):
    barcode: text(80, min_length=1)
    description: text(200) | None = None


class ServiceFields(Schema):
    """The fields a service shares between creation and change."""

    type: ServiceType | None = None
    order_number: text(60) | None = None
    invoice: InvoiceIn | None = None
    description: text(5000) | None = Field(None, description="Shown to the driver.")
    weight_kg: Decimal | None = Field(None, ge=0, max_digits=9, decimal_places=3)
    volume_m3: Decimal | None = Field(None, ge=0, max_digits=9, decimal_places=4)
    value: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="Declared value."
    )
    service_time_min: int | None = Field(
        None, ge=0, le=1440, description="Minutes on site; 5 by default."
    )
    deadline: Moment | None = Field(None, description="With its UTC offset.")
    branch: text(200) | None = Field(None, description="The branch's prefix or name.")
    partner: text(200) | None = Field(None, description="The partner's name or document.")
    carrier: text(200) | None = Field(None, description="The carrier's name or document.")
    agency: text(120) | None = Field(None, description="The agency's name.")


class ServiceIn(ServiceFields):
    """One service to create. A repeat with an external id the account already has returns the
    existing service (200) without changing it; use PATCH to change it."""

    external_id: text(80, min_length=1) = Field(
        description="Your id for the service: what makes creation idempotent."
    )
    type: ServiceType = ServiceType.DELIVERY
    service_time_min: int = Field(5, ge=0, le=1440, description="Minutes on site.")
    customer: CustomerIn
    address: AddressIn
    packages: list[PackageIn] = Field(default_factory=list, max_length=MAX_PACKAGES)


class ServiceBulkIn(Schema):
    """Up to 500 services in one call; each is created (or found) on its own."""

    services: list[ServiceIn] = Field(min_length=1, max_length=MAX_BULK)


class ServicePatch(ServiceFields):
    """The fields to change on a pending service; those left out keep their value. `null`
    clears an optional field. `packages`, when given, replaces the service's packages."""

    external_id: text(80, min_length=1) | None = None
    customer: CustomerIn | None = None
    address: AddressPatch | None = None
    packages: list[PackageIn] | None = Field(None, max_length=MAX_PACKAGES)

    @field_validator("external_id", "type", "customer", "address", "packages", "service_time_min")
    @classmethod
    def _required_when_given(cls, value):
        return _not_null(value)


class CancelIn(Schema):
    note: text(2000) | None = None


class ServiceFilters(Schema):
    status: ServiceStatus | None = None
    updated_since: Moment | None = Field(
        None, description="Only services changed at or after this time (with its UTC offset)."
    )
    external_id: text(80) | None = None
    cursor: text(200) | None = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(50, ge=1, le=200)


# Output -----------------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = Field(
        description="Messages per field path (e.g. `customer.document`, `packages.1.barcode`)."
    )


class ErrorOut(Schema):
    error: ErrorDetail


class CustomerOut(Schema):
    id: int
    name: str
    trade_name: str
    document: str
    email: str
    phone: str
    external_code: str
    language: str = Field(description="Blank when the customer follows the account's language.")


class AddressOut(Schema):
    street: str
    number: str
    complement: str
    neighborhood: str
    city: str
    state: str
    postal_code: str
    country: str
    lat: float | None
    lng: float | None


class InvoiceOut(Schema):
    number: str
    series: str


class PackageOut(Schema):
    barcode: str
    description: str


class EventOut(Schema):
    id: int
    kind: str
    from_status: str
    to_status: str
    actor_type: str
    actor: str = Field(description="Who: a user's or driver's name, an API key's name, ...")
    recorded_at: datetime = Field(description="When it happened (on the phone, for drivers).")
    received_at: datetime = Field(description="When the server learned of it.")
    reason: str | None = Field(description="The reason for a manual status change.")
    failure_reason: str | None
    note: str


class ServiceOut(Schema):
    id: int
    external_id: str
    type: ServiceType
    status: ServiceStatus
    tracking_url: str = Field(description="The customer's Last Mile page.")
    customer: CustomerOut
    address: AddressOut
    order_number: str
    invoice: InvoiceOut
    description: str
    weight_kg: float | None
    volume_m3: float | None
    value: str | None = Field(description="Declared value, as a decimal string.")
    service_time_min: int
    deadline: datetime | None
    branch: str | None = Field(description="The branch's prefix, or its name when it has none.")
    partner: str | None
    carrier: str | None
    agency: str | None
    attempt_count: int = Field(description="Failed attempts so far.")
    packages: list[PackageOut]
    events: list[EventOut] = Field(description="The service's history, oldest first.")
    attempts: list[dict[str, Any]] = Field(description=NOT_BUILT_YET.format(what="attempts"))
    evidence: list[dict[str, Any]] = Field(description=NOT_BUILT_YET.format(what="evidence"))
    created_at: datetime
    updated_at: datetime


class ServicePage(Schema):
    results: list[ServiceOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class BulkCreated(Schema):
    index: int
    status: Literal["created", "existing"]
    id: int


class BulkFailed(Schema):
    index: int
    error: ErrorDetail


class BulkOut(Schema):
    results: list[BulkCreated | BulkFailed] = Field(description="One per service sent, in order.")


def service_payload(service, tzinfo):
    """The JSON of a service as every endpoint returns it (times in the account's time zone).
    Expects customer, branch, partner, carrier, agency, packages and events (with their reasons
    and actors) loaded."""
    customer = service.customer
    return {
        "id": service.pk,
        "external_id": service.external_id,
        "type": service.type,
        "status": service.status,
        "tracking_url": service.tracking_url,
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "trade_name": customer.trade_name,
            "document": customer.document,
            "email": customer.email,
            "phone": customer.phone,
            "external_code": customer.external_code,
            "language": customer.language,
        },
        "address": {
            "street": service.street,
            "number": service.number,
            "complement": service.complement,
            "neighborhood": service.district,
            "city": service.city,
            "state": service.state,
            "postal_code": service.postal_code,
            "country": service.country,
            "lat": service.lat,
            "lng": service.lng,
        },
        "order_number": service.order_number,
        "invoice": {"number": service.invoice_number, "series": service.invoice_series},
        "description": service.description,
        "weight_kg": _float(service.weight_kg),
        "volume_m3": _float(service.volume_m3),
        "value": None if service.declared_value is None else str(service.declared_value),
        "service_time_min": service.service_time_min,
        "deadline": _time(service.deadline, tzinfo),
        "branch": (service.branch.prefix or service.branch.name) if service.branch else None,
        "partner": service.partner.name if service.partner else None,
        "carrier": service.carrier.name if service.carrier else None,
        "agency": service.agency.name if service.agency else None,
        "attempt_count": service.attempt_count,
        "packages": [
            {"barcode": package.barcode, "description": package.description}
            for package in service.packages.all()
        ],
        "events": [_event_payload(event, tzinfo) for event in service.events.all()],
        "attempts": [],
        "evidence": [],
        "created_at": _time(service.created_at, tzinfo),
        "updated_at": _time(service.updated_at, tzinfo),
    }


def _event_payload(event, tzinfo):
    return {
        "id": event.pk,
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor_type": event.actor_type,
        "actor": event.actor_display,
        "recorded_at": _time(event.recorded_at, tzinfo),
        "received_at": _time(event.received_at, tzinfo),
        "reason": event.reason.description if event.reason else None,
        "failure_reason": event.failure_reason.description if event.failure_reason else None,
        "note": event.note,
    }


def _float(value):
    return None if value is None else float(value)


def _time(value, tzinfo):
    return None if value is None else timezone.localtime(value, tzinfo).isoformat()
