"""Chat image checks with Pillow: real format, size and pixel caps, EXIF stripped, thumbnail."""

import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import Invalid

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


@dataclass
class ProcessedImage:
    image: ContentFile
    thumbnail: ContentFile
    width: int
    height: int


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "GIF":
        img.save(out, "GIF")
    else:
        img.save(out, fmt)
    return out.getvalue()


def image_process(upload: UploadedFile) -> ProcessedImage:
    cfg = settings.FANSI_CHAT
    if upload.size is not None and upload.size > cfg["IMAGE_MAX_BYTES"]:
        raise Invalid(_("The image is larger than 10 MB."), code="image_too_large")
    data = upload.read(cfg["IMAGE_MAX_BYTES"] + 1)
    if len(data) > cfg["IMAGE_MAX_BYTES"]:
        raise Invalid(_("The image is larger than 10 MB."), code="image_too_large")
    try:
        probe = Image.open(io.BytesIO(data))
        fmt = probe.format
        width, height = probe.size
    except Image.DecompressionBombError:
        # Pillow's own bomb guard (far over the pixel cap): too large, not "unsupported".
        raise Invalid(_("The image has more than 40 megapixels."), code="image_too_large") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise Invalid(
            _("The file is not a supported image (JPEG, PNG, GIF or WebP)."), code="invalid_image"
        ) from None
    if fmt not in ALLOWED_FORMATS:
        raise Invalid(_("The file is not a supported image (JPEG, PNG, GIF or WebP)."), code="invalid_image")
    # Check the header's dimensions before decoding, so a decompression bomb is never expanded.
    if width * height > cfg["IMAGE_MAX_PIXELS"]:
        raise Invalid(_("The image has more than 40 megapixels."), code="image_too_large")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        img = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise Invalid(_("The image has more than 40 megapixels."), code="image_too_large") from None
    except (OSError, ValueError, SyntaxError):
        raise Invalid(_("The image is damaged and cannot be read."), code="invalid_image") from None
    # Re-encoding without the `exif` argument drops EXIF (location, device) from the stored copy.
    clean = img.copy()
    clean.info = {}
    ext = ALLOWED_FORMATS[fmt]
    name = uuid.uuid4().hex
    stored = ContentFile(_encode(clean, fmt), name=f"{name}.{ext}")
    thumb = clean.convert("RGBA" if clean.mode in ("RGBA", "LA", "P") else "RGB")
    thumb.thumbnail((cfg["THUMBNAIL_SIZE"], cfg["THUMBNAIL_SIZE"]))
    thumb_fmt = "PNG" if thumb.mode == "RGBA" else "JPEG"
    thumbnail = ContentFile(
        _encode(thumb, thumb_fmt), name=f"{name}_thumb.{'png' if thumb_fmt == 'PNG' else 'jpg'}"
    )
    return ProcessedImage(image=stored, thumbnail=thumbnail, width=img.width, height=img.height)
