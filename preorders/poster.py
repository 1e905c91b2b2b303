"""A campaign's share poster as a PNG: product picture, title, price and tier, progress, and the links.

Chinese needs a CJK font. The project installs Noto Sans SC (the justmytype-intl-cjk package) and looks for
it first, then on the system; without any the poster falls back to Pillow's built-in font and a latin-only
caption, so rendering never fails.
"""

import importlib.util
import io
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from core.zones import in_zone
from preorders.models import Campaign
from preorders.selectors import campaign_current_unit_price, campaign_tiers

WIDTH, HEIGHT = 750, 1200
MEDIUM_WEIGHT = 500
PAD = 48
ACCENT = (242, 103, 74)
ACCENT_SOFT = (255, 241, 236)
TEXT = (47, 41, 37)
MUTED = (138, 125, 117)
TRACK = (241, 232, 227)
BLOCK_COLOURS = [(242, 103, 74), (91, 140, 214), (87, 170, 120), (232, 170, 60), (150, 110, 200)]


def _packaged_cjk_font() -> str:
    spec = importlib.util.find_spec("justmytype_intl_cjk")
    if spec is None or spec.origin is None:
        return ""
    return str(Path(spec.origin).parent / "fonts" / "ofl" / "notosanssc" / "NotoSansSC[wght].ttf")


CJK_FONTS = (
    _packaged_cjk_font(),
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


@dataclass(frozen=True)
class Fonts:
    path: str | None  # None: Pillow's built-in font
    cjk: bool

    def get(self, size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
        return _font(self.path, size)


@lru_cache(maxsize=32)
def _font(path: str | None, size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if path is None:
        try:
            return ImageFont.load_default(size=size)  # scalable since Pillow 10.1
        except TypeError:
            return ImageFont.load_default()
    font = ImageFont.truetype(path, size)
    try:
        # A variable font (the packaged Noto Sans SC) starts at its thinnest weight; posters want Medium.
        font.set_variation_by_axes([MEDIUM_WEIGHT])
    except OSError:
        pass  # not a variable font
    return font


@lru_cache(maxsize=1)
def find_fonts(candidates: tuple[str, ...] = CJK_FONTS, latin: tuple[str, ...] = LATIN_FONTS) -> Fonts:
    for path in candidates:
        if _loads(path):
            return Fonts(path, True)
    for path in latin:
        if _loads(path):
            return Fonts(path, False)
    return Fonts(None, False)


def _loads(path: str) -> bool:
    if not Path(path).is_file():
        return False
    try:
        ImageFont.truetype(path, 12)
    except OSError:
        return False
    return True


def _latin(text: str) -> str:
    """Drop what a latin-only font would draw as boxes."""
    return "".join(c if ord(c) < 0x250 else "" for c in text).strip()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    """Greedy wrap by character (Chinese has no spaces), ellipsis on the last line."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width:
            lines.append(line)
            line = ch.lstrip()
            if len(lines) == max_lines:
                break
        else:
            line += ch
    if len(lines) < max_lines and line:
        lines.append(line)
    if len(lines) == max_lines and "".join(lines) != text.replace("\n", ""):
        last = lines[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _product_picture(campaign: Campaign, size: tuple[int, int]) -> Image.Image:
    """The product image cropped to fill, or a coloured block with the product's initial."""
    image = getattr(campaign.product, "image", None)
    if image:
        try:
            with image.open("rb") as fh:
                picture = Image.open(fh)
                picture.load()
            picture = picture.convert("RGB")
            scale = max(size[0] / picture.width, size[1] / picture.height)
            picture = picture.resize(
                (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
            )
            left = (picture.width - size[0]) // 2
            top = (picture.height - size[1]) // 2
            return picture.crop((left, top, left + size[0], top + size[1]))
        except (OSError, ValueError):
            pass  # a missing or broken file: draw the block instead
    colour = BLOCK_COLOURS[campaign.product_id % len(BLOCK_COLOURS)]
    return Image.new("RGB", size, colour)


def deadline_in_shop_time(campaign: Campaign) -> str:
    """The deadline as the shop's fans read it (the page shows shop time too), not UTC."""
    return in_zone(campaign.deadline, campaign.shop.timezone).strftime("%Y-%m-%d %H:%M")


def _price(value: Decimal) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value == value.to_integral() else f"{value:.2f}"


def render_poster(campaign: Campaign, *, shop_url: str, join_url: str, fonts: Fonts | None = None) -> bytes:
    fonts = fonts or find_fonts()
    cjk = fonts.cjk
    tiers = campaign_tiers(campaign)
    price = campaign_current_unit_price(campaign)
    committed, target = campaign.committed_quantity, campaign.target_quantity
    active = None
    for tier in tiers:
        if committed >= tier.min_quantity:
            active = tier
    upcoming = next((t for t in tiers if t.min_quantity > committed), None)

    def say(zh: str, en: str) -> str:
        return zh if cjk else en

    def clean(text: str) -> str:
        return text if cjk else (_latin(text) or "")

    img = Image.new("RGB", (WIDTH, HEIGHT), (250, 247, 245))
    draw = ImageDraw.Draw(img)

    # Picture with the shop name as a badge.
    pic_h = 520
    img.paste(_product_picture(campaign, (WIDTH, pic_h)), (0, 0))
    if not campaign.product.image:
        initial = clean(campaign.product.name)[:1] or "F"
        font = fonts.get(220)
        box = draw.textbbox((0, 0), initial, font=font)
        draw.text(
            ((WIDTH - (box[2] - box[0])) / 2 - box[0], (pic_h - (box[3] - box[1])) / 2 - box[1]),
            initial,
            font=font,
            fill=(255, 255, 255),
        )
    shop_name = clean(campaign.shop.name) or campaign.shop.slug
    badge_font = fonts.get(28)
    badge_w = draw.textlength(shop_name, font=badge_font) + 36
    draw.rounded_rectangle((PAD - 12, 28, PAD - 12 + badge_w, 80), radius=26, fill=(255, 255, 255))
    draw.text((PAD + 6, 54), shop_name, font=badge_font, fill=TEXT, anchor="lm")

    y = pic_h + 36
    kind = say(
        "订阅" if campaign.kind == "subscription" else "团购预售",
        "Subscription" if campaign.kind == "subscription" else "Group pre-order",
    )
    kind_font = fonts.get(26)
    kind_w = draw.textlength(kind, font=kind_font) + 28
    draw.rounded_rectangle((PAD, y, PAD + kind_w, y + 42), radius=21, fill=ACCENT_SOFT)
    draw.text((PAD + 14, y + 21), kind, font=kind_font, fill=ACCENT, anchor="lm")
    y += 62

    title = clean(campaign.title) or f"Campaign #{campaign.pk}"
    title_font = fonts.get(44)
    for line in _wrap(draw, title, title_font, WIDTH - 2 * PAD, 2):
        draw.text((PAD, y), line, font=title_font, fill=TEXT)
        y += 58
    y += 10

    # Current price and tier.
    price_font = fonts.get(64)
    price_text = f"¥{_price(price)}" if cjk else f"CNY {_price(price)}"
    draw.text((PAD, y), price_text, font=price_font, fill=ACCENT)
    px = PAD + draw.textlength(price_text, font=price_font) + 18
    if active is not None:
        tier_text = say(f"已达阶梯价 ≥{active.min_quantity}件", f"tier {active.min_quantity}+ reached")
    else:
        tier_text = say("当前价", "current price")
    draw.text((px, y + 30), tier_text, font=fonts.get(26), fill=MUTED)
    y += 92
    if upcoming is not None:
        more = upcoming.min_quantity - committed
        next_text = say(
            f"再有 {more} 件，单价降到 ¥{_price(upcoming.unit_price)}",
            f"{more} more and the price drops to {_price(upcoming.unit_price)}",
        )
        draw.text((PAD, y), next_text, font=fonts.get(28), fill=TEXT)
        y += 48

    # Progress bar towards the target, with the numbers.
    y += 8
    bar_w = WIDTH - 2 * PAD
    fraction = min(1.0, committed / target) if target else 0.0
    draw.rounded_rectangle((PAD, y, PAD + bar_w, y + 28), radius=14, fill=TRACK)
    if fraction > 0:
        draw.rounded_rectangle(
            (PAD, y, PAD + max(28, round(bar_w * fraction)), y + 28), radius=14, fill=ACCENT
        )
    y += 42
    numbers = say(f"已认购 {committed} / 目标 {target} 件", f"{committed} / {target} committed")
    draw.text((PAD, y), numbers, font=fonts.get(30), fill=TEXT)
    pct = f"{round(fraction * 100)}%"
    draw.text((WIDTH - PAD, y), pct, font=fonts.get(30), fill=ACCENT, anchor="ra")
    y += 50
    deadline = deadline_in_shop_time(campaign)
    draw.text((PAD, y), say(f"截止 {deadline}", f"Ends {deadline}"), font=fonts.get(26), fill=MUTED)

    # Footer: a QR code of the join link (what people scan off a shared picture), and the links as text.
    foot = HEIGHT - 170
    draw.rectangle((0, foot, WIDTH, HEIGHT), fill=(255, 255, 255))
    draw.line((0, foot, WIDTH, foot), fill=TRACK, width=2)
    qr_size = 140
    img.paste(_qr_image(join_url, qr_size), (WIDTH - PAD - qr_size, foot + 15))
    text_w = WIDTH - 3 * PAD - qr_size
    draw.text(
        (PAD, foot + 30),
        say("扫码或打开链接参团", "Scan or open the link to join"),
        font=fonts.get(26),
        fill=MUTED,
    )
    link_font = fonts.get(28)
    draw.text((PAD, foot + 66), _fit(draw, join_url, link_font, text_w), font=link_font, fill=ACCENT)
    draw.text(
        (PAD, foot + 112),
        _fit(draw, say(f"店铺 {shop_url}", f"Shop {shop_url}"), fonts.get(22), text_w),
        font=fonts.get(22),
        fill=MUTED,
    )

    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _qr_image(url: str, size: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1, box_size=4)
    code.add_data(url)
    code.make(fit=True)
    picture = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return picture.resize((size, size), Image.NEAREST)


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"
