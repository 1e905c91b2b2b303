"""The demo's platform catalogue (选品): factory products with Chinese names and retail bounds, which a new
owner can pick on the product page."""

from shops.models import FactoryProduct
from tests.demo.seeded.helpers import CJK, run_demo


def test_demo_platform_catalogue_offers_bounded_factory_products(demo_output, client):
    out = demo_output
    assert "/signup/owner/" in out
    offered = list(FactoryProduct.objects.filter(in_catalogue=True, retail_price_max__isnull=False))
    assert len(offered) >= 4
    for fp in offered:
        assert CJK.search(fp.name) and fp.retail_price_min < fp.retail_price_max
        assert fp.variants.exists(), fp.name
    before = FactoryProduct.objects.count()
    run_demo()
    assert FactoryProduct.objects.count() == before
