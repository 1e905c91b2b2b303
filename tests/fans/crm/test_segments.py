"""Tag segments: FanTagSet stays in step with FanTag, and every filter path gives the same fans."""

import datetime as dt
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from core.db import is_postgresql
from fans.chat.models import Fan
from fans.crm import filters
from fans.crm import services as crm
from fans.crm.filters import fan_count, fan_filter_clean, fan_page, fan_queryset, ordering_clean
from fans.crm.models import BulkJob, FanTag, FanTagSet, ImportJob, Tag, TagSource
from fans.crm.services.tagging import fan_tags_bulk_add, fan_tags_bulk_remove, fan_tags_change
from shops.models import ShopMember
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


def tag(s: str) -> Tag:
    group, code = s.split(":")
    return Tag.objects.select_related("group").get(group__code=group, code=code, group__shop__isnull=True)


def assert_mirrored(fans: list[Fan]) -> None:
    for fan in fans:
        held = sorted(FanTag.objects.filter(fan=fan).values_list("tag_id", flat=True))
        assert sorted(Fan.objects.get(pk=fan.pk).tag_ids) == held
        if is_postgresql(connection):
            tag_set = FanTagSet.objects.filter(fan=fan).first()
            assert (tag_set.tags if tag_set else []) == held
            if tag_set:
                assert tag_set.shop_id == fan.shop_id and tag_set.joined_at == fan.joined_at


def test_tag_sets_follow_every_kind_of_change(shop, owner):
    fans = [FanFactory(shop=shop) for _ in range(4)]
    member = ShopMember.objects.get(shop=shop, user=owner)
    ids = [f.pk for f in fans]
    fan_tags_change(fan=fans[0], add=[tag("skin_type:dry")], source=TagSource.OWNER, actor=owner)
    assert_mirrored(fans)
    fan_tags_change(fan=fans[0], add=[tag("skin_type:oily")], source=TagSource.OWNER, actor=owner)
    fan_tags_bulk_add(fan_ids=ids, tags=[tag("preference:value")], source=TagSource.OWNER, actor=owner)
    assert_mirrored(fans)
    fan_tags_bulk_add(fan_ids=ids[:2], tags=[tag("skin_type:dry")], source=TagSource.OWNER, actor=owner)
    assert_mirrored(fans)
    fan_tags_bulk_remove(fan_ids=ids[1:], tags=[tag("preference:value")], source=TagSource.OWNER, actor=owner)
    assert_mirrored(fans)
    data = (
        "fan_id,tags,notes\n"
        f"{ids[2]},skin_type:oily;skin_concern:acne,新备注\n"
        f"{ids[3]},,只有备注\n"
        f"{ids[1]},preference:looks,\n"
    ).encode("gbk")
    job = crm.import_preview(member=member, upload=SimpleUploadedFile("fans.csv", data))
    assert job.encoding == "gbk" and job.valid == 3
    crm.import_confirm(member=member, job=job)
    crm.import_apply(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == "succeeded"
    assert_mirrored(fans)
    assert Fan.objects.get(pk=ids[3]).notes == "只有备注" and Fan.objects.get(pk=ids[2]).notes == "新备注"
    assert crm.fan_tags_erase(user=fans[2].user, shop_id=shop.pk) == 2
    assert_mirrored(fans)


@pytest.fixture
def population(shop, owner):
    """Twelve fans with varied tag sets; some share a join time, so ties fall back to the id."""
    specs = [
        ["skin_type:oily", "preference:value"],
        ["skin_type:oily", "preference:looks"],
        ["skin_type:dry", "preference:value"],
        ["skin_type:oily", "preference:value", "skin_concern:acne"],
        ["skin_type:dry"],
        [],
        ["preference:looks", "skin_concern:acne"],
        ["skin_type:oily"],
        ["preference:value"],
        ["skin_type:oily", "preference:value"],
        [],
        ["skin_concern:acne"],
    ]
    base = timezone.now() - dt.timedelta(days=30)
    fans = []
    for i, tags in enumerate(specs):
        fan = FanFactory(shop=shop, display_name=f"粉丝{i}")
        Fan.objects.filter(pk=fan.pk).update(joined_at=base + dt.timedelta(days=i // 3))
        if tags:
            fan_tags_change(fan=fan, add=[tag(t) for t in tags], source=TagSource.OWNER, actor=owner)
        fans.append(fan)
    # Another shop's fan with the same platform tags must never show up.
    other = FanFactory(display_name="别家")
    fan_tags_change(fan=other, add=[tag("skin_type:oily")], source=TagSource.OWNER, actor=owner)
    return fans


FILTERS = [
    {"tags_all": "skin_type:oily,preference:value"},
    {"tags_all": "skin_type:oily,preference:value", "tags_none": "skin_concern:acne"},
    {"tags_any": "skin_type:dry,skin_concern:acne"},
    {"tags_any": "skin_type:dry,skin_type:oily", "tags_none": "preference:value"},
    {"tags_all": "preference:value", "tags_any": "skin_type:dry,skin_concern:acne"},
    {"tags_none": "skin_type:oily,skin_type:dry"},
    {"tags_none": "skin_concern:acne"},
    {"tags_all": "skin_type:oily", "q": "粉丝"},
    {"tags_none": "skin_type:oily", "q": "粉丝1"},
    {},
]


def expected(shop, flt: dict, population: list[Fan]) -> set[int]:
    """The filter's meaning, computed from FanTag in Python."""
    held: dict[int, set[str]] = {f.pk: set() for f in population}
    for fan_id, group, code in FanTag.objects.filter(fan__shop=shop).values_list(
        "fan_id", "group__code", "tag__code"
    ):
        held[fan_id].add(f"{group}:{code}")
    out = set()
    for fan in population:
        tags = held[fan.pk]
        if flt.get("tags_all") and not set(flt["tags_all"].split(",")) <= tags:
            continue
        if flt.get("tags_any") and not set(flt["tags_any"].split(",")) & tags:
            continue
        if flt.get("tags_none") and set(flt["tags_none"].split(",")) & tags:
            continue
        if flt.get("q") and flt["q"] not in fan.display_name:
            continue
        out.add(fan.pk)
    return out


@pytest.mark.parametrize("raw", FILTERS)
def test_every_filter_path_gives_the_same_fans(shop, population, raw, monkeypatch):
    flt = fan_filter_clean(shop, raw)
    want = expected(shop, raw, population)
    assert set(fan_queryset(shop, flt).values_list("pk", flat=True)) == want
    assert fan_count(shop, flt) == len(want)
    for name in ("-joined_at", "joined_at", "display_name"):
        ordering = ordering_clean(name)
        in_order = list(fan_queryset(shop, flt).order_by(*ordering).values_list("pk", flat=True))
        assert set(in_order) == want
        pages = [fan_page(shop, flt, ordering, offset=o, limit=5) for o in (0, 5, 10, 15)]
        assert {count for count, _ids in pages} == {len(want)}
        assert list(itertools.chain(*(page for _count, page in pages))) == in_order
    # The portable form (what SQLite runs) selects the same fans on this database too.
    monkeypatch.setattr(filters.connection, "vendor", "sqlite")
    assert set(fan_queryset(shop, flt).values_list("pk", flat=True)) == want
    assert fan_count(shop, flt) == len(want)


def test_segment_counts_and_bulk_selection_use_the_same_filter(shop, owner, population, api_for):
    client = api_for(owner)
    flt = {"tags_all": "skin_type:oily", "tags_none": "skin_concern:acne"}
    want = expected(shop, flt, population)
    seg = client.post("/api/segments/", {"name": "油皮无痘", "filter": flt}, format="json")
    assert seg.status_code == 201 and seg.json()["count"] == len(want)
    body = client.get(f"/api/segments/{seg.json()['id']}/fans/", {"limit": 2}).json()
    assert body["count"] == len(want) and len(body["results"]) == 2
    assert {r["id"] for r in body["results"]} <= want
    job = client.post("/api/bulk-jobs/", {"action": "export", "filter": flt}, format="json")
    assert job.status_code == 201
    assert BulkJob.objects.get(pk=job.json()["id"]).total == len(want)


def test_fan_list_page_beyond_the_end_is_empty(api_for, owner, population):
    body = api_for(owner).get("/api/fans/", {"tags_all": "skin_type:oily", "offset": 50}).json()
    assert body["count"] == 5 and body["results"] == []


def test_seeded_fans_have_tag_sets_and_segments_count_them():
    from django.core.management import call_command

    from bench import seed_scale
    from shops.models import Shop

    call_command(seed_scale.Command(), fans=500, shop_slug="segtest", tags=60, seed=2)
    shop = Shop.objects.get(slug="segtest")
    fans = list(Fan.objects.filter(shop=shop).order_by("pk")[:100])
    assert_mirrored(fans)
    popular = (
        FanTag.objects.filter(fan__shop=shop, single=False)
        .values_list("group__code", "tag__code")
        .order_by("tag_id")
        .first()
    )
    flt = fan_filter_clean(shop, {"tags_all": [":".join(popular)]})
    held = FanTag.objects.filter(fan__shop=shop, tag__code=popular[1], group__code=popular[0])
    assert fan_count(shop, flt) == held.count() > 0
    call_command(seed_scale.Command(), fans=50, shop_slug="segtest", reset=True)
    assert not FanTagSet.objects.filter(shop=shop).exists()
