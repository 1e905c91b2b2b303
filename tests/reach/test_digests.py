"""Staff digests through a real SMTP server (aiosmtpd on 127.0.0.1), run by the beat task's name."""

import datetime as dt
import email
import socket
import uuid
from email import policy

import pytest
from aiosmtpd.controller import Controller
from celery import current_app
from django.utils import timezone

from fans.bot.models import BotSettings
from fans.chat.models import Conversation
from reach.models import DigestMark, DigestSettings
from tests.conftest import api_client_for
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.FANSI_SITE_URL = "https://fansi.example"
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def _bot_off(shop):
    BotSettings.objects.update_or_create(shop=shop, defaults={"enabled": False})


def fan_writes(fan_user, conversation, text="在吗？", minutes_ago=20):
    """The fan writes over the API; then the clock is moved back, as if it was `minutes_ago`."""
    response = api_client_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "text", "text": text},
        format="json",
    )
    assert response.status_code in (200, 201)
    Conversation.objects.filter(pk=conversation.pk).update(
        activity_at=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )


def run_digests(capture):
    with capture(execute=True):
        return current_app.tasks["reach.tasks.digests_run_task"].apply().get()


def test_owner_gets_the_unassigned_and_each_conversation_once(
    smtp, shop, owner, fan_user, conversation, django_capture_on_commit_callbacks
):
    owner.email = "owner@shop.example"
    owner.save()
    fan_writes(fan_user, conversation, "这个面膜有货吗")
    fresh = FanFactory(shop=shop, display_name="刚来的")
    fan_writes(fresh.user, fresh.conversation, minutes_ago=5)  # under 15 minutes: not yet

    assert run_digests(django_capture_on_commit_callbacks) == {"conversations": 1, "digests": 1}
    (mail,) = smtp.messages
    assert mail["X-Rcpt"] == "owner@shop.example"
    assert "1" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = f"https://fansi.example/inbox/c/{conversation.pk}/?shop={shop.pk}"
    assert "小红" in text and link in text and "刚来的" not in text
    assert f'href="{link.replace("&", "&amp;")}"' in html or f'href="{link}"' in html

    # Never again until the fan writes again.
    assert run_digests(django_capture_on_commit_callbacks) == {"conversations": 0, "digests": 0}
    assert len(smtp.messages) == 1
    fan_writes(fan_user, conversation, "还在吗", minutes_ago=16)
    assert run_digests(django_capture_on_commit_callbacks)["conversations"] == 1
    assert len(smtp.messages) == 2


def test_assignee_gets_their_own_and_the_owner_not(
    smtp, shop, owner, staff, fan_user, conversation, django_capture_on_commit_callbacks
):
    owner.email, staff.email = "owner@shop.example", "staff@shop.example"
    owner.save()
    staff.save()
    Conversation.objects.filter(pk=conversation.pk).update(assigned_to=staff)
    fan_writes(fan_user, conversation)
    other = FanFactory(shop=shop, display_name="老顾客")
    fan_writes(other.user, other.conversation)

    assert run_digests(django_capture_on_commit_callbacks) == {"conversations": 2, "digests": 2}
    by_rcpt = {m["X-Rcpt"]: m.get_body(("plain",)).get_content() for m in smtp.messages}
    assert "小红" in by_rcpt["staff@shop.example"] and "老顾客" not in by_rcpt["staff@shop.example"]
    assert "老顾客" in by_rcpt["owner@shop.example"] and "小红" not in by_rcpt["owner@shop.example"]


def test_answered_and_per_shop_threshold(
    smtp, shop, owner, fan_user, conversation, django_capture_on_commit_callbacks
):
    owner.email = "owner@shop.example"
    owner.save()
    DigestSettings.objects.create(shop=shop, unanswered_after_minutes=30)
    fan_writes(fan_user, conversation, minutes_ago=20)
    assert run_digests(django_capture_on_commit_callbacks)["conversations"] == 0
    Conversation.objects.filter(pk=conversation.pk).update(
        activity_at=timezone.now() - dt.timedelta(minutes=31)
    )
    assert run_digests(django_capture_on_commit_callbacks)["conversations"] == 1
    assert DigestMark.objects.get().conversation_id == conversation.pk


def test_digest_pushes_staff_too(
    smtp, shop, owner, fan_user, conversation, push_server, subscribe, django_capture_on_commit_callbacks
):
    subscribe(owner, "owner-phone")
    fan_writes(fan_user, conversation)
    push_server.received.clear()
    push_server.count = 0  # the fan's message itself pushed the owner; the digest is the next one
    run_digests(django_capture_on_commit_callbacks)
    (push,) = push_server.wait_for(1)
    assert push.error == "" and push.payload["tag"] == "digest" and "小红" in push.payload["body"]


def test_digest_setting_api_for_managers_only(api_for, shop, owner, staff):
    url = f"/api/shops/{shop.pk}/digest-settings/"
    assert api_for(owner).get(url).json() == {"unanswered_after_minutes": 15, "enabled": True}
    assert api_for(staff).patch(url, {"unanswered_after_minutes": 5}, format="json").status_code == 403
    bad = api_for(owner).patch(url, {"unanswered_after_minutes": 0}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "digest_minutes_invalid")
    assert not DigestSettings.objects.exists()
    ok = api_for(owner).patch(url, {"unanswered_after_minutes": 45}, format="json")
    assert ok.json() == {"unanswered_after_minutes": 45, "enabled": True}
    assert DigestSettings.objects.get(shop=shop).unanswered_after_minutes == 45
