"""Single-level referrals: a follow through a fan's share code records who invited them (only a first follow,
never oneself), and the owner sees each fan's invited count."""

import pytest
from rest_framework.test import APIClient

from fans.chat.models import Fan
from fans.chat.referrals import fan_referral_code
from tests.factories import FanFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/follows/"


def test_follow_through_a_share_code_records_the_referrer(shop, fan, api_for):
    code = fan_referral_code(fan)
    newcomer = UserFactory()
    resp = api_for(newcomer).post(URL, {"shop": shop.pk, "ref": code.lower()}, format="json")
    assert resp.status_code == 201
    assert resp.json()["created"] is True and resp.json()["referred"] is True
    joined = Fan.objects.get(shop=shop, user=newcomer)
    assert joined.referred_by == fan and joined.joined_via == "campaign"
    assert joined.conversation  # following opens the private conversation
    assert resp.json()["referral_code"] == joined.referral_code != code


def test_a_follower_already_keeps_who_invited_them(shop, fan, api_for):
    other = FanFactory(shop=shop)
    resp = api_for(other.user).post(URL, {"shop": shop.pk, "ref": fan_referral_code(fan)}, format="json")
    assert resp.status_code == 200 and resp.json()["created"] is False
    other.refresh_from_db()
    assert other.referred_by is None


def test_nobody_refers_themselves_or_through_another_shops_code(shop, other_shop, fan, api_for):
    elsewhere = FanFactory(shop=other_shop)
    user = UserFactory()
    api_for(user).post(URL, {"shop": shop.pk, "ref": fan_referral_code(elsewhere)}, format="json")
    assert Fan.objects.get(shop=shop, user=user).referred_by is None
    # the same person, following a second shop through their own code there: not a referral
    mine = FanFactory(shop=other_shop, user=UserFactory())
    resp = api_for(mine.user).post(URL, {"shop": shop.pk, "ref": fan_referral_code(mine)}, format="json")
    assert resp.status_code == 201
    assert Fan.objects.get(shop=shop, user=mine.user).referred_by is None


def test_unknown_code_and_bad_input(shop, api_for):
    user = UserFactory()
    resp = api_for(user).post(URL, {"shop": shop.pk, "ref": "NOPE1234"}, format="json")
    assert resp.status_code == 201 and resp.json()["referred"] is False
    assert api_for(user).post(URL, {"shop": 999999}, format="json").status_code == 404
    bad = api_for(user).post(URL, {"shop": "x"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert api_for(user).post(URL, {"shop": shop.pk, "via": "spam"}, format="json").status_code == 400


def test_follow_needs_a_login(shop):
    assert APIClient().post(URL, {"shop": shop.pk}, format="json").status_code in (401, 403)
    assert not Fan.objects.exists()


def test_referral_code_is_stable_and_unique(shop):
    a, b = FanFactory(shop=shop), FanFactory(shop=shop)
    assert fan_referral_code(a) == fan_referral_code(a)
    assert fan_referral_code(a) != fan_referral_code(b)
    assert len(fan_referral_code(a)) == 8


def test_owner_sees_invited_counts_on_the_fan(shop, owner, fan, api_for, client):
    for _ in range(3):
        api_for(UserFactory()).post(URL, {"shop": shop.pk, "ref": fan_referral_code(fan)}, format="json")
    body = api_for(owner).get(f"/api/fans/{fan.pk}/").json()
    assert body["invited_count"] == 3 and body["invited_by"] is None
    invited = Fan.objects.filter(referred_by=fan).first()
    one = api_for(owner).get(f"/api/fans/{invited.pk}/").json()
    assert one["invited_count"] == 0 and one["invited_by"]["display_name"] == "小红"
    client.force_login(owner)
    html = client.get(f"/fans/{fan.pk}/").content.decode()
    assert "data-invited-count" in html and "3 人" in html
