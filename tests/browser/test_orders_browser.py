"""The fan's "my orders" page in headless Chromium against a real Daphne: paying the balance with one tap."""

import pytest
from django.utils import timezone

from preorders.models import Pledge
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.preorders.conftest import expire, make_campaign, shop_product
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_fan_pays_the_balance_from_my_orders(transactional_db, require_services):
    from playwright.sync_api import sync_playwright

    from preorders.services import campaign_close, pledge_place
    from shops.models import Factory, FactoryProduct, FactoryVariant

    shop = ShopFactory(name="暖冬小铺", slug="warm-orders")
    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(factory=factory, name="羽绒服", moq=10, unit_cost="200.00")
    FactoryVariant.objects.create(factory_product=fp, name="M", sku="F-O-M", moq=5)
    FactoryVariant.objects.create(factory_product=fp, name="L", sku="F-O-L", moq=5)
    product, v_l, _ = shop_product(shop, fp)
    campaign = make_campaign(shop.owner, product, per_fan_limit=None, cap=None, tiers=[])
    fans = [FanFactory(shop=shop, user=UserFactory(username=f"buyer{i}")) for i in range(2)]
    for fan in fans:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=5)
    expire(campaign)
    campaign_close(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    pledge = Pledge.objects.get(fan=fans[0])
    assert pledge.status == "confirmed" and campaign.balance_deadline > timezone.now()
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True).new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, base, "buyer0")
        page.goto(f"{base}/me/orders/")
        card = page.locator(f"#pledge-{pledge.pk}")
        assert card.get_attribute("data-status") == "confirmed"
        assert str(pledge.balance_due) in card.inner_text()
        card.locator("[data-action='pay-balance']").click()
        page.wait_for_function(
            f"document.querySelector('#pledge-{pledge.pk}').getAttribute('data-status') === 'paid'"
        )
        assert not page.locator(f"#pledge-{pledge.pk} [data-action='pay-balance']").count()
        browser.close()
        assert not errors, errors
    pledge.refresh_from_db()
    assert pledge.status == "paid"
