"""Seeded chat for bench/recommend.py: what fans said, so the live chat-text path is measured at full size.

Some fans with history write a few fan-sent text messages before training (training turns them into text
features and, when text wins validation, the chat_users regime); fans who join after training write after it
(recommend_for_fan reads their text live, fans_for_product reads the shop's recent talkers). The signal is the
fan's skin type (its Chinese name, as fans write it), mixed with filler that carries none.
"""

from __future__ import annotations

import numpy as np

FILLER = ["有新品吗？", "包邮吗", "什么时候发货", "谢谢客服", "这个多少钱", "好的"]
SAID = ["我是{skin}，有什么推荐吗", "{skin}用哪个好", "我{skin}，怕闷痘"]


def seed_chat(fan_ids: list[int], *, seed: int = 0, per_fan: int = 3) -> int:
    """Conversations with `per_fan` fan-sent messages for each fan in fan_ids; returns the messages written."""
    from django.db import connection, transaction

    from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
    from fans.crm.models import FanTag

    if not fan_ids:
        return 0
    rng = np.random.default_rng(seed)
    skin = dict(
        FanTag.objects.filter(fan_id__in=fan_ids, tag__group__code="skin_type").values_list(
            "fan_id", "tag__name_zh"
        )
    )
    fans = list(Fan.objects.filter(pk__in=fan_ids).values_list("pk", "shop_id", "user_id"))
    with transaction.atomic():
        conversations = Conversation.objects.bulk_create(
            (Conversation(shop_id=shop_id, fan_id=pk, last_seq=per_fan) for pk, shop_id, _ in fans),
            batch_size=5000,
        )
        messages = []
        for conversation, (pk, _shop, user_id) in zip(conversations, fans, strict=True):
            for seq in range(1, per_fan + 1):
                if pk in skin and rng.random() < 0.6:
                    text = SAID[int(rng.integers(len(SAID)))].format(skin=skin[pk])
                else:
                    text = FILLER[int(rng.integers(len(FILLER)))]
                messages.append(
                    Message(
                        conversation=conversation,
                        seq=seq,
                        sender_id=user_id,
                        side=Side.FAN,
                        kind=MessageKind.TEXT,
                        text=text,
                    )
                )
        Message.objects.bulk_create(messages, batch_size=5000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE fans_message")
        cur.execute("ANALYZE fans_conversation")
    return len(messages)
