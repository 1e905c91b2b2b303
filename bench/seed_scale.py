"""Fill the database with one large shop for scale tests: `call_command(seed_scale.Command(), fans=...)`,
or bench.chat.seed_scale_run(["--fans", "1000000"], env) from a bench's parent process.

One shop (owner `scale_owner`, password fansi-demo, three assistants), N fan users, N fans, one conversation
per fan (about 60% with a last_message_at), and a tag vocabulary of --tags tags: the platform starter tags plus
private groups of the shop. Each fan gets a skewed random set of tags (about 3 to 6; at most one value per
single-choice group). Seeded tags have no FanTagEvent history rows: history starts with the first real change.

On PostgreSQL the rows go in with COPY (about a minute for 1M fans); elsewhere the ORM is used, which is only
fit for small N.
"""

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import JSONField

from core.db import is_postgresql
from fans.chat.models import Conversation, Fan
from fans.crm.models import FanTag, Tag, TagChoice, TagGroup, TagSource
from fans.crm.services.tagging import fan_tag_ids_refresh
from shops.models import Shop, ShopMember, ShopRole

PASSWORD = "fansi-demo"
CHUNK = 100_000
BULK_TABLES = ("auth_user", "fans_fan", "fans_conversation", "fans_fantag")
STAFF = ["scale_staff1", "scale_staff2", "scale_staff3"]

# Private groups of the shop, used in order until the vocabulary reaches --tags.
# (code, zh, en, choice, expected tags per fan from this group, [(tag code, zh, en), ...])
PRIVATE_GROUPS = [
    (
        "channel",
        "来源渠道",
        "Channel",
        "single",
        0.7,
        [
            ("douyin", "抖音", "Douyin"),
            ("wechat", "微信", "WeChat"),
            ("xhs", "小红书", "Xiaohongshu"),
            ("kuaishou", "快手", "Kuaishou"),
            ("offline", "线下", "Offline"),
        ],
    ),
    (
        "stage",
        "客户阶段",
        "Customer stage",
        "single",
        0.5,
        [
            ("new", "新粉", "New"),
            ("active", "活跃", "Active"),
            ("dormant", "沉睡", "Dormant"),
            ("churned", "流失", "Churned"),
        ],
    ),
    (
        "vip_level",
        "会员等级",
        "VIP level",
        "single",
        0.3,
        [
            ("bronze", "铜卡", "Bronze"),
            ("silver", "银卡", "Silver"),
            ("gold", "金卡", "Gold"),
            ("platinum", "铂金", "Platinum"),
        ],
    ),
    (
        "interest",
        "兴趣",
        "Interest",
        "multi",
        0.8,
        [
            ("skincare", "护肤", "Skincare"),
            ("makeup", "彩妆", "Makeup"),
            ("snacks", "零食", "Snacks"),
            ("fresh_fruit", "鲜果", "Fresh fruit"),
            ("kids", "母婴", "Kids"),
            ("fashion", "穿搭", "Fashion"),
            ("home_goods", "家居", "Home goods"),
            ("fitness", "健身", "Fitness"),
            ("pets_supplies", "宠物用品", "Pet supplies"),
        ],
    ),
    (
        "campaign",
        "参与活动",
        "Campaigns",
        "multi",
        0.3,
        [
            ("spring_sale", "春季大促", "Spring sale"),
            ("double11", "双十一", "Double 11"),
            ("live_0618", "618直播", "618 live"),
            ("new_year", "年货节", "New Year fair"),
        ],
    ),
]
# Expected tags per fan from each platform group (the rest of the vocabulary ships in migration 0003).
PLATFORM_EXPECTED = {
    "skin_type": 0.45,
    "skin_concern": 0.6,
    "preference": 0.4,
    "household": 0.5,
    "fruit_taste": 0.4,
    "clothing_size": 0.35,
}
SOURCES = [TagSource.OWNER, TagSource.STAFF, TagSource.IMPORT, TagSource.RULE, TagSource.BOT]
SOURCE_WEIGHTS = [0.3, 0.3, 0.2, 0.15, 0.05]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = list("伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅琳雪晴悦欣怡婷然浩宇轩子涵诗雨思")
NOTES = [
    "老客户，喜欢直播间下单",
    "只在周末回复",
    "对价格敏感，等优惠",
    "朋友推荐来的",
    "要发票",
    "物流地址在郊区，注意时效",
    "prefers English",
    "曾经投诉过包装",
    "宝妈，关注母婴",
    "VIP 回购多",
]
# A fixed clock keeps --seed runs reproducible.
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@dataclass
class GroupPlan:
    group_id: int
    single: bool
    tag_ids: list[int]
    probs: np.ndarray  # single: distribution over values; multi: per-value chance


def _skewed(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 1.1
    return w / w.sum()


class Command(BaseCommand):
    help = "Seed one large shop (fans, conversations, tags) for scale tests and benches."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fans", type=int, default=10_000)
        parser.add_argument("--shop-slug", default="scale")
        parser.add_argument(
            "--tags", type=int, default=60, help="size of the shop's vocabulary (platform + private)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--reset", action="store_true", help="delete the shop and its seeded fans first")

    def handle(self, *args, **opts) -> None:
        started = time.monotonic()
        slug, n = opts["shop_slug"], opts["fans"]
        if n < 1:
            raise CommandError("--fans must be at least 1.")
        existing = Shop.objects.filter(slug=slug).first()
        if existing is not None:
            if not opts["reset"]:
                raise CommandError(f"Shop {slug!r} exists; pass --reset to replace it.")
            self._reset(existing)
            self.stdout.write(f"reset: {time.monotonic() - started:.1f}s")
        rng = np.random.default_rng(opts["seed"])
        shop, staff_ids = self._shop(slug)
        plans = self._vocabulary(shop, opts["tags"])
        n_tags = sum(len(p.tag_ids) for p in plans)
        t0 = time.monotonic()
        if is_postgresql(connection):
            totals = self._copy_all(shop, staff_ids, plans, n, rng)
        else:
            totals = self._orm_all(shop, staff_ids, plans, n, rng)
        self.stdout.write(
            f"seeded shop {slug!r} (id {shop.pk}): {n} fans, {totals['conversations']} conversations, "
            f"{totals['fan_tags']} fan tags ({totals['fan_tags'] / n:.2f} per fan) over {n_tags} tags "
            f"in {time.monotonic() - t0:.1f}s; total {time.monotonic() - started:.1f}s"
        )

    # --- shop, staff, vocabulary ------------------------------------------------------------------

    def _shop(self, slug: str) -> tuple[Shop, list[int]]:
        User = get_user_model()
        hashed = make_password(PASSWORD)
        owner, _ = User.objects.get_or_create(
            username="scale_owner" if slug == "scale" else f"{slug}_owner", defaults={"password": hashed}
        )
        shop = Shop.objects.create(name=f"规模测试店 {slug}", slug=slug, owner=owner)
        ShopMember.objects.create(shop=shop, user=owner, role=ShopRole.OWNER)
        staff_ids = []
        for name in STAFF:
            user, _ = User.objects.get_or_create(
                username=f"{slug}_{name.removeprefix('scale_')}", defaults={"password": hashed}
            )
            ShopMember.objects.create(shop=shop, user=user, role=ShopRole.ASSISTANT)
            staff_ids.append(user.pk)
        return shop, staff_ids

    def _vocabulary(self, shop: Shop, wanted: int) -> list[GroupPlan]:
        """The platform groups plus private groups until the shop's vocabulary has `wanted` tags."""
        plans: list[GroupPlan] = []
        count = 0
        for group in (
            TagGroup.objects.filter(shop__isnull=True).prefetch_related("tags").order_by("position", "pk")
        ):
            tag_ids = [t.pk for t in group.tags.all()]
            plans.append(self._plan(group, tag_ids, PLATFORM_EXPECTED.get(group.code, 0.3)))
            count += len(tag_ids)
        templates = list(PRIVATE_GROUPS)
        extra = 0
        while count < wanted:
            if templates:
                code, zh, en, choice, expected, tags = templates.pop(0)
            else:
                extra += 1
                code, zh, en, choice, expected = (
                    f"custom{extra}",
                    f"自定义{extra}",
                    f"Custom {extra}",
                    "multi",
                    0.2,
                )
                tags = [(f"t{i}", f"标签{i}", f"Tag {i}") for i in range(1, 11)]
            tags = tags[: wanted - count]
            group = TagGroup.objects.create(
                shop=shop, code=code, name_zh=zh, name_en=en, choice=choice, position=100 + len(plans)
            )
            tag_ids = [
                Tag.objects.create(group=group, code=c, name_zh=z, name_en=e, position=i).pk
                for i, (c, z, e) in enumerate(tags)
            ]
            plans.append(self._plan(group, tag_ids, expected))
            count += len(tag_ids)
        return plans

    @staticmethod
    def _plan(group: TagGroup, tag_ids: list[int], expected: float) -> GroupPlan:
        """Single choice: a fan has a value with chance `expected`, drawn by skewed popularity.
        Multi choice: each value independently, `expected` values per fan on average."""
        weights = _skewed(len(tag_ids))
        if group.choice == TagChoice.SINGLE:
            return GroupPlan(group.pk, True, tag_ids, np.array([expected, *weights]))
        return GroupPlan(group.pk, False, tag_ids, np.minimum(expected * weights, 0.9))

    # --- generated rows ----------------------------------------------------------------------------

    def _chunks(
        self, n: int, staff_ids: list[int], plans: list[GroupPlan], rng: np.random.Generator
    ) -> Iterator[dict]:
        """Column arrays for fans [start, stop), chunk by chunk; the same stream feeds COPY and the ORM."""
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            m = stop - start
            idx = np.arange(start, stop)
            # Older fans are rarer: joined up to two years ago, skewed recent.
            now = np.datetime64(EPOCH.replace(tzinfo=None), "s")
            # Joined up to two years before EPOCH, more of them recently.
            joined = now - (rng.random(m) ** 1.6 * 730 * 86400).astype("timedelta64[s]")
            spend_cents = np.where(rng.random(m) < 0.55, np.round(rng.lognormal(9.5, 1.2, m)), 0).astype(
                np.int64
            )
            spend_cents = np.minimum(spend_cents, 99_999_999)
            pledges = np.where(spend_cents > 0, rng.poisson(1.5, m), 0)
            assigned = np.where(rng.random(m) < 0.4, rng.integers(0, len(staff_ids), m), -1)
            has_msg = rng.random(m) < 0.6
            last_msg = joined + (rng.random(m) * (now - joined).astype(np.int64)).astype("timedelta64[s]")
            notes = np.where(rng.random(m) < 0.1, rng.integers(0, len(NOTES), m), -1)
            names = [
                SURNAMES[a] + GIVEN[b] + GIVEN[c]
                for a, b, c in zip(
                    rng.integers(0, len(SURNAMES), m),
                    rng.integers(0, len(GIVEN), m),
                    rng.integers(0, len(GIVEN), m),
                    strict=True,
                )
            ]
            tag_fan, tag_id, tag_group, tag_single = [], [], [], []
            for plan in plans:
                if plan.single:
                    has = np.flatnonzero(rng.random(m) < plan.probs[0])
                    values = rng.choice(len(plan.tag_ids), size=len(has), p=plan.probs[1:])
                    tag_fan.append(has)
                    tag_id.append(np.asarray(plan.tag_ids)[values])
                    tag_group.append(np.full(len(has), plan.group_id))
                    tag_single.append(np.ones(len(has), bool))
                else:
                    for tid, p in zip(plan.tag_ids, plan.probs, strict=True):
                        has = np.flatnonzero(rng.random(m) < p)
                        tag_fan.append(has)
                        tag_id.append(np.full(len(has), tid))
                        tag_group.append(np.full(len(has), plan.group_id))
                        tag_single.append(np.zeros(len(has), bool))
            tag_fan_a = np.concatenate(tag_fan)
            order = np.argsort(tag_fan_a, kind="stable")
            tag_count = len(tag_fan_a)
            yield {
                "start": start,
                "m": m,
                "idx": idx,
                "joined": joined,
                "spend_cents": spend_cents,
                "pledges": pledges,
                "assigned": assigned,
                "has_msg": has_msg,
                "last_msg": last_msg,
                "notes": notes,
                "names": names,
                "tag_fan": tag_fan_a[order],
                "tag_id": np.concatenate(tag_id)[order],
                "tag_group": np.concatenate(tag_group)[order],
                "tag_single": np.concatenate(tag_single)[order],
                "tag_source": rng.choice(len(SOURCES), size=tag_count, p=SOURCE_WEIGHTS),
                "tag_at": now - (rng.random(tag_count) * 180 * 86400).astype("timedelta64[s]"),
            }

    # --- PostgreSQL: COPY ---------------------------------------------------------------------------

    def _copy_all(
        self, shop: Shop, staff_ids: list[int], plans: list[GroupPlan], n: int, rng: np.random.Generator
    ) -> dict[str, int]:
        totals = {"conversations": 0, "fan_tags": 0}
        staff = np.asarray(staff_ids)
        slug = shop.slug
        with transaction.atomic(), connection.cursor() as cur:
            # Explicit ids: reserve ranges under a lock, then move the sequences past them.
            cur.execute(f"LOCK TABLE {', '.join(BULK_TABLES)} IN ACCESS EXCLUSIVE MODE")
            base = {}
            for table in BULK_TABLES:
                cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                base[table] = cur.fetchone()[0]
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cur.fetchone()[0]:
                # The rows are consistent by construction; skipping the per-row FK triggers saves most of the time.
                cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute("LOCK TABLE fans_fantagset IN ACCESS EXCLUSIVE MODE")
            rebuild = _drop_secondary_indexes(cur, (*BULK_TABLES, "fans_fantagset"))
            ft_next = base["fans_fantag"] + 1
            User = get_user_model()
            user_cols, user_rest = _columns(
                User,
                [
                    "id",
                    "password",
                    "is_superuser",
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "is_staff",
                    "is_active",
                    "date_joined",
                ],
            )
            fan_cols, fan_rest = _columns(
                Fan,
                [
                    "id",
                    "shop_id",
                    "user_id",
                    "display_name",
                    "notes",
                    "joined_at",
                    "joined_via",
                    "assigned_to_id",
                    "total_spend",
                    "pledge_count",
                    "promotions_opt_out",
                    "tag_ids",
                ],
            )
            conv_cols, conv_rest = _columns(
                Conversation,
                [
                    "id",
                    "shop_id",
                    "fan_id",
                    "assigned_to_id",
                    "last_seq",
                    "last_message_at",
                    "last_message_preview",
                    "shop_read_seq",
                    "fan_read_seq",
                    "shop_unread",
                    "fan_unread",
                    "created_at",
                ],
            )
            tag_cols, tag_rest = _columns(
                FanTag,
                ["id", "fan_id", "tag_id", "group_id", "single", "source", "added_by_id", "created_at"],
            )
            for c in self._chunks(n, staff_ids, plans, rng):
                t0 = time.monotonic()
                uid = c["idx"] + base["auth_user"] + 1
                fid = c["idx"] + base["fans_fan"] + 1
                cid = c["idx"] + base["fans_conversation"] + 1
                joined = [f"{d}+00" for d in np.datetime_as_string(c["joined"], unit="s")]
                last = [f"{d}+00" for d in np.datetime_as_string(c["last_msg"], unit="s")]
                assigned = ["\\N" if a < 0 else str(staff[a]) for a in c["assigned"]]
                spend = [f"{v // 100}.{v % 100:02d}" for v in c["spend_cents"].tolist()]
                with cur.copy(f"COPY auth_user ({user_cols}) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{u}\t!\tf\t{slug}-fan-{i}\t\t\t\tf\tt\t{j}{user_rest}\n"
                            for u, i, j in zip(uid.tolist(), c["idx"].tolist(), joined, strict=True)
                        )
                    )
                # Fan.tag_ids mirrors FanTag (fans.services.tagging): written here so no later UPDATE bloats the table.
                per_fan: list[list[int]] = [[] for _ in range(c["m"])]
                for fi, t in zip(c["tag_fan"].tolist(), c["tag_id"].tolist(), strict=True):
                    per_fan[fi].append(t)
                per_fan = [sorted(ts) for ts in per_fan]
                tag_json = ["[" + ", ".join(map(str, ts)) + "]" for ts in per_fan]
                with cur.copy(f"COPY fans_fan ({fan_cols}) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{f}\t{shop.pk}\t{u}\t{name}\t{NOTES[note] if note >= 0 else ''}\t{j}\tinvite\t{a}\t{s}\t{p}\tf\t{tj}{fan_rest}\n"
                            for f, u, name, note, j, a, s, p, tj in zip(
                                fid.tolist(),
                                uid.tolist(),
                                c["names"],
                                c["notes"].tolist(),
                                joined,
                                assigned,
                                spend,
                                c["pledges"].tolist(),
                                tag_json,
                                strict=True,
                            )
                        )
                    )
                # ... and so does each tagged fan's FanTagSet row, which segment queries scan.
                with cur.copy("COPY fans_fantagset (fan_id, shop_id, joined_at, tags) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{f}\t{shop.pk}\t{j}\t{{{','.join(map(str, ts))}}}\n"
                            for f, j, ts in zip(fid.tolist(), joined, per_fan, strict=True)
                            if ts
                        )
                    )
                with cur.copy(f"COPY fans_conversation ({conv_cols}) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{cv}\t{shop.pk}\t{f}\t{a}\t0\t{lm if h else chr(92) + 'N'}\t\t0\t0\t0\t0\t{j}{conv_rest}\n"
                            for cv, f, a, lm, h, j in zip(
                                cid.tolist(),
                                fid.tolist(),
                                assigned,
                                last,
                                c["has_msg"].tolist(),
                                joined,
                                strict=True,
                            )
                        )
                    )
                k = len(c["tag_fan"])
                tag_at = [f"{d}+00" for d in np.datetime_as_string(c["tag_at"], unit="s")]
                tfid = (c["tag_fan"] + c["start"] + base["fans_fan"] + 1).tolist()
                with cur.copy(f"COPY fans_fantag ({tag_cols}) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{ft_next + i}\t{f}\t{t}\t{g}\t{'t' if s else 'f'}\t{SOURCES[src]}\t\\N\t{at}{tag_rest}\n"
                            for i, (f, t, g, s, src, at) in enumerate(
                                zip(
                                    tfid,
                                    c["tag_id"].tolist(),
                                    c["tag_group"].tolist(),
                                    c["tag_single"].tolist(),
                                    c["tag_source"].tolist(),
                                    tag_at,
                                    strict=True,
                                )
                            )
                        )
                    )
                ft_next += k
                totals["conversations"] += c["m"]
                totals["fan_tags"] += k
                self.stdout.write(
                    f"  fans {c['start'] + c['m']:>9}/{n}: +{k} tags, {time.monotonic() - t0:.1f}s"
                )
            t0 = time.monotonic()
            for sql in rebuild:
                cur.execute(sql)
            self.stdout.write(f"  rebuilt {len(rebuild)} indexes in {time.monotonic() - t0:.1f}s")
            for table, last_id in (
                ("auth_user", base["auth_user"] + n),
                ("fans_fan", base["fans_fan"] + n),
                ("fans_conversation", base["fans_conversation"] + n),
                ("fans_fantag", ft_next - 1),
            ):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [max(last_id, 1)])
        with connection.cursor() as cur:
            for table in (*BULK_TABLES, "fans_fantagset"):
                cur.execute(f"ANALYZE {table}")
        return totals

    # --- other databases: the ORM -------------------------------------------------------------------

    def _orm_all(
        self, shop: Shop, staff_ids: list[int], plans: list[GroupPlan], n: int, rng: np.random.Generator
    ) -> dict[str, int]:
        User = get_user_model()
        totals = {"conversations": 0, "fan_tags": 0}
        with transaction.atomic():
            for c in self._chunks(n, staff_ids, plans, rng):
                users = User.objects.bulk_create(
                    [
                        User(username=f"{shop.slug}-fan-{i}", password="!", date_joined=_aware(j))
                        for i, j in zip(c["idx"].tolist(), c["joined"], strict=True)
                    ],
                    batch_size=2000,
                )
                fans = Fan.objects.bulk_create(
                    [
                        Fan(
                            shop=shop,
                            user=u,
                            display_name=name,
                            notes=NOTES[note] if note >= 0 else "",
                            assigned_to_id=staff_ids[a] if a >= 0 else None,
                            total_spend=f"{s // 100}.{s % 100:02d}",
                            pledge_count=p,
                        )
                        for u, name, note, a, s, p in zip(
                            users,
                            c["names"],
                            c["notes"].tolist(),
                            c["assigned"].tolist(),
                            c["spend_cents"].tolist(),
                            c["pledges"].tolist(),
                            strict=True,
                        )
                    ],
                    batch_size=2000,
                )
                # joined_at is auto_now_add: set it afterwards.
                for fan, j in zip(fans, c["joined"], strict=True):
                    fan.joined_at = _aware(j)
                Fan.objects.bulk_update(fans, ["joined_at"], batch_size=2000)
                Conversation.objects.bulk_create(
                    [
                        Conversation(
                            shop=shop,
                            fan=f,
                            assigned_to_id=f.assigned_to_id,
                            last_message_at=_aware(lm) if h else None,
                        )
                        for f, lm, h in zip(fans, c["last_msg"], c["has_msg"].tolist(), strict=True)
                    ],
                    batch_size=2000,
                )
                FanTag.objects.bulk_create(
                    [
                        FanTag(fan=fans[f], tag_id=t, group_id=g, single=s, source=SOURCES[src])
                        for f, t, g, s, src in zip(
                            c["tag_fan"].tolist(),
                            c["tag_id"].tolist(),
                            c["tag_group"].tolist(),
                            c["tag_single"].tolist(),
                            c["tag_source"].tolist(),
                            strict=True,
                        )
                    ],
                    batch_size=2000,
                )
                fan_tag_ids_refresh([f.pk for f in fans])
                totals["conversations"] += c["m"]
                totals["fan_tags"] += len(c["tag_fan"])
        return totals

    # --- reset --------------------------------------------------------------------------------------

    def _reset(self, shop: Shop) -> None:
        """Delete the shop and its seeded users; bulk tables first with plain SQL, then the ORM cascade."""
        User = get_user_model()
        with transaction.atomic():
            if is_postgresql(connection):
                with connection.cursor() as cur:
                    fans = "SELECT id FROM fans_fan WHERE shop_id = %s"
                    cur.execute(f"DELETE FROM fans_fantagevent WHERE fan_id IN ({fans})", [shop.pk])
                    cur.execute(f"DELETE FROM fans_fantag WHERE fan_id IN ({fans})", [shop.pk])
                    cur.execute("DELETE FROM fans_fantagset WHERE shop_id = %s", [shop.pk])
                    cur.execute(
                        "DELETE FROM fans_message WHERE conversation_id IN "
                        "(SELECT id FROM fans_conversation WHERE shop_id = %s)",
                        [shop.pk],
                    )
                    cur.execute("DELETE FROM fans_conversation WHERE shop_id = %s", [shop.pk])
                    cur.execute("DELETE FROM fans_fan WHERE shop_id = %s", [shop.pk])
                    cur.execute("DELETE FROM auth_user WHERE username LIKE %s", [f"{shop.slug}-fan-%"])
            shop.delete()
            User.objects.filter(username__startswith=f"{shop.slug}-fan-").delete()


def _columns(model, known: list[str]) -> tuple[str, str]:
    """The COPY column list: `known` plus any column added to the model since (filled with its default)."""
    extra = [f for f in model._meta.concrete_fields if f.column not in known]
    rest = "".join("\t" + _copy_text(_default_for_copy(f)) for f in extra)
    return ", ".join(f'"{c}"' for c in [*known, *(f.column for f in extra)]), rest


def _default_for_copy(field) -> object:
    default = field.get_default()
    if isinstance(field, JSONField):
        return json.dumps(default)
    return field.get_db_prep_save(default, connection)


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _drop_secondary_indexes(cur, tables: tuple[str, ...]) -> list[str]:
    """Drop every index but the primary keys on `tables` and return the statements that rebuild them.

    Loading without them and building each once afterwards is several times faster than maintaining
    them row by row; it all happens in the caller's transaction, so a failure leaves the schema as it was.
    """
    cur.execute(
        """SELECT t.relname, ic.relname, pg_get_indexdef(i.indexrelid), c.conname, pg_get_constraintdef(c.oid)
           FROM pg_index i
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_class ic ON ic.oid = i.indexrelid
           LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = t.oid AND c.contype = 'u'
           WHERE t.relname = ANY(%s) AND NOT i.indisprimary""",
        [list(tables)],
    )
    rebuild = []
    for table, index, indexdef, constraint, constraintdef in cur.fetchall():
        if constraint:
            cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            rebuild.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {constraintdef}')
        else:
            cur.execute(f'DROP INDEX "{index}"')
            rebuild.append(indexdef)
    return rebuild


def _aware(value: np.datetime64) -> dt.datetime:
    return value.astype("datetime64[us]").astype(dt.datetime).replace(tzinfo=dt.UTC)
