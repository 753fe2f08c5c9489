"""Proof of delivery from the driver app: images checked, re-encoded without metadata and
thumbnailed, barcodes read from labels and photos and matched to the stop's packages."""

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageFilter
from pyzbar import pyzbar
from pyzbar.pyzbar import ZBarSymbol

from services.models import Package
from tracking.lib import images
from tracking.lib.errors import Conflict, Invalid, NotFound

from .models import Evidence, EvidenceKind, RouteStatus, Stop, StopStatus

# MPO is how Pillow names the JPEGs of phones that append a second picture (depth, preview).
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
MAX_SIDE_PX = 2048
THUMBNAIL_SIDE_PX = 320
JPEG_QUALITY = 85
# Phones offline for a while send their evidence late: accepted this long after the stop ended.
LATE_UPLOAD = timedelta(hours=24)
# Phone clocks drift; a recorded_at further ahead than this is a wrong clock or a wrong field.
CLOCK_SKEW = timedelta(minutes=5)

# What parcel labels carry; zbar is faster told what to look for (NOTES.md, Barcodes). Not
# Interleaved 2 of 5: zbar reads it in plain texture (a noisy photo gave "593506").
SYMBOLS = [
    ZBarSymbol.CODE128,
    ZBarSymbol.CODE39,
    ZBarSymbol.EAN13,
    ZBarSymbol.EAN8,
    ZBarSymbol.UPCA,
    ZBarSymbol.QRCODE,
]
MAX_BARCODES = 50
MAX_BARCODE_CHARS = 200
# zbar reads straight scan lines only, so a linear code skewed past 10-15° is missed; turning the
# picture back in 8° steps up to ±40° finds it (NOTES.md). The retries run on a copy at most
# RETRY_SIDE_PX on its longest side (still about 5 px per bar for a label filling half of a
# phone photo) and stop after RETRY_BUDGET_S, so a picture without a barcode costs little.
RETRY_ANGLES = (8, -8, 16, -16, 24, -24, 32, -32, 40, -40)
RETRY_SIDE_PX = 2560
RETRY_BUDGET_S = 2.0


def evidence_stop(*, driver, stop_id):
    """The driver's own stop (with its route and service); NotFound for any other, also for
    another driver's or another account's stop (they look the same)."""
    stop = (
        Stop.objects.select_related("route", "service")
        .filter(pk=stop_id, account_id=driver.account_id, route__driver=driver)
        .first()
    )
    if stop is None:
        raise NotFound(_("No such stop."))
    return stop


def evidence_create(*, stop, kind, upload, recorded_at):
    """Stores an image sent for the stop: re-encoded (EXIF orientation applied, metadata dropped,
    at most MAX_SIDE_PX), with a thumbnail and, for labels and photos, the barcodes read in it.
    Raises Conflict when the stop no longer takes evidence and Invalid for a file or time that is
    not acceptable. Not idempotent by itself: the API's Idempotency-Key makes replays safe."""
    _require_open(stop)
    if recorded_at > timezone.now() + CLOCK_SKEW:
        message = _("The time it was taken is in the future; check the phone's clock.")
        raise Invalid(message, fields={"recorded_at": [message]})
    if upload is None:
        message = _("Attach the image as the file field.")
        raise Invalid(message, code="file_required", fields={"file": [message]})
    try:
        image = images.open_image(
            upload,
            max_bytes=settings.EVIDENCE_MAX_BYTES,
            max_pixels=settings.EVIDENCE_MAX_PIXELS,
            formats=ACCEPTED_FORMATS,
        )
    except ValidationError as exc:
        message = " ".join(exc.messages)
        if exc.code == "image_format":
            message = "{} {}".format(message, _("Send a JPEG, PNG or WebP image."))
        raise Invalid(message, code=exc.code, fields={"file": [message]}) from exc
    barcodes = []
    if kind != EvidenceKind.SIGNATURE:
        # Before downscaling: Code 128 needs about 2.5 px per bar (NOTES.md).
        barcodes = read_barcodes(image, thorough=kind == EvidenceKind.LABEL)
    return _store(stop, kind, image, barcodes, recorded_at)


def _require_open(stop):
    route = stop.route
    if route.status == RouteStatus.IN_PROGRESS and stop.status != StopStatus.CANCELLED:
        return
    ended_recently = (
        stop.status in (StopStatus.DONE, StopStatus.FAILED)
        and stop.left_at is not None
        and stop.left_at >= timezone.now() - LATE_UPLOAD
    )
    if ended_recently:
        return
    if route.status == RouteStatus.PLANNED:
        raise Conflict(_("Start the route before sending evidence."), code="route_not_started")
    raise Conflict(
        _(
            "This stop no longer takes evidence: it was cancelled or ended more than "
            "%(hours)d hours ago."
        )
        % {"hours": int(LATE_UPLOAD.total_seconds() // 3600)},
        code="evidence_closed",
    )


def _store(stop, kind, image, barcodes, recorded_at):
    # Signatures stay PNG (sharp strokes, small files); photos and labels become JPEG.
    image_format, extension = ("PNG", "png") if kind == EvidenceKind.SIGNATURE else ("JPEG", "jpg")
    picture = images.flattened(images.downscaled(image, MAX_SIDE_PX))
    thumbnail = picture.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE_PX, THUMBNAIL_SIDE_PX), Image.Resampling.LANCZOS)
    evidence = Evidence(
        account_id=stop.account_id,
        stop=stop,
        kind=kind,
        width=picture.width,
        height=picture.height,
        barcodes=barcodes,
        recorded_at=recorded_at,
    )
    # Unguessable names: the files are served from the media URL.
    name = f"{uuid.uuid4().hex}.{extension}"
    evidence.image.save(name, ContentFile(_encode(picture, image_format)), save=False)
    evidence.thumbnail.save(name, ContentFile(_encode(thumbnail, image_format)), save=False)
    try:
        with transaction.atomic():
            evidence.save()
    except Exception:
        # The row was not stored: leave no files behind it.
        evidence.image.delete(save=False)
        evidence.thumbnail.delete(save=False)
        raise
    return evidence


def _encode(image, image_format):
    return images.encoded(image, image_format, quality=JPEG_QUALITY)


def read_barcodes(image, *, thorough=False):
    """The distinct barcode values in image, in the order read. One pass over the whole picture;
    thorough also retries a bounded, smoothed copy turned in steps (labels photographed askew)."""
    gray = image.convert("L")
    found = _decode(gray)
    if found or not thorough:
        return found
    gray.thumbnail((RETRY_SIDE_PX, RETRY_SIDE_PX), Image.Resampling.LANCZOS)
    gray = gray.filter(ImageFilter.MedianFilter(3))
    deadline = time.monotonic() + RETRY_BUDGET_S
    for angle in (0, *RETRY_ANGLES):
        if time.monotonic() > deadline:
            break
        turned = gray if angle == 0 else gray.rotate(angle, expand=True, fillcolor=255)
        found = _decode(turned)
        if found:
            return found
    return []


def _decode(gray):
    values = []
    for symbol in pyzbar.decode(gray, symbols=SYMBOLS):
        # PostgreSQL refuses NUL in text and JSON.
        value = symbol.data.decode("utf-8", errors="replace").replace("\x00", "").strip()
        value = value[:MAX_BARCODE_CHARS]
        if value and value not in values:
            values.append(value)
    return values[:MAX_BARCODES]


def matched_packages(evidence):
    """The barcodes read in evidence that are packages of its stop's service, in reading order."""
    if not evidence.barcodes:
        return []
    known = set(
        Package.objects.filter(
            service_id=evidence.stop.service_id, barcode__in=evidence.barcodes
        ).values_list("barcode", flat=True)
    )
    return [value for value in evidence.barcodes if value in known]


def evidence_payload(evidence, *, absolute_url):
    """What the driver API answers for stored evidence; absolute_url(path) makes links whole."""
    return {
        "id": evidence.pk,
        "kind": evidence.kind,
        "barcodes": evidence.barcodes,
        "matched_packages": matched_packages(evidence),
        "image_url": absolute_url(evidence.image.url),
        "thumbnail_url": absolute_url(evidence.thumbnail.url),
        "recorded_at": evidence.recorded_at.isoformat(),
    }
