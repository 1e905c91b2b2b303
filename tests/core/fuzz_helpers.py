"""What the API fuzz tests share: a live Daphne server on the test database, an owner's token over demo data,
the schema the server serves, and real ids for the path parameters."""

import re
from typing import Any

import requests
from rest_framework.authtoken.models import Token

from shops.models import Shop

PATH_PARAM = re.compile(r"{([a-z_]+)}")


def demo_owner_token() -> tuple[str, Shop]:
    """The demo's people, shops, catalogues, fans, chat history and campaigns (the first steps of `make demo`,
    which hold everything the API lists), and the first demo shop's owner token."""
    from demo.data.campaigns import demo_campaigns_ensure
    from demo.data.catalogue import demo_catalogue_ensure
    from demo.data.chat import demo_history_ensure
    from demo.data.people import demo_fans_ensure, demo_users_ensure
    from demo.data.result import DemoResult
    from demo.data.shops import SHOPS, demo_shops_ensure

    result = DemoResult()
    users = demo_users_ensure(result)
    shops = demo_shops_ensure(users, result)
    products = {}
    for spec in SHOPS:
        catalogue = demo_catalogue_ensure(shops[spec.slug], spec.products, result)
        products[spec.slug] = dict(zip(spec.products, catalogue, strict=True))
    demo_fans_ensure(users, shops, result)
    demo_history_ensure(users, shops, products, result)
    demo_campaigns_ensure()
    shop = Shop.objects.order_by("pk").first()
    assert shop is not None, "the demo made no shop"
    token, _created = Token.objects.get_or_create(user=shop.owner)
    return token.key, shop


def real_ids(shop: Shop) -> dict[str, Any]:
    """One real, owner-visible id for each path parameter name (so requests get past the 404)."""
    from fans.chat.models import Conversation, Fan, Message
    from fans.crm.models import Segment
    from preorders.api_factory import board_token
    from preorders.models import Campaign, Pledge
    from shops.models import Product

    ids: dict[str, Any] = {"shop_id": shop.pk}
    candidates = {
        "conversation_id": Conversation.objects.filter(shop=shop),
        "fan_id": Fan.objects.filter(shop=shop),
        "message_id": Message.objects.filter(conversation__shop=shop),
        "segment_id": Segment.objects.filter(shop=shop),
        "campaign_id": Campaign.objects.filter(shop=shop),
        "pledge_id": Pledge.objects.filter(campaign__shop=shop),
        "product_id": Product.objects.filter(shop=shop),
    }
    for name, qs in candidates.items():
        pk = qs.order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            ids[name] = pk
    campaign = Campaign.objects.filter(shop=shop, factory_product__isnull=False).first()
    if campaign is not None:
        ids["token"] = board_token(campaign.factory_product.factory)
    return ids


def load_schema(base_url: str) -> dict[str, Any]:
    response = requests.get(f"{base_url}/api/schema/?format=json", timeout=60)
    response.raise_for_status()
    return response.json()


def path_parameters(path: str, ids: dict[str, Any]) -> dict[str, Any]:
    return {name: ids[name] for name in PATH_PARAM.findall(path) if name in ids}


def is_server_error(response: requests.Response) -> bool:
    return response.status_code >= 500
