"""红黑榜 demo: both demo shops rate. The jacket of the shipped campaign (thread ends, runs small: after-sales
requests on delivered parcels) is black-listed with enough evidence (shop1 sold it) to leave the recommender's
lists; some products are red, and a factory and an origin are rated too."""

from demo.data.money import SHIPPED_TITLE
from preorders.models import Campaign
from shops.models import FactoryProduct, Product, Shop
from shops.ratings import rate


def _rate(shop: Shop, entity_type: str, entity_id: object, verdict: str, reason: str, text: str) -> None:
    data = {"shop": shop.pk, "entity_type": entity_type, "entity_id": entity_id, "verdict": verdict}
    rate(user=shop.owner, data={**data, "reason": reason, "text": text})


def demo_ratings_ensure() -> int:
    shops = {s.slug: s for s in Shop.objects.filter(slug__in=["shop1", "shop2"]).select_related("owner")}
    if len(shops) < 2:
        return 0
    shop1, shop2 = shops["shop1"], shops["shop2"]
    n = 0
    shipped = Campaign.objects.filter(shop=shop1, title=SHIPPED_TITLE).first()
    if shipped is not None:
        _rate(
            shop1, "product", shipped.product_id, "black", "quality_bad", "袖口线头多，尺码偏小，退款退货不少"
        )
        _rate(shop2, "product", shipped.product_id, "black", "quality_bad", "同款样品做工粗糙")
        n += 2
    for i, product in enumerate(
        Product.objects.filter(shop__in=[shop1, shop2])
        .exclude(pk=shipped.product_id if shipped else None)
        .order_by("pk")[:4]
    ):
        reason, text = (
            ("value_good", "性价比高，粉丝复购多") if i % 2 else ("quality_good", "质地好，回购率高")
        )
        for shop in (shop1, shop2):
            _rate(shop, "product", product.pk, "red", reason, text)
            n += 1
    fp = FactoryProduct.objects.select_related("factory").order_by("pk").first()
    if fp is not None:
        _rate(shop1, "factory", fp.factory_id, "red", "fast_ship", "交期准，沟通顺畅")
        _rate(shop2, "factory", fp.factory_id, "red", "quality_good", "")
        n += 2
        if fp.origin:
            _rate(shop1, "origin", fp.origin, "red", "quality_good", "产业带成熟")
            n += 1
    return n
