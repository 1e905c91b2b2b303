"""Around a broadcast: who it will reach before it is sent, who it skipped and why, and sending those
fans the same message later (a scheduled broadcast that the beat starts when it is due)."""

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from core.jobs import JobStatus
from core.tasks import task_dispatch_on_commit
from fans.bot.models import Broadcast, DeliveryStatus, PromoDelivery
from fans.crm.services.common import audit, selection_clean, selection_count
from shops.models import ShopMember
from shops.roles import require_managing

# Skips that may change by the later time; an opt-out stays until the fan turns promotions back on.
RETRYABLE = (DeliveryStatus.SKIPPED_BUDGET, DeliveryStatus.SKIPPED_QUIET)
SEND_LATER_MIN = dt.timedelta(minutes=1)
SEND_LATER_MAX = dt.timedelta(days=7)
RUN_TASK = "fans.tasks.broadcast_run_task"


def broadcast_audience_count(*, member: ShopMember, segment: Any = None, filter: Any = None) -> int:
    """How many fans a broadcast to this audience would go to (before budget, quiet hours and opt-outs)."""
    selection = selection_clean(member, segment=segment, filter=filter if segment is None else None)
    return selection_count(member.shop, selection)


def broadcast_skipped(broadcast: Broadcast) -> QuerySet[PromoDelivery]:
    """The fans a broadcast skipped, by name, with the attention-budget code's reason."""
    return (
        PromoDelivery.objects.filter(broadcast=broadcast)
        .exclude(status__in=(DeliveryStatus.SENT, DeliveryStatus.DEFERRED, DeliveryStatus.CANCELLED))
        .select_related("fan")
        .order_by("fan__display_name", "fan_id")
    )


def broadcast_send_later(*, member: ShopMember, broadcast: Broadcast, at: dt.datetime) -> Broadcast:
    """Send the broadcast again at `at`, to the fans it skipped for budget or quiet hours. Once per broadcast."""
    require_managing(member, _("Only owners and managers send broadcasts."))
    now = timezone.now()
    if not (now + SEND_LATER_MIN <= at <= now + SEND_LATER_MAX):
        raise Invalid(_("Choose a time between a minute and 7 days from now."), code="send_at_invalid")
    with transaction.atomic():
        original = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if original.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise Conflict(_("The broadcast is still being sent."), code="broadcast_unfinished")
        if Broadcast.objects.filter(retry_of=original).exists():
            raise Conflict(_("These fans are already scheduled for later."), code="already_scheduled")
        fan_ids = sorted(
            PromoDelivery.objects.filter(broadcast=original, status__in=RETRYABLE).values_list(
                "fan_id", flat=True
            )
        )
        if not fan_ids:
            raise Conflict(_("No fan was skipped for budget or quiet hours."), code="nothing_skipped")
        later = Broadcast.objects.create(
            shop_id=original.shop_id,
            created_by=member.user,
            kind=original.kind,
            text=original.text,
            card=original.card,
            promotional=original.promotional,
            selection={"fan_ids": fan_ids},
            queued=len(fan_ids),
            scheduled_at=at,
            # Not dispatched yet: the sweeper's lost-dispatch rule starts counting only from `at`.
            heartbeat_at=at,
            retry_of=original,
        )
        audit(
            shop=member.shop,
            actor=member.user,
            action="broadcast.schedule",
            count=len(fan_ids),
            broadcast=later.pk,
            retry_of=original.pk,
            at=at.isoformat(),
        )
    return later


def broadcast_not_due(broadcast_id: int) -> bool:
    """A scheduled broadcast is not run before its time, whoever dispatches it."""
    return Broadcast.objects.filter(pk=broadcast_id, scheduled_at__gt=timezone.now()).exists()


def broadcasts_due() -> int:
    """Beat, every minute: start the scheduled broadcasts whose time has come, each exactly once."""
    now = timezone.now()
    started = 0
    due = Broadcast.objects.filter(
        status=JobStatus.QUEUED, scheduled_at__isnull=False, scheduled_at__lte=now
    ).filter(heartbeat_at=F("scheduled_at"))
    for pk in list(due.values_list("pk", flat=True)[:100]):
        with transaction.atomic():
            # The guarded update makes two beats (or a beat and the sweeper) dispatch it once.
            if due.filter(pk=pk).update(heartbeat_at=now):
                task_dispatch_on_commit(RUN_TASK, pk)
                started += 1
    return started
