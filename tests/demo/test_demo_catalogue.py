"""The demo's platform catalogue (选品): factory products with Chinese names and retail bounds, which a new
owner can pick on the product page."""

import pytest

from shops.models import FactoryProduct
from tests.demo.test_demo import CJK, run_demo


@pytest.mark.django_db
def test_demo_platform_catalogue_offers_bounded_factory_products(settings, tmp_path, client):
    settings.MEDIA_ROOT = tmp_path / "media"
    out = run_demo()
    assert "/signup/owner/" in out
    offered = list(FactoryProduct.objects.filter(in_catalogue=True, retail_price_max__isnull=False))
    assert len(offered) >= 4
    for fp in offered:
        assert CJK.search(fp.name) and fp.retail_price_min < fp.retail_price_max
        assert fp.variants.exists(), fp.name
    before = FactoryProduct.objects.count()
    run_demo()
    assert FactoryProduct.objects.count() == before
