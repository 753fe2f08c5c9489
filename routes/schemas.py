"""The integration API's shapes for routes: what an integration sends to plan one driver's route
and what it reads back (the plan, then the live statuses and ETAs)."""

from datetime import date, datetime
from typing import Annotated

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from services.schemas import MAX_BULK, text

from . import planning
from .models import RouteStatus, StopStatus

MAX_STOPS = MAX_BULK
WARNING_CODES = ", ".join(f"`{code}`" for code in planning.WARNINGS)


def _reasonable_date(value):
    # Plans turn the date into aware datetimes; far-off years overflow when converted to UTC.
    if not 1900 <= value.year <= 2999:
        raise PydanticCustomError("out_of_range", "Use a date between the years 1900 and 2999.")
    return value


def _once_each(values):
    seen, twice = set(), []
    for value in values:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    if twice:
        raise PydanticCustomError(
            "duplicate",
            "Each entry may appear once; repeated: {repeated}.",
            {"repeated": ", ".join(str(value) for value in twice)},
        )
    return values


ServiceId = Annotated[int, Field(ge=1, lt=2**63)]
ExternalId = text(80, min_length=1)
# "HH:MM" on a 24-hour clock, in the route's local time.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class RouteIn(Schema):
    """A planned route for one driver and vehicle on a date, its stops in the order given
    (or the optimizer's). Send exactly one of `services` and `external_ids`."""

    driver: text(40, min_length=1) = Field(description="The driver's username (an active driver).")
    vehicle: text(10, min_length=1) = Field(
        description="The vehicle's plate, with or without the hyphen (an active vehicle)."
    )
    date: Annotated[date, AfterValidator(_reasonable_date)]
    services: list[ServiceId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_STOPS,
        description="The pending services' ids, in the order to visit them.",
    )
    external_ids: list[ExternalId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_STOPS,
        description="The pending services' external ids, in the order to visit them.",
    )
    optimize: bool = Field(
        False,
        description=(
            "Put the stops in the optimizer's order (shortest plan that keeps the windows). "
            "The search runs within the request and its time limit grows with the number of "
            "stops: 1 s up to 20, 3 s up to 100, 5 s up to 300, 10 s beyond."
        ),
    )
    departure_time: ClockTime | None = Field(
        None, description="HH:MM, local time; 08:00 by default."
    )
    branch: text(200) | None = Field(
        None,
        description="The branch's prefix or name: where the route starts (the driver's branch "
        "by default).",
    )

    @field_validator("services", "external_ids")
    @classmethod
    def _no_repeats(cls, values):
        return values if values is None else _once_each(values)


# Output -----------------------------------------------------------------------------------------


class StopOut(Schema):
    id: int
    service_id: int
    external_id: str
    sequence: int
    status: StopStatus
    planned_arrival: datetime | None = Field(
        description="When the plan has the driver start the service (null: no coordinates)."
    )
    eta: datetime | None = Field(description="The current estimate, updated as the driver moves.")
    warnings: list[str] = Field(description=f"Codes of what is wrong with it: {WARNING_CODES}.")


class RouteOut(Schema):
    id: int
    status: RouteStatus
    date: date
    driver: str = Field(description="The driver's username.")
    vehicle: str = Field(description="The vehicle's plate.")
    departure_time: str = Field(description="HH:MM, local time.")
    stops: list[StopOut] = Field(description="In the order the driver visits them.")
    planned_distance_m: int
    planned_duration_s: int
    warnings: list[str] = Field(
        description=f"Codes of what is wrong with the route as a whole: {WARNING_CODES}."
    )


def route_payload(route, plan):
    """The JSON of a route as both endpoints return it, times with the route's UTC offset (its
    branch's time zone, else the account's). plan is routes.planning.route_plan(route)."""
    tzinfo = planning.route_tzinfo(route)
    return {
        "id": route.pk,
        "status": route.status,
        "date": route.date,
        "driver": route.driver.username,
        "vehicle": route.vehicle.plate,
        "departure_time": route.departure_time.strftime("%H:%M"),
        "stops": [
            {
                "id": stop.pk,
                "service_id": stop.service_id,
                "external_id": stop.service.external_id,
                "sequence": stop.sequence,
                "status": stop.status,
                "planned_arrival": _time(stop.planned_arrival, tzinfo),
                "eta": _time(stop.eta, tzinfo),
                "warnings": list(stop_plan.warnings),
            }
            for stop_plan in plan.stops
            for stop in [stop_plan.stop]
        ],
        "planned_distance_m": route.planned_distance_m,
        "planned_duration_s": route.planned_duration_s,
        "warnings": list(plan.warnings),
    }


def _time(value, tzinfo):
    return None if value is None else timezone.localtime(value, tzinfo).isoformat()
