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
