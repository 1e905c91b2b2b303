"""Words that once collided in zh-hans: the admin's "Home" is 首页 while the product category is 家居; a
broadcast's "sent" is 已发送 while a parcel's "delivered" is 已送达."""

import pytest
from django.utils import translation
from django.utils.translation import gettext

from fans.bot.models import DeliveryStatus
from shops.models import Category


def test_home_and_sent_have_their_own_words():
    with translation.override("zh-hans"):
        assert gettext("Home") == "首页" and str(Category.HOME.label) == "家居"
        assert str(DeliveryStatus.SENT.label) == "已发送" and gettext("Delivered") == "已送达"
    with translation.override("en"):
        assert str(Category.HOME.label) == "Home"


@pytest.mark.django_db
def test_the_admin_breadcrumb_says_home_in_chinese(admin_client):
    answer = admin_client.get("/admin/shops/product/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = answer.content.decode()
    assert answer.status_code == 200
    assert '<a href="/admin/">首页</a>' in html and ">家居<" in html  # the category filter keeps 家居


def test_a_campaign_that_reached_its_target_is_chengtuan_while_a_job_is_done():
    from core.jobs import JobStatus
    from preorders.models import CampaignStatus

    with translation.override("zh-hans"):
        assert str(CampaignStatus.SUCCEEDED.label) == "已成团"
        assert str(CampaignStatus.FAILED.label) == "未成团"
        assert str(JobStatus.SUCCEEDED.label) == "已完成"


@pytest.mark.django_db
def test_the_js_catalogue_has_the_campaign_words(client):
    answer = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "\\u5df2\\u6210\\u56e2" in answer.content.decode() or "已成团" in answer.content.decode()
