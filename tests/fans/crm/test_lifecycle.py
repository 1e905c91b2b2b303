"""Lifecycle tags (fans.crm.lifecycle): the nightly beat task on PostgreSQL against a Python reference,
idempotence, every tag store kept consistent, hand edits refused, and the settings API."""

import datetime as dt

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from core.db import is_postgresql
from fans.chat.models import Fan
from fans.crm.lifecycle import lifecycle_recompute, lifecycle_tags
from fans.crm.models import FanTag, FanTagEvent, FanTagSet, LifecycleSettings, TagSource
from fans.crm.tasks import lifecycle_nightly_task
from shops.models import ShopRole
from tests.factories import FanFactory, ShopFactory, ShopMemberFactory
from tests.fans.crm.lifecycle_seed import reference_tags, seed_shop

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_services")]


@pytest.fixture
def api_for(api_for, django_capture_on_commit_callbacks):
    """API clients whose requests run their after-commit work (Celery tasks are eager in tests)."""

    class Client:
        def __init__(self, user):
            self.inner = api_for(user)

        def __getattr__(self, method):
            call = getattr(self.inner, method)

            def run(*args, **kwargs):
                with django_capture_on_commit_callbacks(execute=True):
                    return call(*args, **kwargs)

            return run

    return Client


def held(shop) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {f: set() for f in Fan.objects.filter(shop=shop).values_list("pk", flat=True)}
    for fan_id, code in FanTag.objects.filter(fan__shop=shop, group__code="lifecycle").values_list(
        "fan_id", "tag__code"
    ):
        out[fan_id].add(code)
    return out


def assert_stores_consistent(shop) -> None:
    """FanTag, Fan.tag_ids and FanTagSet.tags say the same for every fan of the shop."""
    truth: dict[int, list[int]] = {}
    for fan_id, tag_id in FanTag.objects.filter(fan__shop=shop).values_list("fan_id", "tag_id"):
        truth.setdefault(fan_id, []).append(tag_id)
    for fan_id, tag_ids in Fan.objects.filter(shop=shop).values_list("pk", "tag_ids"):
        assert tag_ids == sorted(truth.get(fan_id, [])), fan_id  # the format tagging writes: sorted ids
    sets = dict(FanTagSet.objects.filter(shop=shop).values_list("fan_id", "tags"))
    for fan_id, tag_ids in truth.items():
        assert sets[fan_id] == sorted(tag_ids), fan_id


def test_beat_entry_is_nightly():
    entry = settings.CELERY_BEAT_SCHEDULE["crm-lifecycle-nightly"]
    assert entry["task"] == "fans.crm.tasks.lifecycle_nightly_task"
    assert isinstance(entry["schedule"], crontab)


def test_nightly_task_matches_the_python_reference_and_keeps_every_store(shop):
    assert is_postgresql(connection)
    now = timezone.now()
    seed_shop(shop, n=90, now=now)
    other = ShopFactory()
    seed_shop(other, n=20, now=now, seed=3)
    # A hand-set tag elsewhere stays untouched.
    keep = Fan.objects.filter(shop=shop).first()
    from fans.crm.services.tagging import fan_tags_change
    from fans.crm.vocabulary import tags_resolve

    fan_tags_change(fan=keep, add=tags_resolve(shop, ["skin_type:oily"]), source=TagSource.OWNER, actor=None)

    lifecycle_nightly_task.apply()

    expected = reference_tags(shop, timezone.now())
    got = held(shop)
    assert got == expected
    assert held(other) == reference_tags(other, timezone.now())
    stages = {"new", "active", "at_risk", "lapsed"}
    assert all(len(codes & stages) == 1 for codes in got.values())
    # The seed covers every tag, so the comparison means something.
    assert {c for codes in got.values() for c in codes} == stages | {"vip"}
    assert FanTag.objects.filter(fan=keep, tag__code="oily").exists()
    assert set(FanTag.objects.filter(group__code="lifecycle").values_list("source", flat=True)) == {"system"}
    assert_stores_consistent(shop)
    adds = FanTagEvent.objects.filter(fan__shop=shop, source=TagSource.SYSTEM, action=FanTagEvent.ADD)
    assert adds.count() == sum(len(c) for c in expected.values())
    conf = LifecycleSettings.objects.get(shop=shop)
    assert conf.computed_at is not None
    assert conf.result["counts"]["vip"] == sum("vip" in c for c in expected.values())
    assert conf.result["fans"] == 90


def test_a_second_run_writes_no_events_and_changes_nothing(shop):
    now = timezone.now()
    seed_shop(shop, n=40, now=now)
    lifecycle_recompute(shop, now=now)
    events = FanTagEvent.objects.count()
    tags = sorted(FanTag.objects.values_list("pk", "fan_id", "tag_id"))
    result = lifecycle_recompute(shop, now=now)
    assert (result["added"], result["removed"]) == (0, 0)
    assert FanTagEvent.objects.count() == events
    assert sorted(FanTag.objects.values_list("pk", "fan_id", "tag_id")) == tags


def test_time_passing_moves_a_fan_from_active_to_lapsed_with_events(shop):
    now = timezone.now()
    fan = FanFactory(shop=shop)
    Fan.objects.filter(pk=fan.pk).update(joined_at=now - dt.timedelta(days=20))
    lifecycle_recompute(shop, now=now)
    assert held(shop)[fan.pk] == {"active"}
    later = now + dt.timedelta(days=100)
    result = lifecycle_recompute(shop, now=later)
    assert held(shop)[fan.pk] == {"lapsed"}
    assert (result["added"], result["removed"]) == (1, 1)
    entered = FanTagEvent.objects.filter(
        fan=fan, tag__group__code="lifecycle", tag__code="lapsed", action="add", source="system"
    )
    assert entered.count() == 1  # what journeys trigger "entered the lapsed tag" on
    assert FanTagEvent.objects.filter(fan=fan, tag__code="active", action="remove", source="system").exists()
    assert_stores_consistent(shop)


@pytest.fixture
def lapsed_fan(shop):
    fan = FanFactory(shop=shop)
    Fan.objects.filter(pk=fan.pk).update(joined_at=timezone.now() - dt.timedelta(days=200))
    lifecycle_recompute(shop)
    assert held(shop)[fan.pk] == {"lapsed"}
    return fan


def _unchanged(shop, before):
    assert sorted(FanTag.objects.filter(fan__shop=shop).values_list("fan_id", "tag_id")) == before


def test_hand_edits_of_lifecycle_tags_are_refused_everywhere(api_for, shop, owner, lapsed_fan):
    client = api_for(owner)
    before = sorted(FanTag.objects.filter(fan__shop=shop).values_list("fan_id", "tag_id"))
    for body in ({"add": ["lifecycle:vip"]}, {"remove": ["lifecycle:lapsed"]}, {"add": ["lifecycle:active"]}):
        r = client.post(f"/api/fans/{lapsed_fan.pk}/tags/", body, format="json")
        assert r.status_code == 400, r.content
        assert r.json()["code"] == "system_tag"
    for action in ("add_tags", "remove_tags"):
        r = client.post(
            "/api/bulk-jobs/",
            {"action": action, "tags": ["lifecycle:lapsed"], "fan_ids": [lapsed_fan.pk]},
            format="json",
        )
        assert r.status_code == 400, r.content
        assert r.json()["code"] == "system_tag"
    upload = SimpleUploadedFile("fans.csv", f"fan_id,tags\n{lapsed_fan.pk},lifecycle:vip\n".encode())
    r = client.post("/api/imports/", {"file": upload}, format="multipart")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "system_tag"
    _unchanged(shop, before)
    # A file exported earlier says what the fan holds: that is no change, and the import goes through.
    upload = SimpleUploadedFile("fans.csv", f"fan_id,tags\n{lapsed_fan.pk},lifecycle:lapsed\n".encode())
    r = client.post("/api/imports/", {"file": upload}, format="multipart")
    assert r.status_code == 201, r.content
    # The services refuse too, whoever calls them (the bot's suggestions, jobs).
    from core.errors import Invalid
    from fans.crm.services.tagging import fan_tags_bulk_add, fan_tags_bulk_remove

    tag = lifecycle_tags()["vip"]
    with pytest.raises(Invalid):
        fan_tags_bulk_add(fan_ids=[lapsed_fan.pk], tags=[tag], source=TagSource.BOT, actor=None)
    with pytest.raises(Invalid):
        fan_tags_bulk_remove(
            fan_ids=[lapsed_fan.pk], tags=[lifecycle_tags()["lapsed"]], source=TagSource.OWNER, actor=None
        )
    _unchanged(shop, before)


def test_filters_and_segments_use_lifecycle_tags(api_for, shop, owner, lapsed_fan):
    fresh = FanFactory(shop=shop)
    lifecycle_recompute(shop)
    client = api_for(owner)
    r = client.get("/api/fans/", {"shop": shop.pk, "tags_all": "lifecycle:lapsed"})
    assert r.status_code == 200
    assert {row["id"] for row in r.json()["results"]} == {lapsed_fan.pk}
    r = client.post(
        "/api/segments/",
        {"shop": shop.pk, "name": "新粉", "filter": {"tags_all": ["lifecycle:new"]}},
        format="json",
    )
    assert r.status_code == 201, r.content
    r = client.get(f"/api/segments/{r.json()['id']}/fans/")
    assert {row["id"] for row in r.json()["results"]} == {fresh.pk}


def test_a_fans_privacy_erase_keeps_the_computed_lifecycle_tags(api_for, shop, lapsed_fan):
    r = api_for(lapsed_fan.user).post(f"/api/me/shops/{shop.pk}/tags/erase/")
    assert r.status_code == 200, r.content
    assert held(shop)[lapsed_fan.pk] == {"lapsed"}


def test_settings_api_reads_validates_and_saves(api_for, shop, owner):
    client = api_for(owner)
    r = client.get("/api/lifecycle/settings/", {"shop": shop.pk})
    assert r.status_code == 200
    body = r.json()
    assert (
        body["new_days"],
        body["at_risk_after_days"],
        body["lapsed_after_days"],
        body["vip_percentile"],
    ) == (
        14,
        45,
        90,
        10,
    )
    bad = [
        ({"at_risk_after_days": "soon"}, "at_risk_after_days_invalid"),
        ({"lapsed_after_days": 1.5}, "lapsed_after_days_invalid"),
        ({"new_days": -3}, "new_days_invalid"),
        ({"at_risk_after_days": 90}, "at_risk_not_before_lapsed"),
        ({"at_risk_after_days": 60, "lapsed_after_days": 30}, "at_risk_not_before_lapsed"),
        ({"vip_percentile": 0}, "vip_percentile_invalid"),
        ({"vip_percentile": 51}, "vip_percentile_invalid"),
        ({"vip_percentile": True}, "vip_percentile_invalid"),
        ({"colour": "red"}, "unknown_field"),
    ]
    for payload, code in bad:
        r = client.patch(f"/api/lifecycle/settings/?shop={shop.pk}", payload, format="json")
        assert r.status_code == 400, (payload, r.content)
        assert r.json()["code"] == code, payload
        assert r.json()["message"]
    row = LifecycleSettings.objects.get(shop=shop)
    assert (row.at_risk_after_days, row.lapsed_after_days, row.vip_percentile) == (45, 90, 10)
    r = client.patch(
        f"/api/lifecycle/settings/?shop={shop.pk}",
        {"at_risk_after_days": 30, "lapsed_after_days": 60, "vip_percentile": 20},
        format="json",
    )
    assert r.status_code == 200, r.content
    row.refresh_from_db()
    assert (row.at_risk_after_days, row.lapsed_after_days, row.vip_percentile) == (30, 60, 20)


def test_only_owners_and_managers_change_settings_or_recompute(api_for, shop, owner, staff, stranger):
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    assert api_for(staff).get("/api/lifecycle/settings/", {"shop": shop.pk}).status_code == 200
    r = api_for(staff).patch(f"/api/lifecycle/settings/?shop={shop.pk}", {"vip_percentile": 5}, format="json")
    assert r.status_code == 403
    assert api_for(staff).post(f"/api/lifecycle/recompute/?shop={shop.pk}").status_code == 403
    assert api_for(stranger).get("/api/lifecycle/settings/", {"shop": shop.pk}).status_code in (403, 404)
    r = api_for(manager).patch(
        f"/api/lifecycle/settings/?shop={shop.pk}", {"vip_percentile": 5}, format="json"
    )
    assert r.status_code == 200
    assert LifecycleSettings.objects.get(shop=shop).vip_percentile == 5


def test_recompute_now_runs_the_task_and_reports(api_for, shop, owner):
    fans = [FanFactory(shop=shop) for _ in range(3)]
    r = api_for(owner).post(f"/api/lifecycle/recompute/?shop={shop.pk}")
    assert r.status_code == 202, r.content
    body = api_for(owner).get("/api/lifecycle/settings/", {"shop": shop.pk}).json()
    assert body["running"] is False and body["computed_at"]
    assert body["counts"]["new"] == 3
    assert all(held(shop)[f.pk] == {"new"} for f in fans)
