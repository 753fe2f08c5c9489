"""The driver API's positions (POST /api/driver/v1/positions): the phone's GPS points in batches,
stored for the calling device's driver by routes.positions."""

from typing import Annotated

from ninja import Router, Schema
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, FiniteFloat

from accounts.idempotency import idempotent
from services.schemas import ErrorOut, real_offset

from . import positions
from .driver_auth import DeviceTokenAuth, device_caller, driver_of
from .positions import MAX_BATCH

router = Router(auth=DeviceTokenAuth(), tags=["driver"])


# The two input schemas are plain pydantic models: ninja's Schema runs a Python validator around
# every object (so it can read ORM objects), a millisecond per batch of 100 points, about a tenth
# of the request's CPU (benchmarks/ingest.py); bodies are JSON, so nothing needs it.
class PositionIn(BaseModel):
    """One GPS point, at the phone's time. A point that cannot be right (see the operation) is
    counted as rejected rather than refusing the batch; optional readings that make no sense
    (a negative speed, a heading outside 0-360, a battery outside 0-100) are dropped."""

    # Any year (a point too old or in the future is counted as rejected), but a real offset.
    recorded_at: Annotated[AwareDatetime, AfterValidator(real_offset)] = Field(
        description="When the phone took the point, with offset."
    )
    lat: FiniteFloat
    lng: FiniteFloat
    accuracy_m: FiniteFloat | None = Field(None, description="Horizontal accuracy radius, m.")
    speed_mps: FiniteFloat | None = Field(None, description="Speed over ground, m/s.")
    heading_deg: FiniteFloat | None = Field(None, description="Course, degrees from north.")
    battery_pct: int | None = Field(None, description="The phone's battery, 0-100.")


class PositionsIn(BaseModel):
    positions: Annotated[list[PositionIn], Field(min_length=1, max_length=MAX_BATCH)]


class PositionsOut(Schema):
    accepted: int = Field(description="Points stored.")
    duplicates: int = Field(
        description="Points with a time this driver's points have already (sent before, or "
        "twice in the batch): ignored."
    )
    rejected: int = Field(description="Impossible points: not stored.")


@router.post(
    "positions",
    response={200: PositionsOut, 400: ErrorOut, 401: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Send positions",
)
@idempotent(device_caller)
def send_positions(request, payload: PositionsIn):
    """Stores a batch of 1 to 500 GPS points of the calling driver, in any order; a point with a
    time this driver already sent is a duplicate and changes nothing, so a batch can be sent
    again safely. Impossible points are rejected and counted: more than 5 minutes in the future
    or older than 7 days, coordinates out of range or exactly (0, 0), accuracy worse than 1 km,
    or farther from the previous point than 250 km/h allows. A malformed body is a 422."""
    points = [
        positions.Point(
            p.recorded_at, p.lat, p.lng, p.accuracy_m, p.speed_mps, p.heading_deg, p.battery_pct
        )
        for p in payload.positions
    ]
    recorded = positions.positions_record(driver=driver_of(request), points=points)
    return recorded.as_dict()
