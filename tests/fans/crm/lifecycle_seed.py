"""A seeded shop for the lifecycle tests, and a straightforward Python reference of the tags it should get."""

import datetime as dt
import math
import random
from collections import defaultdict
from decimal import Decimal

from fans.chat.models import Fan, Message, Side
from fans.crm.models import LifecycleSettings
from payments.models import Account, LedgerLeg, LedgerTransaction
from preorders.models import Campaign, Pledge
from tests.factories import FanFactory, ProductFactory, VariantFactory


def seed_shop(shop, *, n: int = 80, now: dt.datetime, seed: int = 16) -> list[Fan]:
    """n fans: joined 0..400 days ago; about half wrote messages, about 40% paid (some refunds, some > 1 year
    ago), with ties in spend so the VIP ranking's tie-break is exercised."""
    rng = random.Random(seed)
    product = ProductFactory(shop=shop)
    variant = VariantFactory(product=product)
    campaign = Campaign.objects.create(
        shop=shop,
        product=product,
        title="lifecycle seed",
        target_quantity=10,
        deadline=now + dt.timedelta(days=3),
        deposit_percent=Decimal("10"),
        base_unit_price=Decimal("100.00"),
    )
    fans = []
    for i in range(n):
        fan = FanFactory(shop=shop)
        joined = now - dt.timedelta(days=rng.uniform(0, 400))
        Fan.objects.filter(pk=fan.pk).update(joined_at=joined)
        fan.joined_at = joined
        fans.append(fan)
        age = (now - joined).days
        if rng.random() < 0.5:
            seq = 0
            for _ in range(rng.randint(1, 3)):
                seq += 1
                side = Side.FAN if rng.random() < 0.7 else Side.SHOP
                msg = Message.objects.create(conversation=fan.conversation, seq=seq, side=side, text="hi")
                Message.objects.filter(pk=msg.pk).update(
                    created_at=joined + dt.timedelta(days=rng.uniform(0, max(age, 0.01)))
                )
        if rng.random() < 0.4:
            pledge = Pledge.objects.create(
                campaign=campaign,
                fan=fan,
                user=fan.user,
                variant=variant,
                variant_name="v",
                sku="S",
                quantity=1,
                unit_price=Decimal("100.00"),
                deposit_amount=Decimal("10.00"),
            )
            for k in range(rng.randint(1, 3)):
                amount = Decimal(rng.choice(["50.00", "120.00", "120.00", "300.00", "19.90"]))
                refund = rng.random() < 0.15
                when = joined + dt.timedelta(days=rng.uniform(0, max(age, 0.01)))
                txn = LedgerTransaction.objects.create(
                    kind="refund" if refund else "deposit",
                    reference=f"lc-{shop.pk}-{i}-{k}",
                    amount=amount,
                    shop_id=shop.pk,
                    campaign_id=campaign.pk,
                    pledge_id=pledge.pk,
                )
                LedgerTransaction.objects.filter(pk=txn.pk).update(created_at=when)
                sign = -1 if refund else 1
                LedgerLeg.objects.bulk_create(  # one statement: the database checks that legs balance
                    [
                        LedgerLeg(transaction=txn, account=Account.PROVIDER, amount=sign * amount),
                        LedgerLeg(transaction=txn, account=Account.FANS_HELD, amount=-sign * amount),
                    ]
                )
    return fans


def reference_tags(shop, now: dt.datetime) -> dict[int, set[str]]:
    """{fan id: {tag codes}} computed fan by fan, the obvious way (docs/lifecycle.md's definitions)."""
    conf = LifecycleSettings.objects.get_or_create(shop=shop)[0]
    fans = list(Fan.objects.filter(shop=shop))
    since = now - dt.timedelta(days=365)
    pledge_fan = dict(Pledge.objects.filter(fan__shop=shop).values_list("pk", "fan_id"))
    spend: dict[int, Decimal] = defaultdict(Decimal)
    last_paid: dict[int, dt.datetime] = {}
    legs = LedgerLeg.objects.filter(
        account=Account.PROVIDER,
        transaction__pledge_id__in=list(pledge_fan),
        transaction__created_at__gte=since,
    ).select_related("transaction")
    for leg in legs:
        fan_id = pledge_fan[leg.transaction.pledge_id]
        spend[fan_id] += leg.amount
        if leg.amount > 0:
            when = leg.transaction.created_at
            last_paid[fan_id] = max(last_paid.get(fan_id, when), when)
    last_msg: dict[int, dt.datetime] = {}
    for fan_id, when in Message.objects.filter(conversation__shop=shop, side=Side.FAN).values_list(
        "conversation__fan_id", "created_at"
    ):
        last_msg[fan_id] = max(last_msg.get(fan_id, when), when)
    out: dict[int, set[str]] = {}
    for fan in fans:
        last = max([fan.joined_at] + [d[fan.pk] for d in (last_paid, last_msg) if fan.pk in d])
        if fan.joined_at > now - dt.timedelta(days=conf.new_days):
            stage = "new"
        elif last <= now - dt.timedelta(days=conf.lapsed_after_days):
            stage = "lapsed"
        elif last <= now - dt.timedelta(days=conf.at_risk_after_days):
            stage = "at_risk"
        else:
            stage = "active"
        out[fan.pk] = {stage}
    ranked = sorted(fans, key=lambda f: (-spend[f.pk], f.pk))
    slots = math.ceil(len(fans) * conf.vip_percentile / 100)
    for fan in ranked[:slots]:
        if spend[fan.pk] > 0:
            out[fan.pk].add("vip")
    return out
