"""The driver API's evidence: signatures, photos and photos of labels stored re-encoded without
metadata, labels read back to the package barcode; files that are not acceptable images refused
in the error shape; only the driver's own stops, while they take evidence; replays stored once.

Every image is drawn here: a signature, a noisy photo with EXIF and GPS, printed Code 128 and QR
labels photographed askew and JPEG-compressed, and the files that must be refused."""

import io
import struct
import zlib
from datetime import timedelta

import barcode
import pytest
import qrcode
from barcode.writer import ImageWriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import ExifTags, Image, ImageDraw, ImageFile

from accounts.devices import device_login
from routes import actions
from routes.models import Evidence, Stop, StopStatus
from services.actions import Actor
from tests.factories import PASSWORD, DriverFactory, PackageFactory, ServiceFactory

pytestmark = pytest.mark.django_db
TABLE = (176, 160, 140)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# Personas and a route under way -------------------------------------------------------------


def token_of(driver):
    _device, raw = device_login(
        login=f"{driver.account.slug}.{driver.username}", password=PASSWORD, device_id="phone"
    )
    return raw


class Phone:
    """The test client speaking to the driver API as one driver's phone."""

    def __init__(self, client, driver):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_of(driver)}"}

    def send(self, stop, file, kind="photo", recorded_at=None, key=None):
        data = {"kind": kind, "recorded_at": (recorded_at or timezone.now()).isoformat()}
        if file is not None:
            data["file"] = file
        headers = dict(self.headers)
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(f"/api/driver/v1/stops/{stop.pk}/evidence", data, **headers)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a)


@pytest.fixture
def phone(client, driver):
    return Phone(client, driver)


def route_for(driver, count=2, start=True):
    services = [ServiceFactory(account=driver.account) for _ in range(count)]
    route = actions.route_create(
        account=driver.account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=services,
    )
    if start:
        actions.route_start(route=route, actor=Actor.for_driver(driver))
    return route


@pytest.fixture
def route(driver):
    return route_for(driver)


@pytest.fixture
def stop(route):
    return route.stops.get(sequence=1)


@pytest.fixture
def package(stop):
    return PackageFactory(service=stop.service)


# Images ---------------------------------------------------------------------------------------


def upload(data, name, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def encode(image, image_format, **params):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def signature_png():
    """Blue strokes on a transparent background, as signature pads draw them."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line(
        [(30, 150), (120, 40), (200, 160), (290, 50), (380, 150), (560, 90)], (20, 40, 160, 255), 6
    )
    return encode(image, "PNG")


def noisy_photo(size=(800, 600)):
    """A photo-like JPEG (noise compresses badly, like real pictures) turned by its EXIF
    orientation, with the phone's make and the place in GPS tags."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 24)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = 6  # taken sideways: shown turned 90° clockwise
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "S",
        ExifTags.GPS.GPSLatitude: (23.0, 33.0, 41.0),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (46.0, 39.0, 20.0),
    }
    return encode(image, "JPEG", quality=90, exif=exif)


def code128_label(value):
    writer_options = {"module_width": 0.4, "module_height": 15, "dpi": 200, "quiet_zone": 4}
    buffer = io.BytesIO()
    barcode.get("code128", value, writer=ImageWriter()).write(buffer, options=writer_options)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def qr_label(value):
    return qrcode.make(value, box_size=8, border=4).get_image().convert("RGB")


def photographed(label, angle, size=(1600, 1200)):
    """The label printed on a sheet lying askew on a table, in a JPEG of quality 40."""
    sheet = Image.new("RGB", (label.width + 160, label.height + 160), "white")
    sheet.paste(label, (80, 80))
    sheet = sheet.rotate(angle, expand=True, fillcolor=TABLE, resample=Image.Resampling.BICUBIC)
    picture = Image.new("RGB", size, TABLE)
    picture.paste(sheet, ((size[0] - sheet.width) // 2, (size[1] - sheet.height) // 2))
    return encode(picture, "JPEG", quality=40)


def png_bomb(width=30_000, height=30_000):
    """A real 1-bit PNG of width x height, all black: about 100 KB on disk, 900 megapixels."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind, payload):
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def stored(evidence):
    image = Image.open(evidence.image.path)
    image.load()
    return image


# Storing --------------------------------------------------------------------------------------


def test_a_signature_is_stored_as_png_on_white(phone, stop):
    response = phone.send(stop, upload(signature_png(), "sig.png", "image/png"), kind="signature")
    assert response.status_code == 201, response.json()
    body = response.json()
    evidence = Evidence.objects.get()
    assert body["id"] == evidence.pk and body["kind"] == "signature"
    assert body["barcodes"] == [] and body["matched_packages"] == []
    assert body["image_url"].startswith("http://testserver/media/evidence/")
    assert body["image_url"].endswith(".png")
    image = stored(evidence)
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 255, 255)  # transparency flattened on white
    assert (evidence.width, evidence.height) == image.size == (600, 200)
    assert evidence.stop == stop and evidence.account == stop.account


def test_a_photo_is_turned_upright_downscaled_and_stripped_of_its_metadata(phone, stop):
    photo = noisy_photo((2600, 2080))
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    sao_paulo = timezone.get_fixed_timezone(-180)
    recorded_at = (timezone.now() - timedelta(minutes=3)).replace(microsecond=0)
    recorded_at = recorded_at.astimezone(sao_paulo)
    response = phone.send(stop, upload(photo, "IMG_0001.JPG"), recorded_at=recorded_at)
    assert response.status_code == 201, response.json()
    evidence = Evidence.objects.get()
    image = stored(evidence)
    assert image.format == "JPEG"
    # Orientation 6 applied (portrait now), the long side brought down to 2048 px.
    assert image.size == (evidence.width, evidence.height) == (1638, 2048)
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"PhoneMaker" not in evidence.image.open("rb").read()
    assert evidence.recorded_at == recorded_at
    assert response.json()["recorded_at"] == recorded_at.isoformat()  # the phone's offset


def test_the_thumbnail_is_at_most_320_px(phone, stop):
    response = phone.send(stop, upload(noisy_photo(), "photo.jpg"))
    evidence = Evidence.objects.get()
    thumbnail = Image.open(evidence.thumbnail.path)
    assert max(thumbnail.size) == 320 and thumbnail.format == "JPEG"
    assert response.json()["thumbnail_url"] == f"http://testserver{evidence.thumbnail.url}"


@pytest.mark.parametrize(
    ("symbology", "angle", "kind"),
    [
        ("code128", 5, "label"),
        ("qr", 15, "label"),
        ("code128", 25, "label"),  # too skewed for zbar: found turning the picture back
        ("qr", 15, "photo"),
    ],
)
def test_a_photographed_label_decodes_to_the_package(phone, stop, package, symbology, angle, kind):
    label = code128_label(package.barcode) if symbology == "code128" else qr_label(package.barcode)
    picture = upload(photographed(label, angle), "label.jpg", "image/jpeg")
    response = phone.send(stop, picture, kind=kind)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["barcodes"] == [package.barcode]
    assert body["matched_packages"] == [package.barcode]
    assert Evidence.objects.get().barcodes == [package.barcode]


def test_a_barcode_of_another_service_is_read_but_not_matched(phone, route, stop, package):
    other = PackageFactory(service=route.stops.get(sequence=2).service)
    picture = upload(photographed(qr_label(other.barcode), 0), "label.jpg")
    body = phone.send(stop, picture, kind="label").json()
    assert body["barcodes"] == [other.barcode]
    assert body["matched_packages"] == []


def test_a_webp_is_accepted(phone, stop):
    picture = encode(Image.new("RGB", (300, 200), "green"), "WEBP")
    assert phone.send(stop, upload(picture, "photo.webp")).status_code == 201


# Refusing files -------------------------------------------------------------------------------


def assert_refused(response, code):
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["fields"]["file"] == [error["message"]]
    assert not Evidence.objects.exists()
    return error["message"]


def test_a_missing_file_is_refused(phone, stop):
    assert_refused(phone.send(stop, None), "file_required")


def test_a_file_that_is_not_an_image_is_refused(phone, stop):
    text = upload(b"Delivered to the doorman.\n", "note.jpg", "image/jpeg")
    message = assert_refused(phone.send(stop, text), "invalid_image")
    assert "not an image" in message


def test_a_truncated_image_is_refused(phone, stop):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    whole = noisy_photo()
    message = assert_refused(
        phone.send(stop, upload(whole[: len(whole) // 2], "cut.jpg")), "damaged_image"
    )
    assert "incomplete or damaged" in message


def test_a_decompression_bomb_is_refused_from_its_header(phone, stop):
    bomb = png_bomb()
    assert len(bomb) < 200_000
    message = assert_refused(phone.send(stop, upload(bomb, "bomb.png")), "too_many_pixels")
    assert "too many pixels" in message


def test_pillows_bomb_warning_is_a_refusal_too(phone, stop, settings):
    # 100 megapixels: above Image.MAX_IMAGE_PIXELS, where Pillow only warns, below our limit.
    settings.EVIDENCE_MAX_PIXELS = 500_000_000
    bomb = upload(png_bomb(10_000, 10_000), "bomb.png")
    assert_refused(phone.send(stop, bomb), "too_many_pixels")


def test_more_pixels_than_the_limit_are_refused(phone, stop, settings):
    settings.EVIDENCE_MAX_PIXELS = 1_000_000
    picture = encode(Image.new("RGB", (1500, 1000), "white"), "PNG")
    assert_refused(phone.send(stop, upload(picture, "wide.png")), "too_many_pixels")


def test_a_file_larger_than_the_limit_is_refused(phone, stop, settings):
    settings.EVIDENCE_MAX_BYTES = 10_000
    message = assert_refused(phone.send(stop, upload(noisy_photo(), "big.jpg")), "image_too_large")
    assert "too large" in message


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF"])
def test_formats_other_than_jpeg_png_and_webp_are_refused(phone, stop, image_format):
    picture = encode(Image.new("RGB", (50, 50), "red"), image_format)
    message = assert_refused(phone.send(stop, upload(picture, "photo.img")), "image_format")
    assert image_format in message and "JPEG, PNG or WebP" in message


def refused_fields(response):
    assert response.status_code == 422
    return set(response.json()["error"]["fields"])


def test_an_unknown_kind_and_a_time_without_offset_are_refused(phone, stop):
    picture = upload(encode(Image.new("RGB", (50, 50)), "PNG"), "a.png")
    assert refused_fields(phone.send(stop, picture, kind="selfie")) == {"kind"}
    naive = timezone.now().replace(tzinfo=None)
    picture = upload(encode(Image.new("RGB", (50, 50)), "PNG"), "a.png")
    assert refused_fields(phone.send(stop, picture, recorded_at=naive)) == {"recorded_at"}
    assert not Evidence.objects.exists()


def test_a_time_in_the_future_is_refused(phone, stop):
    later = timezone.now() + timedelta(minutes=10)
    response = phone.send(stop, upload(signature_png(), "sig.png"), "signature", later)
    assert response.status_code == 422
    assert "future" in response.json()["error"]["fields"]["recorded_at"][0]
    # A phone a little ahead of the server is normal.
    slightly_ahead = timezone.now() + timedelta(minutes=2)
    response = phone.send(stop, upload(signature_png(), "sig.png"), "signature", slightly_ahead)
    assert response.status_code == 201


# Whose stops, and when ------------------------------------------------------------------------


def test_another_drivers_stop_is_not_found(client, account_a, stop):
    colleague = Phone(client, DriverFactory(account=account_a))
    response = colleague.send(stop, upload(signature_png(), "sig.png"), kind="signature")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Evidence.objects.exists()


def test_another_accounts_stop_is_not_found(client, account_b, stop):
    rival = Phone(client, DriverFactory(account=account_b))
    response = rival.send(stop, upload(signature_png(), "sig.png"), kind="signature")
    assert response.status_code == 404


def test_an_unknown_stop_is_not_found_and_no_token_is_401(client, phone, stop):
    missing = Stop(pk=stop.pk + 1000)
    assert phone.send(missing, upload(signature_png(), "sig.png")).status_code == 404
    anonymous = client.post(f"/api/driver/v1/stops/{stop.pk}/evidence", {"kind": "photo"})
    assert anonymous.status_code == 401


def test_a_route_not_started_takes_no_evidence(phone, driver):
    stop = route_for(driver, start=False).stops.first()
    response = phone.send(stop, upload(signature_png(), "sig.png"), kind="signature")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "route_not_started"


def finish_first_stop(route, driver, left_at):
    stop = route.stops.get(sequence=1)
    actor = Actor.for_driver(driver)
    actions.stop_change_status(stop=stop, to_status=StopStatus.IN_PROGRESS, actor=actor)
    actions.stop_change_status(
        stop=stop, to_status=StopStatus.DONE, actor=actor, recorded_at=left_at
    )
    actions.route_finish(route=route, actor=actor)
    return stop


def test_a_stop_done_today_takes_late_evidence_after_the_route_finished(phone, driver, route):
    stop = finish_first_stop(route, driver, timezone.now() - timedelta(hours=3))
    response = phone.send(stop, upload(signature_png(), "sig.png"), kind="signature")
    assert response.status_code == 201
    # A stop cancelled when the route finished takes none.
    cancelled = route.stops.get(sequence=2)
    assert cancelled.status == StopStatus.CANCELLED
    response = phone.send(cancelled, upload(signature_png(), "sig.png"), kind="signature")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "evidence_closed"


def test_a_stop_that_ended_more_than_a_day_ago_takes_no_evidence(phone, driver, route):
    stop = finish_first_stop(route, driver, timezone.now() - timedelta(hours=25))
    response = phone.send(stop, upload(signature_png(), "sig.png"), kind="signature")
    assert response.status_code == 409
    assert "no longer takes evidence" in response.json()["error"]["message"]


# Replays --------------------------------------------------------------------------------------


def test_a_replay_with_the_same_key_answers_the_first_response_and_stores_once(
    phone, stop, package, media
):
    picture, taken = photographed(qr_label(package.barcode), 15), timezone.now()
    first = phone.send(stop, upload(picture, "label.jpg"), "label", taken, key="ev-1")
    again = phone.send(stop, upload(picture, "label-retry.jpg"), "label", taken, key="ev-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Evidence.objects.count() == 1
    assert len([path for path in media.rglob("*") if path.is_file()]) == 2  # image, thumbnail
    # The same key with another file is another request: refused, nothing stored.
    other = upload(signature_png(), "sig.png")
    reused = phone.send(stop, other, "label", taken, key="ev-1")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert Evidence.objects.count() == 1


def test_a_refused_upload_can_be_retried_with_its_key(phone, stop):
    whole, taken = signature_png(), timezone.now()
    refused = phone.send(stop, upload(whole[:100], "sig.png"), "signature", taken, key="ev-2")
    assert refused.status_code == 422
    retried = phone.send(stop, upload(whole, "sig.png"), "signature", taken, key="ev-2")
    assert retried.status_code == 201
    assert Evidence.objects.count() == 1
