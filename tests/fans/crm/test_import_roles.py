"""Issue 11 (4): a CSV import applies the role rules of the bulk jobs and of the single-fan paths.

An assistant may add tags to many fans and write notes on fans that have none, as on a fan's page; reassigning
fans in bulk, overwriting colleagues' notes in bulk, and confirming an import someone else prepared are for owners
and managers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fans.chat.models import Conversation, Fan
from fans.crm.models import AuditLog, FanTag, ImportJob
from shops.models import ShopRole
from tests.factories import FanFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def http(api_for, django_capture_on_commit_callbacks):
    """POST as a user, running the request's after-commit work (the import applies eagerly in tests)."""

    def post(user, url, data=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return api_for(user).post(url, data, **kwargs)

    return post


@pytest.fixture
def colleague(shop):
    return ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user


@pytest.fixture
def manager(shop):
    return ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user


def upload(http, user, text: str):
    return http(
        user,
        "/api/imports/",
        {"file": SimpleUploadedFile("fans.csv", text.encode("utf-8"))},
        format="multipart",
    )


def snapshot(shop):
    return (
        sorted(Fan.objects.filter(shop=shop).values_list("pk", "assigned_to_id", "notes")),
        sorted(Conversation.objects.filter(shop=shop).values_list("pk", "assigned_to_id")),
        FanTag.objects.count(),
    )


def test_assistant_cannot_reassign_fans_through_an_import(shop, staff, colleague, http):
    fans = [FanFactory(shop=shop, assigned_to=colleague) for _ in range(50)]
    before = snapshot(shop)
    rows = "".join(f"{f.pk},{staff.username}\n" for f in fans)
    response = upload(http, staff, "fan_id,assigned_to\n" + rows)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden" and response.json()["detail"] == {"change": "assign"}
    assert snapshot(shop) == before
    assert not ImportJob.objects.exists()


def test_assistant_cannot_overwrite_notes_through_an_import(shop, staff, http):
    fan = FanFactory(shop=shop, notes="VIP: 只要小样")
    before = snapshot(shop)
    response = upload(http, staff, f"fan_id,notes\n{fan.pk},清空\n")
    assert response.status_code == 403, response.content
    assert response.json()["detail"] == {"change": "overwrite_notes"}
    assert snapshot(shop) == before
    assert not ImportJob.objects.exists()


def test_assistant_may_tag_and_fill_empty_notes_as_on_a_fans_page(shop, staff, http):
    noted, blank = FanFactory(shop=shop, notes="老客"), FanFactory(shop=shop)
    text = f"fan_id,tags,notes\n{noted.pk},preference:looks,老客\n{blank.pk},preference:looks,新客\n"
    job = upload(http, staff, text)
    assert job.status_code == 201, job.content
    confirmed = http(staff, f"/api/imports/{job.json()['id']}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert ImportJob.objects.get(pk=job.json()["id"]).status == "succeeded"
    assert Fan.objects.get(pk=blank.pk).notes == "新客" and Fan.objects.get(pk=noted.pk).notes == "老客"
    assert FanTag.objects.filter(tag__code="looks").count() == 2


def test_assistant_cannot_confirm_an_import_the_owner_prepared(shop, owner, staff, http):
    fan = FanFactory(shop=shop)
    job = upload(http, owner, f"fan_id,tags\n{fan.pk},preference:looks\n").json()
    before = snapshot(shop)
    response = http(staff, f"/api/imports/{job['id']}/confirm/")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    assert ImportJob.objects.get(pk=job["id"]).status == "preview"
    assert snapshot(shop) == before
    assert not AuditLog.objects.filter(action="import").exists()


def test_a_manager_may_confirm_what_an_assistant_may_not(shop, owner, staff, colleague, manager, http):
    fan = FanFactory(shop=shop, notes="旧备注")
    job = upload(http, owner, f"fan_id,assigned_to,notes\n{fan.pk},{colleague.username},新备注\n").json()
    assert http(staff, f"/api/imports/{job['id']}/confirm/").status_code == 403
    assert http(manager, f"/api/imports/{job['id']}/confirm/").status_code == 200
    fan.refresh_from_db()
    assert (fan.assigned_to_id, fan.notes) == (colleague.pk, "新备注")
    assert Conversation.objects.get(fan=fan).assigned_to_id == colleague.pk


def test_confirm_checks_the_fans_as_they_are_now(shop, owner, staff, http):
    """Notes written on a fan after the preview make the import an overwrite by the time it is confirmed."""
    fan = FanFactory(shop=shop)
    job = upload(http, staff, f"fan_id,notes\n{fan.pk},新客\n")
    assert job.status_code == 201
    Fan.objects.filter(pk=fan.pk).update(notes="店主写的")
    response = http(staff, f"/api/imports/{job.json()['id']}/confirm/")
    assert response.status_code == 403 and response.json()["detail"] == {"change": "overwrite_notes"}
    assert ImportJob.objects.get(pk=job.json()["id"]).status == "preview"
    assert Fan.objects.get(pk=fan.pk).notes == "店主写的"
