"""The 红黑榜 page: owners rate through the form, the board shows the shop counts; warnings on campaign pages."""

import pytest
from django.test import Client

from shops.rating_models import Rating
from tests.factories import PASSWORD, ProductFactory, ShopFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_owner_rates_through_the_page_and_sees_the_board():
    product = ProductFactory(name="起球毛衣", category="clothing")
    owner = ShopFactory().owner
    client = _client(owner)
    page = client.get("/ratings/?entity_type=product&category=clothing")
    assert page.status_code == 200 and "rating-form" in page.content.decode()
    resp = client.post(
        "/ratings/",
        {"entity_type": "product", "entity_id": product.pk, "verdict": "black", "reason": "quality_bad"},
        follow=True,
    )
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "起球毛衣" in html and f'data-entity="{product.pk}" data-side="black"' in html
    assert Rating.objects.get().verdict == "black"
    bad = client.post(
        "/ratings/", {"entity_type": "product", "entity_id": "999999", "verdict": "red"}, follow=True
    )
    assert 'class="alert alert-error"' in bad.content.decode()
    assert Rating.objects.count() == 1


def test_campaign_new_warns_about_a_black_product():
    from shops.ratings import rate

    shop = ShopFactory()
    product = ProductFactory(shop=shop)
    client = _client(shop.owner)
    assert "black-list-warning" not in client.get(f"/campaigns/new/?product={product.pk}").content.decode()
    for _ in range(3):
        rate(
            user=ShopFactory().owner,
            data={"entity_type": "product", "entity_id": product.pk, "verdict": "black", "reason": "fake"},
        )
    assert "black-list-warning" in client.get(f"/campaigns/new/?product={product.pk}").content.decode()


def test_campaign_page_warns_the_owner_about_a_black_product():
    from shops.ratings import rate
    from tests.preorders.conftest import make_campaign

    shop = ShopFactory()
    product = ProductFactory(shop=shop, price="500.00")
    campaign = make_campaign(shop.owner, product)
    client = _client(shop.owner)
    assert "black-list-warning" not in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    for _ in range(3):
        data = {"entity_type": "product", "entity_id": product.pk, "verdict": "black", "reason": "fake"}
        rate(user=ShopFactory().owner, data=data)
    assert "black-list-warning" in client.get(f"/campaigns/{campaign.pk}/").content.decode()
