"""Co-design rounds (共创): create, launch, vote with a deposit, comment, decide at the deadline, confirm
or lapse the winners' pre-pledges, and assign a factory.

Money: a vote deposit is a payments.Payment of purpose "design_vote" (reference design-vote-<id>-charge),
charged through the provider and settled by its reply, its notification or the pending sweep
(design_vote_settled, registered in payments.hooks.payment_settled). It is posted to the ledger with the
shop as its dimension. A refund posts design-vote-<id>-refund once. When a winner confirms, the vote's
charge becomes part of the pledge's deposit: its ledger transaction takes the pledge (and campaign) as
dimensions, the difference is charged (pledge-<id>-charge) or the excess refunded
(pledge-<id>-design-excess), so the pledge's net paid equals its deposit. The provider is always called
with no row locks held, and every step is guarded by state and unique references: rerunning any of them
after a killed worker finishes the work without doing any of it twice.
"""

from c2m.design.services.constants import (
    BALANCE_AFTER,
    COMMENT_MAX,
    CONFIRM_WINDOW,
    MAX_CAMPAIGN_DAYS,
    MIN_CAMPAIGN_DAYS,
    PENDING_GRACE,
    PURPOSE,
)
from c2m.design.services.decide import round_decide, rounds_decide_due, tally, votes_refund_unplaced
from c2m.design.services.pre_pledges import (
    pre_pledge_confirm,
    pre_pledge_decline,
    pre_pledge_quote,
    pre_pledge_release,
    pre_pledge_to_dict,
    pre_pledges_lapse_due,
)
from c2m.design.services.rounds import comment_add, round_create, round_factory_assign, round_launch
from c2m.design.services.votes import design_vote_settled, vote_place, vote_refund, vote_to_dict

__all__ = [
    "PURPOSE",
    "CONFIRM_WINDOW",
    "PENDING_GRACE",
    "MIN_CAMPAIGN_DAYS",
    "MAX_CAMPAIGN_DAYS",
    "BALANCE_AFTER",
    "COMMENT_MAX",
    "round_create",
    "round_launch",
    "comment_add",
    "round_factory_assign",
    "vote_to_dict",
    "vote_place",
    "design_vote_settled",
    "vote_refund",
    "tally",
    "round_decide",
    "votes_refund_unplaced",
    "rounds_decide_due",
    "pre_pledge_quote",
    "pre_pledge_to_dict",
    "pre_pledge_confirm",
    "pre_pledge_release",
    "pre_pledge_decline",
    "pre_pledges_lapse_due",
]
