"""Reviews in a real browser against a real Daphne: a fan on a phone writes a review (stars, text, a photo)
of a delivered order on /me/orders/; the owner replies publicly on the campaign page; the fan page shows the
review with the reviewer's tags and the reply, never the fan's name."""

from decimal import Decimal

import pytest
from PIL import Image

from fans.crm.models import FanTag, Tag
from preorders.models import Review
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import ShopFactory, UserFactory
from tests.preorders.conftest import shop_product
from tests.preorders.review_helpers import deliver
from tests.preorders.test_fulfilment import build_order
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


@pytest.fixture
def flow(transactional_db, django_capture_on_commit_callbacks):
    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    factory = Factory.objects.create(name="面霜工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="保湿面霜", moq=10, lead_time_days=30, unit_cost=Decimal("50.00")
    )
    FactoryVariant.objects.create(factory_product=fp, name="50ml", sku="F-CREAM-50", moq=5)
    FactoryVariant.objects.create(factory_product=fp, name="100ml", sku="F-CREAM-100", moq=5)
    product, v1, _v2 = shop_product(shop, fp)
    flow = build_order(owner, shop, product, v1, django_capture_on_commit_callbacks)
    deliver(flow, flow.pledges[0])
    return flow


def test_fan_writes_a_review_and_owner_replies(flow, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    a = flow.pledges[0]
    oily = Tag.objects.get(group__code="skin_type", code="oily")
    FanTag.objects.create(fan=a.fan, tag=oily, group=oily.group, single=True, source="staff")
    photo = tmp_path / "face.jpg"
    Image.new("RGB", (60, 40), (220, 180, 160)).save(photo, "JPEG")
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors: list[str] = []

        def new_page(**kw):
            p = browser.new_context(locale="zh-CN", **kw).new_page()
            p.set_default_timeout(15000)
            p.on("pageerror", lambda exc: errors.append(str(exc)))
            return p

        try:
            fan = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            log_in(fan, base, a.user.username)
            fan.goto(f"{base}/me/orders/")
            card = fan.locator(f"#pledge-{a.pk}")
            expect(fan.locator(f"#pledge-{flow.pledges[1].pk} [data-action=review-open]")).to_have_count(0)
            card.locator("[data-action=review-open]").click()
            form = card.locator("[data-review-form]")
            expect(form).to_be_visible()
            form.locator("input[name=stars][value='4']").check()
            form.locator("textarea[name=text]").fill("很滋润，油皮用着也不闷痘")
            form.locator("input[name=photos]").set_input_files(str(photo))
            form.locator("input[name=suits][value=skin_type]").check()
            form.locator("button[type=submit]").click()
            expect(card.locator("[data-reviewed]")).to_be_visible()
            review = Review.objects.get(pledge=a)
            assert (review.stars, review.text, review.suits) == (
                4,
                "很滋润，油皮用着也不闷痘",
                {"skin_type": True},
            )
            assert review.photos.count() == 1
            fan.screenshot(path=str(ARTIFACTS / "review-fan-390.png"), full_page=True)

            owner = new_page(viewport={"width": 1280, "height": 900})
            log_in(owner, base, "owner")
            owner.goto(f"{base}/campaigns/{flow.campaign.pk}/")
            item = owner.locator(f"[data-review='{review.pk}']")
            expect(item).to_contain_text("油皮 · 4★")
            item.locator("textarea[name=reply]").fill("谢谢亲的认可，下次团购见～")
            item.locator("button[type=submit]").click()
            expect(owner.locator(f"[data-review='{review.pk}'] .review-reply")).to_contain_text(
                "谢谢亲的认可"
            )
            review.refresh_from_db()
            assert review.reply == "谢谢亲的认可，下次团购见～" and review.replied_at is not None

            fan.goto(f"{base}/c/{flow.campaign.pk}/")
            shown = fan.locator(f"[data-review='{review.pk}']")
            expect(shown).to_contain_text("谢谢亲的认可")
            expect(shown.locator(".review-photos img")).to_have_count(1)
            assert a.fan.display_name not in fan.locator("#reviews").inner_text()
            fan.screenshot(path=str(ARTIFACTS / "review-campaign-390.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
