"""The driver API's shapes: what the app sends (logins, steps with the phone's time and point,
outcomes, chat messages) and what it reads back (the driver, routes with their stops, lists)."""

import datetime as dt
from datetime import date, datetime, timedelta
from typing import Annotated

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from scheduling.selectors import service_time_window
from services.models import ServiceType
from services.schemas import MAX_PACKAGES, Moment, text

from .chat import MAX_TEXT
from .models import MessageAuthor, RouteStatus, StopStatus
from .schemas import _reasonable_date

# How far ahead of the server's clock a phone's time may be (clocks drift; more is a wrong clock).
MAX_CLOCK_AHEAD = timedelta(minutes=5)

Id = Annotated[int, Field(ge=1, lt=2**63)]


def _not_ahead(value):
    if value > timezone.now() + MAX_CLOCK_AHEAD:
        raise PydanticCustomError(
            "in_future", "This time is in the future: check the phone's clock."
        )
    return value


# When it happened on the phone, with its UTC offset; at most 5 minutes ahead of the server.
PhoneTime = Annotated[Moment, AfterValidator(_not_ahead)]


# Input ------------------------------------------------------------------------------------------


class TokenIn(Schema):
    username: text(120, min_length=1) = Field(
        description="The driver's login: the account's slug, a dot and the username (`demo.ana`)."
    )
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    device_id: text(120, min_length=1) = Field(
        description="A stable id of the installation; logging in again with it revokes the "
        "token it had."
    )
    device_name: text(120) = Field("", description="Shown to operators, e.g. `Moto G (Ana)`.")


class StepIn(Schema):
    """A step as the phone recorded it: when, and where when it knew."""

    recorded_at: PhoneTime = Field(description="When it happened on the phone, with its offset.")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    lng: float | None = Field(
        None,
        ge=-180,
        le=180,
        allow_inf_nan=False,
        validate_default=True,
        description="Send both lat and lng, or neither.",
    )

    @field_validator("lng")
    @classmethod
    def _both_or_neither(cls, value, info: ValidationInfo):
        if "lat" in info.data and (value is None) != (info.data["lat"] is None):
            raise PydanticCustomError("point", "Send both lat and lng, or neither.")
        return value

    @property
    def point(self):
        return None if self.lat is None else (self.lat, self.lng)


Barcode = text(80, min_length=1)


class CompleteIn(StepIn):
    receiver_name: text(150) = ""
    receiver_document: text(30) = ""
    comment: text(2000) = ""
    barcodes: list[Barcode] = Field(
        default_factory=list,
        max_length=MAX_PACKAGES,
        description="The packages' barcodes scanned on the phone; each must be one of the "
        "service's packages.",
    )


class FailIn(StepIn):
    reason_id: Id = Field(description="One of `GET failure-reasons`.")
    description: text(2000) = Field(
        "", description="What happened; required when the reason `requires_description`."
    )


class MessageIn(Schema):
    route: Id
    stop: Id | None = Field(None, description="A stop of the route, to talk about that stop.")
    text: text(MAX_TEXT, min_length=1)


class RoutesQuery(Schema):
    date: Annotated[dt.date, AfterValidator(_reasonable_date)] | None = Field(
        None, description="YYYY-MM-DD; today in the driver's time zone by default."
    )


class MessagesQuery(Schema):
    route: Id
    after: Annotated[int, Field(ge=0, lt=2**63)] | None = Field(
        None, description="The id of the last message the app has: only newer ones are returned."
    )


# Output -----------------------------------------------------------------------------------------


class DriverOut(Schema):
    id: int
    name: str
    first_name: str
    photo: str | None = Field(description="The photo's URL, or null.")


class TokenOut(Schema):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    driver: DriverOut
    expires: datetime | None = Field(description="Always null: a token lives until revoked.")


class RevokedOut(Schema):
    revoked: bool


class VehicleOut(Schema):
    type: str
    plate: str


class AccountOut(Schema):
    name: str


class SettingsOut(Schema):
    position_interval_s: int = Field(description="How often to send positions during a route.")
    signature_required: bool = Field(description="Completing needs a `signature` evidence.")
    photo_required: bool = Field(description="Completing needs a `photo` or `label` evidence.")
    time_zone: str = Field(description="The driver's time zone (IANA name): what `today` means.")


class MeOut(Schema):
    driver: DriverOut
    vehicle: VehicleOut | None
    account: AccountOut
    settings: SettingsOut


class CustomerOut(Schema):
    name: str
    phone: str


class AddressOut(Schema):
    street: str
    number: str
    complement: str
    district: str
    city: str
    state: str
    postal_code: str
    line: str = Field(description="The address on one line, as operators see it.")
    lat: float | None
    lng: float | None


class PackageOut(Schema):
    barcode: str
    description: str


class WindowOut(Schema):
    start: datetime | None = Field(description="Null when only a deadline applies.")
    end: datetime | None


class EtaWindowOut(Schema):
    earliest: datetime
    latest: datetime


class DriverServiceOut(Schema):
    id: int
    type: ServiceType
    description: str = Field(description="Notes for the driver.")
    order_number: str
    customer: CustomerOut
    address: AddressOut
    packages: list[PackageOut]
    window: WindowOut | None = Field(
        description="When it may be served: the scheduled window, else until its deadline."
    )


class DriverStopOut(Schema):
    id: int
    sequence: int
    status: StopStatus = Field(description="Cancelled stops are listed too: drop them.")
    planned_arrival: datetime | None
    eta_at: datetime | None = Field(description="The current estimate of the arrival.")
    eta_window: EtaWindowOut | None
    started_at: datetime | None
    arrived_at: datetime | None
    left_at: datetime | None
    service: DriverServiceOut


class StopCompletedOut(DriverStopOut):
    missing_packages: list[str] = Field(
        description="Barcodes of the service's packages neither scanned nor read from a label."
    )


class DriverRouteOut(Schema):
    id: int
    status: RouteStatus
    date: date
    end_date: date | None = Field(description="The last day of an itinerant route.")
    started_at: datetime | None
    finished_at: datetime | None
    planned_distance_m: int
    planned_duration_s: int
    stops: list[DriverStopOut] = Field(description="In the order the driver visits them.")


class RouteListOut(Schema):
    items: list[DriverRouteOut]


class FailureReasonOut(Schema):
    id: int
    description: str
    opens_chat: bool = Field(description="Choosing it opens a chat with support.")
    requires_description: bool = Field(description="`description` is required with it.")


class FailureReasonListOut(Schema):
    items: list[FailureReasonOut]


class ChatTicketTypeOut(Schema):
    id: int
    description: str
    reversible: bool


class ChatTicketTypeListOut(Schema):
    items: list[ChatTicketTypeOut]


class MessageOut(Schema):
    id: int
    conversation_id: int
    stop_id: int | None = Field(description="The stop the conversation is about, or null.")
    author: MessageAuthor
    text: str
    created_at: datetime
    read_at: datetime | None = Field(description="When the other side read it.")


class MessageListOut(Schema):
    items: list[MessageOut]


# Payloads ---------------------------------------------------------------------------------------


def _time(value, tzinfo):
    return None if value is None else timezone.localtime(value, tzinfo).isoformat()


def driver_payload(driver, request):
    return {
        "id": driver.pk,
        "name": str(driver),
        "first_name": driver.first_name,
        "photo": request.build_absolute_uri(driver.photo.url) if driver.photo else None,
    }


def me_payload(driver, request, time_zone):
    account, vehicle = driver.account, driver.vehicle
    return {
        "driver": driver_payload(driver, request),
        "vehicle": {"type": vehicle.type, "plate": vehicle.plate} if vehicle else None,
        "account": {"name": account.name},
        "settings": {
            "position_interval_s": account.position_interval_s,
            "signature_required": account.signature_required,
            "photo_required": account.photo_required,
            "time_zone": time_zone,
        },
    }


def service_payload(service, tzinfo):
    """The service as the driver needs it on site; reads its customer, packages (prefetched) and
    schedule (with its window, branch and account)."""
    start, end = service_time_window(service)
    return {
        "id": service.pk,
        "type": service.type,
        "description": service.description,
        "order_number": service.order_number,
        "customer": {"name": service.customer.name, "phone": service.customer.phone},
        "address": {
            "street": service.street,
            "number": service.number,
            "complement": service.complement,
            "district": service.district,
            "city": service.city,
            "state": service.state,
            "postal_code": service.postal_code,
            "line": service.address_line,
            "lat": service.lat,
            "lng": service.lng,
        },
        "packages": [
            {"barcode": package.barcode, "description": package.description}
            for package in service.packages.all()
        ],
        "window": (
            None
            if start is None and end is None
            else {"start": _time(start, tzinfo), "end": _time(end, tzinfo)}
        ),
    }


def stop_payload(stop, tzinfo):
    has_window = stop.eta_earliest is not None and stop.eta_latest is not None
    return {
        "id": stop.pk,
        "sequence": stop.sequence,
        "status": stop.status,
        "planned_arrival": _time(stop.planned_arrival, tzinfo),
        "eta_at": _time(stop.eta, tzinfo),
        "eta_window": (
            {"earliest": _time(stop.eta_earliest, tzinfo), "latest": _time(stop.eta_latest, tzinfo)}
            if has_window
            else None
        ),
        "started_at": _time(stop.started_at, tzinfo),
        "arrived_at": _time(stop.arrived_at, tzinfo),
        "left_at": _time(stop.left_at, tzinfo),
        "service": service_payload(stop.service, tzinfo),
    }


def route_payload(route, tzinfo):
    """The route with its stops (prefetched, in sequence order, cancelled ones included)."""
    return {
        "id": route.pk,
        "status": route.status,
        "date": route.date.isoformat(),
        "end_date": route.end_date.isoformat() if route.end_date else None,
        "started_at": _time(route.started_at, tzinfo),
        "finished_at": _time(route.finished_at, tzinfo),
        "planned_distance_m": route.planned_distance_m,
        "planned_duration_s": route.planned_duration_s,
        "stops": [stop_payload(stop, tzinfo) for stop in route.stops.all()],
    }


def message_payload(message, tzinfo):
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "stop_id": message.conversation.stop_id,
        "author": message.author,
        "text": message.text,
        "created_at": _time(message.created_at, tzinfo),
        "read_at": _time(message.read_at, tzinfo),
    }
