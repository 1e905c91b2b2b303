import csv
import io

import pytest

from fans.crm.models import AuditLog, BulkJob, FanTag
from shops.models import ShopMember, ShopRole
from tests.factories import FanFactory, ShopMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


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


@pytest.fixture
def manager(shop):
    return ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user


@pytest.fixture
def tagged(shop, api_for, owner):
    """Six fans: oily+value, oily+looks, dry+value, oily+value+acne, dry, none."""
    specs = [
        ["skin_type:oily", "preference:value"],
        ["skin_type:oily", "preference:looks"],
        ["skin_type:dry", "preference:value"],
        ["skin_type:oily", "preference:value", "skin_concern:acne"],
        ["skin_type:dry"],
        [],
    ]
    fans = []
    for i, tags in enumerate(specs):
        fan = FanFactory(shop=shop, display_name=f"粉丝{i}")
        if tags:
            assert (
                api_for(owner).post(f"/api/fans/{fan.pk}/tags/", {"add": tags}, format="json").status_code
                == 200
            )
        fans.append(fan)
    return fans


def ids(response):
    return {r["id"] for r in response.json()["results"]}


def test_tag_groups_contract(api_for, owner):
    body = api_for(owner).get("/api/tag-groups/").json()
    skin = next(g for g in body if g["code"] == "skin_type")
    assert skin["choice"] == "single" and skin["scope"] == "beauty"
    assert skin["name"] == "肤质"
    assert {"code": "oily", "name": "油皮"}.items() <= next(
        t for t in skin["tags"] if t["code"] == "oily"
    ).items()


def test_tag_groups_in_english(api_for, owner):
    body = api_for(owner).get("/api/tag-groups/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert next(g for g in body if g["code"] == "skin_type")["name"] == "Skin type"


def test_private_tag_group_is_visible_only_to_its_shop(api_for, owner, other_shop):
    payload = {
        "code": "vip_level",
        "name_zh": "会员等级",
        "name_en": "VIP level",
        "choice": "single",
        "tags": [{"code": "gold", "name_zh": "金卡", "name_en": "Gold"}],
    }
    assert api_for(owner).post("/api/tag-groups/", payload, format="json").status_code == 201
    assert "vip_level" in {g["code"] for g in api_for(owner).get("/api/tag-groups/").json()}
    assert "vip_level" not in {g["code"] for g in api_for(other_shop.owner).get("/api/tag-groups/").json()}
    dup = api_for(owner).post("/api/tag-groups/", {**payload, "code": "skin_type"}, format="json")
    assert dup.status_code == 409


def test_fan_tags_endpoint_returns_tag_strings(api_for, owner, fan):
    response = api_for(owner).post(
        f"/api/fans/{fan.pk}/tags/", {"add": ["skin_type:oily", "preference:value"]}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()["tags"]) == {"skin_type:oily", "preference:value"}
    response = api_for(owner).post(
        f"/api/fans/{fan.pk}/tags/", {"add": ["skin_type:dry"], "remove": ["preference:value"]}, format="json"
    )
    assert response.json()["tags"] == ["skin_type:dry"]
    detail = response.json()["tag_details"][0]
    assert detail["source"] == "owner" and detail["created_at"]


def test_unknown_tag_is_a_400_and_changes_nothing(api_for, owner, fan):
    response = api_for(owner).post(
        f"/api/fans/{fan.pk}/tags/", {"add": ["skin_type:oily", "skin_type:blue"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_tag" and response.json()["message"]
    assert not FanTag.objects.filter(fan=fan).exists()


def test_fan_list_filters_all_any_none(api_for, owner, tagged):
    client = api_for(owner)
    f = tagged
    assert ids(client.get("/api/fans/", {"tags_all": "skin_type:oily,preference:value"})) == {
        f[0].pk,
        f[3].pk,
    }
    assert ids(client.get("/api/fans/", {"tags_any": "skin_type:dry,skin_concern:acne"})) == {
        f[2].pk,
        f[3].pk,
        f[4].pk,
    }
    assert ids(
        client.get(
            "/api/fans/", {"tags_all": "skin_type:oily,preference:value", "tags_none": "skin_concern:acne"}
        )
    ) == {f[0].pk}
    assert ids(client.get("/api/fans/", {"tags_none": "skin_type:oily,skin_type:dry"})) == {f[5].pk}
    body = client.get("/api/fans/", {"tags_all": "skin_type:oily"}).json()
    assert body["count"] == 3
    assert {"id", "display_name", "tags"} <= body["results"][0].keys()


def test_fan_list_search_ordering_and_assignee(api_for, owner, staff, tagged):
    client = api_for(owner)
    assert ids(client.get("/api/fans/", {"q": "粉丝3"})) == {tagged[3].pk}
    names = [
        r["display_name"] for r in client.get("/api/fans/", {"ordering": "display_name"}).json()["results"]
    ]
    assert names == sorted(names)
    by_id = [r["id"] for r in client.get("/api/fans/", {"ordering": "-id"}).json()["results"]]
    assert by_id == sorted(by_id, reverse=True) and len(by_id) > 1
    job = client.post(
        "/api/bulk-jobs/", {"action": "assign", "staff": staff.pk, "fan_ids": [tagged[1].pk]}, format="json"
    )
    assert job.status_code == 201
    assert ids(client.get("/api/fans/", {"assigned_to": staff.pk})) == {tagged[1].pk}
    assert client.get("/api/fans/", {"ordering": "password"}).status_code == 400
    assert client.get("/api/fans/", {"tags_all": "skin_type:nope"}).json()["code"] == "unknown_tag"


def test_fan_list_is_paginated(api_for, owner, tagged):
    body = api_for(owner).get("/api/fans/", {"limit": 2, "offset": 0}).json()
    assert body["count"] == 6 and len(body["results"]) == 2


def test_segments_save_a_filter_with_a_live_count(api_for, owner, tagged):
    client = api_for(owner)
    created = client.post(
        "/api/segments/",
        {"name": "油皮性价比", "filter": {"tags_all": ["skin_type:oily", "preference:value"]}},
        format="json",
    )
    assert created.status_code == 201
    seg = created.json()
    assert seg["count"] == 2
    assert ids(client.get(f"/api/segments/{seg['id']}/fans/")) == {tagged[0].pk, tagged[3].pk}
    client.post(f"/api/fans/{tagged[1].pk}/tags/", {"add": ["preference:value"]}, format="json")
    assert client.get(f"/api/segments/{seg['id']}/").json()["count"] == 3
    assert (
        client.post("/api/segments/", {"name": "油皮性价比", "filter": {}}, format="json").status_code == 409
    )
    assert (
        client.post(
            "/api/segments/", {"name": "bad", "filter": {"tags_all": ["x:y"]}}, format="json"
        ).status_code
        == 400
    )


def test_bulk_add_tags_on_a_filter_selects_all_matching(api_for, owner, tagged):
    client = api_for(owner)
    response = client.post(
        "/api/bulk-jobs/",
        {"action": "add_tags", "tags": ["skin_concern:pores"], "filter": {"tags_all": ["skin_type:oily"]}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert {"id", "status", "progress"} <= body.keys()
    job = client.get(f"/api/bulk-jobs/{body['id']}/").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["total"] == 3
    assert set(FanTag.objects.filter(tag__code="pores").values_list("fan_id", flat=True)) == {
        tagged[0].pk,
        tagged[1].pk,
        tagged[3].pk,
    }
    log = AuditLog.objects.get(action="bulk.add_tags")
    assert (log.actor, log.count) == (owner, 3)


def test_bulk_remove_on_a_segment(api_for, owner, tagged):
    client = api_for(owner)
    seg = client.post(
        "/api/segments/", {"name": "干皮", "filter": {"tags_all": ["skin_type:dry"]}}, format="json"
    ).json()
    job = client.post(
        "/api/bulk-jobs/",
        {"action": "remove_tags", "tags": ["skin_type:dry"], "segment": seg["id"]},
        format="json",
    )
    assert job.status_code == 201
    assert not FanTag.objects.filter(tag__code="dry").exists()


def test_bulk_export_neutralises_formulas(api_for, owner, tagged):
    client = api_for(owner)
    client.patch(f"/api/fans/{tagged[0].pk}/", {"notes": '=HYPERLINK("http://evil")'}, format="json")
    job = client.post(
        "/api/bulk-jobs/", {"action": "export", "fan_ids": [f.pk for f in tagged]}, format="json"
    ).json()
    job = client.get(f"/api/bulk-jobs/{job['id']}/").json()
    assert job["status"] == "succeeded" and job["download_url"]
    content = b"".join(client.get(job["download_url"]).streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 6
    # Labels in the UI language (zh-hans by default); codes in a column of their own.
    row = next(r for r in rows if r["粉丝编号"] == str(tagged[0].pk))
    assert row["私密备注"] == '\'=HYPERLINK("http://evil")'
    assert set(row["标签代码"].split(";")) == {"skin_type:oily", "preference:value"}


def test_bulk_job_validation(api_for, owner, tagged, other_shop):
    client = api_for(owner)
    cases = [
        {"action": "explode", "fan_ids": [tagged[0].pk]},
        {"action": "add_tags", "tags": ["skin_type:oily"]},
        {"action": "add_tags", "tags": ["skin_type:oily"], "fan_ids": [1], "filter": {}},
        {"action": "add_tags", "tags": [], "fan_ids": [tagged[0].pk]},
        {"action": "add_tags", "tags": ["skin_type:oily", "skin_type:dry"], "fan_ids": [tagged[0].pk]},
        {"action": "assign", "staff": other_shop.owner.pk, "fan_ids": [tagged[0].pk]},
    ]
    for payload in cases:
        response = client.post("/api/bulk-jobs/", payload, format="json")
        assert response.status_code == 400, payload
        assert response.json()["code"]
    assert not BulkJob.objects.exists()


def test_bulk_job_ignores_fans_of_other_shops(api_for, owner, tagged, other_shop):
    outsider = FanFactory(shop=other_shop)
    job = (
        api_for(owner)
        .post(
            "/api/bulk-jobs/",
            {"action": "add_tags", "tags": ["preference:looks"], "fan_ids": [tagged[5].pk, outsider.pk]},
            format="json",
        )
        .json()
    )
    assert api_for(owner).get(f"/api/bulk-jobs/{job['id']}/").json()["total"] == 1
    assert not FanTag.objects.filter(fan=outsider).exists()


def test_cancelled_job_before_start_changes_nothing(api_for, owner, tagged, settings, monkeypatch):
    monkeypatch.setattr("fans.crm.tasks.bulk_job_run_task.delay", lambda *a, **k: None)
    client = api_for(owner)
    job = client.post(
        "/api/bulk-jobs/", {"action": "add_tags", "tags": ["preference:looks"], "filter": {}}, format="json"
    ).json()
    cancelled = client.post(f"/api/bulk-jobs/{job['id']}/cancel/").json()
    assert cancelled["status"] == "cancelled"
    from fans.crm.services.jobs import bulk_job_run

    bulk_job_run(job_id=job["id"])  # a late worker leaves a cancelled job alone
    assert not FanTag.objects.filter(tag__code="looks").exclude(fan=tagged[1]).exists()
    assert client.post(f"/api/bulk-jobs/{job['id']}/cancel/").status_code == 409


def test_cancel_mid_run_stops_at_a_batch_boundary(shop, owner, monkeypatch):
    from fans.crm import services as crm
    from fans.crm.services import jobs, tagging

    monkeypatch.setattr(tagging, "BATCH", 2)
    monkeypatch.setattr(jobs, "BATCH", 2)
    monkeypatch.setattr("fans.crm.tasks.bulk_job_run_task.delay", lambda *a, **k: None)
    fans = [FanFactory(shop=shop) for _ in range(6)]
    member = ShopMember.objects.get(shop=shop, user=owner)
    job = crm.bulk_job_create(
        member=member, action="add_tags", tags=["preference:looks"], fan_ids=[f.pk for f in fans]
    )
    real_add = tagging.fan_tags_bulk_add
    calls = []

    def add_then_cancel(**kwargs):
        calls.append(kwargs["fan_ids"])
        result = real_add(**kwargs)
        if len(calls) == 1:
            BulkJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return result

    monkeypatch.setattr(jobs, "fan_tags_bulk_add", add_then_cancel)
    crm.bulk_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.processed == 2 and job.result["changed"] == 2
    # exactly the first batch, whole
    assert set(FanTag.objects.values_list("fan_id", flat=True)) == {fans[0].pk, fans[1].pk}


# --- permission matrix -------------------------------------------------------------------------------


ENDPOINTS = [
    ("get", "/api/fans/", None),
    ("get", "/api/fans/{fan}/", None),
    ("post", "/api/fans/{fan}/tags/", {"add": ["preference:value"]}),
    ("patch", "/api/fans/{fan}/", {"notes": "x"}),
    ("get", "/api/segments/", None),
    ("post", "/api/segments/", {"name": "s-{role}", "filter": {}}),
    ("post", "/api/bulk-jobs/", {"action": "add_tags", "tags": ["preference:value"], "fan_ids": ["{fan}"]}),
    (
        "post",
        "/api/bulk-jobs/",
        {"action": "remove_tags", "tags": ["preference:value"], "fan_ids": ["{fan}"]},
    ),
    ("post", "/api/bulk-jobs/", {"action": "export", "fan_ids": ["{fan}"]}),
    ("post", "/api/bulk-jobs/", {"action": "assign", "staff": None, "fan_ids": ["{fan}"]}),
    ("get", "/api/team/", None),
    ("post", "/api/team/", {"username": "newbie", "role": "assistant"}),
    ("post", "/api/team/handover/", {"from_user": "{staff}", "to_user": "{owner}"}),
    ("get", "/api/audit-log/", None),
]
# expected status per role, in ENDPOINTS order
MATRIX = {
    "owner": [200, 200, 200, 200, 200, 201, 201, 201, 201, 201, 200, 201, 200, 200],
    "manager": [200, 200, 200, 200, 200, 201, 201, 201, 201, 201, 200, 403, 200, 200],
    "assistant": [200, 200, 200, 200, 200, 201, 201, 403, 403, 403, 200, 403, 403, 403],
    # another shop's owner acts on their own shop: ids of our fans select nobody, our staff are unknown
    "other_shop_owner": [200, 404, 404, 404, 200, 201, 201, 201, 201, 201, 200, 201, 400, 200],
    "fan": [404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404],
}


def fill(value, ctx):
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ctx) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ctx[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ctx)
    return value


@pytest.mark.parametrize("role", list(MATRIX))
def test_permission_matrix(role, api_for, shop, owner, staff, manager, fan, other_shop):
    UserFactory(username="newbie")
    users = {
        "owner": owner,
        "manager": manager,
        "assistant": staff,
        "other_shop_owner": other_shop.owner,
        "fan": fan.user,
    }
    ctx = {"fan": fan.pk, "staff": staff.pk, "owner": owner.pk, "role": role}
    client = api_for(users[role])
    got = []
    for method, url, body in ENDPOINTS:
        response = getattr(client, method)(fill(url, ctx), fill(body, ctx) if body else None, format="json")
        got.append(response.status_code)
        if response.status_code >= 400:
            assert response.json()["code"], (method, url)
    assert got == MATRIX[role]


def test_other_shops_fan_is_404_even_with_valid_ids(api_for, other_shop, fan):
    client = api_for(other_shop.owner)
    assert client.get(f"/api/fans/{fan.pk}/").status_code == 404
    # bulk jobs on another shop's fan ids select nobody
    job = client.post(
        "/api/bulk-jobs/",
        {"action": "add_tags", "tags": ["preference:value"], "fan_ids": [fan.pk]},
        format="json",
    )
    assert client.get(f"/api/bulk-jobs/{job.json()['id']}/").json()["total"] == 0
    assert not FanTag.objects.filter(fan=fan).exists()


def test_handover_moves_every_fan_of_a_departing_staff_member(api_for, owner, staff, shop):
    fans = [FanFactory(shop=shop, assigned_to=staff) for _ in range(3)]
    keep = FanFactory(shop=shop, assigned_to=owner)
    new = ShopMemberFactory(shop=shop).user
    response = api_for(owner).post(
        "/api/team/handover/", {"from_user": staff.pk, "to_user": new.pk}, format="json"
    )
    assert response.json() == {"moved": 3}
    for f in fans:
        f.refresh_from_db()
        assert f.assigned_to == new
    keep.refresh_from_db()
    assert keep.assigned_to == owner


def test_owner_manages_staff_roles(api_for, owner, staff, shop):
    member = ShopMember.objects.get(shop=shop, user=staff)
    assert (
        api_for(owner).patch(f"/api/team/{member.pk}/", {"role": "manager"}, format="json").json()["role"]
        == "manager"
    )
    owner_member = ShopMember.objects.get(shop=shop, user=owner)
    assert (
        api_for(owner)
        .patch(f"/api/team/{owner_member.pk}/", {"role": "assistant"}, format="json")
        .status_code
        == 403
    )
    assert api_for(owner).delete(f"/api/team/{member.pk}/").status_code == 204
    member.refresh_from_db()
    assert not member.is_active


def test_fan_sees_and_erases_tags_a_shop_holds(api_for, owner, fan, shop):
    api_for(owner).post(f"/api/fans/{fan.pk}/tags/", {"add": ["skin_type:oily"]}, format="json")
    mine = api_for(fan.user).get("/api/me/tags/").json()
    assert mine[0]["shop"] == shop.pk and mine[0]["tags"][0]["tag"] == "skin_type:oily"
    assert api_for(fan.user).post(f"/api/me/shops/{shop.pk}/tags/erase/").json() == {"removed": 1}
    assert not FanTag.objects.filter(fan=fan).exists()
    assert AuditLog.objects.filter(action="privacy.tags_erased", actor=fan.user).exists()
    assert api_for(UserFactory()).post(f"/api/me/shops/{shop.pk}/tags/erase/").status_code == 404


def test_fan_list_avoids_n_plus_one(api_for, owner, tagged, django_assert_max_num_queries):
    client = api_for(owner)
    with django_assert_max_num_queries(12):
        client.get("/api/fans/")
