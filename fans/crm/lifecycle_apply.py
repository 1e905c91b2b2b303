"""Applying a lifecycle computation on PostgreSQL (fans.crm.lifecycle): set-based, in bounded batches.

The wanted tags of every fan of the shop (lc_want, from the classifying SELECT) and their difference from the
tags held (lc_diff, one hash full join) are computed once, in temp tables that outlive the transaction. The
difference is then applied in batches of about BATCH_FANS changed fans, by fan id range, each batch in its own
transaction: DELETE ... RETURNING into remove events, INSERT ... SELECT ... RETURNING into add events, and the
arrays FanTagSet.tags and Fan.tag_ids of the batch's fans patched from what was really written (intarray `-`,
`|`). A fan's tags change in one transaction (never half-written), and each transaction is bounded: the deferred
foreign-key checks at its COMMIT, the trigger queue and the WAL between checkpoints grow with the batch, not the
shop. A killed worker leaves whole batches applied; the next run computes the difference again, which no longer
holds them, and applies the rest. Inside a caller's transaction (tests, a caller's atomic block) the batches
are savepoints of that transaction instead.

Outside a caller's transaction the batches run on WORKERS connections at once (threads, each batch still one
transaction of its own fan range): PostgreSQL runs one statement on one core, and the first computation of 1M
fans is three statements a batch that each take a core (bench/lifecycle.py). The difference then lives in an
unlogged table the workers' sessions can read (lc_diff_<shop>; the shop's advisory lock keeps its name to one
run), dropped at the end and before each run.

Runs of one shop are serialised by an advisory lock: a session lock held across the batches, or a transaction
lock when running inside a caller's transaction.
"""

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from django.db import connection, transaction

from fans.crm.models import FanTagEvent, Tag, TagSource

BATCH_FANS = 100_000  # changed fans per transaction
WORKERS = 2  # batches applied at once (connections), outside a caller's transaction
_LOCK = "hashtext('fansi.lifecycle'), %s"
_EVENT_COLS = "fan_id, tag_id, action, source, actor_id, created_at"


@contextlib.contextmanager
def shop_run_lock(shop_id: int) -> Iterator[None]:
    """One run per shop at a time (the nightly beat and a "recompute now" may meet)."""
    with connection.cursor() as cur:
        if connection.in_atomic_block:  # a caller's transaction: it holds the lock until it ends
            cur.execute(f"SELECT pg_advisory_xact_lock({_LOCK})", [shop_id])
            yield
            return
        cur.execute(f"SELECT pg_advisory_lock({_LOCK})", [shop_id])
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute(f"SELECT pg_advisory_unlock({_LOCK})", [shop_id])


def _diff_table(shop_id: int, parallel: bool) -> str:
    return f"lc_diff_{int(shop_id)}" if parallel else "lc_diff"


def _drop_temp(cur, shop_id: int) -> None:
    cur.execute(f"DROP TABLE IF EXISTS lc_want, lc_diff, lc_changed, lc_delta, {_diff_table(shop_id, True)}")


def apply_batched(
    shop_id: int,
    tags: dict[str, Tag],
    want_sql: str,
    want_params: list,
    now,
    progress: Callable[[float], None],
) -> tuple[int, int, dict[int, int]]:
    """Returns (added, removed, {tag id: fans wanted}); call under shop_run_lock."""
    lifecycle_ids = sorted(t.pk for t in tags.values())
    parallel = WORKERS > 1 and not connection.in_atomic_block
    diff = _diff_table(shop_id, parallel)
    try:
        with transaction.atomic(), connection.cursor() as cur:
            # Hash joins and aggregates over ~1M rows stay in memory (this transaction only).
            cur.execute("SET LOCAL work_mem = '256MB'")
            _drop_temp(cur, shop_id)
            cur.execute("CREATE TEMP TABLE lc_want (fan_id bigint, tag_id integer)")
            cur.execute(f"INSERT INTO lc_want (fan_id, tag_id) {want_sql}", want_params)
            cur.execute("ANALYZE lc_want")
            progress(0.3)
            # Wanted vs held (the shop's fans' lifecycle FanTag rows, through fantag_tag_fan): one full hash join.
            cur.execute(
                f"CREATE {'UNLOGGED' if parallel else 'TEMP'} TABLE {diff} AS SELECT "
                "COALESCE(w.fan_id, h.fan_id) AS fan_id, "
                "COALESCE(w.tag_id, h.tag_id) AS tag_id, h.fan_id IS NULL AS add FROM lc_want w FULL JOIN "
                "(SELECT ft.fan_id, ft.tag_id FROM fans_fantag ft JOIN fans_fan f ON f.id = ft.fan_id "
                "WHERE ft.tag_id = ANY(%s) AND f.shop_id = %s) h ON h.fan_id = w.fan_id AND h.tag_id = w.tag_id "
                "WHERE w.fan_id IS NULL OR h.fan_id IS NULL",
                [lifecycle_ids, shop_id],
            )
            cur.execute(f"CREATE INDEX ON {diff} (fan_id)")
            cur.execute(f"ANALYZE {diff}")
            cur.execute("SELECT tag_id, COUNT(*) FROM lc_want GROUP BY tag_id")
            counts = dict(cur.fetchall())
            # Upper fan ids of the batches: every BATCH_FANS-th changed fan (the last batch is open-ended).
            cur.execute(
                "SELECT fan_id FROM (SELECT fan_id, ROW_NUMBER() OVER (ORDER BY fan_id) AS rn FROM "
                f"(SELECT DISTINCT fan_id FROM {diff}) u) b WHERE rn %% %s = 0 ORDER BY fan_id",
                [BATCH_FANS],
            )
            bounds = [row[0] for row in cur.fetchall()]
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {diff})")
            changes = cur.fetchone()[0]
        progress(0.4)
        added = removed = 0
        if changes:
            ranges = list(zip([None, *bounds], [*bounds, None], strict=True))
            group_id = next(iter(tags.values())).group_id
            done = 0
            for a, r in _batches(
                ranges, lambda low, high: _apply_batch(group_id, low, high, now, diff=diff), parallel
            ):
                added, removed, done = added + a, removed + r, done + 1
                progress(0.4 + 0.55 * done / len(ranges))
        return added, removed, counts
    finally:
        if not connection.needs_rollback:
            with connection.cursor() as cur:
                _drop_temp(cur, shop_id)


def _batches(ranges: list, apply: Callable, parallel: bool) -> Iterator[tuple[int, int]]:
    """Each range's (added, removed), in order of completion. In parallel a failing batch stops the ones not yet
    started; those in flight finish their own transactions, so the shop is left with whole batches either way."""
    if not parallel:
        for low, high in ranges:
            yield apply(low, high)
        return

    def work(low, high):
        try:
            return apply(low, high)
        finally:
            connection.close()  # this thread's connection (Django's are per thread)

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lifecycle") as pool:
        pending = {pool.submit(work, low, high) for low, high in ranges}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                yield future.result()


def _range(column: str, low: int | None, high: int | None) -> tuple[str, list[int]]:
    sql, params = "", []
    if low is not None:
        sql, params = f" AND {column} > %s", [low]
    if high is not None:
        sql, params = f"{sql} AND {column} <= %s", [*params, high]
    return sql, params


def _apply_batch(group_id: int, low: int | None, high: int | None, now, *, diff: str) -> tuple[int, int]:
    """One transaction: the batch's removals and additions with their events, then the arrays."""
    d_range, d_params = _range("d.fan_id", low, high)
    ft_range, ft_params = _range("ft.fan_id", low, high)
    f_range, f_params = _range("f.id", low, high)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("DROP TABLE IF EXISTS lc_changed, lc_delta")
        # What was really written (RETURNING), so the arrays follow the rows exactly.
        cur.execute(
            "CREATE TEMP TABLE lc_changed (fan_id bigint, tag_id integer, add boolean) ON COMMIT DROP"
        )
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {diff} d WHERE NOT d.add{d_range})", d_params)
        removed = 0
        if cur.fetchone()[0]:  # a first computation removes nothing: no join over the FanTag rows at all
            # The fan range on FanTag too, so the join reads the batch's part of fantag_unique, not the table.
            cur.execute(
                f"WITH gone AS (DELETE FROM fans_fantag ft USING {diff} d WHERE NOT d.add AND ft.fan_id = d.fan_id "
                f"AND ft.tag_id = d.tag_id AND ft.group_id = %s{d_range}{ft_range} RETURNING ft.fan_id, ft.tag_id), "
                f"ev AS (INSERT INTO fans_fantagevent ({_EVENT_COLS}) SELECT fan_id, tag_id, %s, %s, NULL, %s "
                "FROM gone) INSERT INTO lc_changed (fan_id, tag_id, add) SELECT fan_id, tag_id, false FROM gone",
                [group_id, *d_params, *ft_params, FanTagEvent.REMOVE, TagSource.SYSTEM, now],
            )
            removed = cur.rowcount
        cur.execute(
            "WITH new AS (INSERT INTO fans_fantag (fan_id, tag_id, group_id, single, source, added_by_id, "
            # Joined to fans_fan: FanTag.fan has no database foreign key, so a fan deleted since lc_want was
            # computed gets no row (the batch's pkey range, a merge join).
            f"created_at) SELECT d.fan_id, d.tag_id, %s, false, %s, NULL, %s FROM {diff} d "
            f"JOIN fans_fan f ON f.id = d.fan_id WHERE d.add{d_range}{f_range} "
            "ORDER BY d.fan_id, d.tag_id ON CONFLICT DO NOTHING RETURNING fan_id, tag_id), "
            f"ev AS (INSERT INTO fans_fantagevent ({_EVENT_COLS}) SELECT fan_id, tag_id, %s, %s, NULL, %s FROM new) "
            "INSERT INTO lc_changed (fan_id, tag_id, add) SELECT fan_id, tag_id, true FROM new",
            [group_id, TagSource.SYSTEM, now, *d_params, *f_params, FanTagEvent.ADD, TagSource.SYSTEM, now],
        )
        added = cur.rowcount
        if added or removed:
            _patch_arrays(cur, low, high)
        cur.execute("DROP TABLE IF EXISTS lc_changed, lc_delta")
    return added, removed


def _patch_arrays(cur, low: int | None, high: int | None) -> None:
    """FanTagSet.tags and Fan.tag_ids of the changed fans: old minus removed, union added (plain joins).

    Fan.tag_ids and FanTagSet.tags hold the same sorted ids as the fan's FanTag rows (fans.crm.services.tagging
    keeps them so in every transaction), so the new arrays are the old ones minus the removed ids, union the
    added ones: intarray's `-` and `|` return sorted, duplicate-free arrays, the format array_agg(... ORDER BY
    tag_id) gives. The batch's id range on each table lets the join read only the batch's part of the pkey.
    """
    cur.execute(
        "CREATE TEMP TABLE lc_delta ON COMMIT DROP AS SELECT fan_id, "
        "COALESCE(array_agg(tag_id) FILTER (WHERE add), '{}') AS added, "
        "COALESCE(array_agg(tag_id) FILTER (WHERE NOT add), '{}') AS removed FROM lc_changed GROUP BY fan_id"
    )
    cur.execute("ANALYZE lc_delta")
    cur.execute("SELECT COUNT(*) FROM lc_delta")
    fans = cur.fetchone()[0]
    s_range, s_params = _range("s.fan_id", low, high)
    # The expression reads the row being updated, so a concurrent tagging of the same fan is not lost.
    cur.execute(
        "UPDATE fans_fantagset s SET tags = (s.tags - d.removed) | d.added FROM lc_delta d "
        f"WHERE s.fan_id = d.fan_id{s_range} AND s.tags IS DISTINCT FROM (s.tags - d.removed) | d.added",
        s_params,
    )
    f_range, f_params = _range("f.id", low, high)
    if cur.rowcount < fans:
        # A fan without a FanTagSet row holds no tags (so nothing to remove): the row is inserted with the added
        # ids. (Usually every changed fan has its row: then no anti-join over all of them.)
        cur.execute(
            "INSERT INTO fans_fantagset (fan_id, shop_id, joined_at, tags) SELECT f.id, f.shop_id, f.joined_at, "
            f"sort(d.added) FROM lc_delta d JOIN fans_fan f ON f.id = d.fan_id{f_range} WHERE NOT EXISTS "
            "(SELECT 1 FROM fans_fantagset s WHERE s.fan_id = d.fan_id) ON CONFLICT (fan_id) DO UPDATE "
            "SET tags = fans_fantagset.tags | EXCLUDED.tags WHERE fans_fantagset.tags <> "
            "(fans_fantagset.tags | EXCLUDED.tags)",
            f_params,
        )
    # Only the tag_ids column (in no index), and only where it differs: the fan row can be updated in place (HOT).
    cur.execute(
        "UPDATE fans_fan f SET tag_ids = to_jsonb(s.tags) FROM lc_delta d JOIN fans_fantagset s "
        f"ON s.fan_id = d.fan_id WHERE f.id = d.fan_id{f_range}{s_range} "
        "AND f.tag_ids IS DISTINCT FROM to_jsonb(s.tags)",
        [*f_params, *s_params],
    )
