"""A shared campaign link, logged out: the API and the page preview a live campaign (counts and initials,
never names), drafts stay hidden, and share links carry the sharer's referral code."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from fans.chat.models import Fan
from preorders.models import Campaign, CampaignStatus
from preorders.poster import deadline_in_shop_time, render_poster
from preorders.services import pledge_place
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(owner, product):
    return make_campaign(owner, product[0])


def _join(campaign, fan, variant, qty=1):
    pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=qty)


def test_logged_out_get_of_a_live_campaign_is_200_with_title_price_and_links(live, product, shop):
    _join(live, FanFactory(shop=shop, display_name="王小丫"), product[1], 2)
    _join(live, FanFactory(shop=shop, display_name="李四"), product[2])
    resp = APIClient().get(f"/api/campaigns/{live.pk}/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["title"] == "羽绒服团购"
    assert body["current_unit_price"] == "500.00"
    assert body["share_url"] == f"http://testserver/campaigns/{live.pk}/join/"
    assert body["join_url"] == f"http://testserver/c/{live.pk}/"
    assert body["pledger_count"] == 2
    assert sorted(body["pledger_initials"]) == ["李", "王"]
    # counts only: no display name, username or user id anywhere in the answer
    text = resp.content.decode()
    for leak in ("王小丫", "李四", "username", "display_name"):
        assert leak not in text


def test_logged_out_get_is_not_a_redirect_to_login(live):
    resp = APIClient().get(f"/api/campaigns/{live.pk}/", follow=False)
    assert resp.status_code == 200 and "Location" not in resp


def test_logged_out_draft_is_404_and_so_is_an_unknown_id(owner, product):
    draft = make_campaign(owner, product[0], launch=False)
    assert draft.status == CampaignStatus.DRAFT
    for cid in (draft.pk, 999999):
        resp = APIClient().get(f"/api/campaigns/{cid}/")
        assert resp.status_code == 404
        assert resp.json()["code"] == "not_found"
        assert "羽绒服" not in resp.content.decode()


def test_logged_out_ended_campaign_is_404(live):
    Campaign.objects.filter(pk=live.pk).update(status=CampaignStatus.SUCCEEDED)
    assert APIClient().get(f"/api/campaigns/{live.pk}/").status_code == 404


def test_logged_out_cannot_write_through_the_public_view(live):
    resp = APIClient().patch(f"/api/campaigns/{live.pk}/", {"title": "x"}, format="json")
    assert resp.status_code in (401, 403, 405)
    live.refresh_from_db()
    assert live.title == "羽绒服团购"


def test_fan_share_url_carries_their_referral_code(live, fan, api_for):
    body = api_for(fan.user).get(f"/api/campaigns/{live.pk}/").json()
    fan.refresh_from_db()
    assert fan.referral_code
    assert body["share_url"].endswith(f"/campaigns/{live.pk}/join/?ref={fan.referral_code}")


def test_short_link_keeps_the_ref(live, client):
    resp = client.get(f"/campaigns/{live.pk}/join/?ref=ABCD2345")
    assert resp.status_code == 302
    assert resp["Location"] == f"/c/{live.pk}/?ref=ABCD2345"


def test_logged_out_page_previews_the_campaign_with_shop_time_and_og_tags(live, product, shop, client):
    shop.timezone = "America/Los_Angeles"
    shop.save()
    _join(live, FanFactory(shop=shop, display_name="赵敏"), product[1])
    resp = client.get(f"/c/{live.pk}/?ref=ABCD2345")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "羽绒服团购" in html and "tier-ladder" in html and "data-progress" in html
    shown = live.deadline.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%d %H:%M")
    assert shown in html
    assert "1 人已参团" in html and f"截止 {shown}（店铺时间）" in html
    assert "<span>赵</span>" in html and "赵敏" not in html
    assert re.search(r'<meta property="og:title" content="羽绒服团购">', html)
    assert f'<meta property="og:url" content="http://testserver/c/{live.pk}/">' in html
    assert 'property="og:image"' in html and 'property="og:description"' in html
    # the sign-up panel is there, the pledge form too, and the ref goes to the page's script
    assert 'id="signup-panel"' in html and 'id="pledge-form"' in html
    assert '"ref": "ABCD2345"' in html and '"anonymous": true' in html


def test_logged_out_page_of_a_draft_is_404(owner, product, client):
    draft = make_campaign(owner, product[0], launch=False)
    assert client.get(f"/c/{draft.pk}/").status_code == 404


def test_share_image_is_public_for_launched_campaigns_only(live, owner, product, client):
    resp = client.get(f"/c/{live.pk}/share.png")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    draft = make_campaign(owner, product[0], launch=False)
    assert client.get(f"/c/{draft.pk}/share.png").status_code == 404


def test_poster_prints_the_deadline_in_shop_time(live, shop):
    live.deadline = dt.datetime(2030, 1, 2, 2, 8, tzinfo=dt.UTC)
    assert deadline_in_shop_time(live) == "2030-01-02 10:08"  # Asia/Shanghai, not UTC 02:08
    live.shop.timezone = "America/New_York"
    assert deadline_in_shop_time(live) == "2030-01-01 21:08"
    assert render_poster(live, shop_url="http://x/", join_url="http://x/c/1/")[:4] == b"\x89PNG"


def test_logged_out_shop_link_shows_a_preview_with_live_campaigns(live, owner, product, shop, client):
    draft = make_campaign(owner, product[0], launch=False, title="秘密草稿")
    resp = client.get(f"/s/{shop.slug}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert shop.name in html and "羽绒服团购" in html and f"/c/{live.pk}/" in html
    assert draft.title not in html
    assert '<meta property="og:title"' in html
    assert "/login/" in html


def test_logged_in_non_follower_still_sees_the_follow_page(live, shop, stranger, client):
    client.force_login(stranger)
    resp = client.get(f"/s/{shop.slug}/")
    assert resp.status_code == 200
    assert 'data-testid="join-button"' in resp.content.decode()
    assert not Fan.objects.filter(user=stranger).exists()


def test_share_links_are_absolute_in_lists_and_carry_no_code_for_non_fans(live, owner, stranger, api_for):
    rows = api_for(owner).get("/api/campaigns/").json()
    assert rows[0]["share_url"] == f"http://testserver/campaigns/{live.pk}/join/"
    body = api_for(stranger).get(f"/api/campaigns/{live.pk}/").json()
    assert body["share_url"] == f"http://testserver/campaigns/{live.pk}/join/"
    assert not Fan.objects.filter(user=stranger).exists()  # reading never follows


def test_initials_are_capped_and_count_people_not_pledges(live, product, shop):
    fans = [FanFactory(shop=shop, display_name=f"{chr(0x4E00 + i)}某") for i in range(10)]
    for f in fans:
        _join(live, f, product[1])
    _join(live, fans[0], product[2])  # a second pledge of the same person
    body = APIClient().get(f"/api/campaigns/{live.pk}/").json()
    assert body["pledger_count"] == 10
    assert len(body["pledger_initials"]) == 8
    assert all(len(i) == 1 for i in body["pledger_initials"])
