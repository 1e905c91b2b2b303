"""The settlement through its pages: who may read it, the campaign, shop and factory statements and their
CSV exports, the owner's campaign page, and the admin's money terms."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.translation import gettext, override

from payments.ledger import Posting, ledger_post_many
from payments.models import Account, LedgerTransaction
from preorders.api_factory import board_token
from preorders.dashboard import campaign_funnel, late_risk
from preorders.models import (
    Campaign,
)
from shops.models import ShopRole
from tests.factories import ShopMemberFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.preorders.settlement_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.settlement_helpers import (
    D,
    send_http,
    settlement,
)

pytestmark = pytest.mark.django_db


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
