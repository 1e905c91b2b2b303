"""The bot pages (/bot/, /broadcasts/) and the bot parts of the inbox, fan chat and fan profile pages."""

import pytest
from django.test import Client

from fans.bot.models import Broadcast, CannedReply, FaqRule
from fans.crm.models import Segment
from shops.models import ShopRole
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db

PAGES = ["/bot/", "/broadcasts/"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_bot_pages_render_for_the_owner_in_chinese_by_default(url, owner, shop):
    response = client_for(owner).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "机器人" in html and "群发" in html  # the staff navigation
    assert "/jsi18n/" in html and "fansi/bot.js" in html  # the strings come from the JavaScript catalog


def test_bot_settings_page_lists_settings_faq_and_canned_replies(owner, shop):
    FaqRule.objects.create(shop=shop, keywords="发货,快递", answer="48小时内发货")
    CannedReply.objects.create(shop=shop, title="欢迎", text="你好 {fan_name}")
    html = client_for(owner).get("/bot/").content.decode()
    assert "聊天机器人" in html
    assert "48小时内发货" in html and "你好 {fan_name}" in html
    assert 'id="bot-settings-form"' in html and 'id="faq-form"' in html and 'id="canned-form"' in html
    assert 'value="22:00"' in html  # quiet hours start (the default)


def test_broadcasts_page_lists_segments_products_and_recent_broadcasts(owner, shop):
    FanFactory.create_batch(3, shop=shop)
    Segment.objects.create(
        shop=shop, name="油皮粉丝", filter={"tags_all": ["skin_type:oily"]}, created_by=owner
    )
    ProductFactory(shop=shop, name="控油洁面乳")
    Broadcast.objects.create(
        shop=shop,
        created_by=owner,
        kind="text",
        text="新品到货啦",
        queued=3,
        processed=3,
        sent=2,
        skipped_budget=1,
        status="succeeded",
    )
    html = client_for(owner).get("/broadcasts/").content.decode()
    assert "油皮粉丝" in html and "控油洁面乳" in html
    assert "全部粉丝 (3)" in html
    assert "新品到货啦" in html and 'data-field="skipped_budget">1<' in html
    assert 'id="broadcast-form"' in html


@pytest.mark.parametrize("url", PAGES)
def test_assistants_see_bot_pages_read_only(url, shop):
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    response = client_for(assistant).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "只有店主和经理可以修改" in html
    assert 'id="faq-form"' not in html and 'id="broadcast-form"' not in html


@pytest.mark.parametrize("url", PAGES)
def test_managers_can_write_on_bot_pages(url, shop):
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    html = client_for(manager).get(url).content.decode()
    assert "只有店主和经理可以修改" not in html


@pytest.mark.parametrize("url", PAGES)
def test_bot_pages_are_404_for_fans_strangers_and_other_shops(url, shop, fan_user, stranger, other_shop):
    assert client_for(fan_user).get(url).status_code == 404
    # Someone with no shop at all is a new owner: sent to create their shop (shops.middleware).
    assert client_for(stranger).get(url)["Location"] == "/shop/new/"
    assert client_for(stranger).get(f"{url}?shop={shop.pk}").status_code == 404
    assert client_for(other_shop.owner).get(f"{url}?shop={shop.pk}").status_code == 404
    assert client_for(shop.owner).get(f"{url}?shop=abc").status_code == 404


@pytest.mark.parametrize("url", PAGES)
def test_bot_pages_ask_anonymous_visitors_to_log_in(url, db):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_bot_pages_pick_the_shop_from_the_query(owner, shop, other_shop):
    ShopMemberFactory(shop=other_shop, user=owner, role=ShopRole.MANAGER)
    html = client_for(owner).get(f"/broadcasts/?shop={other_shop.pk}").content.decode()
    assert "别家店" in html


def test_inbox_conversation_has_the_bot_panel_and_assistant(owner, shop, fan, conversation):
    html = client_for(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'id="bot-panel"' in html and f'data-fan="{fan.pk}"' in html
    assert "机器人自动回复中" in html and "推荐商品" in html and "推荐活动" in html and "快捷回复" in html


def test_inbox_shows_a_paused_bot_after_a_human_took_over(owner, shop, fan, conversation):
    conversation.bot_paused = True
    conversation.save(update_fields=["bot_paused"])
    html = client_for(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "机器人已暂停（人工接管）" in html


def test_fan_chat_has_the_no_promotions_switch(fan, fan_user, shop):
    html = client_for(fan_user).get(f"/s/{shop.slug}/").content.decode()
    assert 'id="promo-opt-out"' in html and "不接收推广" in html
    assert "assistant-bar" not in html  # the assistant is for the shop only
    fan.promotions_opt_out = True
    fan.save(update_fields=["promotions_opt_out"])
    html = client_for(fan_user).get(f"/s/{shop.slug}/").content.decode()
    assert f'data-shop="{shop.pk}" checked' in html


def test_fan_profile_has_the_suggestions_section(owner, fan):
    html = client_for(owner).get(f"/fans/{fan.pk}/").content.decode()
    assert 'id="fan-suggestions"' in html and "来自聊天的标签建议" in html
