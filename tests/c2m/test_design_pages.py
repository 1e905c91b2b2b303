"""The design-round pages render for the right people: the owner's list, form and round page (votes,
forecast, suggestions from chat), the fan's round page, and 404 for everyone else."""

import pytest

from c2m.design.models import DesignRound
from fans.chat.models import Message, MessageKind, Side
from tests.c2m.design_helpers import create_round, fans, live_round, product_of, vote
from tests.factories import FanFactory, ShopFactory

pytestmark = pytest.mark.django_db


def test_owner_pages_list_form_and_draft_with_forecast(shop, owner, api_for, client):
    fans(shop, 5)
    body = create_round(api_for(owner), product_of(shop))
    client.force_login(owner)
    listing = client.get(f"/design-rounds/?shop={shop.pk}")
    assert listing.status_code == 200 and "一起设计羽绒服" in listing.content.decode()
    assert client.get(f"/design-rounds/new/?shop={shop.pk}").status_code == 200
    page = client.get(f"/design-rounds/{body['id']}/").content.decode()
    assert 'id="launch-round"' in page and 'id="forecast-table"' in page
    assert page.count('data-combination="') >= 12  # six in the votes, six in the forecast


def test_chat_suggestions_that_mention_an_option_are_listed_for_the_owner(shop, owner, api_for, client):
    body = live_round(api_for(owner), product_of(shop))
    fan = FanFactory(shop=shop, display_name="阿梅")
    Message.objects.create(
        conversation=fan.conversation, side=Side.FAN, kind=MessageKind.TEXT, text="驼色能不能做长款？", seq=1
    )
    Message.objects.create(
        conversation=fan.conversation, side=Side.FAN, kind=MessageKind.TEXT, text="今天天气好", seq=2
    )
    client.force_login(owner)
    page = client.get(f"/design-rounds/{body['id']}/").content.decode()
    assert "驼色能不能做长款" in page and "今天天气好" not in page
    res = api_for(owner).get(f"/api/design-rounds/{body['id']}/suggestions/")
    assert [r["text"] for r in res.json()["results"]] == ["驼色能不能做长款？"]
    assert api_for(fan.user).get(f"/api/design-rounds/{body['id']}/suggestions/").status_code == 404


def test_fan_page_shows_the_vote_form_then_their_vote(shop, owner, fan, api_for, client):
    body = live_round(api_for(owner), product_of(shop))
    client.force_login(fan.user)
    page = client.get(f"/design-rounds/{body['id']}/").content.decode()
    assert 'id="vote-form"' in page and 'id="my-vote"' not in page
    vote(api_for(fan.user), body["id"], {"颜色": "黑色", "长度": "长款"})
    page = client.get(f"/design-rounds/{body['id']}/").content.decode()
    assert 'id="my-vote"' in page and "黑色 / 长款" in page


def test_strangers_and_other_owners_get_404_and_fans_never_see_drafts(
    shop, owner, fan, api_for, client, stranger
):
    draft = create_round(api_for(owner), product_of(shop))
    for user in (stranger, ShopFactory().owner, fan.user):
        client.force_login(user)
        assert client.get(f"/design-rounds/{draft['id']}/").status_code == 404
    DesignRound.objects.filter(pk=draft["id"]).update(status="live")
    client.force_login(fan.user)
    assert client.get(f"/design-rounds/{draft['id']}/").status_code == 200


def test_a_fan_text_right_after_a_card_of_the_product_is_a_suggestion(shop, owner, api_for):
    product = product_of(shop)
    body = live_round(api_for(owner), product)
    fan = FanFactory(shop=shop)
    Message.objects.create(
        conversation=fan.conversation,
        side=Side.SHOP,
        kind=MessageKind.PRODUCT_CARD,
        payload={"product": product.pk},
        seq=1,
    )
    Message.objects.create(
        conversation=fan.conversation, side=Side.FAN, kind=MessageKind.TEXT, text="帽子可以拆吗", seq=2
    )
    other = FanFactory(shop=shop)
    Message.objects.create(
        conversation=other.conversation, side=Side.FAN, kind=MessageKind.TEXT, text="帽子可以拆吗", seq=1
    )
    rows = api_for(owner).get(f"/api/design-rounds/{body['id']}/suggestions/").json()["results"]
    assert [r["text"] for r in rows] == ["帽子可以拆吗"]
