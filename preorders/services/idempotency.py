"""Idempotency-Key handling for pledges: unique per (user, key), and a retry gets the first answer.

The key row is inserted with the pending pledge and its answer is written with the activation, so a
duplicate either finds the answer, waits on the first request's uncommitted row and then fails, or is told
the first one is still in progress (409). A different body with the same key is refused (422).
"""

import datetime as dt
import hashlib
import json
from typing import Any

from django.utils.translation import gettext as _

from core.errors import Conflict, Unprocessable
from preorders.models import IdempotencyKey


def key_clean(idempotency_key: str | None) -> str | None:
    """The header's value as stored (at most 100 characters), or None when there is none."""
    return (idempotency_key or "").strip()[:100] or None


def request_hash(campaign_id: int, variant: Any, quantity: Any) -> str:
    body = json.dumps(
        {"campaign": int(campaign_id), "variant": str(variant), "quantity": str(quantity)}, sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()


def key_row(*, user_id: int, key: str, request_hash: str, now: dt.datetime) -> dict[str, Any]:
    """The key record's values, inserted next to the pending pledge; the answer is filled in on success."""
    return {"user": user_id, "key": key, "request_hash": request_hash, "response": None, "created_at": now}


def replay(record: IdempotencyKey, request_hash: str) -> dict[str, Any]:
    """The first request's answer, or why there is none to give."""
    if record.request_hash != request_hash:
        raise Unprocessable(
            _("This Idempotency-Key was used with a different request."), code="idempotency_key_reused"
        )
    if record.response is None:
        raise Conflict(
            _("A request with this Idempotency-Key is still in progress."), code="idempotency_in_progress"
        )
    return record.response


def replay_after_duplicate(*, user_id: int, key: str, request_hash: str) -> dict[str, Any]:
    """A twin request stored the same key first (our insert hit the unique constraint): answer as it did."""
    record = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
    if record is None:  # the twin failed and was rolled back: the client may simply retry
        raise Conflict(
            _("A request with this Idempotency-Key is still in progress."), code="idempotency_in_progress"
        )
    return replay(record, request_hash)
