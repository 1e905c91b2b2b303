"""The assistant: FAQ and away replies with human hand-off, progress answers, drafts and canned replies."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.utils.translation import gettext as _

from core.errors import UNAVAILABLE_ERRORS, Invalid
from core.events import announce, shop_group
from core.tasks import task_dispatch_on_commit
from fans.bot import hooks as bot_hooks
from fans.bot.models import FaqRule
from fans.bot.services.facts import _between, _local_now, _shop_bot_facts, bot_settings_get
from fans.bot.services.suggestions import tag_suggestions_from_message
from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from fans.chat.presence import online_user_ids
from shops.models import Shop, ShopMember

AWAY_REPEAT_S = 6 * 3600


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
    try:
        values = cache.get_many(keys)
    except UNAVAILABLE_ERRORS:
        # Redis down: who is online and when the away message went out are unknown; skipping the courtesy
        # message beats repeating it, and beats failing the fan's message (we are inside its transaction).
        return False
    if values.get(keys[0]):
        return False  # the away message was sent recently
    closed = not _between(_local_now(facts["shop"]).time(), cfg.business_start, cfg.business_end)
    nobody_online = not any((values.get(k) or 0) > 0 for k in keys[1:])
    return closed or nobody_online


def bot_reply(
    *,
    conversation: Conversation,
    text: str,
    kind: str = MessageKind.TEXT,
    payload: dict | None = None,
    answers: bool = True,
) -> Message:
    from fans.chat.services import system_message_post

    return system_message_post(
        conversation=conversation, text=text, kind=kind, payload=payload, side=Side.BOT, answers=answers
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
        # "We'll answer soon" is not an answer: the fan still waits for a person (待回复).
        bot_reply(conversation=conversation, text=settings_obj.away_message, answers=False)


def _answer_for(fan: Fan, text: str, shop: Shop) -> str | None:
    lowered = text.lower()
    if any(q in lowered for q in PROGRESS_QUESTIONS):
        for provider in bot_hooks.progress_answers.providers():
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


def bot_draft(*, member: ShopMember, fan: Fan, command: str, k: int = 3) -> list[dict[str, Any]]:
    """/recommend or /campaign: draft cards for the owner to review; nothing is sent."""
    name = command.lstrip("/").strip()
    provider = bot_hooks.drafts.get(name)
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


def fan_text_look(conversation: Conversation, message: Message) -> None:
    """fans.chat's fan-text listener: queue the bot's look, after commit, only when it has work to do."""
    if bot_should_look(
        shop_id=conversation.shop_id,
        conversation_id=conversation.pk,
        bot_paused=conversation.bot_paused,
        text=message.text,
    ):
        task_dispatch_on_commit("fans.tasks.bot_on_fan_message_task", message.pk)
