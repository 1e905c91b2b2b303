import csv
import io
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import include, path

from core.errors import Conflict
from preorders.api_factory import board_token
from preorders.models import FactoryOrder, FactoryOrderStatus, LedgerEntry, Pledge
from preorders.services import factory_order_transition, pledge_place
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.preorders.conftest import make_campaign, settle, shop_product

pytestmark = pytest.mark.django_db

urlpatterns = [
    path("api/", include("preorders.api_urls")),
    path("", include("preorders.urls")),
    path("api/", include("shops.api_urls")),
]


def run_campaign(shop, factory_product, quantities, *, tiers=None):
    product, v_l, v_m = shop_product(shop, factory_product)
    campaign = make_campaign(
        shop.owner, product, per_fan_limit=None, cap=None, **({"tiers": tiers} if tiers is not None else {})
    )
    for variant, q in quantities:
        fan = FanFactory(shop=shop)
        pledge_place(
            user=fan.user, campaign_id=campaign.pk, variant_id=(v_l if variant == "L" else v_m).pk, quantity=q
        )
    # Close, every fan pays the balance, the balance deadline passes: the order holds paid units.
    assert settle(campaign) == "succeeded"
    return campaign


def test_two_shops_roll_up_into_one_order_per_window(factory_product):
    a, b = ShopFactory(), ShopFactory()
    run_campaign(a, factory_product, [("L", 6), ("M", 4)], tiers=[])  # 10 x 500
    run_campaign(
        b, factory_product, [("L", 5), ("M", 7)], tiers=[{"min_quantity": 10, "unit_price": "400.00"}]
    )
    order = FactoryOrder.objects.get()
    lines = {line.sku: line for line in order.lines.all()}
    assert set(lines) == {"F-DOWN-L", "F-DOWN-M"}
    assert lines["F-DOWN-L"].quantity == 11 and lines["F-DOWN-M"].quantity == 11
    assert lines["F-DOWN-L"].value == Decimal("6") * 500 + Decimal("5") * 400
    assert lines["F-DOWN-L"].deposits == sum(
        Pledge.objects.filter(variant__factory_variant__sku="F-DOWN-L").values_list(
            "deposit_amount", flat=True
        ),
        Decimal(0),
    )
    assert order.sources.count() == 2 and order.status == "draft"


def test_sent_order_is_not_reopened_by_a_later_campaign(factory_product):
    a, b = ShopFactory(), ShopFactory()
    run_campaign(a, factory_product, [("L", 10)], tiers=[])
    first = FactoryOrder.objects.get()
    factory_order_transition(order_id=first.pk, status=FactoryOrderStatus.SENT)
    run_campaign(b, factory_product, [("M", 10)], tiers=[])
    assert FactoryOrder.objects.count() == 2
    assert first.lines.get().quantity == 10


def test_order_lifecycle_and_cancel_refunds(factory_product, provider):
    shop = ShopFactory()
    run_campaign(shop, factory_product, [("L", 10)], tiers=[])
    order = FactoryOrder.objects.get()
    with pytest.raises(Conflict):
        factory_order_transition(order_id=order.pk, status=FactoryOrderStatus.SHIPPED)
    for status in ("sent", "confirmed"):
        factory_order_transition(order_id=order.pk, status=status)
    factory_order_transition(order_id=order.pk, status="cancelled")
    assert set(Pledge.objects.values_list("status", flat=True)) == {"refunded"}
    # The deposit and the balance, both back in one refund.
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert provider.net_charged() == 0


@override_settings(ROOT_URLCONF="tests.preorders.test_factory_orders")
def test_csv_print_and_api_for_admins(factory_product, api_for, client):
    shop = ShopFactory()
    run_campaign(shop, factory_product, [("L", 6), ("M", 4)], tiers=[])
    order = FactoryOrder.objects.get()
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get(f"/factory-orders/{order.pk}/export.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][5] == "sku" and [r[5] for r in rows[1:]] == ["F-DOWN-L", "F-DOWN-M"]
    assert "FO-" in client.get(f"/factory-orders/{order.pk}/print/").content.decode()
    body = api_for(admin).get("/api/factory-orders/").json()
    assert body[0]["id"] == order.pk and body[0]["totals"]["quantity"] == "10"
    assert api_for(shop.owner).get("/api/factory-orders/").status_code == 403
    moved = api_for(admin).post(
        f"/api/factory-orders/{order.pk}/transition/", {"status": "sent"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["status"] == "sent"
    bad = api_for(admin).post(
        f"/api/factory-orders/{order.pk}/transition/", {"status": "delivered"}, format="json"
    )
    assert bad.status_code == 409 and bad.json()["code"] == "transition_invalid"


@override_settings(ROOT_URLCONF="tests.preorders.test_factory_orders")
def test_demand_board_signed_link_shows_live_demand(factory_product, client):
    a, b = ShopFactory(), ShopFactory()
    for shop, q in ((a, 3), (b, 4)):
        product, v_l, _ = shop_product(shop, factory_product)
        campaign = make_campaign(shop.owner, product)
        pledge_place(user=FanFactory(shop=shop).user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=q)
    token = board_token(factory_product.factory)
    body = client.get(f"/api/factory-board/{token}/").json()
    product = body["products"][0]
    variants = {v["sku"]: v for v in product["variants"]}
    assert product["committed"] == 7 and product["moq"] == 10 and not product["reached"]
    assert variants["F-DOWN-L"]["committed"] == 7 and variants["F-DOWN-L"]["reached"]
    assert variants["F-DOWN-M"]["committed"] == 0
    assert client.get(f"/api/factory-board/{token}x/").status_code == 404
