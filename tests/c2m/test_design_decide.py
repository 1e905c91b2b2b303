"""Deciding a design round from beat: winners become live group campaigns with their voters pre-pledged,
every other vote deposit is refunded, the 48 h confirm window lapses, and the ledger balances on every path,
also after a worker was killed mid-way."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from c2m.design.models import DesignPrePledge, DesignRound, DesignVote, DesignWinner, PrePledgeStatus
from c2m.design.tasks import design_pre_pledges_lapse_due_task, design_rounds_decide_due_task
from c2m.forecast.services import campaign_forecast  # noqa: F401 - the module the campaigns are forecast by
from payments.ledger import pledge_cash
from payments.models import LedgerTransaction, SimulatedTransaction, SimulatorRule
from payments.provider import payment_provider
from payments.services import payments_pending_sweep
from preorders.models import Campaign, Pledge
from shops.models import Factory
from tests.c2m.design_helpers import balanced, close_voting, fans, ledger_refs, live_round, product_of, vote
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BLACK_LONG = {"颜色": "黑色", "长度": "长款"}
CAMEL_SHORT = {"颜色": "驼色", "长度": "短款"}
NAVY_LONG = {"颜色": "藏青", "长度": "长款"}


@pytest.fixture
def voted(shop, owner, api_for):
    """A live round (target 2) with 3 votes for black/long, 2 for camel/short and 1 for navy/long."""
    product = product_of(shop)
    body = live_round(api_for(owner), product)
    people = fans(shop, 6)
    picks = [BLACK_LONG] * 3 + [CAMEL_SHORT] * 2 + [NAVY_LONG]
    votes = []
    for fan, combo in zip(people, picks, strict=True):
        res = vote(api_for(fan.user), body["id"], combo)
        assert res.status_code == 201, res.content
        votes.append(res.json())
    return {"round": body["id"], "fans": people, "votes": votes, "product": product}


def _decide(round_id: int) -> dict:
    close_voting(round_id)
    design_rounds_decide_due_task()
    return DesignRound.objects.get(pk=round_id)


def test_the_beat_schedule_runs_both_sweeps_every_minute():
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert tasks["c2m.design.tasks.design_rounds_decide_due_task"] <= 60
    assert tasks["c2m.design.tasks.design_pre_pledges_lapse_due_task"] <= 60


def test_nothing_happens_before_the_deadline(voted, shop):
    design_rounds_decide_due_task()
    assert DesignRound.objects.get(pk=voted["round"]).status == "live"
    assert not Campaign.objects.exists()


def test_winners_become_live_campaigns_with_pre_pledges_and_losers_are_refunded(voted, shop, owner, api_for):
    rnd = _decide(voted["round"])
    assert rnd.status == "decided"
    body = api_for(owner).get(f"/api/design-rounds/{rnd.pk}/").json()
    assert body["status"] == "decided"
    assert len(body["campaigns"]) == 2
    campaigns = Campaign.objects.filter(pk__in=body["campaigns"]).order_by("pk")
    assert {c.status for c in campaigns} == {"live"}
    for campaign in campaigns:
        variants = list(campaign.variants.all())
        assert len(variants) == 1 and campaign.base_unit_price == Decimal("600.00")
        assert campaign.product_id == voted["product"].pk
    names = sorted(v.name for c in campaigns for v in c.variants.all())
    assert names == ["驼色 / 短款", "黑色 / 长款"]
    per_combo = {tuple(sorted(v["combination"].items())): (v["votes"], v["campaign"]) for v in body["votes"]}
    assert per_combo[tuple(sorted(BLACK_LONG.items()))][0] == 3
    assert per_combo[tuple(sorted(NAVY_LONG.items()))] == (1, None)
    # Five pre-pledges, 48 h to confirm; the navy vote came back through the ledger.
    pre = DesignPrePledge.objects.all()
    assert pre.count() == 5 and {p.status for p in pre} == {"offered"}
    assert all(
        abs(p.expires_at - (rnd.decided_at + dt.timedelta(hours=48))) < dt.timedelta(seconds=1) for p in pre
    )
    navy = voted["votes"][5]["id"]
    assert DesignVote.objects.get(pk=navy).status == "refunded"
    assert ledger_refs("design-vote-") == sorted(
        [f"design-vote-{v['id']}-charge" for v in voted["votes"]] + [f"design-vote-{navy}-refund"]
    )
    assert balanced(shop)
    # The fan sees the pre-pledge with their vote.
    mine = api_for(voted["fans"][0].user).get(f"/api/design-rounds/{rnd.pk}/votes/mine/").json()["results"][0]
    assert mine["pre_pledge"]["status"] == "offered" and mine["pre_pledge"]["campaign"] in body["campaigns"]


def test_deciding_again_changes_nothing(voted, shop):
    _decide(voted["round"])
    before = (Campaign.objects.count(), LedgerTransaction.objects.count(), DesignPrePledge.objects.count())
    design_rounds_decide_due_task()
    design_pre_pledges_lapse_due_task()
    from c2m.design.services import round_decide

    assert round_decide(round_id=voted["round"]) is False
    assert (
        Campaign.objects.count(),
        LedgerTransaction.objects.count(),
        DesignPrePledge.objects.count(),
    ) == before


def test_a_worker_killed_mid_decide_is_finished_by_the_next_run(voted, shop):
    close_voting(voted["round"])
    with mock.patch("c2m.design.services.decide.campaign_launch", side_effect=RuntimeError("killed")):
        design_rounds_decide_due_task()
    rnd = DesignRound.objects.get(pk=voted["round"])
    assert rnd.status == "deciding"
    assert DesignWinner.objects.filter(round=rnd).count() == 2
    assert not DesignPrePledge.objects.exists()
    design_rounds_decide_due_task()
    rnd.refresh_from_db()
    assert rnd.status == "decided"
    assert Campaign.objects.count() == 2 and set(Campaign.objects.values_list("status", flat=True)) == {
        "live"
    }
    assert DesignPrePledge.objects.count() == 5
    assert balanced(shop)


def test_no_winner_refunds_everyone(shop, owner, api_for):
    body = live_round(api_for(owner), product_of(shop), target_per_combination=5)
    people = fans(shop, 3)
    for fan in people:
        assert vote(api_for(fan.user), body["id"], BLACK_LONG).status_code == 201
    rnd = _decide(body["id"])
    assert rnd.status == "decided" and not Campaign.objects.exists()
    assert set(DesignVote.objects.values_list("status", flat=True)) == {"refunded"}
    assert len(ledger_refs("design-vote-")) == 6 and balanced(shop)
    assert api_for(owner).get(f"/api/design-rounds/{body['id']}/").json()["campaigns"] == []


def test_a_deposit_still_unanswered_at_the_deadline_is_counted_once_it_settles(shop, owner, api_for, client):
    body = live_round(api_for(owner), product_of(shop), target_per_combination=2)
    first, late = fans(shop, 2)
    assert vote(api_for(first.user), body["id"], BLACK_LONG).status_code == 201
    SimulatorRule.objects.create(user=late.user, outcome="timeout", times=1)
    res = vote(api_for(late.user), body["id"], BLACK_LONG)
    assert res.status_code == 201 and res.json()["status"] == "pending"
    close_voting(body["id"])
    design_rounds_decide_due_task()
    assert DesignRound.objects.get(pk=body["id"]).status == "live"  # waits for the answer
    # The provider's notification reaches the webhook (twice: the second changes nothing).
    vote_id = res.json()["id"]
    record = SimulatedTransaction.objects.get(reference=f"design-vote-{vote_id}-charge")
    ((headers, payload),) = payment_provider().notifications_build([record.pk])
    wsgi_headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    for _ in range(2):
        hook = client.post(
            "/api/payments/webhook/", data=payload, content_type="application/json", **wsgi_headers
        )
        assert hook.status_code == 200
    assert DesignVote.objects.get(pk=vote_id).status == "held"
    assert LedgerTransaction.objects.filter(reference=f"design-vote-{vote_id}-charge").count() == 1
    assert payments_pending_sweep(older_than_s=0) == 0
    design_rounds_decide_due_task()
    assert DesignRound.objects.get(pk=body["id"]).status == "decided"
    assert DesignPrePledge.objects.count() == 2 and Campaign.objects.count() == 1
    assert balanced(shop)


def _confirm(api_for, fan, pre):
    return api_for(fan.user).post(f"/api/design-pre-pledges/{pre.pk}/confirm/")


def test_confirming_pays_the_difference_and_the_vote_deposit_counts(voted, shop, api_for):
    _decide(voted["round"])
    fan = voted["fans"][0]
    pre = DesignPrePledge.objects.get(vote__fan=fan)
    res = _confirm(api_for, fan, pre)
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "confirmed"
    pledge = Pledge.objects.get(pk=res.json()["pledge"])
    campaign = pre.campaign
    # 20% of ¥600 = ¥120: ¥5 from the vote and ¥115 charged now.
    assert pledge.status == "active" and pledge.quantity == 1 and pledge.deposit_amount == Decimal("120.00")
    assert pledge_cash(pledge.pk) == Decimal("120.00")
    assert LedgerTransaction.objects.get(reference=f"pledge-{pledge.pk}-charge").amount == Decimal("115.00")
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 1
    assert DesignVote.objects.get(pk=pre.vote_id).status == "converted"
    # Confirming twice is the same pledge; nothing more is charged.
    again = _confirm(api_for, fan, pre)
    assert again.status_code == 200 and again.json()["pledge"] == pledge.pk
    assert Pledge.objects.count() == 1 and pledge_cash(pledge.pk) == Decimal("120.00")
    assert balanced(shop)
    # Someone else's pre-pledge is not found.
    other = DesignPrePledge.objects.exclude(pk=pre.pk).first()
    assert _confirm(api_for, fan, other).status_code == 404


def test_a_vote_deposit_above_the_campaign_deposit_gets_the_excess_back(shop, owner, api_for):
    body = live_round(
        api_for(owner),
        product_of(shop, price="100.00"),
        target_per_combination=1,
        campaign_deposit_percent="2",
    )
    (fan,) = fans(shop, 1)
    assert vote(api_for(fan.user), body["id"], BLACK_LONG).status_code == 201
    _decide(body["id"])
    pre = DesignPrePledge.objects.get()
    res = _confirm(api_for, fan, pre)
    assert res.status_code == 200, res.content
    pledge = Pledge.objects.get()
    # 2% of ¥100 = ¥2: ¥3 of the ¥5 vote deposit comes back.
    assert pledge.deposit_amount == Decimal("2.00") and pledge_cash(pledge.pk) == Decimal("2.00")
    assert LedgerTransaction.objects.get(reference=f"pledge-{pledge.pk}-design-excess").amount == Decimal(
        "3.00"
    )
    assert not LedgerTransaction.objects.filter(reference=f"pledge-{pledge.pk}-charge").exists()
    assert balanced(shop)


def test_an_excess_refund_a_killed_worker_missed_is_made_by_the_sweep(shop, owner, api_for):
    body = live_round(
        api_for(owner),
        product_of(shop, price="100.00"),
        target_per_combination=1,
        campaign_deposit_percent="2",
    )
    (fan,) = fans(shop, 1)
    assert vote(api_for(fan.user), body["id"], BLACK_LONG).status_code == 201
    _decide(body["id"])
    pre = DesignPrePledge.objects.get()
    with mock.patch("c2m.design.services.pre_pledges._excess_refund"):
        assert _confirm(api_for, fan, pre).status_code == 200
    pledge = Pledge.objects.get()
    assert pledge_cash(pledge.pk) == Decimal("5.00")
    design_pre_pledges_lapse_due_task()
    design_pre_pledges_lapse_due_task()
    assert pledge_cash(pledge.pk) == Decimal("2.00")
    assert LedgerTransaction.objects.filter(reference=f"pledge-{pledge.pk}-design-excess").count() == 1
    assert balanced(shop)


def test_a_declined_difference_leaves_the_offer_open(voted, shop, api_for):
    _decide(voted["round"])
    fan = voted["fans"][0]
    pre = DesignPrePledge.objects.get(vote__fan=fan)
    SimulatorRule.objects.create(user=fan.user, outcome="decline", times=1)
    res = _confirm(api_for, fan, pre)
    assert res.status_code == 402 and res.json()["code"] == "payment_failed"
    pre.refresh_from_db()
    assert pre.status == "offered" and not Pledge.objects.exists()
    assert _confirm(api_for, fan, pre).status_code == 200
    assert balanced(shop)


def test_unconfirmed_pre_pledges_lapse_after_48_hours_and_are_refunded(voted, shop, api_for):
    _decide(voted["round"])
    keep = DesignPrePledge.objects.get(vote__fan=voted["fans"][0])
    assert _confirm(api_for, voted["fans"][0], keep).status_code == 200
    design_pre_pledges_lapse_due_task()
    assert DesignPrePledge.objects.filter(status="offered").count() == 4  # not yet
    DesignPrePledge.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    design_pre_pledges_lapse_due_task()
    lapsed = DesignPrePledge.objects.filter(status=PrePledgeStatus.LAPSED)
    assert lapsed.count() == 4
    for pp in lapsed:
        assert pp.vote.status == "refunded"
        assert LedgerTransaction.objects.filter(reference=f"design-vote-{pp.vote_id}-refund").exists()
    keep.refresh_from_db()
    assert keep.status == "confirmed" and keep.vote.status == "converted"
    # Too late to confirm now.
    late = lapsed.first()
    res = _confirm(api_for, late.vote.fan, late)
    assert res.status_code == 409 and res.json()["code"] == "pre_pledge_closed"
    design_pre_pledges_lapse_due_task()
    assert LedgerTransaction.objects.filter(reference__endswith="-refund").count() == 5  # navy + 4 lapsed
    assert balanced(shop)


def test_declining_refunds_the_vote_at_once(voted, shop, api_for):
    _decide(voted["round"])
    fan = voted["fans"][1]
    pre = DesignPrePledge.objects.get(vote__fan=fan)
    res = api_for(fan.user).post(f"/api/design-pre-pledges/{pre.pk}/decline/")
    assert res.status_code == 200 and res.json()["status"] == "declined"
    assert DesignVote.objects.get(pk=pre.vote_id).status == "refunded"
    assert _confirm(api_for, fan, pre).status_code == 409
    assert balanced(shop)


def test_admin_assigns_a_factory_ranked_by_scorecard_and_its_board_lists_the_winners(voted, shop, client):
    voted["product"].category = "clothing"
    voted["product"].save(update_fields=["category"])
    _decide(voted["round"])
    good = Factory.objects.create(name="平湖羽绒厂", category="clothing", origin="平湖", moq=1)
    Factory.objects.create(name="美妆厂", category="beauty")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/c2m/designround/{voted['round']}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "平湖羽绒厂" in html and "design-candidates" in html and "美妆厂" not in html
    res = client.post(
        f"/admin/c2m/designround/{voted['round']}/change/",
        {"factory": good.pk, "winners-TOTAL_FORMS": 0, "winners-INITIAL_FORMS": 0},
    )
    assert res.status_code == 302, res.content.decode()[:2000]
    rnd = DesignRound.objects.get(pk=voted["round"])
    assert rnd.factory_id == good.pk and rnd.factory_assigned_at is not None
    from preorders.api_factory import board_token

    token = board_token(good)
    board = client.get(f"/factory-board/{token}/")
    assert board.status_code == 200
    text = board.content.decode()
    assert "design-rounds-board" in text and "黑色 / 长款" in text
    campaign_id = DesignWinner.objects.filter(round=rnd).first().campaign_id
    insight = client.get(f"/api/factory-board/{token}/insight/?campaign={campaign_id}")
    assert insight.status_code == 200, insight.content
    assert set(insight.json()) >= {"variants", "tag_portrait", "requests", "suppressed"}
    # No fan's name reaches the board.
    for fan in voted["fans"]:
        assert fan.display_name not in text
