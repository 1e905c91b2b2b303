"""Editing and deleting the shop's canned replies and FAQ answers (managers and owners)."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound
from fans.bot.models import CannedReply, FaqRule
from fans.bot.services.facts import bot_facts_forget
from shops.models import ShopMember
from shops.roles import require_managing


def _canned(member: ShopMember, reply_id: int) -> CannedReply:
    reply = CannedReply.objects.filter(pk=reply_id, shop_id=member.shop_id).first()
    if reply is None:
        raise NotFound(_("No such canned reply in this shop."), code="canned_reply_not_found")
    return reply


def _faq(member: ShopMember, rule_id: int) -> FaqRule:
    rule = FaqRule.objects.filter(pk=rule_id, shop_id=member.shop_id).first()
    if rule is None:
        raise NotFound(_("No such FAQ answer in this shop."), code="faq_not_found")
    return rule


def _require_text(changes: dict[str, Any], field: str, message: str, code: str) -> None:
    if field in changes and not str(changes[field]).strip():
        raise Invalid(message, code=code, detail={field: [message]})


def canned_reply_update(*, member: ShopMember, reply_id: int, changes: dict[str, Any]) -> CannedReply:
    require_managing(member)
    reply = _canned(member, reply_id)
    _require_text(changes, "title", _("Give the reply a title."), "title_required")
    _require_text(changes, "text", _("The reply needs some text."), "text_required")
    for field in ("title", "text"):
        if field in changes:
            setattr(reply, field, changes[field].strip())
    reply.save(update_fields=[f for f in ("title", "text") if f in changes] or None)
    return reply


def canned_reply_delete(*, member: ShopMember, reply_id: int) -> None:
    require_managing(member)
    _canned(member, reply_id).delete()


def faq_rule_update(*, member: ShopMember, rule_id: int, changes: dict[str, Any]) -> FaqRule:
    require_managing(member)
    rule = _faq(member, rule_id)
    _require_text(changes, "keywords", _("Give at least one keyword."), "keywords_required")
    _require_text(changes, "answer", _("The answer needs some text."), "answer_required")
    fields = [f for f in ("keywords", "answer", "is_active", "position") if f in changes]
    for field in fields:
        value = changes[field]
        setattr(rule, field, value.strip() if isinstance(value, str) else value)
    with transaction.atomic():
        rule.save(update_fields=fields or None)
    bot_facts_forget(member.shop_id)
    return rule


def faq_rule_delete(*, member: ShopMember, rule_id: int) -> None:
    require_managing(member)
    _faq(member, rule_id).delete()
    bot_facts_forget(member.shop_id)
