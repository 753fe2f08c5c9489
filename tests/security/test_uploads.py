"""Hostile images in the web admin's image fields (driver photos, agency logos): files that are
not images, cut short, decompression bombs, too large, or carrying GPS in their EXIF. Each is a
form error on the page (never a 500, nothing saved), and what is stored has no metadata.

The driver API's evidence upload has the same cases in tests/routes/test_evidence.py."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import ExifTags, Image

from accounts.models import Agency, Driver
from tests.accounts.test_agency import agency_post
from tracking.lib import images

pytestmark = [
    pytest.mark.django_db,
    # Django's ImageField opens the file before our checks; Pillow warns there, we refuse after.
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]

DRIVER_ADD = reverse("admin:accounts_driver_add")
AGENCY_ADD = reverse("admin:accounts_agency_add")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(data, name="picture.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def gps_exif():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "S",
        ExifTags.GPS.GPSLatitude: (23.0, 33.0, 41.0),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (46.0, 39.0, 20.0),
    }
    return exif


def photo_with_gps(image_format="JPEG", mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, (900, 600), (40, 120, 200, 255)[: len(mode)]).save(
        buffer, format=image_format, exif=gps_exif()
    )
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the file really carries the place
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width, height):
    """A tiny PNG whose header claims width by height pixels: a decompression bomb's header."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def truncated_jpeg():
    buffer = io.BytesIO()
    Image.effect_noise((800, 600), 60).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()[:4000]


def too_large():
    """A real JPEG padded past the upload limit (bytes after the end marker are ignored)."""
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="JPEG")
    return buffer.getvalue() + b"\x00" * (images.MAX_UPLOAD_BYTES + 1)


HOSTILE = {
    "not an image": (b"<?php system($_GET['c']); ?>", "photo.jpg"),
    "binary garbage": (bytes(range(256)) * 64, "photo.png"),
    "truncated": (truncated_jpeg(), "photo.jpg"),
    "bomb past Pillow's limit": (png_claiming(30_000, 30_000), "photo.png"),
    "bomb under Pillow's error": (png_claiming(10_000, 10_000), "photo.png"),
    "too large": (too_large(), "photo.jpg"),
}


def driver_post(**extra):
    return {"first_name": "Ana", "username": "ana", "email": "ana@example.com", "is_active": "on",
            "new_password": "s3cret-password", **extra}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_driver_photo_is_a_form_error(client_of, manager_a, case):
    data, name = HOSTILE[case]
    response = client_of(manager_a).post(DRIVER_ADD, driver_post(photo=upload(data, name)))
    assert response.status_code == 200
    assert "photo" in response.context["adminform"].form.errors
    assert not Driver.objects.exists()


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_agency_logo_is_a_form_error(client_of, manager_a, case):
    data, name = HOSTILE[case]
    response = client_of(manager_a).post(AGENCY_ADD, agency_post(logo=upload(data, name)))
    assert response.status_code == 200
    assert "logo" in response.context["adminform"].form.errors
    assert not Agency.objects.exists()


def assert_no_metadata(path):
    with Image.open(path) as stored:
        assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert not stored.getexif()
        assert "exif" not in stored.info


def test_a_driver_photos_gps_is_not_stored(client_of, manager_a):
    response = client_of(manager_a).post(
        DRIVER_ADD, driver_post(photo=upload(photo_with_gps(), "me.jpg"))
    )
    assert response.status_code == 302
    assert_no_metadata(Driver.objects.get().photo.path)


@pytest.mark.parametrize(("image_format", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA")])
def test_an_agency_logos_gps_is_not_stored(client_of, manager_a, image_format, mode):
    logo = upload(photo_with_gps(image_format, mode), f"logo.{image_format.lower()}")
    response = client_of(manager_a).post(AGENCY_ADD, agency_post(logo=logo))
    assert response.status_code == 302
    assert_no_metadata(Agency.objects.get().logo.path)
