"""The owner's chat bot: tag suggestions from chat, auto-replies with handoff, the attention budget,
drafts, and broadcasts to segments."""

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fans import bot_hooks
from fans.cards import card_build
from fans.events import announce, shop_group, user_group
from fans.models import (
    BotSettings,
    Broadcast,
    Conversation,
    DeliveryStatus,
    Fan,
    FanTag,
    FaqRule,
    JobStatus,
    Message,
    MessageKind,
    PhraseRule,
    PromoDelivery,
    Side,
    SuggestionStatus,
    TagSource,
    TagSuggestion,
)
from fans.phrases import phrases_find
from fans.presence import online_user_ids
from fans.selectors import message_to_dict
from fans.services.crm import audit, require_role, selection_clean, selection_queryset
from fans.services.tagging import fan_tags_change
from shops.errors import Conflict, Invalid
from shops.models import Shop, ShopMember, ShopRole

SUGGESTION_MIN_CONFIDENCE = 0.3
PRIOR_STRENGTH = 4  # confirmations/rejections it takes to move a phrase's confidence halfway
AWAY_REPEAT_S = 6 * 3600
BROADCAST_BATCH = 2000
PROGRESS_QUESTIONS = (
    "还差多少",
    "差多少",
    "多少人了",
    "成团了吗",
    "能成团吗",
    "进度",
    "how many more",
    "how many left",
    "progress",
)


def bot_settings_get(shop: Shop) -> BotSettings:
    settings_obj, _created = BotSettings.objects.get_or_create(shop=shop)
    return settings_obj


# --- the cheap first look, on the send path ---------------------------------------------------------

LOCAL_TTL_S = 30.0
_local: dict[tuple[str, int], tuple[float, Any]] = {}


def _local_cached(kind: str, shop_id: int, load: Any) -> Any:
    """Per-process cache for what the send path reads on every fan message (changes show within 30 s)."""
    key = (kind, shop_id)
    hit = _local.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    _local[key] = (now + LOCAL_TTL_S, value)
    return value


def bot_facts_forget(shop_id: int) -> None:
    """Called after the shop's bot settings, FAQ rules or team change (in this process at once, others ≤30 s)."""
    _local.pop(("bot", shop_id), None)


def _shop_bot_facts(shop_id: int) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        shop = Shop.objects.get(pk=shop_id)
        cfg = bot_settings_get(shop)
        keywords = [
            k.strip().lower()
            for rule in FaqRule.objects.filter(shop_id=shop_id, is_active=True)
            for k in rule.keywords.replace("，", ",").split(",")
            if k.strip()
        ]
        staff = list(
            ShopMember.objects.filter(shop_id=shop_id, is_active=True).values_list("user_id", flat=True)
        )
        phrases = list(_rules_for(shop_id))
        return {"shop": shop, "settings": cfg, "faq": keywords, "staff": staff, "phrases": phrases}

    return _local_cached("bot", shop_id, load)


def bot_should_look(*, shop_id: int, conversation_id: int, bot_paused: bool, text: str) -> bool:
    """Would the bot do anything with this fan message? Answered without the database in the common case,
    so a task is queued only when there is work (a phrase, a question it can answer, or an away message)."""
    facts = _shop_bot_facts(shop_id)
    lowered = text.lower()
    if any(p.lower() in lowered for p in facts["phrases"]):
        return True
    cfg = facts["settings"]
    if not cfg.enabled or bot_paused:
        return False
    if any(k in lowered for k in facts["faq"]) or any(q in lowered for q in PROGRESS_QUESTIONS):
        return True
    if not cfg.away_enabled:
        return False
    keys = [f"bot:away:{conversation_id}"] + [f"presence:user:{u}" for u in facts["staff"]]
    values = cache.get_many(keys)
    if values.get(keys[0]):
        return False  # the away message was sent recently
    closed = not _between(_local_now(facts["shop"]).time(), cfg.business_start, cfg.business_end)
    nobody_online = not any((values.get(k) or 0) > 0 for k in keys[1:])
    return closed or nobody_online


# --- tag suggestions -----------------------------------------------------------------------------


def phrase_confidence(rule: PhraseRule) -> float:
    """The admin's confidence, moved by what owners confirmed and rejected (a Beta-style average)."""
    return (rule.confirmed + PRIOR_STRENGTH * rule.confidence) / (
        rule.confirmed + rule.rejected + PRIOR_STRENGTH
    )


def _rules_for(shop_id: int) -> dict[str, PhraseRule]:
    key = f"bot:phrases:{shop_id}"
    cached = cache.get(key)
    if cached is None:
        rules = PhraseRule.objects.filter(
            Q(shop__isnull=True) | Q(shop_id=shop_id), is_active=True
        ).select_related("tag__group")
        cached = {r.phrase: r for r in rules}
        cache.set(key, cached, 60)
    return cached


def tag_suggestions_from_message(*, message: Message, fan: Fan) -> list[TagSuggestion]:
    """Suggest tags for what the fan said; never a tag they hold or one that was suggested before."""
    matches = phrases_find(message.text, _rules_for(fan.shop_id))
    best: dict[int, tuple[PhraseRule, float, str]] = {}
    for match in matches:
        rule: PhraseRule = match.key
        confidence = phrase_confidence(rule)
        if (
            confidence >= SUGGESTION_MIN_CONFIDENCE
            and confidence > best.get(rule.tag_id, (None, -1.0, ""))[1]
        ):
            best[rule.tag_id] = (rule, confidence, match.phrase)
    if not best:
        return []
    held = set(FanTag.objects.filter(fan=fan, tag_id__in=best).values_list("tag_id", flat=True))
    seen = set(TagSuggestion.objects.filter(fan=fan, tag_id__in=best).values_list("tag_id", flat=True))
    created = []
    for tag_id, (rule, confidence, phrase) in best.items():
        if tag_id in held or tag_id in seen:
            continue
        try:
            with transaction.atomic():
                created.append(
                    TagSuggestion.objects.create(
                        fan=fan,
                        tag_id=tag_id,
                        rule=rule,
                        message=message,
                        phrase=phrase,
                        confidence=round(confidence, 3),
                    )
                )
        except IntegrityError:  # suggested concurrently
            continue
    for suggestion in created:
        announce(
            [shop_group(fan.shop_id)],
            {"type": "tag_suggestion.new", "fan": fan.pk, "suggestion": suggestion_to_dict(suggestion)},
        )
    return created


def suggestion_to_dict(s: TagSuggestion) -> dict[str, Any]:
    tag = s.tag
    return {
        "id": s.pk,
        "tag": f"{tag.group.code}:{tag.code}",
        "tag_name": tag.name,
        "confidence": s.confidence,
        "phrase": s.phrase,
        "status": s.status,
        "message": {
            "id": s.message_id,
            "text": s.message.text if s.message else "",
            "seq": s.message.seq if s.message else None,
        },
        "created_at": s.created_at,
    }


def suggestion_decide(*, member: ShopMember, suggestion: TagSuggestion, confirm: bool) -> TagSuggestion:
    """Confirm (the fan gets the tag with source "bot") or reject (remembered; never suggested again)."""
    with transaction.atomic():
        locked = (
            TagSuggestion.objects.select_for_update()
            .select_related("tag__group", "fan")
            .get(pk=suggestion.pk)
        )
        if locked.status != SuggestionStatus.PENDING:
            raise Conflict(_("This suggestion was decided already."), code="already_decided")
        locked.status = SuggestionStatus.CONFIRMED if confirm else SuggestionStatus.REJECTED
        locked.decided_by, locked.decided_at = member.user, timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        if confirm:
            fan_tags_change(fan=locked.fan, add=[locked.tag], source=TagSource.BOT, actor=member.user)
        if locked.rule_id:
            counter = "confirmed" if confirm else "rejected"
            PhraseRule.objects.filter(pk=locked.rule_id).update(**{counter: F(counter) + 1})
            cache.delete(f"bot:phrases:{locked.fan.shop_id}")
    return locked


# --- auto-replies and handoff ----------------------------------------------------------------------


def _local_now(shop: Shop, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()).astimezone(ZoneInfo(shop.timezone))


def _between(t: dt.time, start: dt.time, end: dt.time) -> bool:
    """Is t in [start, end), where the window may cross midnight (22:00–08:00)?"""
    return start <= t < end if start <= end else (t >= start or t < end)


def bot_reply(
    *, conversation: Conversation, text: str, kind: str = MessageKind.TEXT, payload: dict | None = None
) -> Message:
    from fans.services.chat import system_message_post

    return system_message_post(
        conversation=conversation, text=text, kind=kind, payload=payload, side=Side.BOT
    )


def bot_on_fan_message(*, message_id: int) -> None:
    """Everything the bot does after a fan writes: suggest tags, then maybe answer (unless a human took over)."""
    message = (
        Message.objects.select_related("conversation__fan", "conversation__shop")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.side != Side.FAN or message.kind != MessageKind.TEXT:
        return
    conversation, fan, shop = message.conversation, message.conversation.fan, message.conversation.shop
    tag_suggestions_from_message(message=message, fan=fan)
    settings_obj = bot_settings_get(shop)
    if not settings_obj.enabled or conversation.bot_paused:
        return
    # Only answer the newest message: a fan typing fast gets one answer.
    if Message.objects.filter(conversation=conversation, seq__gt=message.seq).exists():
        return
    answer = _answer_for(fan, message.text, shop)
    if answer is not None:
        bot_reply(conversation=conversation, text=answer)
        return
    if not settings_obj.away_enabled:
        return
    local = _local_now(shop)
    closed = not _between(local.time(), settings_obj.business_start, settings_obj.business_end)
    staff_ids = list(ShopMember.objects.filter(shop=shop, is_active=True).values_list("user_id", flat=True))
    nobody_online = not online_user_ids(staff_ids)
    if (closed or nobody_online) and cache.add(f"bot:away:{conversation.pk}", 1, AWAY_REPEAT_S):
        bot_reply(conversation=conversation, text=settings_obj.away_message)


def _answer_for(fan: Fan, text: str, shop: Shop) -> str | None:
    lowered = text.lower()
    if any(q in lowered for q in PROGRESS_QUESTIONS):
        for provider in bot_hooks.progress_providers:
            answer = provider(fan, text)
            if answer:
                return answer
    for rule in FaqRule.objects.filter(shop=shop, is_active=True):
        keywords = [k.strip().lower() for k in rule.keywords.replace("，", ",").split(",") if k.strip()]
        if any(k in lowered for k in keywords):
            return rule.answer
    return None


def conversation_bot_resume(*, member: ShopMember, conversation: Conversation) -> Conversation:
    Conversation.objects.filter(pk=conversation.pk).update(bot_paused=False)
    conversation.bot_paused = False
    announce(
        [shop_group(conversation.shop_id)],
        {"type": "conversation.bot", "conversation": conversation.pk, "paused": False},
    )
    return conversation


# --- attention budget --------------------------------------------------------------------------------


def budget_windows(shop: Shop, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.time]:
    """Start of the shop's local day and ISO week (Monday), and the local time of day."""
    local = _local_now(shop, now)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = day_start - dt.timedelta(days=local.weekday())
    return day_start, week_start, local.time()


def promo_statuses(*, shop: Shop, fans: list[tuple[int, bool]], now: dt.datetime) -> dict[int, str]:
    """Budget decision for each (fan_id, opted_out); callers hold the fans' rows locked."""
    cfg = bot_settings_get(shop)
    day_start, week_start, local_time = budget_windows(shop, now)
    quiet = _between(local_time, cfg.quiet_start, cfg.quiet_end)
    counts = {
        row["fan_id"]: row
        for row in PromoDelivery.objects.filter(
            fan_id__in=[f for f, _ in fans], status=DeliveryStatus.SENT, created_at__gte=week_start
        )
        .values("fan_id")
        .annotate(week=Count("pk"), day=Count("pk", filter=Q(created_at__gte=day_start)))
    }
    decided = {}
    for fan_id, opted_out in fans:
        row = counts.get(fan_id, {"day": 0, "week": 0})
        if opted_out:
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


# --- drafts and canned replies ----------------------------------------------------------------------


def bot_draft(*, member: ShopMember, fan: Fan, command: str, k: int = 3) -> list[dict[str, Any]]:
    """/recommend or /campaign: draft cards for the owner to review; nothing is sent."""
    name = command.lstrip("/").strip()
    provider = bot_hooks.draft_providers.get(name)
    if provider is None:
        raise Invalid(_("Unknown command; try /recommend or /campaign."), code="unknown_command")
    return provider(fan, k)


def canned_render(text: str, *, fan: Fan, staff: AbstractBaseUser) -> str:
    values = {
        "fan_name": fan.display_name,
        "shop_name": fan.shop.name,
        "staff_name": staff.get_full_name() or staff.get_username(),
    }
    out = text
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


# --- broadcasts -------------------------------------------------------------------------------------------


def broadcast_create(
    *,
    member: ShopMember,
    kind: str,
    text: str = "",
    product: int | None = None,
    campaign: int | None = None,
    promotional: bool = True,
    fan_ids: Any = None,
    segment: Any = None,
    filter: Any = None,
) -> Broadcast:
    from fans.tasks import broadcast_run_task

    require_role(
        member, ShopRole.OWNER, ShopRole.MANAGER, message=_("Only owners and managers send broadcasts.")
    )
    card: dict[str, Any] = {}
    if kind == MessageKind.TEXT:
        text = (text or "").strip()
        if not text:
            raise Invalid(_("The message is empty."))
        if len(text) > 4000:
            raise Invalid(_("A message can have at most 4,000 characters."), code="too_long")
    elif kind == MessageKind.PRODUCT_CARD:
        card = card_build(kind, member.shop, {"product": product})
    elif kind == MessageKind.CAMPAIGN_CARD:
        card = card_build(kind, member.shop, {"campaign": campaign})
    else:
        raise Invalid(_("A broadcast is a text, a product card or a campaign card."))
    if fan_ids is None and segment is None and filter is None:
        raise Invalid(_("Choose fan_ids, a segment or a filter ({} for every fan)."))
    selection = selection_clean(member, fan_ids=fan_ids, segment=segment, filter=filter)
    with transaction.atomic():
        broadcast = Broadcast.objects.create(
            shop=member.shop,
            created_by=member.user,
            kind=kind,
            text=text,
            card=card,
            promotional=promotional,
            selection=selection,
            queued=selection_queryset(member.shop, selection).count(),
        )
        audit(
            shop=member.shop,
            actor=member.user,
            action="broadcast.create",
            count=broadcast.queued,
            broadcast=broadcast.pk,
        )
        broadcast_run_task.delay_on_commit(broadcast.pk)
    return broadcast


def broadcast_run(*, broadcast_id: int) -> None:
    """Deliver in batches; each batch locks its fans, applies the budget and commits on its own.

    Safe to rerun: a fan already in the ledger for this broadcast is skipped.
    """
    broadcast = Broadcast.objects.select_related("shop", "created_by").filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED):
        return
    Broadcast.objects.filter(pk=broadcast.pk).update(status=JobStatus.RUNNING)
    ids = list(
        selection_queryset(broadcast.shop, broadcast.selection).order_by("pk").values_list("pk", flat=True)
    )
    done = set(PromoDelivery.objects.filter(broadcast=broadcast).values_list("fan_id", flat=True))
    ids = [i for i in ids if i not in done]
    for start in range(0, len(ids), BROADCAST_BATCH):
        _broadcast_batch(broadcast, ids[start : start + BROADCAST_BATCH])
    Broadcast.objects.filter(pk=broadcast.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())


def _broadcast_batch(broadcast: Broadcast, fan_ids: list[int]) -> None:
    now = timezone.now()
    with transaction.atomic():
        fans = list(
            Fan.objects.select_for_update()
            .filter(pk__in=fan_ids, shop=broadcast.shop)
            .order_by("pk")
            .values_list("pk", "promotions_opt_out")
        )
        if broadcast.promotional:
            statuses = promo_statuses(shop=broadcast.shop, fans=fans, now=now)
        else:
            statuses = {f: DeliveryStatus.SENT for f, _ in fans}
        send_ids = [f for f, s in statuses.items() if s == DeliveryStatus.SENT]
        convs = list(
            Conversation.objects.select_for_update()
            .filter(fan_id__in=send_ids)
            .order_by("pk")
            .values_list("pk", "fan_id", "last_seq", "fan__user_id")
        )
        preview = (
            broadcast.text[:200]
            if broadcast.kind == MessageKind.TEXT
            else f"[{broadcast.card.get('name') or broadcast.card.get('title') or ''}]"
        )
        by_fan = _broadcast_messages_insert(broadcast, convs, now)
        Conversation.objects.filter(pk__in=[c[0] for c in convs]).update(
            last_seq=F("last_seq") + 1,
            fan_unread=F("fan_unread") + 1,
            last_message_at=now,
            last_message_preview=preview,
        )
        _promo_deliveries_insert(broadcast, statuses, by_fan, now)
        counts = {s: sum(1 for v in statuses.values() if v == s) for s in DeliveryStatus.values}
        Broadcast.objects.filter(pk=broadcast.pk).update(
            processed=F("processed") + len(fan_ids),
            sent=F("sent") + counts[DeliveryStatus.SENT],
            skipped_budget=F("skipped_budget") + counts[DeliveryStatus.SKIPPED_BUDGET],
            skipped_opt_out=F("skipped_opt_out") + counts[DeliveryStatus.SKIPPED_OPT_OUT],
            skipped_quiet=F("skipped_quiet") + counts[DeliveryStatus.SKIPPED_QUIET],
        )
        online = online_user_ids([c[3] for c in convs])
        for cid, fan_id, last_seq, user_id in convs:
            if user_id in online:
                message = Message(
                    pk=by_fan[fan_id],
                    conversation=Conversation(pk=cid, fan=Fan(pk=fan_id, user_id=user_id)),
                    seq=last_seq + 1,
                    sender=broadcast.created_by,
                    side=Side.SHOP,
                    kind=broadcast.kind,
                    text=broadcast.text,
                    payload=broadcast.card,
                    created_at=now,
                )
                announce([user_group(user_id)], {"type": "message.new", "message": message_to_dict(message)})


def _broadcast_messages_insert(broadcast: Broadcast, convs: list[tuple], now: dt.datetime) -> dict[int, int]:
    """One message per locked conversation; returns fan id -> message id. Set-based SQL on PostgreSQL."""
    if not convs:
        return {}
    if connection.vendor == "postgresql":
        opts = Message._meta
        payload = opts.get_field("payload").get_db_prep_save(broadcast.card, connection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {opts.db_table} (conversation_id, seq, sender_id, side, kind, text, payload, image, "
                "thumbnail, created_at) SELECT c, s, %s, %s, %s, %s, %s, '', '', %s "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(c, s) RETURNING id, conversation_id",
                [
                    broadcast.created_by_id,
                    Side.SHOP,
                    broadcast.kind,
                    broadcast.text,
                    payload,
                    now,
                    [c[0] for c in convs],
                    [c[2] + 1 for c in convs],
                ],
            )
            by_conversation = dict((cid, mid) for mid, cid in cursor.fetchall())
        return {fan_id: by_conversation[cid] for cid, fan_id, _s, _u in convs}
    messages = [
        Message(
            conversation_id=cid,
            seq=last_seq + 1,
            sender=broadcast.created_by,
            side=Side.SHOP,
            kind=broadcast.kind,
            text=broadcast.text,
            payload=broadcast.card,
            created_at=now,
        )
        for cid, _fan, last_seq, _user in convs
    ]
    Message.objects.bulk_create(messages, batch_size=BROADCAST_BATCH)
    return {fan_id: m.pk for (_cid, fan_id, _s, _u), m in zip(convs, messages, strict=True)}


def _promo_deliveries_insert(
    broadcast: Broadcast, statuses: dict[int, str], by_fan: dict[int, int], now: dt.datetime
) -> None:
    if connection.vendor == "postgresql":
        fan_ids = list(statuses)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PromoDelivery._meta.db_table} (fan_id, source, status, broadcast_id, message_id, created_at) "
                "SELECT f, 'broadcast', st, %s, m, %s FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(f, st, m)",
                [
                    broadcast.pk,
                    now,
                    fan_ids,
                    [statuses[f] for f in fan_ids],
                    [by_fan.get(f) for f in fan_ids],
                ],
            )
        return
    PromoDelivery.objects.bulk_create(
        [
            PromoDelivery(
                fan_id=f,
                source="broadcast",
                status=st,
                broadcast=broadcast,
                message_id=by_fan.get(f),
                created_at=now,
            )
            for f, st in statuses.items()
        ],
        batch_size=BROADCAST_BATCH,
    )


def broadcast_stats(broadcast: Broadcast) -> dict[str, Any]:
    read = PromoDelivery.objects.filter(
        broadcast=broadcast,
        status=DeliveryStatus.SENT,
        message__seq__lte=F("message__conversation__fan_read_seq"),
    ).count()
    return {
        "id": broadcast.pk,
        "status": broadcast.status,
        "queued": broadcast.queued,
        "processed": broadcast.processed,
        "progress": round(broadcast.processed / broadcast.queued, 4) if broadcast.queued else 1.0,
        "sent": broadcast.sent,
        "skipped_budget": broadcast.skipped_budget,
        "skipped_opt_out": broadcast.skipped_opt_out,
        "skipped_quiet": broadcast.skipped_quiet,
        "read": read,
        "kind": broadcast.kind,
        "promotional": broadcast.promotional,
        "created_at": broadcast.created_at,
        "finished_at": broadcast.finished_at,
    }
