"""Uploaded images: checked to be real images, bounded in size, re-encoded without metadata."""

import io
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Decompression bombs: refuse images with more pixels than a 48-megapixel photo.
MAX_PIXELS = 48_000_000


def normalise_image(upload, *, max_side_px, keep_transparency=False):
    """A re-encoded copy of upload, at most max_side_px on its longest side (EXIF rotation applied,
    metadata dropped): PNG when transparency is kept, JPEG otherwise. Raises ValidationError."""
    if upload.size and upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The image is too large (at most %(mb)d MB).") % {"mb": MAX_UPLOAD_BYTES // 2**20},
            code="image_too_large",
        )
    try:
        upload.seek(0)
        image = Image.open(upload)
        if image.width * image.height > MAX_PIXELS:
            raise ValidationError(_("The image has too many pixels."), code="image_too_large")
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            _("The file is not an image we can read (use PNG or JPEG)."), code="invalid_image"
        ) from exc
    image = ImageOps.exif_transpose(image)
    image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
    has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
    output = io.BytesIO()
    if keep_transparency and has_alpha:
        image.convert("RGBA").save(output, format="PNG", optimize=True)
        extension, content_type = "png", "image/png"
    else:
        image.convert("RGB").save(output, format="JPEG", quality=85, optimize=True)
        extension, content_type = "jpg", "image/jpeg"
    name = f"{Path(upload.name or 'image').stem[:60]}.{extension}"
    size = output.tell()
    output.seek(0)
    return InMemoryUploadedFile(output, "image", name, content_type, size, None)
