"""The driver API's proof of delivery (/api/driver/v1/stops/{id}/evidence): a signature, a photo
or a photo of a label, sent as a multipart form and stored by routes.evidence."""

from datetime import datetime

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from accounts.idempotency import idempotent, multipart_fingerprint
from services.api import ERRORS
from services.schemas import Moment

from .driver_auth import DeviceTokenAuth, device_caller, driver_of
from .evidence import evidence_create, evidence_payload, evidence_stop
from .models import EvidenceKind

router = Router(auth=DeviceTokenAuth(), tags=["driver"])


class EvidenceIn(Schema):
    kind: EvidenceKind
    # With its offset, in a year and at an offset that can be stored (a far-off year overflowed
    # on SQLite, an offset beyond ±15:59 on PostgreSQL: both were a 500).
    recorded_at: Moment


class EvidenceOut(Schema):
    id: int
    kind: EvidenceKind
    barcodes: list[str]
    matched_packages: list[str]
    image_url: str
    thumbnail_url: str
    recorded_at: datetime


@router.post(
    "/stops/{stop_id}/evidence",
    response={201: EvidenceOut, **ERRORS},
    summary="Send a signature, photo or label",
    # The file is required; the signature leaves it optional only so that a missing one gets
    # evidence_create's own 422 (code file_required) rather than a bare "Field required".
    openapi_extra={
        "requestBody": {"content": {"multipart/form-data": {"schema": {"required": ["file"]}}}}
    },
)
@idempotent(device_caller, fingerprint=multipart_fingerprint)
def create_evidence(
    request, stop_id: int, payload: Form[EvidenceIn], file: File[UploadedFile] = None
):
    """Stores the image for one of the driver's stops (JPEG, PNG or WebP; re-encoded without
    its metadata, with a thumbnail) and answers it with the barcodes read in it (labels and
    photos) and those that are packages of the stop's service. Taken while the route is in
    progress, or up to a day after the stop was completed or failed (409 otherwise); a file that
    is missing, not an image, damaged, too large or of too many pixels is a 422."""
    stop = evidence_stop(driver=driver_of(request), stop_id=stop_id)
    evidence = evidence_create(
        stop=stop, kind=payload.kind, upload=file, recorded_at=payload.recorded_at
    )
    return Status(201, evidence_payload(evidence, absolute_url=request.build_absolute_uri))
