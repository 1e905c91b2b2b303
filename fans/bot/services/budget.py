"""One attention budget per fan across bot cards, broadcasts and campaign updates."""

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, DomainError
from fans.bot.models import (
    DeliveryStatus,
    PromoDelivery,
)
from fans.bot.services.facts import _between, _local_now, bot_settings_get
from fans.chat.models import Conversation, Fan, Message, Side
from shops.models import Shop


def budget_windows(shop: Shop, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.time]:
    """Start of the shop's local day and ISO week (Monday), and the local time of day."""
    local = _local_now(shop, now)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = day_start - dt.timedelta(days=local.weekday())
    return day_start, week_start, local.time()


def quiet_hours_now(shop: Shop, now: dt.datetime | None = None) -> bool:
    """Is it the shop's quiet hours (local time)? Transactional notices wait for them to end too."""
    cfg = bot_settings_get(shop)
    _day, _week, local_time = budget_windows(shop, now or timezone.now())
    return _between(local_time, cfg.quiet_start, cfg.quiet_end)


def quiet_hours_end(shop: Shop, now: dt.datetime) -> dt.datetime:
    """When the quiet hours that hold at `now` end: the next local quiet_end (an aware datetime)."""
    cfg = bot_settings_get(shop)
    local = _local_now(shop, now)
    end = local.replace(hour=cfg.quiet_end.hour, minute=cfg.quiet_end.minute, second=0, microsecond=0)
    if end <= local:
        end += dt.timedelta(days=1)
    # Arithmetic on the shop's wall clock: across a DST change the local time holds, not the interval.
    return end.astimezone(dt.UTC)


def promo_statuses(
    *,
    shop: Shop,
    fans: list[tuple[int, bool]],
    now: dt.datetime,
    unreachable: frozenset[int] | set[int] = frozenset(),
) -> dict[int, str]:
    """Budget decision for each (fan_id, opted_out); callers hold the fans' rows locked. A fan in
    `unreachable` (their account is closed) has no channel at all."""
    cfg = bot_settings_get(shop)
    day_start, week_start, local_time = budget_windows(shop, now)
    quiet = _between(local_time, cfg.quiet_start, cfg.quiet_end)
    counts = {
        row["fan_id"]: row
        for row in PromoDelivery.objects.filter(
            fan_id__any_of=[f for f, _ in fans], status=DeliveryStatus.SENT, created_at__gte=week_start
        )
        .values("fan_id")
        .annotate(week=Count("pk"), day=Count("pk", filter=Q(created_at__gte=day_start)))
    }
    decided = {}
    for fan_id, opted_out in fans:
        row = counts.get(fan_id, {"day": 0, "week": 0})
        if fan_id in unreachable:
            decided[fan_id] = DeliveryStatus.SKIPPED_NO_CHANNEL
        elif opted_out:
            decided[fan_id] = DeliveryStatus.SKIPPED_OPT_OUT
        elif quiet:
            decided[fan_id] = DeliveryStatus.SKIPPED_QUIET
        elif row["day"] >= cfg.promo_per_day or row["week"] >= cfg.promo_per_week:
            decided[fan_id] = DeliveryStatus.SKIPPED_BUDGET
        else:
            decided[fan_id] = DeliveryStatus.SENT
    return decided


def promo_gate(*, conversation: Conversation, source: str) -> str:
    """Inside the sender's transaction: may this card go to the fan? Records the decision when it may.

    A card that answers the fan's own open question (the fan wrote last, within a day) never counts.
    """
    last = (
        Message.objects.filter(conversation_id=conversation.pk)
        .order_by("-seq")
        .values("side", "created_at")
        .first()
    )
    if last and last["side"] == Side.FAN and last["created_at"] >= timezone.now() - dt.timedelta(days=1):
        return DeliveryStatus.SENT
    fan = Fan.objects.select_for_update().select_related("shop").get(pk=conversation.fan_id)
    now = timezone.now()
    status = promo_statuses(shop=fan.shop, fans=[(fan.pk, fan.promotions_opt_out)], now=now)[fan.pk]
    if status == DeliveryStatus.SENT:
        PromoDelivery.objects.create(fan=fan, source=source, status=status, created_at=now)
    return status


def promo_skip_record(*, fan_id: int, source: str, status: str) -> None:
    PromoDelivery.objects.create(fan_id=fan_id, source=source, status=status, created_at=timezone.now())


class OverBudget(Conflict):
    code = "over_budget"

    def __init__(self, status: str, fan_id: int) -> None:
        # Not `status`: DomainError.status is the HTTP status the API answers with.
        self.delivery_status, self.fan_id = status, fan_id
        # Quiet hours only: when they end (set by the gate). A person's live card can wait for it (issue 16).
        self.defer_until: dt.datetime | None = None
        messages = {
            DeliveryStatus.SKIPPED_OPT_OUT: _("This fan has turned off promotions."),
            DeliveryStatus.SKIPPED_QUIET: _("It is quiet hours for this fan; promotions wait until morning."),
        }
        super().__init__(
            messages.get(status, _("This fan has had enough promotions for now (attention budget)."))
        )


class AttentionBudgetGate:
    """fans.chat's card gate: a card a person sends counts against the fan's attention budget."""

    def check(self, *, conversation: Conversation, source: str) -> OverBudget | None:
        status = promo_gate(conversation=conversation, source=source)
        if status == DeliveryStatus.SENT:
            return None
        refusal = OverBudget(status, conversation.fan_id)
        if status == DeliveryStatus.SKIPPED_QUIET:
            refusal.defer_until = quiet_hours_end(conversation.shop, timezone.now())
        return refusal

    def refused(self, *, fan_id: int, source: str, refusal: DomainError) -> None:
        status = getattr(refusal, "delivery_status", DeliveryStatus.SKIPPED_BUDGET)
        promo_skip_record(fan_id=fan_id, source=source, status=status)
