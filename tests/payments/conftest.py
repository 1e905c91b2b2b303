"""The WeChat Pay adapter's fixtures (tests/payments/test_wechatpay*.py): the key pairs, the fake WeChat on
the wire, and the provider configured with them in public key mode (helpers: wechatpay_helpers.py)."""

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from payments.wechatpay import WeChatPayProvider
from tests.payments.wechatpay_helpers import (
    PUBLIC_KEY_ID,
    FakeWeChat,
    Keys,
    wechatpay_settings,
)


@pytest.fixture(scope="module")
def keys() -> Keys:
    make = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    return Keys(merchant=make(), platform=make(), stranger=make())


@pytest.fixture
def wire(monkeypatch, keys) -> FakeWeChat:
    fake = FakeWeChat(keys, PUBLIC_KEY_ID)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake.send)
    return fake


@pytest.fixture
def provider(settings, keys, wire) -> WeChatPayProvider:
    settings.FANSI_WECHATPAY = wechatpay_settings(keys)
    return WeChatPayProvider()
