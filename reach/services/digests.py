"""Staff digests: conversations awaiting a reply for more than the shop's N minutes, by email and push.

Each assignee gets their own; the owner gets the unassigned ones. A conversation is digested once per fan
activity: its DigestMark keeps the Conversation.activity_at that was reported (while 待回复 is on, that is
the fan's latest message), and it comes back only when the fan writes again.
"""

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import UNAVAILABLE_ERRORS, Invalid
from core.tasks import task_dispatch_on_commit
from core.zones import in_zone
from fans.chat.models import Conversation
from reach.models import DigestMark, DigestSettings
from reach.services.push import push_to_user
from shops.models import Shop

logger = logging.getLogger(__name__)

DEFAULT_MINUTES = DigestSettings._meta.get_field("unanswered_after_minutes").default
MARK_BATCH = 2000
RUN_LOCK = "reach:digests:run"


def digest_settings_get(shop: Shop) -> DigestSettings:
    return DigestSettings.objects.filter(shop=shop).first() or DigestSettings(shop=shop)


def digest_settings_set(
    *, shop: Shop, unanswered_after_minutes: object, enabled: object = True
) -> DigestSettings:
    try:
        minutes = int(unanswered_after_minutes)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise Invalid(_("Minutes must be a whole number."), code="digest_minutes_invalid") from None
    if not 1 <= minutes <= 10080:
        raise Invalid(_("Minutes must be between 1 and 10080 (a week)."), code="digest_minutes_invalid")
    row, _created = DigestSettings.objects.update_or_create(
        shop=shop, defaults={"unanswered_after_minutes": minutes, "enabled": bool(enabled)}
    )
    return row


def digest_due(*, now: dt.datetime) -> list[tuple[int, int, dt.datetime]]:
    """(conversation id, recipient user id, activity_at) of every conversation to digest now: one query per
    distinct threshold (shops keep the default or set a few values)."""
    rows = DigestSettings.objects.values_list("shop_id", "unanswered_after_minutes", "enabled")
    custom: dict[int, list[int]] = defaultdict(list)
    disabled: list[int] = []
    for shop_id, minutes, enabled in rows:
        if not enabled:
            disabled.append(shop_id)
        elif minutes != DEFAULT_MINUTES:
            custom[minutes].append(shop_id)
    reported = DigestMark.objects.filter(
        conversation_id=OuterRef("pk"), activity_at__gte=OuterRef("activity_at")
    )
    base = Conversation.objects.filter(awaiting_reply=True).exclude(Exists(reported))
    out_of_default = [s for ids in custom.values() for s in ids] + disabled
    scopes = [(DEFAULT_MINUTES, ~Q(shop_id__in=out_of_default) if out_of_default else Q())]
    scopes += [(minutes, Q(shop_id__in=ids)) for minutes, ids in custom.items()]
    due = []
    for minutes, scope in scopes:
        qs = base.filter(scope, activity_at__lt=now - dt.timedelta(minutes=minutes))
        due += list(qs.values_list("pk", "assigned_to_id", "shop__owner_id", "activity_at"))
    return [(pk, assignee or owner, activity) for pk, assignee, owner, activity in due]


def digests_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Mark what is due and queue one digest per recipient after commit. One run at a time (a cache lock
    held for the run), so no conversation is reported twice for the same activity."""
    now = now or timezone.now()
    try:
        if not cache.add(RUN_LOCK, 1, timeout=300):
            return {"conversations": 0, "digests": 0}
    except UNAVAILABLE_ERRORS:
        return {"conversations": 0, "digests": 0}
    try:
        with transaction.atomic():
            due = digest_due(now=now)
            marks = [
                DigestMark(conversation_id=pk, activity_at=activity, digested_at=now)
                for pk, _r, activity in due
            ]
            DigestMark.objects.bulk_create(
                marks,
                batch_size=MARK_BATCH,
                update_conflicts=True,
                unique_fields=["conversation"],
                update_fields=["activity_at", "digested_at"],
            )
            by_recipient: dict[int, list[int]] = defaultdict(list)
            for pk, recipient, _activity in due:
                by_recipient[recipient].append(pk)
            for recipient, ids in by_recipient.items():
                task_dispatch_on_commit("reach.tasks.digest_send_task", recipient, sorted(set(ids)))
    finally:
        cache.delete(RUN_LOCK)
    return {"conversations": len(due), "digests": len(by_recipient)}


def conversation_url(conversation: Conversation) -> str:
    path = reverse("inbox-conversation", args=[conversation.pk]) + f"?shop={conversation.shop_id}"
    return f"{settings.FANSI_SITE_URL}{path}"


def digest_send(*, user_id: int, conversation_ids: list[int]) -> dict[str, int]:
    """One digest email (text and HTML, in the site's language) and one push to one staff member."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return {"emails": 0, "pushes": 0}
    conversations = list(
        Conversation.objects.filter(pk__in=conversation_ids)
        .select_related("fan", "shop")
        .order_by("activity_at", "pk")
    )
    if not conversations:
        return {"emails": 0, "pushes": 0}
    now = timezone.now()
    items = [
        {
            "fan": c.fan.display_name,
            "shop": c.shop.name,
            "preview": c.last_message_preview,
            "waiting_minutes": max(0, int((now - c.activity_at).total_seconds() // 60)),
            "since": in_zone(c.activity_at, c.shop.timezone),
            "url": conversation_url(c),
        }
        for c in conversations
    ]
    emails = 0
    with translation.override(settings.LANGUAGE_CODE):
        count = len(items)
        subject = ngettext(
            "%(n)d conversation is waiting for your reply",
            "%(n)d conversations are waiting for your reply",
            count,
        ) % {"n": count}
        context = {"user": user, "items": items, "count": count, "site_url": settings.FANSI_SITE_URL}
        if user.email:
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("reach/digest_email.txt", context),
                to=[user.email],
            )
            message.attach_alternative(render_to_string("reach/digest_email.html", context), "text/html")
            message.send()
            emails = 1
        first = conversations[0]
        payload = {
            "title": subject[:60],
            "body": ", ".join(i["fan"] for i in items[:5])[:120],
            "tag": "digest",
            "url": items[0]["url"]
            if count == 1
            else reverse("inbox") + f"?shop={first.shop_id}&filter=awaiting_reply",
        }
    pushed = push_to_user(user_id=user.pk, payload=payload, topic="digest")
    return {"emails": emails, "pushes": pushed["sent"]}
