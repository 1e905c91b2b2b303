"""bench/crm.py's schema comparison: the same segment query as plain SQL on the join table (as is), on a
scratch copy of the fans with a denormalised `tag_ids bigint[]` column and a GIN index, and on the FanTagSet
table the app queries (intarray GIN + covering page index), with EXPLAIN ANALYZE of each."""

import time
from typing import Any

from bench.crm_measure import ms, summary

# --- schema comparison: join table vs tag_ids bigint[] + GIN -------------------------------------------

JOIN_COUNT = """SELECT count(*) FROM fans_fan f WHERE f.shop_id = %(shop)s
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(a)s)
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(b)s)
  AND NOT EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(c)s)"""
JOIN_PAGE = """SELECT f.id FROM fans_fan f WHERE f.shop_id = %(shop)s
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(a)s)
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(b)s)
  AND NOT EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(c)s)
  ORDER BY f.joined_at DESC, f.id DESC LIMIT 50"""
TAG_SET_COUNT = """SELECT count(*) FROM fans_fantagset s WHERE s.shop_id = %(shop)s
  AND s.tags @> ARRAY[%(a)s, %(b)s]::integer[] AND NOT (s.tags && ARRAY[%(c)s]::integer[])"""
TAG_SET_PAGE = """SELECT s.fan_id FROM fans_fantagset s WHERE s.shop_id = %(shop)s
  AND s.tags @> ARRAY[%(a)s, %(b)s]::integer[] AND NOT (s.tags && ARRAY[%(c)s]::integer[])
  ORDER BY s.joined_at DESC, s.fan_id DESC LIMIT 50"""
ARRAY_COUNT = """SELECT count(*) FROM bench_fan_tag_ids f WHERE f.shop_id = %(shop)s
  AND f.tag_ids @> ARRAY[%(a)s, %(b)s]::bigint[] AND NOT (f.tag_ids && ARRAY[%(c)s]::bigint[])"""
ARRAY_PAGE = """SELECT f.id FROM bench_fan_tag_ids f WHERE f.shop_id = %(shop)s
  AND f.tag_ids @> ARRAY[%(a)s, %(b)s]::bigint[] AND NOT (f.tag_ids && ARRAY[%(c)s]::bigint[])
  ORDER BY f.joined_at DESC, f.id DESC LIMIT 50"""


def schema_comparison(database_url: str, shop, triples) -> dict[str, Any]:
    import psycopg

    from fans.crm.vocabulary import tags_resolve

    ids = [[t.pk for t in tags_resolve(shop, list(tr))] for tr in triples]
    with psycopg.connect(database_url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("DROP TABLE IF EXISTS bench_fan_tag_ids")
        conn.execute("""CREATE TABLE bench_fan_tag_ids AS
            SELECT f.id, f.shop_id, f.joined_at, COALESCE(t.tag_ids, '{}') AS tag_ids
            FROM fans_fan f LEFT JOIN (SELECT fan_id, array_agg(tag_id ORDER BY tag_id) AS tag_ids
                                       FROM fans_fantag GROUP BY fan_id) t ON t.fan_id = f.id""")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("ALTER TABLE bench_fan_tag_ids ADD PRIMARY KEY (id)")
        conn.execute("CREATE INDEX bench_fan_tag_ids_gin ON bench_fan_tag_ids USING gin (tag_ids)")
        conn.execute("CREATE INDEX bench_fan_tag_ids_shop_joined ON bench_fan_tag_ids (shop_id, joined_at)")
        conn.execute("VACUUM ANALYZE bench_fan_tag_ids")
        build_s = time.perf_counter() - t0
        # The jobs above rewrote 200k tag sets; vacuum them too, so both designs are compared as autovacuum keeps them.
        conn.execute("VACUUM ANALYZE fans_fantagset")
        sizes = conn.execute("""SELECT pg_size_pretty(pg_total_relation_size('fans_fantag')),
            pg_size_pretty(pg_relation_size('fantag_tag_fan')), pg_size_pretty(pg_relation_size('bench_fan_tag_ids_gin')),
            pg_size_pretty(pg_total_relation_size('bench_fan_tag_ids')),
            pg_size_pretty(pg_relation_size('fans_fantagset')), pg_size_pretty(pg_relation_size('fantagset_tags_gin')),
            pg_size_pretty(pg_relation_size('fantagset_shop_joined'))""").fetchone()

        def run(count_sql: str, page_sql: str) -> dict[str, Any]:
            for a, b, c in ids[:5]:
                conn.execute(count_sql, {"shop": shop.pk, "a": a, "b": b, "c": c}).fetchall()
            times = []
            for a, b, c in ids:
                params = {"shop": shop.pk, "a": a, "b": b, "c": c}
                t0 = time.perf_counter()
                conn.execute(count_sql, params).fetchall()
                conn.execute(page_sql, params).fetchall()
                times.append(ms(time.perf_counter() - t0))
            a, b, c = ids[0]
            params = {"shop": shop.pk, "a": a, "b": b, "c": c}
            explain = {
                "count": [
                    r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + count_sql, params).fetchall()
                ],
                "page": [
                    r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + page_sql, params).fetchall()
                ],
            }
            return {**summary(times), "runs_ms": times, "explain_analyze": explain}

        join = run(JOIN_COUNT, JOIN_PAGE)
        array = run(ARRAY_COUNT, ARRAY_PAGE)
        tag_set = run(TAG_SET_COUNT, TAG_SET_PAGE)
    return {
        "what": "count + first page of tags_all=A,B & tags_none=C as plain SQL over the same triples",
        "join_table": {
            "design": "fans_fantag(fan, tag) + btree (tag_id, fan_id); one EXISTS per tag",
            **join,
            "table_size": sizes[0],
            "tag_fan_index_size": sizes[1],
        },
        "tag_array_gin": {
            "design": "tag_ids bigint[] on the fan row + GIN (tag_ids); @> for all-of, && for none-of",
            **array,
            "gin_index_size": sizes[2],
            "table_size": sizes[3],
            "build_s": round(build_s, 1),
        },
        "tag_set_intarray": {
            "design": "what the app uses: fans_fantagset(fan, shop, joined_at, tags integer[]) + intarray GIN "
            "(fastupdate off) + btree (shop, joined_at, fan) INCLUDE (tags); @> / && / NOT &&",
            **tag_set,
            "table_size": sizes[4],
            "gin_index_size": sizes[5],
            "page_index_size": sizes[6],
        },
    }
