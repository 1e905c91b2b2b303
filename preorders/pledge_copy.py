"""The words a fan sees for a pledge's status, by kind: one table for my pledges, my orders and the campaign
page (and the labels their scripts use when a status changes in place).

A group pre-order is 参团 (joined), a subscription 订阅 and a fruit box 果箱; the model's own status labels
are the owner's words and say "Active" for all three.
"""

from django.utils.translation import pgettext_lazy

from preorders.models import CampaignKind, CampaignStatus, PledgeStatus

GROUP, SUBSCRIPTION, BOX = "group", "subscription", "box"

_S = PledgeStatus


# In their own context: "Joined" and "Subscribed" already name other things (a join date, a button).
STATUS_LABELS = {
    GROUP: {
        _S.PENDING: pgettext_lazy("pledge status", "Paying deposit"),
        _S.ACTIVE: pgettext_lazy("pledge status", "Joined"),
        _S.CANCELLED: pgettext_lazy("pledge status", "Cancelled"),
        _S.CONFIRMED: pgettext_lazy("pledge status", "Group succeeded · balance due"),
        _S.PAID: pgettext_lazy("pledge status", "Paid in full"),
        _S.LAPSED: pgettext_lazy("pledge status", "Lapsed: balance not paid"),
        _S.REFUNDED: pgettext_lazy("pledge status", "Refunded"),
    },
    SUBSCRIPTION: {
        _S.PENDING: pgettext_lazy("pledge status", "Paying deposit"),
        _S.ACTIVE: pgettext_lazy("pledge status", "Subscribed"),
        _S.PAUSED: pgettext_lazy("pledge status", "Paused"),
        _S.CANCELLED: pgettext_lazy("pledge status", "Subscription cancelled"),
        _S.REFUNDED: pgettext_lazy("pledge status", "Refunded"),
    },
    BOX: {
        _S.PENDING: pgettext_lazy("pledge status", "Paying deposit"),
        _S.ACTIVE: pgettext_lazy("pledge status", "Box subscribed"),
        _S.PAUSED: pgettext_lazy("pledge status", "Box paused"),
        _S.CANCELLED: pgettext_lazy("pledge status", "Box cancelled"),
        _S.REFUNDED: pgettext_lazy("pledge status", "Refunded"),
    },
}
# A pledge still holding when its campaign moved on: the campaign's state is the truthful word.
AWAITING_RESULT = pgettext_lazy("pledge status", "Joined · awaiting the result")
ENDED = pgettext_lazy("pledge status", "Ended")


def pledge_kind(campaign_kind: str, *, has_box: bool) -> str:
    if campaign_kind == CampaignKind.SUBSCRIPTION:
        return BOX if has_box else SUBSCRIPTION
    return GROUP


def pledge_status_label(
    *, kind: str, status: str, campaign_status: str = CampaignStatus.LIVE, deadline_passed: bool = False
) -> str:
    """The fan's words for a pledge of `kind` (group, subscription, box) in `status`."""
    holding = status in (PledgeStatus.ACTIVE, PledgeStatus.PAUSED)
    if holding and campaign_status == CampaignStatus.ENDED:
        return str(ENDED)
    if kind == GROUP and status == PledgeStatus.ACTIVE and deadline_passed:
        return str(AWAITING_RESULT)
    label = STATUS_LABELS.get(kind, {}).get(status)
    return str(label) if label is not None else str(PledgeStatus(status).label)


def status_labels() -> dict[str, dict[str, str]]:
    """Every kind's labels, for a page's script (a status changed in place is named as the server would)."""
    return {
        kind: {status: str(label) for status, label in rows.items()} for kind, rows in STATUS_LABELS.items()
    }
