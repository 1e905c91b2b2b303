"""CSV in and out: encodings (UTF-8 or GBK), and neutralising spreadsheet formula injection."""

from django.utils.translation import gettext as _

from core.errors import Invalid

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: object) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; prefix them with ' so they stay text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def cell_unsafe(text: str) -> str:
    """Undo cell_safe on import, so an exported file round-trips."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def decode_csv(raw: bytes) -> tuple[str, str]:
    """Text and the encoding it was in: UTF-8 (with or without BOM) or GBK/GB18030 from Chinese Excel."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), ("utf-8" if encoding == "utf-8-sig" else "gbk")
        except UnicodeDecodeError:
            continue
    raise Invalid(_("The file is neither UTF-8 nor GBK text."), code="bad_encoding")
