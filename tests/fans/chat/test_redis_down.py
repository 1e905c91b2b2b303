"""Issue 11 (5): with Redis down, sending a chat message still stores it exactly once (Redis only carries the
rate limit, presence and the live push; clients sync from the database by seq), and no API path answers an HTML
500 for Redis being down."""

import uuid

import pytest
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fans.bot.models import BotSettings
from fans.chat import ratelimit
from fans.chat.models import Message

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}
    }
    ratelimit._redis_client.cache_clear()
    yield
    ratelimit._redis_client.cache_clear()


def send(api_for, django_capture_on_commit_callbacks, user, conversation, text):
    client = api_for(user)
    client.raise_request_exception = False
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            f"/api/conversations/{conversation.pk}/messages/",
            {"client_id": str(uuid.uuid4()), "kind": "text", "text": text},
            format="json",
        )


def test_chat_post_with_redis_down_stores_the_message_once(
    api_for, django_capture_on_commit_callbacks, owner, fan, conversation, redis_down
):
    # The bot's away message reads presence from Redis, and "油皮" makes the bot look at the text.
    BotSettings.objects.update_or_create(shop=fan.shop, defaults={"away_enabled": True})
    for user, text in ((fan.user, "我是油皮"), (owner, "好的")):
        response = send(api_for, django_capture_on_commit_callbacks, user, conversation, text)
        assert response.status_code == 201, response.content[:300]
        assert response["Content-Type"] == "application/json"
        assert Message.objects.filter(conversation=conversation, text=text).count() == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == Message.objects.filter(conversation=conversation).count()


def test_rate_limit_still_holds_within_a_process_while_redis_is_down(
    api_for, django_capture_on_commit_callbacks, settings, fan, conversation, redis_down
):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 2, "RATE_LIMIT_WINDOW_S": 60}
    codes = [
        send(api_for, django_capture_on_commit_callbacks, fan.user, conversation, f"第{i}条").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("Error 111 connecting"),
        RedisTimeoutError("Timeout reading"),
        OperationalError("down"),
    ],
    ids=["redis-connection", "redis-timeout", "broker"],
)
def test_an_api_path_that_meets_redis_down_answers_a_coded_503(api_for, owner, fan, monkeypatch, error):
    def unavailable(**kwargs):
        raise error

    monkeypatch.setattr("fans.crm.services.bulk_job_create", unavailable)
    client = api_for(owner)
    client.raise_request_exception = False
    response = client.post(
        "/api/bulk-jobs/",
        {"action": "add_tags", "tags": ["preference:looks"], "fan_ids": [fan.pk]},
        format="json",
    )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert set(response.json()) == {"code", "message", "detail"}
    assert response["Retry-After"]


def test_a_page_that_needs_redis_answers_a_503_page_not_a_500(client, owner, monkeypatch):
    """Pages are not the API: with Redis down the person sees a page that retries by itself."""

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr("fans.chat.views.staff_shop_ids", down)
    client.force_login(owner)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "text/html" in response["Content-Type"]
    body = response.content.decode()
    assert "Traceback" not in body and "redis://" not in body
    assert 'http-equiv="refresh"' in body
