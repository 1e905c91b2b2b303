"""Issue 17: a large CSV import is previewed by the worker, streamed from storage, instead of inside the request.
The upload answers 202 with a `checking` job at once; the job then holds the same preview a small file gets in
the answer (201), or fails with the coded reason. Small files keep the 201 contract."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fans.crm.models import FanTag, ImportJob
from fans.crm.services import imports
from shops.models import ShopRole
from tests.factories import FanFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_inline(monkeypatch):
    """Anything over 64 bytes counts as large here (1 MB in production), so the files stay small."""
    monkeypatch.setattr(imports, "IMPORT_INLINE_BYTES", 64)


def _upload(client, raw: bytes, callbacks):
    with callbacks(execute=True):  # the worker's task runs eagerly after the upload commits
        return client.post("/api/imports/", {"file": SimpleUploadedFile("fans.csv", raw)}, format="multipart")


def test_a_large_file_is_checked_by_the_worker_then_imports(
    api_for, owner, shop, small_inline, django_capture_on_commit_callbacks
):
    fans = [FanFactory(shop=shop) for _ in range(5)]
    text = "fan_id,tags\n" + "".join(f"{f.pk},skin_type:oily\n" for f in fans) + "999999,skin_type:oily\n"
    client = api_for(owner)
    response = _upload(client, text.encode("utf-8"), django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "checking"
    job = client.get(f"/api/imports/{response.json()['id']}/").json()
    assert job["status"] == "preview", job
    assert (job["total"], job["valid"], job["result"]["error_count"]) == (6, 5, 1)
    assert job["errors"][0]["row"] == 7
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/imports/{job['id']}/confirm/").status_code == 200
    assert ImportJob.objects.get(pk=job["id"]).status == "succeeded"
    assert FanTag.objects.filter(fan__in=fans, tag__code="oily").count() == 5


def test_a_large_gbk_file_is_stored_back_as_utf8(
    api_for, owner, shop, small_inline, django_capture_on_commit_callbacks
):
    fans = [FanFactory(shop=shop) for _ in range(4)]
    text = "fan_id,notes\n" + "".join(f"{f.pk},只要小样备注\n" for f in fans)
    response = _upload(api_for(owner), text.encode("gb18030"), django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.encoding, job.valid) == ("preview", "gbk", 4)
    with job.file.open("rb") as fh:
        assert fh.read().decode("utf-8") == text


def test_a_large_file_the_role_may_not_apply_fails_with_the_code(
    api_for, shop, small_inline, django_capture_on_commit_callbacks
):
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    colleague = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    fans = [FanFactory(shop=shop, assigned_to=colleague) for _ in range(5)]
    text = "fan_id,assigned_to\n" + "".join(f"{f.pk},{assistant.username}\n" for f in fans)
    response = _upload(api_for(assistant), text.encode("utf-8"), django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == "failed" and job.result["code"] == "forbidden", job.result


def test_a_large_file_without_the_columns_fails_with_the_code(
    api_for, owner, small_inline, django_capture_on_commit_callbacks
):
    response = _upload(
        api_for(owner), ("name,note\n" + "x,y\n" * 40).encode(), django_capture_on_commit_callbacks
    )
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == "failed" and job.result["code"] == "missing_columns"


def test_a_small_file_still_answers_the_preview_at_once(api_for, owner, shop):
    fan = FanFactory(shop=shop)
    response = api_for(owner).post(
        "/api/imports/",
        {"file": SimpleUploadedFile("f.csv", f"fan_id\n{fan.pk}\n".encode())},
        format="multipart",
    )
    assert (
        response.status_code == 201
        and response.json()["status"] == "preview"
        and response.json()["valid"] == 1
    )
