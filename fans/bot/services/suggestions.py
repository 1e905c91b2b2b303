"""Tag suggestions from what fans say, with learned phrase confidence."""

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict
from core.events import announce, shop_group
from fans.bot.models import PhraseRule, PhraseRuleShopCounts, SuggestionStatus, TagSuggestion
from fans.bot.services.facts import _rules_for
from fans.bot.suggester import DEFAULT_THRESHOLD, suggest
from fans.chat.models import Fan, Message
from fans.crm.models import FanTag, TagChoice, TagSource
from fans.crm.services.tagging import fan_tags_change
from shops.models import ShopMember

SUGGESTION_MIN_CONFIDENCE = DEFAULT_THRESHOLD  # the default display threshold (setting)


PRIOR_STRENGTH = 4  # confirmations/rejections it takes to move a phrase's confidence halfway


def phrase_confidence(rule: PhraseRule) -> float:
    """The admin's confidence, moved by what owners confirmed and rejected (a Beta-style average)."""
    return (rule.confirmed + PRIOR_STRENGTH * rule.confidence) / (
        rule.confirmed + rule.rejected + PRIOR_STRENGTH
    )


SHOP_EVIDENCE_FLOOR = 30  # a shop's own decisions on a rule it takes before they replace the platform's


def shop_phrase_confidence(rule: PhraseRule, own: tuple[int, int] | None) -> float:
    """The shop's own precision for the rule once it has decided enough suggestions from it, else the
    platform's pooled figure (every shop's decisions)."""
    platform = phrase_confidence(rule)
    if own is None or sum(own) < SHOP_EVIDENCE_FLOOR:
        return platform
    confirmed, rejected = own
    return (confirmed + PRIOR_STRENGTH * platform) / (confirmed + rejected + PRIOR_STRENGTH)


class ShopRuleModel:
    """The bot's model: the shop's phrase rules, each scored by its owner-decided confidence (already a
    measured figure, so calibration is the identity)."""

    def __init__(self, shop_id: int) -> None:
        self.rules: dict[str, object] = dict(_rules_for(shop_id))
        self.own = {
            c.rule_id: (c.confirmed, c.rejected) for c in PhraseRuleShopCounts.objects.filter(shop_id=shop_id)
        }
        # The rules come with tag__group: no extra query on the send path.
        self.single = {
            r.tag.group.code
            for r in self.rules.values()
            if isinstance(r, PhraseRule) and r.tag.group.choice == TagChoice.SINGLE
        }

    def evidence(self, features: dict[str, str]) -> dict[str, tuple[float, str, object]]:
        best: dict[str, tuple[float, str, object]] = {}
        for feat, phrase in features.items():
            rule = self.rules.get(phrase) if feat.startswith("@") else None
            if not isinstance(rule, PhraseRule):
                continue
            tag = f"{rule.tag.group.code}:{rule.tag.code}"
            confidence = shop_phrase_confidence(rule, self.own.get(rule.pk))
            if confidence > best.get(tag, (-1.0, "", None))[0]:
                best[tag] = (confidence, phrase, rule)
        return best

    def calibrate(self, group: str, score: float) -> float:
        return score


def display_threshold() -> float:
    return float(getattr(settings, "FANSI_TAG_SUGGEST_THRESHOLD", DEFAULT_THRESHOLD))


def tag_suggestions_from_message(*, message: Message, fan: Fan) -> list[TagSuggestion]:
    """Suggest tags for what the fan said, only at or above the display threshold; never a tag they hold or
    one that was suggested before.

    Below the threshold the bot is not sure, and says so instead of guessing: the shop's staff get a
    `tag_suggestion.unsure` frame ("Not sure: maybe oily (42%); not enough evidence"), a note with nothing
    to accept. It is not stored: it is what the bot thought of this message, not a pending decision.
    """
    threshold = display_threshold()
    candidates = suggest(texts=[message.text], model=ShopRuleModel(fan.shop_id))
    best: dict[int, tuple[PhraseRule, float, str]] = {}
    for cand in candidates:
        rule = cand.key
        assert isinstance(rule, PhraseRule)
        best[rule.tag_id] = (rule, cand.confidence, cand.phrase)
    if not best:
        return []
    held = set(FanTag.objects.filter(fan=fan, tag_id__in=best).values_list("tag_id", flat=True))
    seen = set(TagSuggestion.objects.filter(fan=fan, tag_id__in=best).values_list("tag_id", flat=True))
    created = []
    unsure = []
    for tag_id, (rule, confidence, phrase) in best.items():
        if tag_id in held or tag_id in seen:
            continue
        if confidence < threshold:
            unsure.append(
                unsure_note_to_dict(rule=rule, confidence=confidence, phrase=phrase, message=message)
            )
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
    for note in unsure:
        announce([shop_group(fan.shop_id)], {"type": "tag_suggestion.unsure", "fan": fan.pk, "note": note})
    return created


def unsure_note_to_dict(
    *, rule: PhraseRule, confidence: float, phrase: str, message: Message
) -> dict[str, Any]:
    """What the bot was not sure of: the tag it might be, its calibrated confidence (below the threshold),
    and the words that made it think so. No id: there is nothing to confirm or reject."""
    tag = rule.tag
    return {
        "tag": f"{tag.group.code}:{tag.code}",
        "tag_name": tag.name,
        "confidence": round(confidence, 3),
        "threshold": display_threshold(),
        "phrase": phrase,
        "message": {"id": message.pk, "text": message.text, "seq": message.seq},
    }


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
            PhraseRuleShopCounts.objects.get_or_create(shop_id=locked.fan.shop_id, rule_id=locked.rule_id)
            PhraseRuleShopCounts.objects.filter(shop_id=locked.fan.shop_id, rule_id=locked.rule_id).update(
                **{counter: F(counter) + 1}
            )
            cache.delete(f"bot:phrases:{locked.fan.shop_id}")
    return locked
