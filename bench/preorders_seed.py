"""bench/preorders.py's data: the owner, shop, product and fans with API tokens, the capped campaigns the
load phases pledge on, and the 100k-pledge campaign to close (COPY for the pledges and their ledger rows)."""

import io
from decimal import Decimal
from typing import Any

# --- setup -------------------------------------------------------------------------------------------


def seed(clients: int, cap: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from fans.chat.models import Conversation, Fan
    from preorders.services import campaign_create, campaign_launch
    from shops.models import (
        Factory,
        FactoryProduct,
        FactoryVariant,
        Product,
        Shop,
        ShopMember,
        ShopRole,
        Variant,
    )

    user_model = get_user_model()
    password = make_password("fansi-bench")
    owner = user_model.objects.create(username="owner", password=password)
    shop = Shop.objects.create(name="Bench shop", slug="bench-shop", owner=owner)
    ShopMember.objects.create(shop=shop, user=owner, role=ShopRole.OWNER)
    factory = Factory.objects.create(name="Bench factory")
    fp = FactoryProduct.objects.create(
        factory=factory, name="Down jacket", moq=50, lead_time_days=30, unit_cost=Decimal("150.00")
    )
    fv = FactoryVariant.objects.create(factory_product=fp, name="M", sku="F-M", moq=50)
    product = Product.objects.create(
        shop=shop, name="羽绒服", category="clothing", price=Decimal("499.00"), factory_product=fp
    )
    variant = Variant.objects.create(
        product=product, name="M", sku="S-M", price=Decimal("499.00"), factory_variant=fv
    )
    users = user_model.objects.bulk_create(
        [user_model(username=f"fan{n}", password=password) for n in range(1, clients + 1)]
    )
    fans = Fan.objects.bulk_create([Fan(shop=shop, user=u, display_name=u.username) for u in users])
    Conversation.objects.bulk_create([Conversation(shop=shop, fan=f) for f in fans])
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    deadline = in_seconds(3600).isoformat()
    campaign = campaign_create(
        user=owner,
        kind="group",
        product_id=product.pk,
        title="Bench pledge campaign",
        target_quantity=min(100, cap),
        cap=cap,
        deadline=deadline,
        balance_deadline=in_seconds(3 * 86400).isoformat(),
        deposit_percent="10",
        tiers=[{"min_quantity": 100, "unit_price": "449.00"}, {"min_quantity": 1000, "unit_price": "349.00"}],
    )
    campaign_launch(user=owner, campaign_id=campaign.pk)
    return {
        "campaign": campaign.pk,
        "variant": variant.pk,
        "tokens": [t.key for t in tokens],
        "shop": shop.pk,
        "owner": owner.pk,
        "product": product.pk,
    }


def in_seconds(seconds: float) -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def campaign_for_offered(cast: dict[str, Any], cap: int) -> int:
    from django.contrib.auth import get_user_model

    from preorders.services import campaign_create, campaign_launch

    owner = get_user_model().objects.get(pk=cast["owner"])
    campaign = campaign_create(
        user=owner,
        kind="group",
        product_id=cast["product"],
        title="Bench offered-rate campaign",
        target_quantity=min(100, cap),
        cap=cap,
        deadline=in_seconds(3600).isoformat(),
        balance_deadline=in_seconds(3 * 86400).isoformat(),
        deposit_percent="10",
        tiers=[{"min_quantity": 100, "unit_price": "449.00"}],
    )
    campaign_launch(user=owner, campaign_id=campaign.pk)
    return campaign.pk


# --- close 100k --------------------------------------------------------------------------------------------


def seed_big_campaign(cast: dict[str, Any], pledges: int, fans: int) -> int:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from fans.chat.models import Fan
    from preorders.models import Campaign, CampaignStatus, Pledge, Tier
    from shops.models import Variant

    user_model = get_user_model()
    variant = Variant.objects.get(pk=cast["variant"])
    now = timezone.now()
    campaign = Campaign.objects.create(
        shop_id=cast["shop"],
        product_id=cast["product"],
        factory_product=variant.product.factory_product,
        kind="group",
        title="Bench 100k",
        status=CampaignStatus.LIVE,
        target_quantity=1000,
        cap=None,
        deadline=now + timezone.timedelta(hours=1),
        deposit_percent=Decimal("10"),
        base_unit_price=Decimal("499.00"),
        launched_at=now,
    )
    Tier.objects.bulk_create(
        [
            Tier(campaign=campaign, min_quantity=1000, unit_price=Decimal("449.00")),
            Tier(campaign=campaign, min_quantity=50000, unit_price=Decimal("349.00")),
        ]
    )
    users = user_model.objects.bulk_create(
        [user_model(username=f"big{n}", password="!") for n in range(fans)], batch_size=5000
    )
    fan_rows = Fan.objects.bulk_create(
        [Fan(shop_id=cast["shop"], user=u, display_name=u.username) for u in users], batch_size=5000
    )
    buf = io.StringIO()
    for n in range(pledges):
        fan = fan_rows[n % fans]
        buf.write(
            f"{campaign.pk}\t{fan.pk}\t{fan.user_id}\t{variant.pk}\tM\tS-M\t1\t499.00\t49.90\tCNY\tactive\t\t"
            f"{now.isoformat()}\t{now.isoformat()}\n"
        )
    cols = (
        "campaign_id, fan_id, user_id, variant_id, variant_name, sku, quantity, unit_price, deposit_amount, "
        "currency, status, cancel_reason, created_at, updated_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {Pledge._meta.db_table} ({cols}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        # The deposits in the double-entry ledger: one transaction and two legs per pledge.
        cursor.execute(
            "INSERT INTO payments_ledgertransaction (kind, reference, amount, currency, shop_id, campaign_id, "
            "pledge_id, provider_id, memo, created_at) SELECT 'deposit', 'pledge-' || id || '-charge', "
            "deposit_amount, currency, %s, campaign_id, id, 'seed', '', created_at "
            f"FROM {Pledge._meta.db_table} WHERE campaign_id = %s",
            [cast["shop"], campaign.pk],
        )
        cursor.execute(
            "INSERT INTO payments_ledgerleg (transaction_id, account, amount) "
            "SELECT id, 'provider', amount FROM payments_ledgertransaction WHERE campaign_id = %s "
            "UNION ALL SELECT id, 'fans_held', -amount FROM payments_ledgertransaction WHERE campaign_id = %s",
            [campaign.pk, campaign.pk],
        )
        cursor.execute(
            f"UPDATE {Fan._meta.db_table} SET pledge_count = pledge_count + %s WHERE shop_id = %s AND id >= %s",
            [pledges // fans, cast["shop"], fan_rows[0].pk],
        )
        cursor.execute("ANALYZE")
    Campaign.objects.filter(pk=campaign.pk).update(
        committed_quantity=pledges, deadline=now - timezone.timedelta(seconds=1)
    )
    return campaign.pk
