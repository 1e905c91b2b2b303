"""Signed demand-board links (issue 17): they expire (FANSI_BOARD_TOKEN_MAX_AGE_DAYS), rotate (issuing a new
link invalidates the old ones) and can be revoked by the platform (the admin's action)."""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from preorders.board_link_models import BoardLink
from shops.models import Factory

BOARD_SALT = "preorders.demand-board"


def board_token_max_age() -> dt.timedelta:
    """How long a signed board link works (the tokens are timestamped): a leaked link stops working."""
    return dt.timedelta(days=settings.FANSI_BOARD_TOKEN_MAX_AGE_DAYS)


def _sign(factory_id: int, generation: int) -> str:
    return signing.dumps({"factory": factory_id, "g": generation}, salt=BOARD_SALT)


def board_link_get(factory: Factory) -> BoardLink:
    link, _created = BoardLink.objects.get_or_create(factory=factory, defaults={"issued_at": timezone.now()})
    return link


def board_link_token(factory: Factory) -> str | None:
    """A link of the current generation (fresh timestamp), or None while the link is revoked."""
    link = BoardLink.objects.filter(
        factory=factory
    ).first()  # none yet: generation 1, as board_link_state reads
    if link is None:
        return _sign(factory.pk, 1)
    return None if link.revoked_at else _sign(factory.pk, link.generation)


def board_link_rotate(*, factory: Factory) -> str:
    """Issue a new link: every older one (and a revocation) stops working."""
    with transaction.atomic():
        link = board_link_get(factory)
        BoardLink.objects.filter(pk=link.pk).update(
            generation=F("generation") + 1, issued_at=timezone.now(), revoked_at=None
        )
        link.refresh_from_db()
    return _sign(factory.pk, link.generation)


def board_link_revoke(*, factory_ids: list[int]) -> int:
    """Every link of these factories stops working until a new one is issued; answers how many."""
    now = timezone.now()
    with transaction.atomic():
        for factory in Factory.objects.filter(pk__in=factory_ids).exclude(board_link__isnull=False):
            BoardLink.objects.get_or_create(factory=factory, defaults={"issued_at": now})
        return BoardLink.objects.filter(factory_id__in=factory_ids, revoked_at__isnull=True).update(
            revoked_at=now
        )


def board_link_state(token: str, *, max_age: dt.timedelta | None = None) -> tuple[int | None, str]:
    """(factory id, state) for a token: "ok", "expired", "revoked" (rotated away or revoked) or "bad"."""
    try:
        age = board_token_max_age() if max_age is None else max_age
        payload = signing.loads(token, salt=BOARD_SALT, max_age=age)
        factory_id, generation = payload["factory"], payload.get("g", 1)
    except signing.SignatureExpired:
        return None, "expired"
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None, "bad"
    if not isinstance(factory_id, int) or not isinstance(generation, int):
        return None, "bad"
    link = BoardLink.objects.filter(factory_id=factory_id).only("generation", "revoked_at").first()
    current = link.generation if link else 1
    if (link and link.revoked_at) or generation != current:
        return factory_id, "revoked"
    return factory_id, "ok"
