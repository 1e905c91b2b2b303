"""The factory insight report through its real URLs: the k floor, request phrases from chat, privacy, the
signed link (tampered, expired, another factory's campaign) and the CSV and PDF exports."""

import csv
import io
import json
import time
from decimal import Decimal
from unittest import mock

import pytest

from c2m.insight.links import insight_page_url, insight_url
from fans.chat.models import MessageKind, Side
from fans.crm.models import FanTag, Tag
from preorders.api_factory import board_token
from preorders.models import PledgeStatus
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.c2m.insight_helpers import fans, pledge, say
from tests.factories import ShopFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product


@pytest.fixture
def factory_product(db):
    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="冬季羽绒服", moq=10, lead_time_days=30, unit_cost=Decimal("200.00")
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=5)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=5)
    return fp


@pytest.fixture
def world(shop, factory_product):
    product, v_l, v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product)
    return campaign, v_l, v_m


def url(campaign, token=None, suffix="insight/"):
    token = token or board_token(campaign.factory_product.factory)
    return f"/api/factory-board/{token}/{suffix}?campaign={campaign.pk}"


def test_variant_cells_under_k_fans_are_suppressed(world, client):
    campaign, v_l, v_m = world
    for fan in fans(campaign.shop, 10):
        pledge(campaign, fan, v_l, quantity=2)
    for fan in fans(campaign.shop, 9, start=100):
        pledge(campaign, fan, v_m)
    # Not demand: a deposit still being charged, and a cancelled pledge.
    for fan in fans(campaign.shop, 3, start=200):
        pledge(campaign, fan, v_m, status=PledgeStatus.PENDING)
        pledge(campaign, fan, v_l, status=PledgeStatus.CANCELLED)
    body = client.get(url(campaign)).json()
    assert set(body) >= {"variants", "tag_portrait", "requests", "suppressed"}
    rows = {v["name"]: v for v in body["variants"]}
    assert rows["L"]["units"] == 20 and rows["L"]["series"][0]["units"] == 20
    assert rows["M"]["units"] is None and rows["M"]["series"][0]["units"] is None
    assert body["pledgers"] == 19
    # M's total and its one day are two suppressed cells.
    assert body["suppressed"] >= 2
    assert body["days"] == [body["variants"][0]["series"][0]["day"]]


def test_requests_are_grouped_by_jieba_words_and_counted_by_distinct_fans(world, client):
    campaign, v_l, _ = world
    wordings = [
        "这款羽绒服能不能出大码",
        "冬季羽绒服有没有大码啊",
        "羽绒服希望能出大码！",
        "羽绒服能不能出个大码的",
    ]
    big = fans(campaign.shop, 10)
    for n, fan in enumerate(big):
        say(fan, wordings[n % len(wordings)])
    say(big[0], "羽绒服能不能出大码，颜色太少了")  # the same fan again: still one fan for 大码
    few = fans(campaign.shop, 9, start=100)
    for fan in few:
        say(fan, "羽绒服希望无香")
    say(big[1], "今天天气不错")  # not about the product
    body = client.get(url(campaign)).json()
    assert len(body["requests"]) == 1
    request = body["requests"][0]
    assert set(request) == {"phrase", "count"}
    assert request["count"] == 10 and "大码" in request["phrase"]
    # 无香 (9 fans) and 颜色太少 (1 fan) are suppressed.
    assert body["suppressed"] >= 2
    # A tenth fan asking for 无香 puts it over the floor.
    say(fans(campaign.shop, 1, start=300)[0], "羽绒服想要无香的")
    phrases = {r["phrase"]: r["count"] for r in client.get(url(campaign)).json()["requests"]}
    assert phrases == {
        next(p for p in phrases if "大码" in p): 10,
        next(p for p in phrases if "无香" in p): 10,
    }


def test_messages_right_after_the_campaign_card_count_as_about_it(world, client):
    campaign, _, _ = world
    group = fans(campaign.shop, 10)
    for fan in group:
        say(fan, "", side=Side.SHOP, kind=MessageKind.CAMPAIGN_CARD, payload={"campaign": campaign.pk})
        say(fan, "颜色太少了")  # no product name: it follows the card
        say(fan, "", side=Side.SHOP, kind=MessageKind.PRODUCT_CARD, payload={"product": 999999})
        say(fan, "能不能出加长款")  # after another product's card: not about this one
    body = client.get(url(campaign)).json()
    assert [r["count"] for r in body["requests"]] == [10]
    assert "颜色" in body["requests"][0]["phrase"]


def test_quotes_with_a_phone_number_or_a_name_are_dropped(world, client):
    campaign, _, _ = world
    group = fans(campaign.shop, 11)
    for fan in group[:9]:
        say(fan, "羽绒服能不能出大码")
    say(group[9], "羽绒服能不能出大码 我电话13812345678")
    say(group[10], f"羽绒服能不能出大码，{group[0].display_name}也想要")
    body = client.get(url(campaign)).json()
    # 9 clean fans: below the floor, and the two quotes with personal data never count.
    assert body["requests"] == []
    say(fans(campaign.shop, 1, start=500)[0], "@阿花 羽绒服能不能出大码")
    assert client.get(url(campaign)).json()["requests"] == []
    say(fans(campaign.shop, 1, start=600)[0], "羽绒服能不能出大码呀")
    body = client.get(url(campaign)).json()
    assert [r["count"] for r in body["requests"]] == [10]
    text = json.dumps(body, ensure_ascii=False)
    assert "13812345678" not in text and "阿花" not in text
    assert all(f.display_name not in text and f.user.username not in text for f in group)


def test_tag_portrait_shows_shares_of_tags_held_by_k_fans(world, client):
    campaign, v_l, _ = world
    tag = Tag.objects.filter(group__shop__isnull=True).select_related("group").first()
    other = Tag.objects.filter(group=tag.group).exclude(pk=tag.pk).first()
    group = fans(campaign.shop, 20)
    for n, fan in enumerate(group):
        pledge(campaign, fan, v_l)
        if n < 10:
            FanTag.objects.create(fan=fan, tag=tag, group=tag.group, source="owner")
        elif n < 19 and other is not None:
            FanTag.objects.create(fan=fan, tag=other, group=tag.group, source="owner")
    body = client.get(url(campaign)).json()
    assert body["tag_portrait"] == {tag.group.code: {tag.code: 0.5}}
    assert body["suppressed"] >= (1 if other is not None else 0)


def test_a_tampered_or_expired_link_is_refused_with_a_code(world, client):
    campaign, _, _ = world
    factory = campaign.factory_product.factory
    token = board_token(factory)
    tampered = client.get(url(campaign, token + "x"))
    assert tampered.status_code == 404 and tampered.json()["code"] == "not_found"
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 91 * 86400):
        old = board_token(factory)
    expired = client.get(url(campaign, old))
    assert expired.status_code == 403 and expired.json()["code"] == "token_expired"
    assert client.get(url(campaign, old, suffix="insight.pdf")).json()["code"] == "token_expired"
    # The board itself keeps links to the same age.
    board = client.get(f"/api/factory-board/{old}/")
    assert board.status_code == 403 and board.json()["code"] == "token_expired"
    assert client.get(f"/factory-board/{old}/").status_code == 403
    assert client.get(f"/api/factory-board/{token}/").status_code == 200


def test_fresh_links_within_the_max_age_work(world, client, settings):
    campaign, _, _ = world
    settings.FANSI_BOARD_TOKEN_MAX_AGE_DAYS = 100
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 91 * 86400):
        old = board_token(campaign.factory_product.factory)
    assert client.get(url(campaign, old)).status_code == 200


def test_another_factorys_campaign_is_404_and_a_bad_campaign_400(world, client, factory_product):
    campaign, _, _ = world
    other_factory = Factory.objects.create(name="别的工厂")
    foreign = client.get(url(campaign, board_token(other_factory)))
    assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"
    token = board_token(campaign.factory_product.factory)
    missing = client.get(f"/api/factory-board/{token}/insight/")
    assert missing.status_code == 400 and missing.json()["code"] == "campaign_required"
    bad = client.get(f"/api/factory-board/{token}/insight/?campaign=abc")
    assert bad.status_code == 400 and bad.json()["code"] == "campaign_invalid"
    assert set(bad.json()) == {"code", "message", "detail"}
    # A draft of the factory's product is not on the board either.
    product, _, _ = shop_product(ShopFactory(), factory_product)
    draft = make_campaign(product.shop.owner, product, launch=False)
    assert client.get(url(draft)).status_code == 404


def test_csv_and_pdf_carry_the_report_with_the_font_embedded(world, client):
    from pypdf import PdfReader

    campaign, v_l, _ = world
    for fan in fans(campaign.shop, 10):
        pledge(campaign, fan, v_l)
        say(fan, "羽绒服能不能出大码")
    for fan in fans(campaign.shop, 3, start=100):
        say(fan, "羽绒服希望无香")
    response = client.get(url(campaign, suffix="insight.csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    requests = [r for r in rows if r[0] == "request"]
    assert [(r[1], r[3]) for r in requests] == [("羽绒服能不能出大码", "10")]
    assert not any("无香" in cell for r in rows for cell in r)
    assert ["variant_units", v_l.sku, "L", "10"] in rows
    pdf = client.get(url(campaign, suffix="insight.pdf"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "能不能出大码" in text and "羽绒工厂" in text and "无香" not in text
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    cjk = [f for f in fonts if "NotoSansSC" in str(f["/BaseFont"])]
    assert cjk, [f["/BaseFont"] for f in fonts]
    descendant = cjk[0]["/DescendantFonts"][0].get_object() if "/DescendantFonts" in cjk[0] else cjk[0]
    descriptor = descendant["/FontDescriptor"].get_object()
    assert "/FontFile2" in descriptor  # the TrueType program itself is in the file


def test_the_campaigns_owner_and_the_platform_staff_see_the_report(world, api_for, client, stranger):
    campaign, v_l, _ = world
    for fan in fans(campaign.shop, 10):
        pledge(campaign, fan, v_l)
    owner = api_for(campaign.shop.owner).get(f"/api/campaigns/{campaign.pk}/insight/")
    assert owner.status_code == 200 and owner.json()["variants"][0]["units"] in (10, None)
    admin = UserFactory(is_staff=True)
    assert api_for(admin).get(f"/api/campaigns/{campaign.pk}/insight/").json() == owner.json()
    refused = api_for(stranger).get(f"/api/campaigns/{campaign.pk}/insight/")
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    client.force_login(campaign.shop.owner)
    page = client.get(f"/campaigns/{campaign.pk}/insight/")
    assert page.status_code == 200 and 'id="insight-chart"' in page.content.decode()
    detail = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="insight-card"' in detail and f'href="/campaigns/{campaign.pk}/insight/"' in detail


def test_board_page_shows_the_insight_and_links_to_the_exports(world, client):
    campaign, v_l, _ = world
    for fan in fans(campaign.shop, 10):
        pledge(campaign, fan, v_l, quantity=3)
        say(fan, "羽绒服能不能出大码")
    factory = campaign.factory_product.factory
    page_url = insight_page_url(factory=factory, campaign=campaign)
    html = client.get(page_url).content.decode()
    assert 'id="insight"' in html and "羽绒服能不能出大码" in html and "<rect" in html
    pdf = insight_url(factory=factory, campaign=campaign, fmt="pdf")
    assert pdf.split("?")[0].endswith("/insight.pdf") and client.get(pdf).status_code == 200
    assert f'href="{pdf.split("/insight.pdf")[0].split("/api/factory-board/")[0]}' in html
    body = client.get(insight_url(factory=factory, campaign=campaign)).json()
    assert body["variants"][0]["units"] == 30


def test_after_sales_reasons_and_stars_are_floored(world, client):
    from preorders.models import AfterSalesRequest, Review

    campaign, v_l, _ = world
    group = fans(campaign.shop, 12)
    for n, fan in enumerate(group):
        p = pledge(campaign, fan, v_l)
        Review.objects.create(pledge=p, product=campaign.product, stars=5 if n < 10 else 2)
        if n < 10:
            AfterSalesRequest.objects.create(
                pledge=p, kind="refund", reason="尺码偏小", amount=Decimal("10.00")
            )
        else:
            AfterSalesRequest.objects.create(
                pledge=p, kind="refund", reason="联系我 13912345678", amount=Decimal("10.00")
            )
    body = client.get(url(campaign)).json()
    assert body["stars"] == {"1": 0, "2": None, "3": 0, "4": 0, "5": 10}
    assert body["after_sales"] == [{"reason": "尺码偏小", "count": 10}]


def test_the_report_takes_the_same_few_queries_for_any_number_of_fans(
    world, client, django_assert_max_num_queries
):
    campaign, v_l, v_m = world
    for n, fan in enumerate(fans(campaign.shop, 40)):
        pledge(campaign, fan, v_l if n % 2 else v_m)
        say(fan, "", side=Side.SHOP, kind=MessageKind.CAMPAIGN_CARD, payload={"campaign": campaign.pk})
        say(fan, "颜色太少了")
    with django_assert_max_num_queries(30):
        body = client.get(url(campaign)).json()
    assert body["requests"][0]["count"] == 40
