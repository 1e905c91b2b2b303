import pytest

from preorders.models import FactoryOrder
from tests.factories import UserFactory
from tests.preorders.test_factory_orders import run_campaign

pytestmark = pytest.mark.django_db


def test_admin_pages_and_order_actions(client, factory_product, shop):
    run_campaign(shop, factory_product, [("L", 10)], tiers=[])
    order = FactoryOrder.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        "/admin/preorders/campaign/",
        "/admin/preorders/pledge/",
        "/admin/preorders/factoryorder/",
        f"/admin/preorders/factoryorder/{order.pk}/change/",
        f"/admin/preorders/campaign/{order.sources.get().campaign_id}/change/",
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        "/admin/preorders/factoryorder/", {"action": "mark_sent", "_selected_action": [order.pk]}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "sent"
