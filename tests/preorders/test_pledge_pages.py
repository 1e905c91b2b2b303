"""The fan's own pages say the right words for each kind and status, link back to the shop, and keep
skipped boxes visible, in shop time."""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone, translation

from preorders.box_models import BoxItem
from preorders.models import Pledge, SubscriptionCycle
from preorders.pledge_copy import BOX, GROUP, SUBSCRIPTION, pledge_status_label
from preorders.services import pledge_place
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db

# (kind, status, campaign status, deadline passed) -> (English, 中文)
LABELS = [
    (GROUP, "pending", "live", False, "Paying deposit", "支付定金中"),
    (GROUP, "active", "live", False, "Joined", "已参团"),
    (GROUP, "active", "live", True, "Joined · awaiting the result", "已参团 · 等待成团结果"),
    (GROUP, "cancelled", "live", False, "Cancelled", "已取消"),
    (GROUP, "confirmed", "succeeded", True, "Group succeeded · balance due", "已成团 · 待付尾款"),
    (GROUP, "paid", "succeeded", True, "Paid in full", "已付清"),
    (GROUP, "lapsed", "succeeded", True, "Lapsed: balance not paid", "已逾期：未付尾款"),
    (GROUP, "refunded", "failed", True, "Refunded", "已退款"),
    (SUBSCRIPTION, "pending", "live", False, "Paying deposit", "支付定金中"),
    (SUBSCRIPTION, "active", "live", True, "Subscribed", "订阅中"),
    (SUBSCRIPTION, "paused", "live", True, "Paused", "已暂停"),
    (SUBSCRIPTION, "cancelled", "live", True, "Subscription cancelled", "已取消订阅"),
    (SUBSCRIPTION, "refunded", "ended", True, "Refunded", "已退款"),
    (SUBSCRIPTION, "active", "ended", True, "Ended", "已结束"),
    (SUBSCRIPTION, "paused", "ended", True, "Ended", "已结束"),
    (BOX, "active", "live", True, "Box subscribed", "果箱订阅中"),
    (BOX, "paused", "live", True, "Box paused", "果箱已暂停"),
    (BOX, "cancelled", "live", True, "Box cancelled", "已退订果箱"),
    (BOX, "active", "ended", True, "Ended", "已结束"),
]


@pytest.mark.parametrize(("kind", "status", "campaign_status", "passed", "en", "zh"), LABELS)
def test_every_kind_and_status_has_its_own_words(kind, status, campaign_status, passed, en, zh):
    for language, expected in (("en", en), ("zh-hans", zh)):
        with translation.override(language):
            label = pledge_status_label(
                kind=kind, status=status, campaign_status=campaign_status, deadline_passed=passed
            )
        assert label == expected
    if kind != GROUP:
        assert "参团" not in zh


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client


@pytest.fixture
def group(owner, product):
    return make_campaign(owner, product[0])


@pytest.fixture
def subscription(owner, product):
    return make_campaign(
        owner,
        product[0],
        kind="subscription",
        cadence="weekly",
        cycles=None,
        cutoff_hours=24,
        tiers=[],
        cap=None,
        title="每周鲜花",
    )


@pytest.fixture
def fruit_box(owner, product):
    campaign = make_campaign(
        owner,
        product[0],
        kind="subscription",
        cadence="weekly",
        cycles=None,
        cutoff_hours=24,
        tiers=[],
        cap=None,
        title="当季水果箱",
    )
    BoxItem.objects.create(campaign=campaign, name="芒果", unit_price=Decimal("20.00"), ripen_days=3)
    return campaign


def place(fan, campaign, variant, quantity=1) -> int:
    body, _created = pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=quantity
    )
    return body["id"]


def badges(html: str) -> dict[int, str]:
    """Pledge id -> the status badge's words on a my-pledges or my-orders page."""
    found = {}
    for card in re.finditer(r'data-pledge="(\d+)"(.*?)</section>', html, re.S):
        badge = re.search(r'class="status-badge[^"]*"[^>]*>([^<]*)<', card.group(2))
        found[int(card.group(1))] = badge.group(1).strip()
    return found


@pytest.mark.parametrize(
    ("which", "status", "zh"),
    [
        ("group", "active", "已参团"),
        ("group", "cancelled", "已取消"),
        ("group", "refunded", "已退款"),
        ("subscription", "active", "订阅中"),
        ("subscription", "paused", "已暂停"),
        ("subscription", "cancelled", "已取消订阅"),
        ("fruit_box", "active", "果箱订阅中"),
        ("fruit_box", "paused", "果箱已暂停"),
    ],
)
def test_my_pledges_and_my_orders_say_the_kinds_word(request, fan, product, which, status, zh):
    campaign = request.getfixturevalue(which)
    pledge_id = place(fan, campaign, product[1])
    Pledge.objects.filter(pk=pledge_id).update(status=status)
    client = client_for(fan.user)
    for url in ("/me/pledges/", "/me/orders/"):
        response = client.get(url)
        assert response.status_code == 200
        assert badges(response.content.decode())[pledge_id] == zh, url


def test_confirmed_and_paid_pledges_name_the_balance(fan, group, product):
    confirmed, paid = place(fan, group, product[1]), place(fan, group, product[2])
    priced = {"final_unit_price": Decimal("450.00"), "balance_due": Decimal("400.00")}
    Pledge.objects.filter(pk=confirmed).update(status="confirmed", **priced)
    Pledge.objects.filter(pk=paid).update(status="paid", **priced)
    html = client_for(fan.user).get("/me/orders/").content.decode()
    assert badges(html) == {confirmed: "已成团 · 待付尾款", paid: "已付清"}


def test_a_pledge_past_its_deadline_says_it_awaits_the_result(fan, group, product):
    pledge_id = place(fan, group, product[1])
    group.__class__.objects.filter(pk=group.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    html = client_for(fan.user).get("/me/pledges/").content.decode()
    assert badges(html)[pledge_id] == "已参团 · 等待成团结果"
    assert "data-change-form" not in html and "data-cancel-form" not in html


def test_my_pledges_link_back_to_each_shop_and_campaign(fan, group, subscription, product, shop):
    place(fan, group, product[1])
    place(fan, subscription, product[1])
    html = client_for(fan.user).get("/me/pledges/").content.decode()
    assert html.count(f'href="/s/{shop.slug}/"') >= 4  # the shop's name and "message the shop", per card
    assert f'href="/c/{group.pk}/"' in html and f'href="/c/{subscription.pk}/"' in html
    assert html.count("联系店铺") == 2
    orders = client_for(fan.user).get("/me/orders/").content.decode()
    assert orders.count(f'href="/s/{shop.slug}/"') == 2


def test_the_change_dialog_is_bounded_by_the_limit_and_offers_the_variants(fan, group, product):
    place(fan, group, product[2], quantity=2)  # another pledge in the same campaign: 2 of the 5 allowed
    pledge_id = place(fan, group, product[1], quantity=1)
    html = client_for(fan.user).get("/me/pledges/").content.decode()
    card = re.search(rf'data-pledge="{pledge_id}"(.*?)</section>', html, re.S).group(1)
    assert 'name="quantity" value="1" min="1" max="3"' in card
    assert f'value="{product[1].pk}" checked' in card and f'value="{product[2].pk}"' in card
    assert "修改" in card and "确认修改" in card


def test_a_skipped_box_stays_visible_after_a_reload_with_the_next_delivery_in_shop_time(
    api_for, fan, subscription, product, shop
):
    shop.timezone = "America/New_York"
    shop.save(update_fields=["timezone"])
    pledge_id = place(fan, subscription, product[1])
    skipped = api_for(fan.user).post(f"/api/pledges/{pledge_id}/skip/")
    assert skipped.status_code == 200 and skipped.json()["skipped_cycle"] == 1
    html = client_for(fan.user).get("/me/pledges/").content.decode()
    ny = zoneinfo.ZoneInfo("America/New_York")
    first = SubscriptionCycle.objects.get(campaign=subscription, number=1).delivery_at
    second = first + dt.timedelta(weeks=1)
    assert f"第 1 期（{first.astimezone(ny):%m-%d}）已跳过" in html
    assert f'下次配送 <time data-next-delivery datetime="{second.astimezone(ny).isoformat()}">' in html
    assert f"{second.astimezone(ny):%Y-%m-%d %H:%M}</time>" in html


def test_the_campaign_page_says_subscribed_for_a_subscription(fan, subscription, group, product):
    place(fan, subscription, product[1])
    place(fan, group, product[1])
    client = client_for(fan.user)
    sub_html = client.get(f"/c/{subscription.pk}/").content.decode()
    group_html = client.get(f"/c/{group.pk}/").content.decode()
    mine = re.search(r'class="fc-card fc-mine">(.*?)</section>', sub_html, re.S).group(1)
    assert "订阅中" in mine and "参团" not in mine
    group_mine = re.search(r'class="fc-card fc-mine">(.*?)</section>', group_html, re.S).group(1)
    assert "已参团" in group_mine
    group_pledge = Pledge.objects.get(campaign=group)
    assert f'href="/me/pledges/#pledge-{group_pledge.pk}" data-change-link>修改</a>' in group_mine


def _next_delivery(html: str, pledge_id: int) -> str:
    card = re.search(rf'data-pledge="{pledge_id}"(.*?)</section>', html, re.S).group(1)
    return re.search(r'data-next-delivery datetime="([^"]+)"', card).group(1)


def test_a_fruit_box_next_delivery_follows_off_weeks_and_delays(fan, fruit_box, product):
    from preorders.box_models import CycleChange, SubscriptionPrefs

    biweekly, delayed = place(fan, fruit_box, product[1]), place(fan, fruit_box, product[2])
    first = SubscriptionCycle.objects.get(campaign=fruit_box, number=1)
    SubscriptionPrefs.objects.create(pledge_id=biweekly, frequency="biweekly", frequency_from=0)
    CycleChange.objects.create(pledge_id=delayed, cycle=first, kind="delay", delay_days=2)
    html = client_for(fan.user).get("/me/pledges/").content.decode()
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    expected = {
        biweekly: first.delivery_at + dt.timedelta(weeks=1),
        delayed: first.delivery_at + dt.timedelta(days=2),
    }
    for pledge_id, when in expected.items():
        assert _next_delivery(html, pledge_id) == when.astimezone(shanghai).isoformat()


def test_my_pledges_reads_in_a_bounded_number_of_queries(
    fan, group, subscription, fruit_box, product, django_assert_max_num_queries
):
    for campaign in (group, subscription, fruit_box):
        place(fan, campaign, product[1])
        place(fan, campaign, product[2])
    client = client_for(fan.user)
    client.get("/me/pledges/")  # warm the session and the catalogues
    with django_assert_max_num_queries(20):
        response = client.get("/me/pledges/")
    assert response.status_code == 200 and len(badges(response.content.decode())) == 6
