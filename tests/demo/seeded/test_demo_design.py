"""The demo's 共创: a decided down-jacket round whose winners are live campaigns (pre-pledges, some
confirmed), losers refunded, a factory assigned; and a live tote round with votes and comments."""

from c2m.design.models import DesignComment, DesignPrePledge, DesignRound, DesignVote
from demo.data.c2m_design import JACKET_TITLE, TOTE_TITLE, demo_design_ensure
from payments.ledger import statement
from payments.models import LedgerTransaction
from preorders.models import Campaign


def test_demo_has_a_decided_and_a_live_design_round(demo_output):
    from django.contrib.auth import get_user_model

    from tests.conftest import api_client_for

    decided = DesignRound.objects.get(title=JACKET_TITLE)
    assert decided.status == "decided" and decided.factory.name == "宁波暖冬服饰厂"
    owner = get_user_model().objects.get(username="owner")
    body = api_client_for(owner).get(f"/api/design-rounds/{decided.pk}/").json()
    assert body["status"] == "decided" and len(body["campaigns"]) == 2
    campaigns = Campaign.objects.filter(pk__in=body["campaigns"])
    assert set(campaigns.values_list("status", flat=True)) == {"live"}
    # Each winner's campaign offers the product's matching variant (none had to be made up).
    offered = sorted(v.name for c in campaigns for v in c.variants.all())
    assert offered == ["驼色 短款", "黑色 长款"] and decided.product.variants.count() == 2
    pre = DesignPrePledge.objects.filter(vote__round=decided)
    assert pre.filter(status="confirmed").count() == 12 and pre.filter(status="offered").count() == 9
    losers = DesignVote.objects.filter(round=decided, pre_pledge__isnull=True)
    assert losers.count() == 9 and set(losers.values_list("status", flat=True)) == {"refunded"}
    for vote in losers:
        assert LedgerTransaction.objects.filter(reference=f"design-vote-{vote.pk}-refund").exists()
    assert statement(shop_id=decided.shop_id)["balanced"]

    live = DesignRound.objects.get(title=TOTE_TITLE)
    assert live.status == "live"
    assert DesignVote.objects.filter(round=live, status="held").count() == 16
    assert DesignComment.objects.filter(round=live).count() == 3
    fan = get_user_model().objects.get(username="fan141")
    assert (
        api_client_for(fan).get(f"/api/design-rounds/{live.pk}/votes/mine/").json()["results"][0]["status"]
        == "held"
    )
    # "/design-rounds/" appears in the printed report.
    assert "/design-rounds/" in demo_output

    before = (LedgerTransaction.objects.count(), DesignVote.objects.count(), DesignComment.objects.count())
    demo_design_ensure()
    assert (
        LedgerTransaction.objects.count(),
        DesignVote.objects.count(),
        DesignComment.objects.count(),
    ) == before
