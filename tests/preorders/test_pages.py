"""Campaign pages: who may open them, what they show, and the share poster."""

import io

import pytest
from django.test import Client
from PIL import Image

from preorders.poster import Fonts, find_fonts, render_poster
from preorders.services import pledge_place
from tests.factories import UserFactory
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def campaign(owner, product):
    return make_campaign(owner, product[0])


@pytest.fixture
def draft(owner, product):
    return make_campaign(owner, product[0], launch=False, title="草稿活动")


OWNER_PAGES = [
    "/campaigns/?shop={shop}",
    "/campaigns/new/?product={product}&shop={shop}",
    "/campaigns/{id}/",
    "/campaigns/{id}/poster.png",
]


@pytest.mark.parametrize("url", OWNER_PAGES)
def test_owner_pages_open_for_staff(owner, staff, campaign, product, url):
    url = url.format(id=campaign.pk, product=product[0].pk, shop=campaign.shop_id)
    assert client_for(owner).get(url).status_code == 200
    assert client_for(staff).get(url).status_code == 200


@pytest.mark.parametrize("url", OWNER_PAGES)
def test_owner_pages_are_404_for_fans_and_other_shops(fan_user, other_shop, campaign, product, url):
    url = url.format(id=campaign.pk, product=product[0].pk, shop=campaign.shop_id)
    assert client_for(fan_user).get(url).status_code == 404
    assert client_for(other_shop.owner).get(url).status_code == 404
    assert client_for(UserFactory()).get(url).status_code == 404


def test_other_shop_owner_sees_only_their_own_campaigns(other_shop, campaign):
    response = client_for(other_shop.owner).get("/campaigns/")
    assert response.status_code == 200 and campaign.title not in response.content.decode()


def test_owner_pages_redirect_anonymous_to_login(campaign):
    response = Client().get(f"/campaigns/{campaign.pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_other_shop_product_is_404_on_the_new_form(owner, other_shop):
    from tests.preorders.conftest import shop_product

    theirs = shop_product(other_shop)[0]
    assert client_for(owner).get(f"/campaigns/new/?product={theirs.pk}").status_code == 404


def test_campaign_list_shows_campaigns_with_progress(owner, campaign, draft):
    html = client_for(owner).get("/campaigns/").content.decode()
    assert campaign.title in html and draft.title in html
    assert f'data-progress="{campaign.pk}"' in html and "campaign.js" in html


def test_detail_shows_launch_for_draft_and_pledges(owner, draft, campaign, fan_user, product):
    html = client_for(owner).get(f"/campaigns/{draft.pk}/").content.decode()
    assert 'id="launch-campaign"' in html and "data-rec-likely-fans" in html and "poster.png" in html
    pledge_place(user=fan_user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)
    html = client_for(owner).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="launch-campaign"' not in html
    assert "小红" in html and f"/campaigns/{campaign.pk}/join/" in html


def test_fan_campaign_page(fan_user, campaign, product):
    response = client_for(fan_user).get(f"/c/{campaign.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pledge-form"' in html and campaign.title in html and f'value="{product[1].pk}"' in html


def test_fan_campaign_page_is_a_public_preview_but_hides_drafts(fan_user, draft, campaign):
    response = Client().get(f"/c/{campaign.pk}/")
    assert response.status_code == 200 and 'id="signup-panel"' in response.content.decode()
    assert Client().get(f"/c/{draft.pk}/").status_code == 404
    assert client_for(fan_user).get(f"/c/{draft.pk}/").status_code == 404


def test_join_link_redirects_to_the_fan_page(campaign):
    response = Client().get(f"/campaigns/{campaign.pk}/join/")
    assert response.status_code == 302 and response["Location"] == f"/c/{campaign.pk}/"


def test_my_pledges_lists_own_pledges_with_actions(fan_user, campaign, product, stranger):
    pledge_place(user=fan_user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)
    html = client_for(fan_user).get("/me/pledges/").content.decode()
    assert campaign.title in html and "data-cancel-form" in html
    assert campaign.title not in client_for(stranger).get("/me/pledges/").content.decode()


def test_my_pledges_offers_subscription_actions(fan_user, owner, product):
    sub = make_campaign(
        owner,
        product[0],
        kind="subscription",
        cadence="monthly",
        cycles=None,
        cutoff_hours=24,
        tiers=[],
        cap=None,
        title="月度订阅",
    )
    pledge_place(user=fan_user, campaign_id=sub.pk, variant_id=product[1].pk, quantity=1)
    html = client_for(fan_user).get("/me/pledges/").content.decode()
    for action in ("skip", "pause"):
        assert f'data-action="{action}"' in html


def test_poster_is_a_png(owner, campaign, fan_user, product):
    pledge_place(user=fan_user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)
    response = client_for(owner).get(f"/campaigns/{campaign.pk}/poster.png")
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (750, 1200)
    download = client_for(owner).get(f"/campaigns/{campaign.pk}/poster.png?download=1")
    assert "attachment" in download["Content-Disposition"]


def test_poster_renders_without_any_cjk_font(campaign):
    """CI images may have no CJK font: fall back to Pillow's font and a latin caption, never fail."""
    fonts = find_fonts.__wrapped__(candidates=("/nonexistent/font.ttc",), latin=())
    assert fonts == Fonts(None, False)
    png = render_poster(
        campaign,
        shop_url="http://x/s/beauty-shop/",
        join_url=f"http://x/campaigns/{campaign.pk}/join/",
        fonts=fonts,
    )
    assert Image.open(io.BytesIO(png)).format == "PNG"


def test_poster_uses_the_product_image(campaign, settings, tmp_path):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = str(tmp_path)
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buf, format="PNG")
    campaign.product.image.save("p.png", ContentFile(buf.getvalue()))
    png = render_poster(campaign, shop_url="http://x/s/a/", join_url="http://x/c/1/")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.getpixel((375, 300)) == (10, 200, 30)


def test_factory_demand_board_page_behind_a_signed_link(client, db):
    from preorders.api_factory import board_token
    from shops.models import Factory, FactoryProduct, FactoryVariant

    factory = Factory.objects.create(name="羽绒服工厂")
    product = FactoryProduct.objects.create(
        factory=factory, name="轻暖羽绒服", moq=100, lead_time_days=30, unit_cost="120.00"
    )
    FactoryVariant.objects.create(factory_product=product, name="L 黑", sku="F-L-BLK", moq=40)
    page = client.get(f"/factory-board/{board_token(factory)}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "轻暖羽绒服" in body and "L 黑" in body and "0 / 40" in body
    assert client.get("/factory-board/forged-token/").status_code == 404
