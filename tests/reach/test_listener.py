"""Chat tells reach once per transaction, after commit, with ids only; reach dispatches at most one task, and
none for a recipient whose socket is open."""

import pytest
from django.db import transaction

from fans.chat.append import _PersistedBatch
from fans.chat.models import MessageKind, Side
from fans.chat.presence import presence_connect
from fans.chat.services import system_message_post
from reach.services import push
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(monkeypatch):
    """The broker is the outside world: record what would be sent to it."""
    sent = []
    monkeypatch.setattr(push, "task_dispatch", lambda name, *args: sent.append((name, *args)))
    return sent


def test_many_appends_in_one_transaction_make_one_call_and_one_task(
    shop, conversation, dispatched, django_capture_on_commit_callbacks
):
    other = FanFactory(shop=shop).conversation
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            first = system_message_post(conversation=conversation, text="发货啦", kind=MessageKind.SYSTEM)
            second = system_message_post(conversation=other, text="发货啦", kind=MessageKind.SYSTEM)
            card = system_message_post(
                conversation=other,
                text="",
                kind=MessageKind.PRODUCT_CARD,
                side=Side.BOT,
                payload={"name": "面膜"},
            )
    batches = [c for c in callbacks if isinstance(c, _PersistedBatch)]
    assert len(batches) == 1
    assert [i.message_id for i in batches[0].items] == [first.pk, second.pk, card.pk]
    assert dispatched == [("reach.tasks.push_messages_task", [first.pk, second.pk, card.pk], [card.pk])]


def test_a_rolled_back_transaction_tells_nobody(conversation, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                system_message_post(conversation=conversation, text="发货啦")
                raise RuntimeError
        except RuntimeError:
            pass
        system_message_post(conversation=conversation, text="再发一次")
    assert len(dispatched) == 1 and len(dispatched[0][1]) == 1


def test_no_task_for_a_fan_with_an_open_socket(
    fan_user, conversation, dispatched, django_capture_on_commit_callbacks
):
    presence_connect(fan_user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        system_message_post(conversation=conversation, text="发货啦")
    assert dispatched == []
