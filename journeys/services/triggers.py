"""Enrolling fans, set-based: each trigger is one SELECT of (shop, fan, occurrence, time) over the events since
its watermark (or, for the balance nudge, over the state as it stands), inserted for every enabled journey of
that trigger in one INSERT ... ON CONFLICT DO NOTHING. The unique (journey, fan, trigger_ref) makes missed
beats, reruns and overlapping scans harmless: a fan is enrolled once per occurrence."""

import datetime as dt
import logging

from django.db import connection, transaction
from django.utils import timezone

from core.zones import in_zone
from fans.chat.models import Fan
from fans.crm.models import FanTagEvent, Tag, TagGroup
from journeys.models import Enrollment, EnrollmentState, Journey, Trigger, TriggerWatermark
from preorders.models import Campaign, LedgerEntry, Pledge, PledgeStatus, SubscriptionSkip

logger = logging.getLogger(__name__)

# Rows are stamped before their transaction commits; a scan starts this far before the watermark so a late
# commit is still seen (the unique enrollment makes the overlap free).
OVERLAP = dt.timedelta(minutes=10)
FIRST_LOOKBACK = dt.timedelta(days=1)
BALANCE_GRACE = dt.timedelta(hours=24)
LIFECYCLE_GROUP, LAPSED_TAG, SYSTEM_SOURCE = "lifecycle", "lapsed", "system"


def _t(model: type) -> str:
    return model._meta.db_table


def _candidates_sql(trigger: str) -> str:
    """A SELECT of (shop_id, fan_id, ref, occurred_at) with %(since)s and %(now)s."""
    fan, pledge, campaign = _t(Fan), _t(Pledge), _t(Campaign)
    if trigger == Trigger.FOLLOWED:
        return (
            f"SELECT f.shop_id, f.id AS fan_id, 'followed' AS ref, f.joined_at AS occurred_at FROM {fan} f "
            "WHERE f.joined_at > %(since)s AND f.joined_at <= %(now)s"
        )
    if trigger == Trigger.FIRST_PAID:
        # The fan's first charge in this shop, among fans with a charge in the window.
        cash = _t(LedgerEntry)
        return (
            f"SELECT c.shop_id, p.fan_id, 'first_paid' AS ref, MIN(l.created_at) AS occurred_at "
            f"FROM {cash} l JOIN {pledge} p ON p.id = l.pledge_id JOIN {campaign} c ON c.id = p.campaign_id "
            f"WHERE l.kind = 'charge' AND p.fan_id IN (SELECT p2.fan_id FROM {cash} l2 "
            f"JOIN {pledge} p2 ON p2.id = l2.pledge_id WHERE l2.kind = 'charge' "
            "AND l2.created_at > %(since)s AND l2.created_at <= %(now)s) "
            "GROUP BY c.shop_id, p.fan_id HAVING MIN(l.created_at) > %(since)s AND MIN(l.created_at) <= %(now)s"
        )
    if trigger == Trigger.BALANCE_UNPAID:
        # State, not events: every confirmed group pledge whose balance is still unpaid 24 h after the outcome.
        return (
            f"SELECT c.shop_id, p.fan_id, 'balance:' || p.id AS ref, c.decided_at AS occurred_at "
            f"FROM {pledge} p JOIN {campaign} c ON c.id = p.campaign_id "
            f"WHERE p.status = '{PledgeStatus.CONFIRMED}' AND c.kind = 'group' AND p.balance_due > 0 "
            "AND c.decided_at IS NOT NULL AND c.decided_at <= %(overdue_before)s"
        )
    if trigger == Trigger.SUBSCRIPTION_SKIPPED:
        skip = _t(SubscriptionSkip)
        return (
            f"SELECT c.shop_id, p.fan_id, 'skip2:' || p.id AS ref, s.created_at AS occurred_at FROM {skip} s "
            f"JOIN {pledge} p ON p.id = s.pledge_id JOIN {campaign} c ON c.id = p.campaign_id "
            "WHERE s.created_at > %(since)s AND s.created_at <= %(now)s "
            f"AND (SELECT count(*) FROM {skip} s2 WHERE s2.pledge_id = s.pledge_id "
            "AND (s2.created_at, s2.id) <= (s.created_at, s.id)) = 2"
        )
    if trigger == Trigger.LAPSED:
        event, tag, group = _t(FanTagEvent), _t(Tag), _t(TagGroup)
        return (
            f"SELECT f.shop_id, e.fan_id, 'lapsed:' || e.id AS ref, e.created_at AS occurred_at FROM {event} e "
            f"JOIN {fan} f ON f.id = e.fan_id JOIN {tag} t ON t.id = e.tag_id JOIN {group} g ON g.id = t.group_id "
            f"WHERE g.code = '{LIFECYCLE_GROUP}' AND g.shop_id IS NULL AND t.code = '{LAPSED_TAG}' "
            f"AND e.action = 'add' AND e.source = '{SYSTEM_SOURCE}' "
            "AND e.created_at > %(since)s AND e.created_at <= %(now)s"
        )
    raise ValueError(trigger)


def _insert(candidates: str, params: dict, *, since_enabled: bool = True) -> int:
    """Enroll the candidates in every enabled journey of the trigger in their shop. Portable SQL (PostgreSQL,
    and SQLite for the embedded demo): WHERE 1 = 1 lets SQLite read the upsert after a SELECT."""
    enrollment, journey = _t(Enrollment), _t(Journey)
    adapt = connection.ops.adapt_datetimefield_value
    params = {k: adapt(v) if isinstance(v, dt.datetime) else v for k, v in params.items()}
    # An unpaid balance is a state: whatever is overdue when the nudge is turned on gets it (until paid).
    enabled_rule = "AND c.occurred_at >= j.enabled_at " if since_enabled else ""
    sql = (
        f"INSERT INTO {enrollment} (journey_id, fan_id, trigger_ref, occurred_at, step_index, next_run_at, "
        "state, deferrals, entered_at) "
        "SELECT j.id, c.fan_id, c.ref, c.occurred_at, 0, %(now)s, %(active)s, 0, %(now)s "
        f"FROM ({candidates}) c JOIN {journey} j ON j.shop_id = c.shop_id AND j.trigger = %(trigger)s "
        f"AND j.enabled {enabled_rule}"
        "WHERE 1 = 1 ON CONFLICT (journey_id, fan_id, trigger_ref) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "active": EnrollmentState.ACTIVE})
        return cursor.rowcount


def _enroll_scanned(trigger: str, now: dt.datetime) -> int:
    """One trigger's scan since its watermark; the watermark moves in the same transaction."""
    with transaction.atomic():
        mark, _created = TriggerWatermark.objects.select_for_update().get_or_create(
            trigger=trigger, defaults={"scanned_to": now - FIRST_LOOKBACK}
        )
        since = min(mark.scanned_to, now) - OVERLAP
        params = {"since": since, "now": now, "trigger": trigger, "overdue_before": now - BALANCE_GRACE}
        n = _insert(_candidates_sql(trigger), params, since_enabled=trigger != Trigger.BALANCE_UNPAID)
        mark.scanned_to = max(mark.scanned_to, now)
        mark.save(update_fields=["scanned_to"])
    return n


def _enroll_birthdays(now: dt.datetime) -> int:
    """Fans whose shared birthday is today on their shop's clock (29 February is kept on the 28th in other
    years), once per year."""
    fan = _t(Fan)
    n = 0
    shops = (
        Journey.objects.filter(trigger=Trigger.BIRTHDAY, enabled=True)
        .values_list("shop_id", "shop__timezone")
        .distinct()
    )
    for shop_id, tz_name in shops:
        today = in_zone(now, tz_name).date()
        days = [today.day]
        leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
        if today.month == 2 and today.day == 28 and not leap:
            days.append(29)
        candidates = (
            f"SELECT f.shop_id, f.id AS fan_id, 'birthday:{today.year}' AS ref, %(now)s AS occurred_at "
            f"FROM {fan} f WHERE f.shop_id = %(shop)s AND f.birthday_month = %(month)s "
            f"AND f.birthday_day IN ({', '.join(f'%(day{i})s' for i in range(len(days)))})"
        )
        with transaction.atomic():
            n += _insert(
                candidates,
                {
                    "now": now,
                    "trigger": Trigger.BIRTHDAY,
                    "shop": shop_id,
                    "month": today.month,
                    **{f"day{i}": day for i, day in enumerate(days)},
                },
            )
    return n


SCANNED = (
    Trigger.FOLLOWED,
    Trigger.FIRST_PAID,
    Trigger.BALANCE_UNPAID,
    Trigger.SUBSCRIPTION_SKIPPED,
    Trigger.LAPSED,
)


def journeys_enroll(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat, every minute: {trigger: fans newly enrolled}."""
    now = now or timezone.now()
    counts = {trigger.value: _enroll_scanned(trigger, now) for trigger in SCANNED}
    counts[Trigger.BIRTHDAY.value] = _enroll_birthdays(now)
    return counts


def balance_still_unpaid(trigger_ref: str) -> bool:
    """A balance nudge stops once the pledge is paid (or lapsed, or refunded)."""
    try:
        pledge_id = int(trigger_ref.split(":", 1)[1])
    except (IndexError, ValueError):
        return False
    return Pledge.objects.filter(pk=pledge_id, status=PledgeStatus.CONFIRMED, balance_due__gt=0).exists()
