"""工厂优选: scorecards computed from a crafted history (on time vs late against ship_by, 慢就赔 paid,
refunds, fulfilled orders), and the ranked factory directory at GET /api/factories/."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from preorders.api_factory import board_factory
from preorders.models import (
    AfterSalesRequest,
    Campaign,
    Credit,
    CreditKind,
    FactoryOrder,
    FactoryScorecard,
    Pledge,
    Shipment,
    ShipmentItem,
)
from preorders.scorecards import scorecards_recompute
from preorders.tasks import factory_scorecards_recompute_task
from shops.models import Factory, FactoryProduct, ShopRole
from tests.factories import (
    FanFactory,
    ProductFactory,
    ShopFactory,
    ShopMemberFactory,
    UserFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db


def _history(factory: Factory, shop, *, on_time: int, late: int, unshipped: int, refunds: int, status: str):
    """One succeeded campaign past its ship_by sourced from `factory`: `on_time` pledges shipped before
    ship_by, `late` after it, `unshipped` not at all (each compensated), and `refunds` approved after-sales
    among the delivered ones; its factory order in `status`."""
    now = timezone.now()
    fp = FactoryProduct.objects.create(
        factory=factory, name="面霜", unit_cost=Decimal("20.00"), category="beauty"
    )
    product = ProductFactory(shop=shop, factory_product=fp)
    variant = VariantFactory(product=product)
    ship_by = now - dt.timedelta(days=2)
    campaign = Campaign.objects.create(
        shop=shop,
        product=product,
        factory_product=fp,
        title="面霜团",
        status="succeeded",
        target_quantity=1,
        deadline=now - dt.timedelta(days=20),
        balance_deadline=now - dt.timedelta(days=15),
        ship_by=ship_by,
        deposit_percent=Decimal(10),
        base_unit_price=Decimal("99.00"),
    )
    order = FactoryOrder.objects.create(factory_product=fp, window_start=now.date(), status=status)
    delivered = []
    for i in range(on_time + late + unshipped):
        fan = FanFactory(shop=shop)
        pledge = Pledge.objects.create(
            campaign=campaign,
            fan=fan,
            user=fan.user,
            variant=variant,
            variant_name="默认",
            sku=variant.sku,
            quantity=1,
            unit_price=Decimal("99.00"),
            deposit_amount=Decimal("9.90"),
            final_unit_price=Decimal("99.00"),
            balance_due=Decimal("89.10"),
            paid_at=now,
            status="paid",
        )
        if i >= on_time + late:
            Credit.objects.create(
                pledge=pledge,
                kind=CreditKind.LATE_COMPENSATION,
                amount=Decimal("4.95"),
                reference=f"pledge-{pledge.pk}-late",
                paid_out=True,
            )
            continue
        shipped_at = ship_by - dt.timedelta(days=1) if i < on_time else ship_by + dt.timedelta(days=1)
        shipment = Shipment.objects.create(
            factory_order=order,
            fan=fan,
            carrier="顺丰",
            tracking_number=f"SF{pledge.pk}",
            shipped_at=shipped_at,
            status="delivered",
            delivered_at=shipped_at + dt.timedelta(days=1),
        )
        ShipmentItem.objects.create(shipment=shipment, pledge=pledge, factory_order=order, quantity=1)
        delivered.append(pledge)
    for pledge in delivered[:refunds]:
        credit = Credit.objects.create(
            pledge=pledge,
            kind=CreditKind.AFTER_SALES_REFUND,
            amount=Decimal("99.00"),
            reference=f"as-{pledge.pk}",
        )
        AfterSalesRequest.objects.create(
            pledge=pledge,
            kind="refund",
            reason="漏液",
            amount=Decimal("99.00"),
            status="approved",
            decided_at=timezone.now(),
            credit=credit,
        )
    return campaign


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def factories(shop):
    good = Factory.objects.create(
        name="优品工厂", category="beauty", origin="广州", moq=200, lead_time_days=15
    )
    poor = Factory.objects.create(name="慢工厂", category="beauty", origin="义乌", moq=50, lead_time_days=30)
    other = Factory.objects.create(name="羽绒厂", category="clothing", origin="平湖")
    _history(good, shop, on_time=9, late=1, unshipped=0, refunds=1, status="delivered")
    _history(poor, shop, on_time=2, late=4, unshipped=2, refunds=3, status="shipped")
    _history(poor, shop, on_time=0, late=0, unshipped=0, refunds=0, status="draft")
    return good, poor, other


def test_scorecard_numbers_from_history(factories):
    good, poor, other = factories
    assert scorecards_recompute() == 3
    g, p = FactoryScorecard.objects.get(factory=good), FactoryScorecard.objects.get(factory=poor)
    assert (g.due_units, g.on_time_units, g.on_time_rate) == (10, 9, pytest.approx(0.9))
    assert (p.due_units, p.on_time_units, p.on_time_rate) == (8, 2, pytest.approx(0.25))
    assert (g.late_compensations, g.late_compensation_amount) == (0, Decimal("0.00"))
    assert (p.late_compensations, p.late_compensation_amount) == (2, Decimal("9.90"))
    assert (g.delivered_pledges, g.refunded_pledges, g.refund_rate) == (10, 1, pytest.approx(0.1))
    assert (p.delivered_pledges, p.refunded_pledges, p.refund_rate) == (6, 3, pytest.approx(0.5))
    assert (g.fulfilled_orders, p.fulfilled_orders) == (1, 1)  # poor's draft order is not fulfilled
    assert g.reviews_avg is None and g.rating_score is None  # nobody reviewed or rated yet
    o = FactoryScorecard.objects.get(factory=other)
    assert (o.on_time_rate, o.refund_rate, o.fulfilled_orders) == (None, None, 0)
    assert g.score > o.score > p.score


def test_reviews_avg_is_the_star_average_of_the_factorys_products_without_hidden_ones(factories):
    from preorders.review_models import Review

    good, poor, _other = factories
    pledges = list(Pledge.objects.filter(campaign__factory_product__factory=good)[:3])
    for pledge, stars, hidden in zip(pledges, (5, 4, 1), (False, False, True), strict=True):
        Review.objects.create(pledge=pledge, product=pledge.campaign.product, stars=stars, hidden=hidden)
    scorecards_recompute()
    assert FactoryScorecard.objects.get(factory=good).reviews_avg == pytest.approx(4.5)
    assert FactoryScorecard.objects.get(factory=poor).reviews_avg is None


def test_beat_task_recomputes_and_reruns_in_place(factories):
    good, _poor, _other = factories
    factory_scorecards_recompute_task()
    factory_scorecards_recompute_task()
    assert FactoryScorecard.objects.count() == 3
    assert FactoryScorecard.objects.get(factory=good).on_time_units == 9


def test_api_lists_a_category_ranked_with_reasons(client, factories, shop):
    good, poor, _other = factories
    scorecards_recompute()
    client.force_login(shop.owner)
    r = client.get("/api/factories/", {"category": "beauty"})
    assert r.status_code == 200
    rows = r.json()
    assert [row["id"] for row in rows] == [good.pk, poor.pk]
    top = rows[0]
    expected = {"id", "name", "category", "origin", "moq", "lead_time_days", "on_time_rate", "refund_rate"}
    expected |= {"rating_score", "reviews_avg", "fulfilled_orders", "capacity_per_week", "late_compensations"}
    assert expected <= set(top)
    assert (top["origin"], top["moq"], top["lead_time_days"]) == ("广州", 200, 15)
    assert top["on_time_rate"] == pytest.approx(0.9) and top["refund_rate"] == pytest.approx(0.1)
    assert top["fulfilled_orders"] == 1 and top["rating_score"] is None and top["reviews_avg"] is None
    assert any("90%" in reason for reason in top["reasons"])
    assert rows[1]["late_compensations"] == 2
    assert "board_token" not in top  # only admins get the signed board link
    assert len(client.get("/api/factories/").json()) == 3


def test_admin_gets_the_board_token(client, factories):
    good, _poor, _other = factories
    scorecards_recompute()
    client.force_login(UserFactory(is_staff=True))
    rows = client.get("/api/factories/", {"category": "beauty"}).json()
    assert board_factory(rows[0]["board_token"]) == good


def test_manager_sees_the_directory_but_a_fan_does_not(client, factories, shop):
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    client.force_login(manager)
    assert client.get("/api/factories/").status_code == 200
    client.force_login(FanFactory(shop=shop).user)
    r = client.get("/api/factories/")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    client.logout()
    assert client.get("/api/factories/").status_code in (401, 403)


def test_bad_category_is_a_coded_400(client, factories, shop):
    client.force_login(shop.owner)
    r = client.get("/api/factories/", {"category": "spaceships"})
    assert r.status_code == 400 and r.json()["code"] == "category_invalid"
    assert not FactoryScorecard.objects.exists()


def test_new_campaign_page_lists_candidate_factories_ranked(client, factories, shop):
    good, poor, other = factories
    scorecards_recompute()
    product = ProductFactory(shop=shop, category="beauty")
    client.force_login(shop.owner)
    r = client.get(f"/campaigns/new/?product={product.pk}&shop={shop.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.status_code == 200
    html = r.content.decode()
    assert "data-candidate-factories" in html
    assert html.index(f'data-factory="{good.pk}"') < html.index(f'data-factory="{poor.pk}"')
    assert f'data-factory="{other.pk}"' not in html  # clothing, not beauty
    assert "准时发货率 90%" in html and "候选工厂" in html  # zh-hans by default


def test_admin_recomputes_scorecards_on_demand(client, factories):
    good, _poor, _other = factories
    scorecards_recompute()
    FactoryScorecard.objects.update(on_time_units=0)  # stale
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/preorders/factoryscorecard/").status_code == 200
    one = FactoryScorecard.objects.first().pk
    r = client.post(
        "/admin/preorders/factoryscorecard/",
        {"action": "recompute_all", "index": "0", "_selected_action": [one]},
    )
    assert r.status_code == 302
    assert FactoryScorecard.objects.get(factory=good).on_time_units == 9


def test_rating_score_is_the_factorys_red_black_score(factories, shop):
    from shops.models import ShopMember
    from tests.conftest import api_client_for

    good, poor, _other = factories
    ShopMember.objects.get_or_create(shop=shop, user=shop.owner, defaults={"role": ShopRole.OWNER})
    answer = api_client_for(shop.owner).post(
        "/api/ratings/",
        {"entity_type": "factory", "entity_id": good.pk, "verdict": "red", "reason": "quality_good"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    scorecards_recompute()
    card = FactoryScorecard.objects.get(factory=good)
    assert card.rating_score is not None and 0 < card.rating_score < 1
    assert FactoryScorecard.objects.get(factory=poor).rating_score is None


def test_the_red_black_board_shows_the_products_review_average(factories, shop):
    from preorders.review_models import Review
    from shops.models import ShopMember
    from tests.conftest import api_client_for

    good, _poor, _other = factories
    ShopMember.objects.get_or_create(shop=shop, user=shop.owner, defaults={"role": ShopRole.OWNER})
    pledges = list(Pledge.objects.filter(campaign__factory_product__factory=good)[:2])
    product = pledges[0].campaign.product
    for pledge, stars in zip(pledges, (5, 3), strict=True):
        Review.objects.create(pledge=pledge, product=product, stars=stars)
    client = api_client_for(shop.owner)
    rated = client.post(
        "/api/ratings/",
        {"entity_type": "product", "entity_id": product.pk, "verdict": "red", "reason": "quality_good"},
        format="json",
    )
    assert rated.status_code == 201, rated.content
    board = client.get("/api/ratings/board/", {"entity_type": "product"}).json()
    row = next(r for r in board if str(r["entity_id"]) == str(product.pk))
    assert float(row["reviews_avg"]) == pytest.approx(4.0)
