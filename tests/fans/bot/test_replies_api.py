"""FAQ answers and canned replies: edit (PATCH) and delete (DELETE), scoped to the shop, managers and owner."""

import pytest

from fans.bot.models import CannedReply, FaqRule
from shops.models import ShopRole
from tests.factories import ShopMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rules(shop):
    faq = FaqRule.objects.create(shop=shop, keywords="发货,快递", answer="48小时内发货")
    canned = CannedReply.objects.create(shop=shop, title="欢迎", text="你好 {fan_name}")
    return faq, canned


def test_a_manager_edits_and_deletes_an_faq_answer(api_for, shop, rules):
    faq, _canned = rules
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    client = api_for(manager)
    answer = client.patch(
        f"/api/bot/faq/{faq.pk}/?shop={shop.pk}",
        {"answer": " 24小时内发货 ", "is_active": False},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["answer"] == "24小时内发货" and answer.json()["is_active"] is False
    faq.refresh_from_db()
    assert faq.answer == "24小时内发货" and not faq.is_active and faq.keywords == "发货,快递"
    # The bot's cached facts forget the old answer.
    listed = client.get(f"/api/bot/faq/?shop={shop.pk}").json()
    assert [r["answer"] for r in listed] == ["24小时内发货"]
    assert client.delete(f"/api/bot/faq/{faq.pk}/?shop={shop.pk}").status_code == 204
    assert not FaqRule.objects.filter(pk=faq.pk).exists()
    again = client.delete(f"/api/bot/faq/{faq.pk}/?shop={shop.pk}")
    assert again.status_code == 404 and again.json()["code"] == "faq_not_found"


def test_the_owner_edits_and_deletes_a_canned_reply(api_for, owner, shop, rules):
    _faq, canned = rules
    client = api_for(owner)
    answer = client.patch(f"/api/bot/canned-replies/{canned.pk}/", {"title": "问候"}, format="json")
    assert answer.status_code == 200 and answer.json() == {
        "id": canned.pk,
        "title": "问候",
        "text": "你好 {fan_name}",
    }
    assert client.delete(f"/api/bot/canned-replies/{canned.pk}/").status_code == 204
    assert not CannedReply.objects.filter(pk=canned.pk).exists()


@pytest.mark.parametrize(
    ("url", "payload", "code"),
    [
        ("faq", {"answer": "   "}, "invalid"),
        ("faq", {"keywords": ""}, "invalid"),
        ("faq", {"answer": "x" * 2001}, "invalid"),
        ("canned", {"title": "  "}, "invalid"),
        ("canned", {"title": "x" * 61}, "invalid"),
    ],
)
def test_bad_edits_are_400_and_change_nothing(api_for, owner, rules, url, payload, code):
    faq, canned = rules
    path = f"/api/bot/faq/{faq.pk}/" if url == "faq" else f"/api/bot/canned-replies/{canned.pk}/"
    answer = api_for(owner).patch(path, payload, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == code and answer.json()["message"]
    faq.refresh_from_db()
    canned.refresh_from_db()
    assert (faq.keywords, faq.answer, canned.title) == ("发货,快递", "48小时内发货", "欢迎")


def test_assistants_and_other_shops_cannot_edit_or_delete(api_for, shop, staff, other_shop, rules):
    faq, canned = rules
    for path in (f"/api/bot/faq/{faq.pk}/", f"/api/bot/canned-replies/{canned.pk}/"):
        assistant = api_for(staff)
        assert assistant.patch(f"{path}?shop={shop.pk}", {"title": "改"}, format="json").status_code == 403
        assert assistant.delete(f"{path}?shop={shop.pk}").status_code == 403
        stranger = api_for(other_shop.owner)
        assert stranger.patch(path, {"answer": "改"}, format="json").status_code == 404
        assert stranger.delete(path).status_code == 404
    assert FaqRule.objects.filter(pk=faq.pk, answer="48小时内发货").exists()
    assert CannedReply.objects.filter(pk=canned.pk, title="欢迎").exists()
