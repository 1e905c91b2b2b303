"""Every write for campaigns, pledges, subscriptions and factory orders."""

from preorders.services.campaigns import (
    campaign_card_build,
    campaign_create,
    campaign_launch,
    progress_announce,
)
from preorders.services.closing import campaign_close, campaign_decide, campaign_notify, campaigns_close_due
from preorders.services.factory_orders import (
    campaign_rollup,
    cycle_rollup,
    factory_order_refunds_run,
    factory_order_transition,
)
from preorders.services.pledges import (
    PaymentFailed,
    pledge_cancel,
    pledge_change,
    pledge_place,
    pledge_to_dict,
    pledges_pending_sweep,
)
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
