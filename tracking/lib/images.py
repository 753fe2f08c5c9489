"""Uploaded images: checked to be real images, bounded in size, re-encoded without metadata."""

import io
import struct
import warnings
import zlib
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Decompression bombs: refuse images with more pixels than a 48-megapixel photo.
MAX_PIXELS = 48_000_000
# What Pillow raises for a file it identified but cannot decode (cut short, corrupt chunks).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
# Modes that resizing handles as they are; others (palette, 1-bit, CMYK, 16-bit) convert first.
RESIZABLE_MODES = {"RGB", "RGBA", "L", "LA"}


def open_image(upload, *, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PIXELS, formats=None):
    """The upload decoded, EXIF orientation applied. Checked in order of cost: its size in bytes,
    that Pillow knows the file, its format (one of formats, when given) and its pixel count from
    the header, before anything is decoded (decompression bombs), then that it decodes whole.
    Raises ValidationError (codes image_too_large, invalid_image, image_format, too_many_pixels,
    damaged_image)."""
    if upload.size and upload.size > max_bytes:
        raise ValidationError(
            _("The image is too large (at most %(mb)d MB).") % {"mb": max_bytes // 2**20},
            code="image_too_large",
        )
    too_many_pixels = ValidationError(_("The image has too many pixels."), code="too_many_pixels")
    upload.seek(0)
    with warnings.catch_warnings():
        # Pillow refuses more than twice Image.MAX_IMAGE_PIXELS and only warns above it.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(upload)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_many_pixels from exc
        except (UnidentifiedImageError, *DECODE_ERRORS) as exc:
            raise ValidationError(
                _("The file is not an image we can read."), code="invalid_image"
            ) from exc
        if formats and image.format not in formats:
            raise ValidationError(
                _("Images of type %(format)s are not accepted.") % {"format": image.format},
                code="image_format",
            )
        if image.width * image.height > max_pixels:
            raise too_many_pixels
        try:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_many_pixels from exc
        except DECODE_ERRORS as exc:
            raise ValidationError(
                _("The image is incomplete or damaged; send it again."), code="damaged_image"
            ) from exc
    return image


def has_transparency(image):
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def downscaled(image, max_side_px):
    """A copy of image at most max_side_px on its longest side, in RGB or RGBA (with alpha when
    it has transparency)."""
    if image.mode not in RESIZABLE_MODES:
        image = image.convert("RGBA" if has_transparency(image) else "RGB")
    else:
        image = image.copy()
    image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if image.mode == "LA":
        image = image.convert("RGBA")
    elif image.mode == "L":
        image = image.convert("RGB")
    return image


def flattened(image, background="white"):
    """A new RGB image with image's pixels on background and none of its metadata (EXIF, GPS,
    ICC profile, text chunks): transparent parts take the background colour rather than black."""
    clean = Image.new("RGB", image.size, background)
    if has_transparency(image):
        rgba = image.convert("RGBA")
        clean.paste(rgba, mask=rgba.getchannel("A"))
    else:
        clean.paste(image.convert("RGB"))
    return clean


def encoded(image, image_format, *, quality=85):
    """image saved as JPEG or PNG, as bytes; only what is passed here is written (no metadata)."""
    output = io.BytesIO()
    if image_format == "JPEG":
        image.save(output, format="JPEG", quality=quality, optimize=True)
    else:
        image.save(output, format=image_format, optimize=True)
    return output.getvalue()


def normalise_image(upload, *, max_side_px, keep_transparency=False):
    """A re-encoded copy of upload, at most max_side_px on its longest side (EXIF rotation applied,
    metadata dropped): PNG when transparency is kept, JPEG otherwise. Raises ValidationError."""
    image = open_image(upload)
    image = downscaled(image, max_side_px)
    if keep_transparency and has_transparency(image):
        rgba = Image.new("RGBA", image.size)
        rgba.paste(image.convert("RGBA"))
        data, extension, content_type = encoded(rgba, "PNG"), "png", "image/png"
    else:
        data, extension, content_type = encoded(flattened(image), "JPEG"), "jpg", "image/jpeg"
    name = f"{Path(upload.name or 'image').stem[:60]}.{extension}"
    return InMemoryUploadedFile(io.BytesIO(data), "image", name, content_type, len(data), None)
