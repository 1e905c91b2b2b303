"""红黑榜 moderation in the admin: hide a rating (it stops counting), the bursts list, the no-sales filter."""

import pytest
from django.test import Client

from shops.rating_models import Rating, RatingScore
from shops.ratings import rate
from tests.factories import ProductFactory, ShopFactory, UserFactory

pytestmark = pytest.mark.django_db


def _black(product, n):
    for _ in range(n):
        body = {"entity_type": "product", "entity_id": product.pk, "verdict": "black", "reason": "fake"}
        rate(user=ShopFactory().owner, data=body)


def _admin() -> Client:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_hide_action_stops_the_rating_counting():
    product = ProductFactory()
    _black(product, 3)
    assert RatingScore.objects.get().status == "black"
    target = Rating.objects.order_by("pk").first()
    resp = _admin().post(
        "/admin/shops/rating/", {"action": "hide_ratings", "_selected_action": [target.pk]}, follow=True
    )
    assert resp.status_code == 200
    assert Rating.objects.get(pk=target.pk).hidden is True
    score = RatingScore.objects.get()
    assert (score.black, score.status) == (2, "")  # two shops left: Wilson 0.34 < the 0.4 threshold


def test_bursts_list_and_no_sales_filter():
    burst, calm = ProductFactory(category="beauty"), ProductFactory(category="beauty")
    _black(burst, 5)
    _black(calm, 4)
    client = _admin()
    listed = client.get("/admin/shops/rating/?burst=1")
    assert listed.status_code == 200
    ids = {r.pk for r in listed.context["cl"].result_list}
    assert ids == set(Rating.objects.filter(entity_id=str(burst.pk)).values_list("pk", flat=True))
    seller = Rating.objects.filter(entity_id=str(calm.pk)).order_by("pk").first()
    ProductFactory(shop=seller.shop, category="beauty")  # this shop sells beauty products
    no_sales = {
        r.pk for r in client.get("/admin/shops/rating/?sells_in_category=no").context["cl"].result_list
    }
    assert seller.pk not in no_sales and len(no_sales) == 8
