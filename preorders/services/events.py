"""Campaign events to the shop's channel group, always after commit: campaign.progress and campaign.closed.

Delivery is at-most-once, as for all events; GET /api/campaigns/{id}/ is the source of truth.
"""

import functools
import threading
from typing import Any

from django.conf import settings
from django.db import transaction

from core.events import announce, publish, shop_group, user_group
from preorders.models import Campaign, FactoryOrder
from preorders.selectors import campaign_current_unit_price


def progress_announce(campaign: Campaign) -> None:
    """campaign.progress to the shop group after commit, coalesced per campaign.

    A busy campaign commits hundreds of pledges a second; watchers need the latest figure a few times
    a second, not every step, so frames wait up to FANSI_PROGRESS_COALESCE_S (default 0.25 s; 0 sends
    each one) and only the newest per campaign goes out. Delivery stays at-most-once, as for all events;
    GET /api/campaigns/{id}/ is the source of truth.
    """
    groups = [shop_group(campaign.shop_id)]
    frame = {
        "type": "campaign.progress",
        "campaign": campaign.pk,
        "status": campaign.status,
        "committed_quantity": campaign.committed_quantity,
        "current_unit_price": str(campaign_current_unit_price(campaign)),
    }
    window = float(getattr(settings, "FANSI_PROGRESS_COALESCE_S", 0.25))
    if window <= 0:
        announce(groups, frame)
    else:
        transaction.on_commit(functools.partial(_progress_queue, groups, frame, window))


_progress_lock = threading.Lock()
_progress_pending: dict[int, tuple[list[str], dict[str, Any]]] = {}
_progress_timer: list[threading.Timer] = []


def _progress_queue(groups: list[str], frame: dict[str, Any], window: float) -> None:
    with _progress_lock:
        _progress_pending[frame["campaign"]] = (groups, frame)
        if not _progress_timer:
            timer = threading.Timer(window, progress_flush)
            timer.daemon = True
            _progress_timer.append(timer)
            timer.start()


def progress_flush() -> None:
    """Publish the newest queued frame of each campaign (the timer calls this; tests may too)."""
    with _progress_lock:
        pending = list(_progress_pending.values())
        _progress_pending.clear()
        _progress_timer.clear()
    for groups, frame in pending:
        publish(groups, frame)


def closed_announce(campaign: Campaign, order: FactoryOrder | None) -> None:
    """campaign.closed after commit, on the shop's channel and the owner's own."""
    frame = {
        "type": "campaign.closed",
        "campaign": campaign.pk,
        "status": campaign.status,
        "committed_quantity": campaign.committed_quantity,
        "target_quantity": campaign.target_quantity,
        "final_unit_price": None if campaign.final_unit_price is None else str(campaign.final_unit_price),
        "factory_order": order.pk if order else None,
    }
    announce([shop_group(campaign.shop_id), user_group(campaign.shop.owner_id)], frame)
