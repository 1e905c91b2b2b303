"""Shared setup for the design-round tests: a shop's product, a round through the API, fans who vote."""

import datetime as dt
import uuid
from decimal import Decimal

from django.utils import timezone

from c2m.design.models import DesignRound
from payments.ledger import statement
from payments.models import LedgerTransaction
from tests.factories import FanFactory, ProductFactory

ATTRIBUTES = {"颜色": ["黑色", "驼色", "藏青"], "长度": ["短款", "长款"]}


def product_of(shop, price: str = "600.00"):
    return ProductFactory(shop=shop, price=Decimal(price), name="冬季羽绒服")


def round_body(product, **overrides) -> dict:
    body = {
        "product": product.pk,
        "title": "一起设计羽绒服",
        "attributes": ATTRIBUTES,
        "target_per_combination": 2,
        "vote_deposit": "5.00",
        "deadline": (timezone.now() + dt.timedelta(days=3)).isoformat(),
    }
    body.update(overrides)
    return body


def create_round(api, product, **overrides) -> dict:
    res = api.post("/api/design-rounds/", round_body(product, **overrides), format="json")
    assert res.status_code == 201, res.content
    return res.json()


def live_round(api, product, **overrides) -> dict:
    body = create_round(api, product, **overrides)
    res = api.post(f"/api/design-rounds/{body['id']}/launch/")
    assert res.status_code == 200, res.content
    return res.json()


def vote(api, round_id: int, combination: dict, key: str | None = None):
    return api.post(
        f"/api/design-rounds/{round_id}/votes/",
        {"combination": combination},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def fans(shop, n: int):
    return [FanFactory(shop=shop) for _ in range(n)]


def close_voting(round_id: int) -> None:
    """Move the deadline into the past, as if its time came (the beat sweep then decides it)."""
    DesignRound.objects.filter(pk=round_id).update(deadline=timezone.now() - dt.timedelta(seconds=1))


def balanced(shop) -> bool:
    return statement(shop_id=shop.pk)["balanced"]


def ledger_refs(prefix: str) -> list[str]:
    return sorted(
        LedgerTransaction.objects.filter(reference__startswith=prefix).values_list("reference", flat=True)
    )
