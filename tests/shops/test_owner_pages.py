"""The owner self-service pages through the real URLs: sign-up, a new shop, products, the admin's shops, a
shop-less person on a staff page, and the empty inbox's checklist ticking from data."""

import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shops.models import (
    Factory,
    FactoryProduct,
    FactoryVariant,
    Product,
    Shop,
    ShopMember,
    ShopMilestone,
    ShopRole,
)
from shops.onboarding import onboarding_checklist
from tests.factories import PASSWORD, FanFactory, ProductFactory, UserFactory, VariantFactory
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path


def test_owner_signs_up_then_creates_shop_then_lands_on_first_product(client):
    resp = client.post(
        "/signup/owner/",
        {"username": "laowang", "display_name": "老王", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert resp.status_code == 302 and resp["Location"] == "/shop/new/"
    user = get_user_model().objects.get(username="laowang")
    assert user.first_name == "老王"
    page = client.get("/shop/new/")
    assert page.status_code == 200 and 'value="Asia/Shanghai" selected' in page.content.decode()
    resp = client.post(
        "/shop/new/", {"name": "老王水果", "slug": "laowang-fruit", "timezone": "Asia/Shanghai"}
    )
    shop = Shop.objects.get(slug="laowang-fruit")
    assert resp.status_code == 302 and resp["Location"] == f"/products/new/?shop={shop.pk}&welcome=1"
    assert ShopMember.objects.filter(shop=shop, user=user, role=ShopRole.OWNER, is_active=True).exists()
    # With a shop, the pages move on: sign-up and new shop send the owner to the inbox.
    assert client.get("/shop/new/")["Location"] == "/inbox/"
    assert client.get("/signup/owner/")["Location"] == "/inbox/"


def test_login_page_offers_owners_their_own_shop(client):
    page = client.get("/login/").content.decode()
    assert 'href="/signup/owner/"' in page


def test_signup_shows_every_error_at_once(client):
    resp = client.post(
        "/signup/owner/", {"username": "", "display_name": "", "password1": "a", "password2": "b"}
    )
    assert resp.status_code == 200
    form = resp.context["form"]
    assert {"username", "display_name", "password2"} <= set(form.errors)
    assert not get_user_model().objects.exists()


def test_new_shop_form_puts_service_errors_next_to_their_fields(client, shop):
    client.force_login(UserFactory())
    resp = client.post("/shop/new/", {"name": "店", "slug": shop.slug, "timezone": "Asia/Shanghai"})
    assert resp.status_code == 200
    assert "slug" in resp.context["form"].errors
    resp = client.post("/shop/new/", {"name": "", "slug": "Bad Slug", "timezone": "Mars/Base"})
    errors = resp.context["form"].errors
    assert {"name", "slug", "timezone"} <= set(errors)
    assert Shop.objects.count() == 1


def test_new_shop_with_bad_avatar_shows_it_on_the_avatar_field(client):
    client.force_login(UserFactory())
    bad = SimpleUploadedFile("a.png", b"nope", content_type="image/png")
    resp = client.post(
        "/shop/new/", {"name": "店", "slug": "avatar-bad", "timezone": "Asia/Shanghai", "avatar": bad}
    )
    assert resp.status_code == 200 and "avatar" in resp.context["form"].errors
    assert not Shop.objects.filter(slug="avatar-bad").exists()


def test_shopless_user_on_staff_pages_is_sent_to_create_a_shop(client):
    client.force_login(UserFactory())
    for url in ("/inbox/", "/campaigns/", "/campaigns/new/", "/products/", "/fans/", "/broadcasts/"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"] == "/shop/new/", url


def test_fans_and_other_shops_pages_still_404(client, shop, fan_user):
    client.force_login(fan_user)
    assert client.get("/inbox/").status_code == 404
    client.force_login(UserFactory())
    assert client.get(f"/campaigns/?shop={shop.pk}").status_code == 404


def test_staff_page_of_another_shop_still_404s_for_an_owner(client, shop, other_shop):
    client.force_login(shop.owner)
    assert client.get(f"/products/?shop={other_shop.pk}").status_code == 404


def test_shop_created_in_admin_gets_its_owner_row(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    owner = UserFactory(username="adminmade")
    client.force_login(admin)
    resp = client.post(
        "/admin/shops/shop/add/",
        {
            "name": "后台建的店",
            "slug": "admin-made",
            "owner": owner.pk,
            "invite_code": "admin-made-code",
            "timezone": "Asia/Shanghai",
            "description": "",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
            "members-MIN_NUM_FORMS": "0",
            "members-MAX_NUM_FORMS": "1000",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    shop = Shop.objects.get(slug="admin-made")
    member = ShopMember.objects.get(shop=shop, user=owner)
    assert member.role == ShopRole.OWNER and member.is_active
    client.force_login(owner)
    assert client.get("/inbox/").status_code == 200
    assert client.get("/campaigns/").status_code == 200


def test_factory_product_bounds_are_editable_in_admin(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/shops/factoryproduct/").status_code == 200
    assert client.get("/admin/shops/shopmilestone/").status_code == 200


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (30, 30), (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


def test_product_page_adds_product_with_variants_and_picture(client, shop, owner):
    client.force_login(owner)
    assert client.get(f"/products/new/?shop={shop.pk}").status_code == 200
    resp = client.post(
        "/products/new/",
        {
            "shop": shop.pk,
            "mode": "own",
            "name": "保湿面霜",
            "category": "beauty",
            "price": "88",
            "brand": "",
            "description": "",
            "variant_id": ["", "", ""],
            "variant_name": ["50g", "100g", ""],
            "variant_sku": ["CREAM-50", "", ""],
            "variant_price": ["", "158", ""],
            "image": SimpleUploadedFile("c.png", _png(), content_type="image/png"),
        },
    )
    product = Product.objects.get(name="保湿面霜")
    # The shop's first product goes on to its first campaign.
    assert resp.status_code == 302
    assert resp["Location"] == f"/campaigns/new/?shop={shop.pk}&product={product.pk}"
    variants = list(product.variants.order_by("pk").values_list("name", "price"))
    assert variants == [("50g", Decimal("88.00")), ("100g", Decimal("158.00"))]
    assert product.variants.get(name="50g").sku == "CREAM-50"
    assert product.image.name.endswith(".png")
    listing = client.get(f"/products/?shop={shop.pk}").content.decode()
    assert "保湿面霜" in listing and "CREAM-50" in listing
    campaigns = client.get(f"/campaigns/?shop={shop.pk}").content.decode()
    assert "保湿面霜" in campaigns and 'id="first-product"' not in campaigns


def test_product_page_shows_every_error_and_writes_nothing(client, shop, owner):
    client.force_login(owner)
    resp = client.post(
        "/products/new/",
        {"shop": shop.pk, "mode": "own", "name": "", "category": "cars", "price": "0"},
    )
    assert resp.status_code == 200
    assert {"name", "category", "price"} <= set(resp.context["form"].errors)
    assert not Product.objects.exists()


def test_product_edit_and_take_off_sale(client, shop, owner):
    product = ProductFactory(shop=shop, name="旧名", price=Decimal("10"))
    v = VariantFactory(product=product, name="A", sku="OLD-A", price=Decimal("10"))
    client.force_login(owner)
    assert client.get(f"/products/{product.pk}/edit/").status_code == 200
    resp = client.post(
        f"/products/{product.pk}/edit/",
        {
            "name": "新名",
            "category": "beauty",
            "price": "12",
            "variant_id": [str(v.pk), ""],
            "variant_name": ["A款", "B款"],
            "variant_sku": ["OLD-A", "NEW-B"],
            "variant_price": ["", ""],
        },
    )
    assert resp.status_code == 302
    product.refresh_from_db()
    assert product.name == "新名" and product.price == Decimal("12.00")
    assert sorted(product.variants.values_list("sku", "name")) == [("NEW-B", "B款"), ("OLD-A", "A款")]
    assert client.post(f"/products/{product.pk}/retire/").status_code == 302
    product.refresh_from_db()
    assert product.is_available is False


def test_assistant_cannot_open_product_forms(client, shop):
    assistant = UserFactory()
    ShopMember.objects.create(shop=shop, user=assistant, role=ShopRole.ASSISTANT)
    product = ProductFactory(shop=shop)
    client.force_login(assistant)
    assert client.get(f"/products/?shop={shop.pk}").status_code == 200
    assert client.get(f"/products/new/?shop={shop.pk}").status_code == 404
    assert client.post(f"/products/{product.pk}/retire/").status_code == 403
    product.refresh_from_db()
    assert product.is_available


def test_pick_from_catalogue_page_and_out_of_bounds_error(client, shop, owner):
    factory = Factory.objects.create(name="果园")
    fp = FactoryProduct.objects.create(
        factory=factory,
        name="爱媛果冻橙",
        unit_cost=Decimal("30"),
        category="fruit",
        retail_price_min=Decimal("49"),
        retail_price_max=Decimal("69"),
    )
    FactoryVariant.objects.create(factory_product=fp, name="5斤装", sku="F-ORANGE-5")
    client.force_login(owner)
    page = client.get(f"/products/new/?shop={shop.pk}").content.decode()
    assert "爱媛果冻橙" in page and "¥49.00" in page and "¥69.00" in page
    resp = client.post(
        "/products/new/", {"shop": shop.pk, "mode": "pick", "factory_product": fp.pk, "price": "99"}
    )
    assert resp.status_code == 200 and resp.context["pick_error"]["id"] == str(fp.pk)
    assert not Product.objects.exists()
    resp = client.post(
        "/products/new/", {"shop": shop.pk, "mode": "pick", "factory_product": fp.pk, "price": "59"}
    )
    assert resp.status_code == 302
    product = Product.objects.get()
    assert product.factory_product == fp and product.variants.get().factory_variant.sku == "F-ORANGE-5"


def test_checklist_ticks_itself_from_data(client, shop, owner):
    def state() -> dict[str, bool]:
        return {s.key: s.done for s in onboarding_checklist(shop=shop)}

    assert state() == {"product": False, "campaign": False, "poster": False, "fan": False}
    client.force_login(owner)
    inbox = client.get("/inbox/").content.decode()
    assert 'id="onboarding-checklist"' in inbox and 'href="/products/new/"' in inbox
    product = ProductFactory(shop=shop, price=Decimal("500"))
    VariantFactory(product=product, price=Decimal("500"))
    assert state()["product"] is True
    campaign = make_campaign(owner, product)
    assert state()["campaign"] is True and state()["poster"] is False
    # The thumbnail on the campaign page is not a share; opening the poster on its own is.
    client.get(f"/campaigns/{campaign.pk}/poster.png", headers={"Sec-Fetch-Dest": "image"})
    assert state()["poster"] is False
    client.get(f"/campaigns/{campaign.pk}/poster.png", headers={"Sec-Fetch-Dest": "document"})
    assert state()["poster"] is True
    client.get(f"/campaigns/{campaign.pk}/poster.png?download=1")
    assert ShopMilestone.objects.filter(shop=shop).count() == 1
    inbox = client.get("/inbox/").content.decode()
    assert inbox.count('data-done="1"') == 3 and inbox.count('data-done="0"') == 1
    FanFactory(shop=shop)
    assert state()["fan"] is True
    # The first fan brings a conversation: the inbox is no longer empty and the checklist steps aside.
    assert 'id="onboarding-checklist"' not in client.get("/inbox/").content.decode()


def test_staff_nav_links_products_and_my_shops_offers_opening_one(client, shop, owner):
    client.force_login(owner)
    assert 'href="/products/' in client.get("/campaigns/").content.decode()
    client.force_login(UserFactory())
    assert 'href="/shop/new/"' in client.get("/").content.decode()
