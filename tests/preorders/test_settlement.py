"""The settlement ledger through the real app: a worked example to the cent (deposits, a cancel refund,
balances, a lapse forfeit, tier credits, the release when the order is sent), `balanced` after every path,
the database refusing an unbalanced posting, access, CSV exports, the factory's statement and reconcile."""

import csv
import datetime as dt
import io
import subprocess
import sys
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from django.utils.translation import gettext, override

from payments.ledger import Posting, Unbalanced, ledger_post_many
from payments.models import Account, LedgerLeg, LedgerTransaction, SimulatedTransaction, SimulatorOutcome
from payments.provider import ChargeRequest
from preorders.api_factory import board_token
from preorders.dashboard import campaign_funnel, late_risk
from preorders.models import (
    Campaign,
    CycleDelivery,
    DeliveryStatus,
    FactoryOrder,
    LapseRule,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
)
from preorders.services import campaign_close, cycle_cut, factory_order_transition
from preorders.services.balance import balance_lapse_run, balance_pay
from preorders.services.cycle_charging import delivery_pay_now
from preorders.services.release import (
    campaign_release_reference,
    cycle_box_release_reference,
    cycle_release_reference,
    factory_order_release,
    factory_order_releases_sweep,
)
from shops.models import Factory, FactoryProduct, FactoryVariant, ShopRole
from tests import servers
from tests.factories import FanFactory, ShopMemberFactory, UserFactory
from tests.preorders.conftest import expire, make_campaign, shop_product

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def jacket(db):
    """Unit cost 123.45 (cents matter); no per-variant MOQ, so lapses never leave a shortfall."""
    factory = Factory.objects.create(name="精工羽绒厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="轻暖羽绒服", moq=5, lead_time_days=30, unit_cost=D("123.45")
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=0)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=0)
    return fp


@pytest.fixture
def page_as(client):
    """GET a page as `user` with a session (the pages are Django views, not token-authenticated API)."""

    def get(user, url):
        client.force_login(user)
        return client.get(url)

    return get


@pytest.fixture
def admin_user(db):
    return UserFactory(username="platform-admin", is_staff=True, is_superuser=True)


def pledge_http(api_for, user, campaign, variant, quantity) -> Pledge:
    response = api_for(user).post(
        f"/api/campaigns/{campaign.pk}/pledges/",
        {"variant": variant.pk, "quantity": quantity},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.json()
    return Pledge.objects.get(pk=response.json()["id"])


def settlement(api_for, user, campaign) -> dict:
    response = api_for(user).get(f"/api/campaigns/{campaign.pk}/settlement/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["balanced"] is True, body
    return body


def pay_balance(django_capture_on_commit_callbacks, pledge: Pledge) -> None:
    # The simulated provider answers "pending"; its signed notification (after commit) settles the charge.
    with django_capture_on_commit_callbacks(execute=True):
        balance_pay(user=pledge.user, pledge_id=pledge.pk, idempotency_key=None)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.PAID


def balance_deadline_passes(campaign: Campaign) -> None:
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        deadline=now - dt.timedelta(seconds=2), balance_deadline=now - dt.timedelta(seconds=1)
    )


def lapse(django_capture_on_commit_callbacks, campaign: Campaign) -> None:
    balance_deadline_passes(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        assert balance_lapse_run(campaign_id=campaign.pk) is True


def send_http(api_for, admin_user, order: FactoryOrder):
    return api_for(admin_user).post(
        f"/api/factory-orders/{order.pk}/transition/", {"status": "sent"}, format="json"
    )


@pytest.fixture
def worked(shop, jacket, api_for, admin_user, django_capture_on_commit_callbacks):
    """The worked example, up to the factory order (not sent yet).

    Base price 500.00, from 10 units 450.25; deposit 10%. A 4 L, B 3 L, C 3 M at 500 (deposits 200, 150,
    150), D 2 M at 450.25 (90.05), E 1 M at 450.25 (45.03), who cancels: refund 45.03. Final price 450.25:
    balances A 1601.00, B 1200.75, D 810.45 paid; C's 1200.75 unpaid, so C's 150 is forfeited. Tier
    credits A 199.00, B 149.25, C 149.25.
    """
    product, v_l, v_m = shop_product(shop, jacket)
    campaign = make_campaign(
        shop.owner,
        product,
        cap=None,
        per_fan_limit=None,
        tiers=[{"min_quantity": 10, "unit_price": "450.25"}],
    )
    fans = {name: FanFactory(shop=shop, display_name=f"粉丝{name}") for name in "ABCDE"}
    steps = {}
    pledges = {}
    for name, variant, quantity in (
        ("A", v_l, 4),
        ("B", v_l, 3),
        ("C", v_m, 3),
        ("D", v_m, 2),
        ("E", v_m, 1),
    ):
        pledges[name] = pledge_http(api_for, fans[name].user, campaign, variant, quantity)
    assert [pledges[n].deposit_amount for n in "ABCDE"] == [
        D("200.00"),
        D("150.00"),
        D("150.00"),
        D("90.05"),
        D("45.03"),
    ]
    steps["deposits"] = settlement(api_for, shop.owner, campaign)
    cancel = api_for(fans["E"].user).post(
        f"/api/pledges/{pledges['E'].pk}/cancel/", {"reason": "买多了"}, format="json"
    )
    assert cancel.status_code == 200, cancel.json()
    steps["cancel"] = settlement(api_for, shop.owner, campaign)
    expire(campaign)
    assert campaign_close(campaign_id=campaign.pk) == "succeeded"
    steps["close"] = settlement(api_for, shop.owner, campaign)
    for name in "ABD":
        pay_balance(django_capture_on_commit_callbacks, pledges[name])
    steps["balances"] = settlement(api_for, shop.owner, campaign)
    lapse(django_capture_on_commit_callbacks, campaign)
    steps["lapse"] = settlement(api_for, shop.owner, campaign)
    campaign.refresh_from_db()
    for p in pledges.values():
        p.refresh_from_db()
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    return {"campaign": campaign, "pledges": pledges, "fans": fans, "steps": steps, "order": order}


def test_worked_example_statement_before_and_after_release(worked, api_for, shop, admin_user):
    campaign, pledges, steps = worked["campaign"], worked["pledges"], worked["steps"]
    assert steps["deposits"]["collected"] == "635.08" and steps["deposits"]["held"] == "635.08"
    assert steps["cancel"]["refunded"] == "45.03" and steps["cancel"]["held"] == "590.05"
    assert steps["close"]["price_credits"] == "497.50"
    assert steps["balances"]["collected"] == "4247.28"
    assert pledges["C"].status == PledgeStatus.LAPSED
    assert steps["lapse"] == {
        "campaign": campaign.pk,
        "collected": "4247.28",
        "refunded": "45.03",
        "forfeited": "150.00",
        "compensated": "0.00",
        "price_credits": "497.50",
        "held": "4052.25",
        "payable_to_factory": "0.00",
        "payable_to_shop": "0.00",
        "platform_fee": "0.00",
        "balanced": True,
        "currency": "CNY",
    }

    response = send_http(api_for, admin_user, worked["order"])
    assert response.status_code == 200 and response.json()["status"] == "sent"
    release = LedgerTransaction.objects.get(kind="release", campaign_id=campaign.pk)
    assert release.reference == campaign_release_reference(campaign.pk, worked["order"].pk)
    assert release.factory_id == worked["order"].factory_product.factory_id and release.shop_id == shop.pk
    legs = dict(release.legs.values_list("account", "amount"))
    # Net paid 4052.25 (A 1801.00 + B 1350.75 + D 900.50); 9 units × 123.45; fee 2% of 4052.25 = 81.045.
    assert legs == {
        Account.FANS_HELD: D("4052.25"),
        Account.FORFEITED: D("150.00"),
        Account.FACTORY_PAYABLE: D("-1111.05"),
        Account.PLATFORM_FEES: D("-81.05"),
        Account.SHOP_PAYABLE: D("-3010.15"),
    }
    assert sum(legs.values()) == 0 and release.amount == D("4202.25")
    after = settlement(api_for, shop.owner, campaign)
    assert after == {
        **steps["lapse"],
        "held": "0.00",
        "payable_to_factory": "1111.05",
        "payable_to_shop": "3010.15",
        "platform_fee": "81.05",
    }

    # Sent again, released again, swept: still exactly one release.
    assert send_http(api_for, admin_user, worked["order"]).status_code == 200
    assert factory_order_release(order_id=worked["order"].pk) == set()
    assert factory_order_releases_sweep() == 0
    assert LedgerTransaction.objects.filter(kind="release").count() == 1
    assert settlement(api_for, shop.owner, campaign) == after


def test_release_left_unposted_by_a_crash_is_posted_by_the_sweep(worked, monkeypatch, shop, api_for):
    from preorders.services import factory_orders

    def crash(*, order_id):
        raise RuntimeError("worker killed after the status commit")

    monkeypatch.setattr(factory_orders, "factory_order_release", crash)
    with pytest.raises(RuntimeError):
        factory_order_transition(order_id=worked["order"].pk, status="sent")
    assert FactoryOrder.objects.get(pk=worked["order"].pk).status == "sent"
    assert not LedgerTransaction.objects.filter(kind="release").exists()
    monkeypatch.undo()
    assert factory_order_releases_sweep() == 1
    assert settlement(api_for, shop.owner, worked["campaign"])["payable_to_factory"] == "1111.05"


def test_draft_and_cancelled_orders_release_nothing(worked):
    order = worked["order"]
    assert factory_order_release(order_id=order.pk) == set()
    factory_order_transition(order_id=order.pk, status="cancelled")
    assert factory_order_release(order_id=order.pk) == set()
    assert not LedgerTransaction.objects.filter(kind="release").exists()


def test_shop_selling_below_cost_gets_a_negative_payable_and_the_books_still_balance(
    shop, api_for, admin_user, django_capture_on_commit_callbacks, page_as
):
    factory = Factory.objects.create(name="贵工厂")
    fp = FactoryProduct.objects.create(factory=factory, name="贵外套", moq=1, unit_cost=D("80.00"))
    FactoryVariant.objects.create(factory_product=fp, name="均码", sku="F-COAT", moq=0)
    FactoryVariant.objects.create(factory_product=fp, name="大码", sku="F-COAT-L", moq=0)
    product, v1, _v2 = shop_product(shop, fp, price="60.00")
    campaign = make_campaign(
        shop.owner, product, target_quantity=2, cap=None, tiers=[], deposit_percent="100"
    )
    for _ in range(2):
        pledge_http(api_for, FanFactory(shop=shop).user, campaign, v1, 1)
    expire(campaign)
    campaign_close(campaign_id=campaign.pk)
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"paid"}
    lapse(django_capture_on_commit_callbacks, campaign)
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    assert send_http(api_for, admin_user, order).status_code == 200
    legs = dict(LedgerLeg.objects.filter(transaction__kind="release").values_list("account", "amount"))
    # Paid 120.00; the factory is owed 160.00 and the platform 2.40: the shop owes 42.40.
    assert legs == {
        Account.FANS_HELD: D("120.00"),
        Account.FACTORY_PAYABLE: D("-160.00"),
        Account.PLATFORM_FEES: D("-2.40"),
        Account.SHOP_PAYABLE: D("42.40"),
    }
    body = settlement(api_for, shop.owner, campaign)
    assert body["payable_to_shop"] == "-42.40" and body["payable_to_factory"] == "160.00"
    page = page_as(shop.owner, f"/campaigns/{campaign.pk}/settlement/")
    assert page.status_code == 200 and "-42.40" in page.content.decode()


def test_lapse_with_refund_and_a_failed_campaign_balance(
    shop, jacket, api_for, django_capture_on_commit_callbacks
):
    product, v_l, v_m = shop_product(shop, jacket)
    refunding = make_campaign(
        shop.owner, product, target_quantity=5, cap=None, tiers=[], lapse_rule=LapseRule.REFUND
    )
    payer = pledge_http(api_for, FanFactory(shop=shop).user, refunding, v_l, 3)
    skipper = pledge_http(api_for, FanFactory(shop=shop).user, refunding, v_m, 2)
    expire(refunding)
    campaign_close(campaign_id=refunding.pk)
    pay_balance(django_capture_on_commit_callbacks, payer)
    lapse(django_capture_on_commit_callbacks, refunding)
    body = settlement(api_for, shop.owner, refunding)
    # 3 × 500 paid in full; the 2-unit pledge's deposit of 100.00 goes back.
    assert body["collected"] == "1600.00" and body["refunded"] == "100.00"
    assert body["forfeited"] == "0.00" and body["held"] == "1500.00"
    skipper.refresh_from_db()
    assert skipper.status == PledgeStatus.LAPSED

    failing = make_campaign(shop.owner, product, target_quantity=50, cap=None, tiers=[])
    pledge_http(api_for, FanFactory(shop=shop).user, failing, v_l, 2)
    expire(failing)
    assert campaign_close(campaign_id=failing.pk) == "failed"
    body = settlement(api_for, shop.owner, failing)
    assert body["collected"] == body["refunded"] == "100.00" and body["held"] == "0.00"


def test_subscription_cycle_release_and_a_late_box_released_on_its_own(
    shop, factory_product, api_for, admin_user, provider, django_capture_on_commit_callbacks, page_as
):
    product, v_l, _v_m = shop_product(shop, factory_product)
    campaign = make_campaign(
        shop.owner,
        product,
        kind="subscription",
        cadence="weekly",
        cycles=2,
        cutoff_hours=24,
        deposit_percent="0",
        tiers=[],
        target_quantity=10,
        cap=None,
        per_fan_limit=None,
    )
    subscribers = [FanFactory(shop=shop, display_name=n) for n in ("阿花", "阿草", "阿木")]
    pledges = [
        pledge_http(api_for, f.user, campaign, v_l, q) for f, q in zip(subscribers, (1, 2, 1), strict=True)
    ]
    provider.rule_add(user_id=subscribers[2].user.pk, outcome=SimulatorOutcome.DECLINE, times=1)
    cycle = SubscriptionCycle.objects.get(campaign=campaign, number=1)
    SubscriptionCycle.objects.filter(pk=cycle.pk).update(cutoff_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        cycle_cut(cycle_id=cycle.pk)
    dunning = CycleDelivery.objects.get(pledge=pledges[2])
    assert dunning.status == DeliveryStatus.DUNNING and dunning.attempts == 1

    # The owner's page lists the box being retried, with the fan's name, box number and amount.
    page = page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="dunning-table"' in page and "阿木" in page and "¥500.00" in page

    order = FactoryOrder.objects.get(cycle=cycle)
    assert send_http(api_for, admin_user, order).status_code == 200
    release = LedgerTransaction.objects.get(reference=cycle_release_reference(cycle.pk))
    # 3 charged units × 500.00; factory 3 × 200.00; fee 2% of 1500.00.
    assert dict(release.legs.values_list("account", "amount")) == {
        Account.FANS_HELD: D("1500.00"),
        Account.FACTORY_PAYABLE: D("-600.00"),
        Account.PLATFORM_FEES: D("-30.00"),
        Account.SHOP_PAYABLE: D("-870.00"),
    }
    # The fan pays now: the box joins the sent order and is released alone, once.
    with django_capture_on_commit_callbacks(execute=True):
        delivery_pay_now(user=subscribers[2].user, delivery_id=dunning.pk)
    dunning.refresh_from_db()
    assert dunning.status == DeliveryStatus.CHARGED and dunning.added_to_order
    late = LedgerTransaction.objects.get(reference=cycle_box_release_reference(cycle.pk, dunning.pk))
    assert dict(late.legs.values_list("account", "amount"))[Account.FACTORY_PAYABLE] == D("-200.00")
    assert factory_order_release(order_id=order.pk) == set()
    body = settlement(api_for, shop.owner, campaign)
    assert body["collected"] == "2000.00" and body["held"] == "0.00"
    assert body["payable_to_factory"] == "800.00" and body["platform_fee"] == "40.00"
    assert body["payable_to_shop"] == "1160.00"
    funnel = {step["key"]: step["value"] for step in campaign_funnel(campaign)}
    assert funnel["pledged"] == 4 and funnel["paid"] == 4 and funnel["lapsed"] == 0


def test_database_refuses_an_unbalanced_transaction(db):
    txn, leg = LedgerTransaction._meta.db_table, LedgerLeg._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {txn} (kind, reference, amount, currency, provider_id, memo, created_at) "
            f"VALUES ('deposit', 'hand-made', 10, 'CNY', '', '', now()) RETURNING id"
        )
        (txn_id,) = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {leg} (transaction_id, account, amount) VALUES (%s, 'provider', 10)", [txn_id]
        )
    assert not LedgerTransaction.objects.filter(reference="hand-made").exists()
    # The service refuses it before the database sees it.
    with pytest.raises(Unbalanced):
        ledger_post_many([Posting("deposit", "hand-made", D(10), [(Account.PROVIDER, D(10))])])
    with pytest.raises(Unbalanced):
        ledger_post_many(
            [Posting("deposit", "hand-made", D(10), [(Account.PROVIDER, D(10)), (Account.FANS_HELD, D(-9))])]
        )


def test_settlement_api_access(worked, api_for, shop, staff, other_shop, fan_user, client, page_as):
    campaign = worked["campaign"]
    url = f"/api/campaigns/{campaign.pk}/settlement/"
    assert api_for(other_shop.owner).get(url).status_code == 404
    assert api_for(fan_user).get(url).status_code == 404
    assistant = api_for(staff).get(url)
    assert assistant.status_code == 403 and assistant.json()["code"] == "forbidden"
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    assert api_for(manager).get(url).status_code == 200
    assert client.get(url).status_code in (401, 403)
    assert api_for(shop.owner).get("/api/campaigns/999999/settlement/").status_code == 404
    # The pages and exports follow the same rule.
    for page in (f"/campaigns/{campaign.pk}/settlement/", f"/campaigns/{campaign.pk}/settlement.csv"):
        assert page_as(shop.owner, page).status_code == 200
        client.force_login(staff)
        assert client.get(page).status_code == 403
        client.force_login(other_shop.owner)
        assert client.get(page).status_code == 404
        client.force_login(fan_user)
        assert client.get(page).status_code == 404
    client.force_login(staff)
    assert client.get(f"/shop/settlement/?shop={shop.pk}").status_code == 403
    client.force_login(fan_user)
    assert client.get("/shop/settlement/").status_code == 404


def test_campaign_csv_lists_every_transaction_with_totals(worked, api_for, shop, admin_user, page_as):
    campaign = worked["campaign"]
    send_http(api_for, admin_user, worked["order"])
    response = page_as(shop.owner, f"/campaigns/{campaign.pk}/settlement.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    # Labels in the UI language, the kind's code in a column of its own, accounts named in words.
    assert header[:7] == ["日期（店铺时间）", "类型", "kind_code", "参考号", "认购", "金额", "币种"]
    with override("zh-hans"):
        account_of = {str(label): code for code, label in Account.choices}
    header = header[:7] + [account_of.get(h, h) for h in header[7:]]
    assert header[7:-1] == list(Account.values)
    assert len(body) == LedgerTransaction.objects.filter(campaign_id=campaign.pk).count()
    assert {r[1] for r in body if r[2] == "deposit"} == {"定金"}
    # Shop time (Asia/Shanghai): the first posting's wall-clock time in the shop, not UTC.
    first = LedgerTransaction.objects.filter(campaign_id=campaign.pk).order_by("created_at", "pk").first()
    assert body[0][0] == timezone.localtime(first.created_at, ZoneInfo("Asia/Shanghai")).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    body = [r[:1] + r[2:] for r in body]  # from here on, columns by code as before
    header = header[:1] + ["kind"] + header[3:]
    kinds = [r[1] for r in body]
    assert kinds.count("deposit") == 5 and kinds.count("balance") == 3 and kinds.count("forfeit") == 1
    assert kinds.count("refund") == 1 and kinds.count("price_protection") == 3 and kinds.count("release") == 1
    column = {name: i for i, name in enumerate(header)}
    for r in body:  # every transaction's legs sum to zero
        assert sum(D(r[column[a]]) for a in Account.values) == 0
    total = total[:1] + total[2:]
    assert total[0] == "合计"
    assert total[column["provider"]] == "4202.25" and total[column["fans_held"]] == "0.00"
    assert total[column["factory_payable"]] == "-1111.05" and total[column["shop_payable"]] == "-3010.15"
    release = next(r for r in body if r[1] == "release")
    assert release[column["platform_fees"]] == "-81.05" and release[3] == ""


def test_shop_statement_page_and_csv(worked, api_for, shop, jacket, page_as):
    product, _v_l, _v_m = shop_product(shop, jacket)
    quiet = make_campaign(shop.owner, product, title="安静的活动")  # live, no money yet
    page = page_as(shop.owner, f"/shop/settlement/?shop={shop.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-campaign="{worked["campaign"].pk}"' in html and f'data-campaign="{quiet.pk}"' in html
    assert 'href="/shop/settlement.csv?shop=' in html
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    page_as(shop.owner, f"/shop/settlement.csv?shop={shop.pk}").streaming_content
                ).decode("utf-8-sig")
            )
        )
    )
    header = rows[0]
    by_campaign = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    worked_row = by_campaign[str(worked["campaign"].pk)]
    assert worked_row["已收款"] == "4247.28" and worked_row["status_code"] == worked["campaign"].status
    assert worked_row["状态"] != worked_row["status_code"] and worked_row["kind_code"] == "group"
    assert by_campaign[str(quiet.pk)]["已收款"] == "0.00"
    assert by_campaign["合计"]["代管中"] == "4052.25" and by_campaign["合计"]["账目平衡"] == "是"


def test_factory_board_statement_and_csv_show_no_fan(worked, api_for, admin_user, client, jacket, shop):
    send_http(api_for, admin_user, worked["order"])
    # Compensation charged to the factory (posted by the late-shipment service): it nets off its payable.
    ledger_post_many(
        [
            Posting(
                "compensation",
                f"pledge-{worked['pledges']['A'].pk}-late-compensation",
                D("90.05"),
                [(Account.FACTORY_PAYABLE, D("90.05")), (Account.PROVIDER, D("-90.05"))],
                shop_id=shop.pk,
                campaign_id=worked["campaign"].pk,
                pledge_id=worked["pledges"]["A"].pk,
                factory_id=jacket.factory_id,
            )
        ]
    )
    token = board_token(jacket.factory)
    body = client.get(f"/api/factory-board/{token}/").json()
    row = body["statement"]["rows"][0]
    assert row["units"] == 9 and row["payable_to_factory"] == "1111.05"
    assert row["compensation"] == "90.05" and row["net"] == "1021.00"
    assert body["statement"]["totals"] == [
        {
            "currency": "CNY",
            "units": 9,
            "payable_to_factory": "1111.05",
            "compensation": "90.05",
            "net": "1021.00",
        }
    ]
    page = client.get(f"/factory-board/{token}/").content.decode()
    assert f'href="/factory-board/{token}/statement.csv"' in page and "1021.00" in page
    response = client.get(f"/factory-board/{token}/statement.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["工厂订单", "窗口开始", "订单状态", "order_status_code"]
    assert rows[1][0] == f"FO-{worked['order'].pk}" and rows[1][8:11] == ["1111.05", "90.05", "1021.00"]
    assert rows[-1][0] == "合计"
    for fan in worked["fans"].values():  # aggregates only: no fan's name or login anywhere
        for text_shown in (text, page, str(body)):
            assert fan.display_name not in text_shown and fan.user.username not in text_shown
    assert client.get("/factory-board/forged/statement.csv").status_code == 404
    # The settlement statement of the campaign is still balanced with the compensation.
    assert settlement(api_for, shop.owner, worked["campaign"])["compensated"] == "90.05"


def test_owner_campaign_page_shows_funnel_risk_and_settlement(worked, api_for, shop, staff, page_as):
    campaign = worked["campaign"]
    funnel = {step["key"]: step["value"] for step in campaign_funnel(campaign)}
    # Nothing shipped yet: the shipment steps count zero.
    assert funnel == {
        "pledged": 12,
        "paid": 9,
        "lapsed": 3,
        "shipped": 0,
        "delivered": 0,
        "after_sales": 0,
    }
    risk = late_risk(campaign)
    assert risk["units_unshipped"] == 9 and not risk["overdue"]
    # 9 units × 450.25 × 5%.
    assert risk["compensation_exposure"] == D("202.61")
    html = page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="funnel"' in html and 'data-step="paid" data-value="9"' in html
    assert 'id="late-risk"' in html and 'id="settlement-summary"' in html
    assert f'href="/campaigns/{campaign.pk}/settlement/"' in html
    assert f'href="/campaigns/{campaign.pk}/settlement.csv"' in html
    assert 'data-figure="held"' in html and "¥4052.25" in html
    # An assistant sees the funnel but not the money.
    html = page_as(staff, f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="funnel"' in html and 'id="settlement-summary"' not in html


def test_pages_render_with_no_money_shipments_or_credits(shop, jacket, api_for, page_as):
    product, _v_l, _v_m = shop_product(shop, jacket)
    draft = make_campaign(shop.owner, product, launch=False)
    for url in (
        f"/campaigns/{draft.pk}/",
        f"/campaigns/{draft.pk}/settlement/",
        f"/shop/settlement/?shop={shop.pk}",
    ):
        response = page_as(shop.owner, url)
        assert response.status_code == 200, url
    settlement_page = page_as(shop.owner, f"/campaigns/{draft.pk}/settlement/").content.decode()
    assert 'id="no-transactions"' in settlement_page
    body = settlement(api_for, shop.owner, draft)
    assert body["collected"] == "0.00" and body["held"] == "0.00"
    with override("zh-hans"):
        assert gettext("No money has moved in this campaign yet.") in settlement_page
        assert gettext("Settlement") != "Settlement"  # shown in Chinese by default


def moq_short_campaign(shop, factory_product, api_for, django_capture_on_commit_callbacks):
    """Target 10 reached (L 5, M 5), only L paid: 5 paid units against the factory's MOQ of 10."""
    product, v_l, v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, cap=None, per_fan_limit=None, tiers=[])
    payer = pledge_http(api_for, FanFactory(shop=shop).user, campaign, v_l, 5)
    pledge_http(api_for, FanFactory(shop=shop).user, campaign, v_m, 5)
    expire(campaign)
    campaign_close(campaign_id=campaign.pk)
    pay_balance(django_capture_on_commit_callbacks, payer)
    lapse(django_capture_on_commit_callbacks, campaign)
    campaign.refresh_from_db()
    # The unpaid M line lapsed under its own MOQ of 5, and the product under its MOQ of 10.
    assert (
        campaign.moq_shortfall
        == {
            "*": {"paid": 5, "moq": 10},
            "F-DOWN-M": {"paid": 0, "moq": 5},
        }
        and not campaign.moq_decision
    )
    return campaign


def test_moq_decision_api_ship_anyway(
    shop, factory_product, api_for, staff, other_shop, django_capture_on_commit_callbacks, page_as
):
    campaign = moq_short_campaign(shop, factory_product, api_for, django_capture_on_commit_callbacks)
    url = f"/api/campaigns/{campaign.pk}/moq-decision/"
    html = page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="moq-ship-anyway"' in html and 'id="moq-cancel"' in html
    assert api_for(other_shop.owner).post(url, {"decision": "ship_anyway"}, format="json").status_code == 404
    assert api_for(staff).post(url, {"decision": "ship_anyway"}, format="json").status_code == 403
    assert api_for(shop.owner).post(url, {}, format="json").status_code == 400
    bad = api_for(shop.owner).post(url, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "decision_invalid"
    response = api_for(shop.owner).post(url, {"decision": "ship_anyway"}, format="json")
    assert response.status_code == 200 and response.json()["moq_decision"] == "ship_anyway"
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    assert order.lines.get().quantity == 5
    again = api_for(shop.owner).post(url, {"decision": "cancel"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "no_moq_decision"
    assert 'id="moq-ship-anyway"' not in page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    settlement(api_for, shop.owner, campaign)


def test_moq_decision_api_cancel_refunds_everyone_paid(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    campaign = moq_short_campaign(shop, factory_product, api_for, django_capture_on_commit_callbacks)
    response = api_for(shop.owner).post(
        f"/api/campaigns/{campaign.pk}/moq-decision/", {"decision": "cancel"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "failed"
    assert not FactoryOrder.objects.filter(sources__campaign=campaign).exists()
    body = settlement(api_for, shop.owner, campaign)
    # The payer's 2500.00 back in full; the lapsed pledge's deposit stays forfeited.
    assert body["refunded"] == "2500.00" and body["forfeited"] == "250.00" and body["held"] == "0.00"


# --- manage.py reconcile ----------------------------------------------------------------------------


def test_reconcile_clean_run_prints_zero_differences(worked, api_for, admin_user):
    send_http(api_for, admin_user, worked["order"])
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    assert out.getvalue().strip().endswith("0 differences")


def test_reconcile_lists_a_tampered_provider_record_and_a_missing_ledger_transaction(worked, provider):
    a = worked["pledges"]["A"]
    SimulatedTransaction.objects.filter(kind="charge", reference=f"pledge-{a.pk}-charge").update(
        amount=D("199.00")
    )
    # Money the provider took that the ledger never recorded.
    provider.charge(ChargeRequest("pledge-999999-charge", D("88.00"), "CNY", a.user_id), wait=True)
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 differences"):
        call_command("reconcile", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(
        line.startswith("amount_mismatch")
        and f"pledge-{a.pk}-charge" in line
        and "ledger=200.00" in line
        and "provider=199.00" in line
        for line in lines
    )
    assert any(line.startswith("missing_in_ledger") and "pledge-999999-charge" in line for line in lines)
    assert lines[-1].endswith("2 differences")


@override_settings(FANSI_PAYMENT_PROVIDER="tests.preorders.test_settlement.RecordsOnlyProvider")
def test_reconcile_through_provider_records_finds_the_same(worked):
    """A provider other than the simulated one is read through records(): the same differences."""
    a = worked["pledges"]["A"]
    SimulatedTransaction.objects.filter(kind="charge", reference=f"pledge-{a.pk}-charge").update(
        amount=D("1.00")
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 differences"):
        call_command("reconcile", stdout=out)
    assert f"amount_mismatch      pledge-{a.pk}-charge" in out.getvalue()


class RecordsOnlyProvider:
    """The simulated provider's books, seen only through records() (as WeChat Pay's bill is)."""

    name = "records-only"

    def records(self):
        from payments.simulated import SimulatedProvider

        return SimulatedProvider().records()


@pytest.mark.django_db(transaction=True)
def test_reconcile_command_exit_status(require_services, shop, jacket):
    """`manage.py reconcile` as an operator runs it: 0 on clean books, non-zero with the differences listed."""
    product, v_l, _v_m = shop_product(shop, jacket)
    campaign = make_campaign(shop.owner, product, tiers=[])
    from preorders.services import pledge_place

    pledge_place(user=FanFactory(shop=shop).user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=2)
    command = [sys.executable, "manage.py", "reconcile"]
    clean = subprocess.run(
        command,
        cwd=servers.ROOT,
        env=servers.test_database_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().endswith("0 differences")
    SimulatedTransaction.objects.filter(kind="charge").update(amount=D("1.00"))
    dirty = subprocess.run(
        command,
        cwd=servers.ROOT,
        env=servers.test_database_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dirty.returncode != 0
    pledge = Pledge.objects.get()
    assert f"amount_mismatch      pledge-{pledge.pk}-charge" in dirty.stdout
    assert "1 differences" in dirty.stderr


def test_admin_campaign_form_checks_and_defaults_the_money_terms(client, shop, jacket):
    product, _v_l, _v_m = shop_product(shop, jacket)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    deadline = timezone.localtime() + dt.timedelta(days=7)
    form = {
        "created_by": admin.pk,
        "shop": shop.pk,
        "product": product.pk,
        "factory_product": jacket.pk,
        "kind": "group",
        "title": "后台建的团",
        "status": "draft",
        "target_quantity": 10,
        "deadline_0": deadline.strftime("%Y-%m-%d"),
        "deadline_1": deadline.strftime("%H:%M:%S"),
        "deposit_percent": "10",
        "base_unit_price": "500.00",
        "currency": "CNY",
        "cutoff_hours": 0,
        "lapse_rule": "refund",
        "late_compensation_percent": "6",
        "tiers-TOTAL_FORMS": 0,
        "tiers-INITIAL_FORMS": 0,
        "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000,
    }
    assert client.get("/admin/preorders/campaign/add/").status_code == 200
    refused = client.post("/admin/preorders/campaign/add/", form)
    assert refused.status_code == 200 and not Campaign.objects.exists()
    with override("zh-hans"):
        message = gettext("A deposit below 100% needs a balance deadline.")
    assert message in refused.content.decode()
    balance = deadline + dt.timedelta(days=3)
    form |= {
        "balance_deadline_0": balance.strftime("%Y-%m-%d"),
        "balance_deadline_1": balance.strftime("%H:%M:%S"),
    }
    assert client.post("/admin/preorders/campaign/add/", form).status_code == 302
    campaign = Campaign.objects.get()
    # ship_by left empty: the balance deadline plus the 30-day lead time plus 3 days, as campaign_create does.
    assert campaign.ship_by == campaign.balance_deadline + dt.timedelta(days=33)
    assert campaign.lapse_rule == "refund" and campaign.late_compensation_percent == D("6")
