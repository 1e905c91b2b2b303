"""The fan CSV: labels in the UI language, times in shop time, codes in their own columns; and an import
accepts what the UI shows ("肤质:油皮") and the exported file as it is."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fans.chat.models import Fan
from fans.crm.models import FanTag, Tag
from fans.crm.services.tagging import fan_tags_bulk_add
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_for(api_for, django_capture_on_commit_callbacks):
    """API clients whose requests run their after-commit work (the export and import tasks, eager here)."""

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


def _export(client, fan_ids, language="zh-hans"):
    job = client.post(
        "/api/bulk-jobs/",
        {"action": "export", "fan_ids": fan_ids},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    ).json()
    job = client.get(f"/api/bulk-jobs/{job['id']}/").json()
    assert job["status"] == "succeeded", job
    content = b"".join(client.get(job["download_url"]).streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


@pytest.fixture
def oily_fan(shop):
    fan = FanFactory(shop=shop, display_name="小红")
    oily = Tag.objects.get(group__code="skin_type", group__shop__isnull=True, code="oily")
    fan_tags_bulk_add(fan_ids=[fan.pk], tags=[oily], source="owner", actor=None)
    # 02:08 UTC is 10:08 in Shanghai, the shop's time zone.
    Fan.objects.filter(pk=fan.pk).update(joined_at=dt.datetime(2026, 3, 1, 2, 8, tzinfo=dt.UTC))
    return fan


def test_export_speaks_the_ui_language_in_shop_time(api_for, owner, shop, oily_fan):
    assert shop.timezone == "Asia/Shanghai"
    client = api_for(owner)
    header, row = _export(client, [oily_fan.pk])
    assert header[:4] == ["粉丝编号", "用户名", "昵称", "加入时间（店铺时间）"] and header[-2:] == [
        "标签代码",
        "标签",
    ]
    values = dict(zip(header, row, strict=True))
    assert values["加入时间（店铺时间）"] == "2026-03-01 10:08"
    assert values["标签代码"] == "skin_type:oily" and values["标签"] == "肤质:油皮"
    english_header, english_row = _export(client, [oily_fan.pk], language="en")
    english = dict(zip(english_header, english_row, strict=True))
    assert english["Joined (shop time)"] == "2026-03-01 10:08" and english["Tags"] == "Skin type:Oily"
    assert english["Tag codes"] == "skin_type:oily"


def _upload(client, text: str):
    return client.post(
        "/api/imports/", {"file": SimpleUploadedFile("fans.csv", text.encode("utf-8"))}, format="multipart"
    )


def test_import_accepts_the_labels_the_ui_shows(api_for, owner, shop, oily_fan):
    client = api_for(owner)
    other = FanFactory(shop=shop)
    third = FanFactory(shop=shop)
    text = f"fan_id,tags\n{other.pk},肤质:油皮;购物偏好：颜值\n{third.pk},Skin type:Dry\n"
    preview = _upload(client, text)
    assert preview.status_code == 201, preview.json()
    body = preview.json()
    assert body["errors"] == [] and body["valid"] == 2, body
    assert client.post(f"/api/imports/{body['id']}/confirm/").status_code == 200
    codes = set(FanTag.objects.filter(fan=other).values_list("tag__group__code", "tag__code"))
    assert codes == {("skin_type", "oily"), ("preference", "looks")}
    assert set(FanTag.objects.filter(fan=third).values_list("tag__code", flat=True)) == {"dry"}
    bad = _upload(client, f"fan_id,tags\n{other.pk},肤质:不存在\n").json()
    assert bad["errors"] and "肤质:不存在" in bad["errors"][0]["reason"]


def test_an_exported_file_imports_as_it_is(api_for, owner, shop, oily_fan):
    client = api_for(owner)
    rows = _export(client, [oily_fan.pk])
    # The owner edits the labels column only (codes emptied), as someone reading the file would.
    header = rows[0]
    rows[1][header.index("标签代码")] = ""
    rows[1][header.index("标签")] = "肤质:干皮"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    preview = _upload(client, out.getvalue())
    assert preview.status_code == 201, preview.json()
    body = preview.json()
    assert body["errors"] == [] and body["valid"] == 1, body
    client.post(f"/api/imports/{body['id']}/confirm/")
    assert set(FanTag.objects.filter(fan=oily_fan).values_list("tag__code", flat=True)) == {"dry"}
