"""Automatic lifecycle tags (docs/lifecycle.md): new, active, at risk, lapsed, and VIP, recomputed nightly.

One shop at a time, set-based: a SELECT classifies every fan of the shop from joined_at, the latest activity (a
payment in, from the preorders spend provider, or a message the fan wrote) and the 12-month spend. On PostgreSQL
the difference from the tags held (one hash full join) is applied in bounded batches of changed fans, each in
its own transaction (fans.crm.lifecycle_apply): DELETE ... RETURNING into remove events, INSERT ... SELECT ...
RETURNING into add events, and joins patching FanTagSet.tags and Fan.tag_ids of the batch's fans from the change
set (intarray `-`, `|`). A run that changes nothing writes nothing, so the task is safe to re-run, and a killed
run is completed by the next; runs of one shop are serialised by an advisory lock. SQLite (the embedded demo)
runs the same classifying SELECT and applies the difference with the ORM, in one transaction.
"""

import datetime as dt
import logging
import time
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from core.db import is_postgresql
from core.errors import UNAVAILABLE_ERRORS
from fans.chat.models import Conversation, Fan, Message, Side
from fans.crm.hooks import fan_spend_sql
from fans.crm.lifecycle_apply import apply_batched, shop_run_lock
from fans.crm.models import (
    LIFECYCLE_GROUP,
    LIFECYCLE_STAGES,
    LIFECYCLE_VIP,
    FanTag,
    FanTagEvent,
    LifecycleSettings,
    Tag,
    TagGroup,
    TagSource,
)
from fans.crm.services.tagging import fan_tag_ids_refresh
from shops.models import Shop

logger = logging.getLogger(__name__)

SPEND_WINDOW = dt.timedelta(days=365)  # VIP: spend over the last 12 months


def lifecycle_tags() -> dict[str, Tag]:
    """The platform lifecycle tags by code (migration crm 0003 ships them)."""
    group = TagGroup.objects.get(shop__isnull=True, code=LIFECYCLE_GROUP)
    return {t.code: t for t in Tag.objects.filter(group=group).select_related("group")}


def lifecycle_settings(shop: Shop | int) -> LifecycleSettings:
    shop_id = shop if isinstance(shop, int) else shop.pk
    return LifecycleSettings.objects.get_or_create(shop_id=shop_id)[0]


def progress_key(shop_id: int) -> str:
    return f"lifecycle-progress:{shop_id}"


def _progress(shop_id: int, fraction: float | None) -> None:
    """A nicety in the cache: Redis being down must not fail (and roll back) the computation."""
    try:
        if fraction is None:
            cache.delete(progress_key(shop_id))
        else:
            cache.set(progress_key(shop_id), fraction, 3600)
    except UNAVAILABLE_ERRORS as exc:
        logger.warning("lifecycle progress of shop %s not reported: %r", shop_id, exc)


def lifecycle_progress(shop_id: int) -> float:
    try:
        return float(cache.get(progress_key(shop_id), 0.0))
    except UNAVAILABLE_ERRORS:
        return 0.0


def _want_sql(shop_id: int, conf: LifecycleSettings, tags: dict[str, Tag], now: dt.datetime):
    """SELECT (fan_id, tag_id): each fan's stage tag, plus the VIP tag for the top spenders."""
    adapt = connection.ops.adapt_datetimefield_value
    pg = is_postgresql(connection)
    providers = [p(shop_id, now - SPEND_WINDOW) for p in fan_spend_sql.providers()]
    params: list[Any] = []
    if providers:
        union = " UNION ALL ".join(f"({sql})" for sql, _ in providers)
        for _, p in providers:
            params += p
        pay = (
            "SELECT fan_id, SUM(spend) AS spend, MAX(last_paid_at) AS last_paid_at "
            f"FROM ({union}) pay_all GROUP BY fan_id"
        )
    else:
        pay = "SELECT NULL AS fan_id, 0 AS spend, NULL AS last_paid_at WHERE 1 = 0"
    fan, conv, msg = Fan._meta.db_table, Conversation._meta.db_table, Message._meta.db_table
    lapsed_cut = now - dt.timedelta(days=conf.lapsed_after_days)
    # Messages older than the lapsed cut-off cannot change a fan's stage: the scan starts there.
    msgs = (
        f"SELECT c.fan_id, MAX(m.created_at) AS last_msg FROM {msg} m JOIN {conv} c ON c.id = m.conversation_id "
        "WHERE c.shop_id = %s AND m.side = %s AND m.created_at > %s GROUP BY c.fan_id"
    )
    params += [shop_id, Side.FAN, adapt(lapsed_cut)]
    greatest = "GREATEST" if pg else "MAX"
    # SQLite sums decimals as floating point: round to the cent so the ranking matches PostgreSQL's.
    spend = "COALESCE(pay.spend, 0)" if pg else "ROUND(COALESCE(pay.spend, 0), 2)"
    base = (
        f"SELECT f.id AS fan_id, f.joined_at, {greatest}(f.joined_at, COALESCE(pay.last_paid_at, f.joined_at), "
        f"COALESCE(msg.last_msg, f.joined_at)) AS last_at, {spend} AS spend, COUNT(*) OVER () AS n, "
        f"ROW_NUMBER() OVER (ORDER BY {spend} DESC, f.id) AS rn "
        f"FROM {fan} f LEFT JOIN ({pay}) pay ON pay.fan_id = f.id LEFT JOIN ({msgs}) msg ON msg.fan_id = f.id "
        "WHERE f.shop_id = %s"
    )
    params.append(shop_id)
    sql = (
        f"WITH base AS ({base}) "
        "SELECT fan_id, CASE WHEN joined_at > %s THEN %s WHEN last_at <= %s THEN %s "
        "WHEN last_at <= %s THEN %s ELSE %s END AS tag_id FROM base "
        # VIP: a fan who paid, within the first ceil(n * percentile / 100) by spend ((rn - 1) * 100 < n * pct).
        "UNION ALL SELECT fan_id, %s AS tag_id FROM base WHERE spend > 0 AND (rn - 1) * 100 < n * %s"
    )
    params += [
        adapt(now - dt.timedelta(days=conf.new_days)),
        tags["new"].pk,
        adapt(lapsed_cut),
        tags["lapsed"].pk,
        adapt(now - dt.timedelta(days=conf.at_risk_after_days)),
        tags["at_risk"].pk,
        tags["active"].pk,
        tags[LIFECYCLE_VIP].pk,
        conf.vip_percentile,
    ]
    return sql, params


def lifecycle_recompute(shop: Shop | int, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Recompute one shop's lifecycle tags; returns {"counts", "added", "removed", "fans", "seconds"}."""
    shop_id = shop if isinstance(shop, int) else shop.pk
    now = now or timezone.now()
    started = time.monotonic()
    tags = lifecycle_tags()
    _progress(shop_id, 0.05)
    if is_postgresql(connection):
        # Bounded transactions (fans.crm.lifecycle_apply); the settings row is written once all batches are in.
        with shop_run_lock(shop_id):
            conf = lifecycle_settings(shop_id)
            want_sql, want_params = _want_sql(shop_id, conf, tags, now)
            added, removed, counts = apply_batched(
                shop_id, tags, want_sql, want_params, now, lambda f: _progress(shop_id, f)
            )
            with transaction.atomic():
                conf = LifecycleSettings.objects.select_for_update().get(shop_id=shop_id)
                result = _finish(conf, tags, added, removed, counts, now, started)
    else:
        with transaction.atomic():
            conf = LifecycleSettings.objects.select_for_update().get_or_create(shop_id=shop_id)[0]
            want_sql, want_params = _want_sql(shop_id, conf, tags, now)
            added, removed, counts = _apply_portable(shop_id, tags, want_sql, want_params, now)
            result = _finish(conf, tags, added, removed, counts, now, started)
    _progress(shop_id, None)
    return result


def _finish(conf, tags, added, removed, counts, now, started) -> dict[str, Any]:
    result = {
        "counts": {code: counts.get(tag.pk, 0) for code, tag in tags.items()},
        "fans": sum(counts.get(tags[s].pk, 0) for s in LIFECYCLE_STAGES),
        "added": added,
        "removed": removed,
        "seconds": round(time.monotonic() - started, 2),
    }
    conf.computed_at, conf.result, conf.requested_at = now, result, None
    conf.save(update_fields=["computed_at", "result", "requested_at", "updated_at"])
    return result


def _apply_portable(shop_id, tags, want_sql, want_params, now) -> tuple[int, int, dict[int, int]]:
    with connection.cursor() as cur:
        cur.execute(want_sql, want_params)
        want = {(int(f), int(t)) for f, t in cur.fetchall()}
    group_id = next(iter(tags.values())).group_id
    held = dict(
        ((f, t), pk)
        for pk, f, t in FanTag.objects.filter(fan__shop_id=shop_id, group_id=group_id).values_list(
            "pk", "fan_id", "tag_id"
        )
    )
    gone = [key for key in held if key not in want]
    new = [key for key in want if key not in held]
    FanTag.objects.filter(pk__in=[held[k] for k in gone]).delete()
    FanTag.objects.bulk_create(
        [
            FanTag(fan_id=f, tag_id=t, group_id=group_id, single=False, source=TagSource.SYSTEM)
            for f, t in sorted(new)
        ],
        batch_size=2000,
    )
    events = [
        FanTagEvent(fan_id=f, tag_id=t, action=action, source=TagSource.SYSTEM)
        for action, keys in ((FanTagEvent.REMOVE, gone), (FanTagEvent.ADD, sorted(new)))
        for f, t in keys
    ]
    FanTagEvent.objects.bulk_create(events, batch_size=2000)
    fan_tag_ids_refresh(sorted({f for f, _ in gone} | {f for f, _ in new}))
    counts: dict[int, int] = {}
    for _, t in want:
        counts[t] = counts.get(t, 0) + 1
    return len(new), len(gone), counts


def lifecycle_recompute_all(*, now: dt.datetime | None = None) -> dict[int, dict[str, Any]]:
    """The nightly run: every shop with fans, each in its own transaction (one failing does not stop the rest)."""
    now = now or timezone.now()
    results: dict[int, dict[str, Any]] = {}
    for shop_id in Fan.objects.order_by().values_list("shop_id", flat=True).distinct():
        try:
            results[shop_id] = lifecycle_recompute(shop_id, now=now)
        except Exception:  # noqa: BLE001 - one shop's failure is logged; the others still get their tags
            logger.exception("lifecycle tags of shop %s not recomputed", shop_id)
    return results
