"""Positions from tracker apps in the OsmAnd protocol (Traccar Client and the like) at /gps/osmand:
one point per request, identified by the driver's tracker key (accounts.trackers), and stored by
routes.positions exactly as a batch of one from the driver API (same screening, same
de-duplication on driver and phone time).

Two formats, read as Traccar's own server reads them:

- Query string (GET, or POST with the query in the URL or as a form body): `id` (or `deviceid`)
  the key, `timestamp` (Unix seconds, or milliseconds when above 2**31 - 1, or ISO 8601 text;
  without an offset, UTC), `lat` and `lon` (or `location=lat,lon`), optional `speed` in knots,
  `bearing` (or `heading`) in degrees, `accuracy` in metres, `batt` in percent. `altitude` and
  anything else are ignored.
- JSON (POST, Content-Type application/json, what Traccar Client sends since its 2025 rewrite):
  `{"device_id": key, "location": {"timestamp": ISO 8601, "coords": {"latitude", "longitude",
  "accuracy" (m), "speed" (m/s), "heading", "altitude"}, "battery": {"level" (0-1), ...}, ...}}`.

Answers: 200 with an empty body once the point is taken care of: stored, already stored, or
dropped as impossible (the API counts it as rejected), so the app never resends it. 400 with the
error shape when the key, the time or the coordinates are missing or not numbers, or the JSON is
broken; optional readings that make no sense are ignored rather than refused, as the API's are.
404 for a key that is unknown, revoked, or of an inactive driver or account, as Traccar answers an
unknown device. Tracker apps resend a point on every answer but a 2xx (the old Android client
every 30 s, the new one at each new fix), whatever the status; the loop ends when the driver
enters a valid key (the old client drops points queued under another identifier, the new one
sends its queue under the new key) and costs one indexed lookup per try, no write.
"""

import json
import math
from datetime import UTC, datetime

from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse, JsonResponse, QueryDict
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.trackers import tracker_authenticate
from tracking.lib.errors import DomainError, error_payload

from . import positions

# Traccar's rule: a numeric timestamp below this is in seconds, above it in milliseconds.
SECONDS_LIMIT = 2**31 - 1
KNOT_MPS = 1852 / 3600


class Malformed(DomainError):
    """The request cannot be read as a position; nothing is stored."""

    code = "malformed"
    status = 400


@csrf_exempt
@require_http_methods(["GET", "POST"])
def osmand(request):
    """Stores one point of the driver whose tracker key the request carries (see the module)."""
    try:
        key, point = _read(request)
    except Malformed as error:
        return JsonResponse(error.as_payload(), status=error.status)
    device = tracker_authenticate(key)
    if device is None:
        payload = error_payload("not_found", _("Unknown or revoked tracker key."))
        return JsonResponse(payload, status=404)
    positions.positions_record(driver=device.driver, points=[point])
    return HttpResponse(status=200)


def _read(request):
    """(key, positions.Point) from the request in either format; raises Malformed."""
    try:
        body = request.body if request.method == "POST" else b""
        if request.content_type == "application/json" or body.lstrip().startswith(b"{"):
            return _from_json(body)
        params = request.GET
        if body:
            # Traccar reads the body when the URL has no query; with both, the URL's values win
            # (QueryDict.get answers the last value given).
            params = QueryDict(body, mutable=True)
            params.update(request.GET)
    except SuspiciousOperation as error:  # too large a body, too many fields
        raise Malformed(_("The request is too large.")) from error
    return _from_query(params)


def _from_query(params):
    key = _text(params, "id") or _text(params, "deviceid")
    if not key:
        raise Malformed(_("The tracker key (id) is missing."), fields={"id": [_("Required.")]})
    lat, lon = _text(params, "lat"), _text(params, "lon")
    location = _text(params, "location")
    if location and not (lat or lon):
        lat, _comma, lon = location.partition(",")
    speed_kn = _number(_text(params, "speed"))
    battery = _number(_text(params, "batt"))
    point = positions.Point(
        recorded_at=_time(_text(params, "timestamp")),
        lat=_coordinate(lat, "lat"),
        lng=_coordinate(lon, "lon"),
        accuracy_m=_number(_text(params, "accuracy")),
        speed_mps=None if speed_kn is None else speed_kn * KNOT_MPS,
        heading_deg=_number(_text(params, "bearing") or _text(params, "heading")),
        battery_pct=None if battery is None else round(battery),
    )
    return key, point


def _from_json(body):
    try:
        root = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise Malformed(_("The body is not valid JSON.")) from error
    if not isinstance(root, dict):
        raise Malformed(_("The body must be a JSON object."))
    key = root.get("device_id")
    if not isinstance(key, str) or not key.strip():
        message = _("The tracker key (device_id) is missing.")
        raise Malformed(message, fields={"device_id": [_("Required.")]})
    location = root.get("location")
    if not isinstance(location, dict):
        message = _("One location object is expected.")
        raise Malformed(message, fields={"location": [_("Required.")]})
    coords = location.get("coords")
    if not isinstance(coords, dict):
        message = _("The location has no coordinates.")
        raise Malformed(message, fields={"location.coords": [_("Required.")]})
    battery = location.get("battery")
    level = _number(battery.get("level")) if isinstance(battery, dict) else None
    point = positions.Point(
        recorded_at=_time(location.get("timestamp"), field="location.timestamp"),
        lat=_coordinate(coords.get("latitude"), "location.coords.latitude"),
        lng=_coordinate(coords.get("longitude"), "location.coords.longitude"),
        accuracy_m=_number(coords.get("accuracy")),
        speed_mps=_number(coords.get("speed")),
        heading_deg=_number(coords.get("heading")),
        # The plugin sends -1 when the level is unknown.
        battery_pct=round(level * 100) if level is not None and 0 <= level <= 1 else None,
    )
    return key.strip(), point


def _no_constant(name):
    raise ValueError(f"{name} is not a number")


def _text(params, name):
    return (params.get(name) or "").strip()


def _number(value):
    """A finite float from a number or numeric text, else None (a reading that makes no sense
    is dropped, not refused)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _coordinate(value, field):
    number = _number(value)
    if number is None:
        message = _("Latitude and longitude must be numbers.")
        raise Malformed(message, fields={field: [_("A number is required.")]})
    return number


def _time(value, field="timestamp"):
    """The aware datetime of a timestamp in Unix seconds or milliseconds, or ISO 8601 text
    (UTC when without offset); raises Malformed."""
    if isinstance(value, str):
        value = value.strip()
    if value in (None, "") or isinstance(value, bool):
        raise Malformed(_("The time (timestamp) is missing."), fields={field: [_("Required.")]})
    try:
        number = _number(value)
        if number is not None:
            seconds = number if abs(number) < SECONDS_LIMIT else number / 1000
            return datetime.fromtimestamp(seconds, tz=UTC)
        moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError) as error:
        message = _("The time (timestamp) is not a Unix time or an ISO 8601 date and time.")
        raise Malformed(message, fields={field: [_("Invalid.")]}) from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
