"""The WeChat Pay adapter against a fake WeChat on the wire: records() reads the daily trade bills and
refuses one that does not match its hash."""

import datetime as dt
import gzip
import hashlib
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from payments.provider import (
    PaymentError,
    ProviderRecord,
)
from payments.wechatpay import trade_no
from tests.payments.wechatpay_helpers import APPID, MCHID

GATEWAY = "https://api.mch.weixin.qq.com"


# --- records -------------------------------------------------------------------------------------------

BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)


def bill_line(fields: dict[str, str]) -> str:
    """A detail line of the ALL bill: every field led by a backtick, none quoted (so 商品名称 keeps its comma)."""
    row = {"交易时间": "2026-03-01 10:00:00", "公众账号ID": APPID, "商户号": MCHID, "货币种类": "CNY"}
    row |= {"商品名称": "羽绒服, 黑色 M", "费率": "0.60%"} | fields
    return ",".join(f"`{row.get(column, '')}" for column in BILL_HEADER.split(","))


def charge_line(out_trade_no: str, attach: str, amount: str) -> str:
    return bill_line(
        {"交易状态": "SUCCESS", "商户订单号": out_trade_no, "商户数据包": attach, "订单金额": amount}
    )


def refund_line(out_refund_no: str, amount: str, status: str) -> str:
    fields = {"交易状态": "REFUND", "商户退款单号": out_refund_no, "退款金额": amount, "申请退款金额": amount}
    return bill_line(fields | {"退款状态": status, "退款类型": "ORIGINAL"})


def test_records_read_the_daily_trade_bills(provider, wire):
    long_reference = "cycle-55-pledge-9-a2-subscription-renewal-2026-03"
    lines = [
        BILL_HEADER,
        charge_line("pledge-1-charge", "pledge-1-charge", "100.00"),
        charge_line(trade_no(long_reference), long_reference, "12.30"),
        refund_line("pledge-1-cancel-refund", "25.50", "SUCCESS"),
        refund_line("pledge-2-cancel-refund", "9.00", "PROCESSING"),
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`4,`112.30,`34.50,`0.00,`0.67000,`112.30,`34.50",
    ]
    bill = "\r\n".join(lines).encode()
    download_url = f"{GATEWAY}/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA"
    wire.answer(404, {"code": "NO_STATEMENT_EXIST", "message": "账单文件不存在"})
    wire.answer(
        200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(bill).hexdigest(), "download_url": download_url}
    )
    wire.answer_file(gzip.compress(bill))

    records = list(provider.records(since=dt.date(2026, 2, 28), until=dt.date(2026, 3, 1)))

    assert records == [
        ProviderRecord(reference="pledge-1-charge", amount=Decimal("100.00")),
        ProviderRecord(reference=long_reference, amount=Decimal("12.30")),
        ProviderRecord(reference="pledge-1-cancel-refund", amount=Decimal("-25.50")),
    ]
    assert wire.path(0) == "/v3/bill/tradebill?bill_date=2026-02-28&bill_type=ALL&tar_type=GZIP"
    assert wire.path(1) == "/v3/bill/tradebill?bill_date=2026-03-01&bill_type=ALL&tar_type=GZIP"
    assert wire.path(2) == urlsplit(download_url).path + "?" + urlsplit(download_url).query


def test_records_refuse_a_bill_that_does_not_match_its_hash(provider, wire):
    bill = f"{BILL_HEADER}\n{charge_line('pledge-1-charge', '', '100.00')}\n".encode()
    wire.answer(
        200,
        {
            "hash_type": "SHA1",
            "hash_value": "0" * 40,
            "download_url": f"{GATEWAY}/v3/billdownload/file?token=t",
        },
    )
    wire.answer_file(gzip.compress(bill))

    with pytest.raises(PaymentError, match="hash"):
        list(provider.records(since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 1)))
