"""The design-round API contract (issue 14, part 5): create, launch, vote with an Idempotency-Key, mine,
the round's votes per combination; every bad input coded and writing nothing; who may see what."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from c2m.design.models import DesignComment, DesignRound, DesignVote, VoteStatus
from payments.models import Payment, SimulatorRule
from shops.models import ShopRole
from tests.c2m.design_helpers import (
    ATTRIBUTES,
    balanced,
    create_round,
    fans,
    ledger_refs,
    live_round,
    product_of,
    round_body,
    vote,
)
from tests.factories import FanFactory, ShopFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db

BLACK_LONG = {"颜色": "黑色", "长度": "长款"}


def test_owner_creates_a_draft_round_with_every_combination(shop, owner, api_for):
    product = product_of(shop)
    body = create_round(api_for(owner), product)
    assert body["status"] == "draft"
    assert body["attributes"] == ATTRIBUTES
    assert body["vote_deposit"] == "5.00" and body["target_per_combination"] == 2
    assert len(body["votes"]) == 6
    assert {"combination": {"长度": "短款", "颜色": "黑色"}, "votes": 0, "target": 2}.items() <= body[
        "votes"
    ][0].items()
    assert body["campaigns"] == []
    assert DesignRound.objects.get(pk=body["id"]).shop_id == shop.pk


def test_a_manager_may_create_and_an_assistant_may_not(shop, api_for):
    product = product_of(shop)
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    assert api_for(manager).post("/api/design-rounds/", round_body(product), format="json").status_code == 201
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    res = api_for(assistant).post("/api/design-rounds/", round_body(product), format="json")
    assert res.status_code == 403 and res.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"attributes": {"颜色": ["黑色"]}}, 400, "too_few_options"),
        ({"attributes": {"颜色": ["1", "2", "3", "4", "5", "6", "7"]}}, 400, "too_many_options"),
        ({"attributes": {"颜色": ["黑色", "黑色"]}}, 400, "duplicate_options"),
        ({"attributes": {"颜色": ["黑色", " "]}}, 400, "attributes_invalid"),
        ({"attributes": {}}, 400, "attributes_invalid"),
        (
            {"attributes": {"a": ["1", "2"], "b": ["1", "2"], "c": ["1", "2"], "d": ["1", "2"]}},
            400,
            "too_many_attributes",
        ),
        ({"attributes": {"颜色": "黑色,驼色"}}, 400, "attributes_invalid"),
        ({"deadline": "2020-01-01T00:00:00Z"}, 400, "deadline_past"),
        ({"deadline": "soon"}, 400, "deadline_invalid"),
        ({"vote_deposit": "0"}, 400, "vote_deposit_invalid"),
        ({"vote_deposit": "-5"}, 400, "vote_deposit_invalid"),
        ({"vote_deposit": "5.001"}, 400, "vote_deposit_invalid"),
        ({"vote_deposit": "100000"}, 400, "vote_deposit_too_high"),
        ({"target_per_combination": 0}, 400, "target_invalid"),
        ({"target_per_combination": "many"}, 400, "target_invalid"),
        ({"title": "  "}, 400, "title_invalid"),
    ],
)
def test_bad_rounds_are_coded_and_write_nothing(shop, owner, api_for, overrides, status, code):
    product = product_of(shop)
    res = api_for(owner).post("/api/design-rounds/", round_body(product, **overrides), format="json")
    assert res.status_code == status, res.content
    assert res.json()["code"] == code
    assert not DesignRound.objects.exists()


def test_a_product_of_another_shop_is_not_found(shop, owner, api_for):
    other = ShopFactory()
    res = api_for(owner).post("/api/design-rounds/", round_body(product_of(other)), format="json")
    assert res.status_code == 404 and res.json()["code"] == "not_found"
    res = api_for(owner).post(
        "/api/design-rounds/", {**round_body(product_of(shop)), "product": 99999999}, format="json"
    )
    assert res.status_code == 404
    assert not DesignRound.objects.exists()


def test_launch_only_from_draft(shop, owner, api_for):
    api = api_for(owner)
    body = create_round(api, product_of(shop))
    res = api.post(f"/api/design-rounds/{body['id']}/launch/")
    assert res.status_code == 200 and res.json()["status"] == "live"
    res = api.post(f"/api/design-rounds/{body['id']}/launch/")
    assert res.status_code == 409 and res.json()["code"] == "not_draft"


def test_a_fan_votes_pays_the_deposit_and_sees_it(shop, owner, fan, api_for):
    body = live_round(api_for(owner), product_of(shop))
    res = vote(api_for(fan.user), body["id"], BLACK_LONG)
    assert res.status_code == 201, res.content
    mine = res.json()
    assert mine["status"] == "held" and mine["amount"] == "5.00" and mine["combination"] == BLACK_LONG
    payment = Payment.objects.get(purpose="design_vote", subject_id=mine["id"])
    assert payment.status == "succeeded" and payment.amount == Decimal("5.00") and payment.shop_id == shop.pk
    assert ledger_refs("design-vote-") == [f"design-vote-{mine['id']}-charge"]
    assert balanced(shop)
    listed = api_for(fan.user).get(f"/api/design-rounds/{body['id']}/votes/mine/").json()["results"]
    assert [v["id"] for v in listed] == [mine["id"]]
    detail = api_for(fan.user).get(f"/api/design-rounds/{body['id']}/").json()
    counts = {tuple(sorted(v["combination"].items())): v["votes"] for v in detail["votes"]}
    assert counts[tuple(sorted(BLACK_LONG.items()))] == 1 and sum(counts.values()) == 1


def test_a_retry_with_the_same_key_returns_the_first_vote_and_charges_once(shop, owner, fan, api_for):
    body = live_round(api_for(owner), product_of(shop))
    first = vote(api_for(fan.user), body["id"], BLACK_LONG, key="k-1")
    again = vote(api_for(fan.user), body["id"], BLACK_LONG, key="k-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Payment.objects.filter(purpose="design_vote").count() == 1
    other_body = vote(api_for(fan.user), body["id"], {"颜色": "驼色", "长度": "长款"}, key="k-1")
    assert other_body.status_code == 422 and other_body.json()["code"] == "idempotency_key_reused"
    assert DesignVote.objects.get().combination == BLACK_LONG


def test_moving_a_vote_changes_the_combination_without_a_second_deposit(shop, owner, fan, api_for):
    body = live_round(api_for(owner), product_of(shop))
    first = vote(api_for(fan.user), body["id"], BLACK_LONG).json()
    res = vote(api_for(fan.user), body["id"], {"颜色": "藏青", "长度": "短款"})
    assert res.status_code == 200 and res.json()["id"] == first["id"]
    assert res.json()["combination"] == {"长度": "短款", "颜色": "藏青"}
    assert Payment.objects.filter(purpose="design_vote").count() == 1
    assert DesignVote.objects.filter(status=VoteStatus.HELD).count() == 1


@pytest.mark.parametrize(
    ("combination", "code"),
    [
        ({"颜色": "黑色"}, "missing_attribute"),
        ({"颜色": "黑色", "长度": "长款", "尺码": "L"}, "unknown_attribute"),
        ({"颜色": "粉色", "长度": "长款"}, "unknown_option"),
        ({"颜色": 3, "长度": "长款"}, "unknown_option"),
        ({}, "combination_invalid"),
        ("黑色", "combination_invalid"),
    ],
)
def test_a_combination_not_offered_is_refused_and_nothing_is_charged(
    shop, owner, fan, api_for, combination, code
):
    body = live_round(api_for(owner), product_of(shop))
    res = api_for(fan.user).post(
        f"/api/design-rounds/{body['id']}/votes/",
        {"combination": combination},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x",
    )
    assert res.status_code == 400, res.content
    assert res.json()["code"] == code
    assert not DesignVote.objects.exists() and not Payment.objects.exists()


def test_voting_on_a_draft_or_closed_round_is_a_conflict(shop, owner, fan, api_for):
    api = api_for(owner)
    draft = create_round(api, product_of(shop))
    # A fan cannot even see a draft.
    assert vote(api_for(fan.user), draft["id"], BLACK_LONG).status_code == 404
    live = live_round(api, product_of(shop))
    DesignRound.objects.filter(pk=live["id"]).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    res = vote(api_for(fan.user), live["id"], BLACK_LONG)
    assert res.status_code == 409 and res.json()["code"] == "round_closed"
    DesignRound.objects.filter(pk=live["id"]).update(status="decided")
    res = vote(api_for(fan.user), live["id"], BLACK_LONG)
    assert res.status_code == 409 and res.json()["code"] == "round_not_live"
    assert not DesignVote.objects.exists() and not Payment.objects.exists()


def test_a_declined_deposit_stores_no_vote_that_counts(shop, owner, fan, api_for):
    body = live_round(api_for(owner), product_of(shop))
    SimulatorRule.objects.create(user=fan.user, outcome="decline", times=1)
    res = vote(api_for(fan.user), body["id"], BLACK_LONG, key="d-1")
    assert res.status_code == 402 and res.json()["code"] == "payment_failed"
    assert not DesignVote.objects.filter(status__in=["held", "pending"]).exists()
    assert ledger_refs("design-vote-") == []
    # The fan may try again (the key was freed), and the vote then counts once.
    res = vote(api_for(fan.user), body["id"], BLACK_LONG, key="d-1")
    assert res.status_code == 201 and res.json()["status"] == "held"
    assert balanced(shop)


def test_access_other_shops_owner_and_a_stranger_fan_get_404(shop, owner, fan, api_for, stranger):
    body = live_round(api_for(owner), product_of(shop))
    other_owner = ShopFactory().owner
    stranger_fan = FanFactory(shop=ShopFactory())  # a fan of another shop only
    for user in (other_owner, stranger_fan.user, stranger):
        for url in (f"/api/design-rounds/{body['id']}/", f"/api/design-rounds/{body['id']}/votes/mine/"):
            res = api_for(user).get(url)
            assert res.status_code == 404 and res.json()["code"] == "not_found", (user, url)
        assert vote(api_for(user), body["id"], BLACK_LONG).status_code == 404
    assert api_for(other_owner).post(f"/api/design-rounds/{body['id']}/launch/").status_code == 404
    assert not DesignVote.objects.exists()
    # The shop's own fan sees it; the round list shows it to them and to the owner, not to others.
    assert api_for(fan.user).get(f"/api/design-rounds/{body['id']}/").status_code == 200
    assert [r["id"] for r in api_for(fan.user).get("/api/design-rounds/").json()["results"]] == [body["id"]]
    assert [r["id"] for r in api_for(owner).get("/api/design-rounds/").json()["results"]] == [body["id"]]
    assert api_for(other_owner).get("/api/design-rounds/").json()["results"] == []


def test_fans_and_staff_comment_and_bad_comments_are_refused(shop, owner, fan, api_for):
    body = live_round(api_for(owner), product_of(shop))
    url = f"/api/design-rounds/{body['id']}/comments/"
    assert api_for(fan.user).post(url, {"text": "希望有大码"}, format="json").status_code == 201
    res = api_for(owner).post(url, {"text": "会考虑的"}, format="json")
    assert res.status_code == 201 and res.json()["is_staff"] is True
    res = api_for(fan.user).post(url, {"text": ""}, format="json")
    assert res.status_code == 400
    res = api_for(fan.user).post(url, {"text": "x" * 5000}, format="json")
    assert res.status_code == 400 and res.json()["code"] == "too_long"
    assert DesignComment.objects.count() == 2
    rows = api_for(fan.user).get(url).json()["results"]
    assert [r["text"] for r in rows] == ["希望有大码", "会考虑的"]
    assert api_for(ShopFactory().owner).post(url, {"text": "hi"}, format="json").status_code == 404


def test_the_forecast_before_launch_covers_every_combination(shop, owner, api_for):
    fans(shop, 12)
    body = create_round(api_for(owner), product_of(shop))
    res = api_for(owner).get(f"/api/design-rounds/{body['id']}/forecast/")
    assert res.status_code == 200, res.content
    rows = res.json()["combinations"]
    assert len(rows) == 6
    for row in rows:
        assert row["low"] <= row["expected"] <= row["high"]
    fan = FanFactory(shop=shop)
    assert api_for(fan.user).get(f"/api/design-rounds/{body['id']}/forecast/").status_code == 404
