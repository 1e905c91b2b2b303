"""The share poster carries a QR code of the join link and Chinese text in the packaged CJK font."""

import io

import pytest
import qrcode
from PIL import Image

from preorders.poster import HEIGHT, PAD, WIDTH, find_fonts, render_poster
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


def test_poster_qr_code_encodes_the_join_link(owner, product):
    campaign = make_campaign(owner, product[0])
    join_url = f"http://shop.example/c/{campaign.pk}/"
    image = Image.open(io.BytesIO(render_poster(campaign, shop_url="http://x/", join_url=join_url)))
    image = image.convert("L")
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1)
    expected.add_data(join_url)
    expected.make(fit=True)
    matrix = expected.get_matrix()  # with the 1-module border
    size, left, top = 140, WIDTH - PAD - 140, HEIGHT - 170 + 15
    module = size / len(matrix)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            x, y = int(left + (col + 0.5) * module), int(top + (row + 0.5) * module)
            assert (image.getpixel((x, y)) < 128) == dark, (row, col)


def test_packaged_cjk_font_is_found():
    fonts = find_fonts()
    assert fonts.cjk and fonts.path and "NotoSansSC" in fonts.path
