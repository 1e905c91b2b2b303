"""Custom 400, 403, 404 and 500 pages in the product's style, with DEBUG off, in both languages."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import RequestFactory, override_settings
from django.urls import include, path
from django.utils import translation
from django.views import defaults


def _boom(request):
    raise RuntimeError("boom")


def _forbidden(request):
    raise PermissionDenied


def _suspicious(request):
    raise SuspiciousOperation("bad")


urlpatterns = [
    path("test-errors/500/", _boom),
    path("test-errors/403/", _forbidden),
    path("test-errors/400/", _suspicious),
    path("", include("config.urls")),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.test_error_pages")]


@pytest.fixture
def plain_client(client):
    client.raise_request_exception = False
    return client


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("url", "status", "zh", "en"),
    [
        ("/no-such-page/", 404, "页面不存在", "Page not found"),
        ("/test-errors/403/", 403, "你没有权限打开这个页面", "You do not have access to this page"),
        ("/test-errors/400/", 400, "无法理解这个请求", "This request could not be understood"),
        ("/test-errors/500/", 500, "我们这边出了点问题", "Something went wrong on our side"),
    ],
)
def test_each_error_renders_the_styled_page(plain_client, url, status, zh, en):
    answer = plain_client.get(url)
    html = answer.content.decode()
    assert answer.status_code == status
    assert zh in html and "fansi/fansi.css" in html and 'class="error-code"' in html and f">{status}<" in html
    assert 'href="/"' in html  # a way home
    plain_client.cookies["django_language"] = "en"
    english = plain_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert en in english and "Back to Fansi" in english


def test_the_500_page_needs_no_database_or_context(django_assert_num_queries):
    request = RequestFactory().get("/")
    with translation.override("zh-hans"), django_assert_num_queries(0):
        answer = defaults.server_error(request)
    assert answer.status_code == 500 and "我们这边出了点问题" in answer.content.decode()
