"""Product pictures and shop avatars: Pillow checks the real format and size, EXIF goes, the copy is re-encoded."""

import io
import uuid

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import Invalid

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Stored pictures are scaled down to this many pixels on the long side: cards and posters need no more.
MAX_SIDE = 1600
FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def _not_an_image() -> Invalid:
    return Invalid(_("The file is not a supported image (JPEG, PNG, GIF or WebP)."), code="image_invalid")


def picture_clean(upload: UploadedFile, *, square: int | None = None) -> ContentFile:
    """A clean copy of an uploaded picture (JPEG, or PNG when it has transparency); Invalid otherwise.

    `square` crops to the centre square of that many pixels (avatars, shown in circles)."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise Invalid(_("The image is larger than 10 MB."), code="image_too_large")
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Invalid(_("The image is larger than 10 MB."), code="image_too_large")
    try:
        probe = Image.open(io.BytesIO(data))
        fmt, (width, height) = probe.format, probe.size
    except Image.DecompressionBombError:
        # Pillow's own bomb guard (far over the pixel cap): too large, not "unsupported".
        raise Invalid(_("The image has more than 40 megapixels."), code="image_too_large") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise _not_an_image() from None
    if fmt not in FORMATS:
        raise _not_an_image()
    # The header's dimensions are checked before decoding, so a decompression bomb is never expanded.
    if width * height > MAX_PIXELS:
        raise Invalid(_("The image has more than 40 megapixels."), code="image_too_large")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        img = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise Invalid(_("The image has more than 40 megapixels."), code="image_too_large") from None
    except (OSError, ValueError, SyntaxError):
        raise Invalid(_("The image is damaged and cannot be read."), code="image_invalid") from None
    if square:
        img = ImageOps.fit(img, (square, square))
    else:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    # Saving without `exif` drops EXIF (location, device) from the stored copy.
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        img.convert("RGBA").save(out, "PNG", optimize=True)
        ext = "png"
    else:
        img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
        ext = "jpg"
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{ext}")
