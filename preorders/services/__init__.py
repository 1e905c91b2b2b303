"""Every write for campaigns, pledges, subscriptions and factory orders, one module per concern.

campaigns (create, launch, chat card) · placement (pledge_place, the hot path) · changes (pledge_change,
pledge_cancel) · reservation (quantity under the cap and per-fan limit) · payments (deposits, refunds, the
ledger) · idempotency (Idempotency-Key replay) · settlement (chunked confirm/refund) · closing (deadline
close and notices) · subscriptions (cycles, cut-offs, fan controls) · factory_orders (roll-ups, order
life) · events (campaign.progress, campaign.closed) · pledge_rules (shared checks and the pledge answer).
"""

from preorders.services.campaigns import campaign_card_build, campaign_create, campaign_launch
from preorders.services.changes import pledge_cancel, pledge_change
from preorders.services.closing import campaign_close, campaign_decide, campaign_notify, campaigns_close_due
from preorders.services.events import progress_announce
from preorders.services.factory_orders import (
    campaign_rollup,
    cycle_rollup,
    factory_order_refunds_run,
    factory_order_transition,
)
from preorders.services.payments import PaymentFailed, pledges_pending_sweep
from preorders.services.placement import pledge_place
from preorders.services.pledge_rules import pledge_to_dict
from preorders.services.subscriptions import (
    cycle_cut,
    subscription_cancel,
    subscription_cutoffs_run,
    subscription_pause,
    subscription_resume,
    subscription_skip,
)

__all__ = [
    "PaymentFailed",
    "campaign_card_build",
    "campaign_close",
    "campaign_create",
    "campaign_decide",
    "campaign_launch",
    "campaign_notify",
    "campaign_rollup",
    "campaigns_close_due",
    "cycle_cut",
    "cycle_rollup",
    "factory_order_refunds_run",
    "factory_order_transition",
    "pledge_cancel",
    "pledge_change",
    "pledge_place",
    "pledge_to_dict",
    "pledges_pending_sweep",
    "progress_announce",
    "subscription_cancel",
    "subscription_cutoffs_run",
    "subscription_pause",
    "subscription_resume",
    "subscription_skip",
]
