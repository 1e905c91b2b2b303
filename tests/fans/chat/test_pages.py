"""The server-rendered chat pages: login, join, fan chat and the staff inbox."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from fans.chat import services
from fans.chat.models import Conversation, Fan
from shops.models import ShopRole
from tests.factories import PASSWORD, FanFactory, ShopMemberFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def say(fan: Fan, text: str) -> None:
    services.message_send(user=fan.user, conversation_id=fan.conversation.pk, client_id=_uuid(), text=text)


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def listed_ids(response) -> list[int]:
    return [c.pk for c in response.context["conversations"]]


# --- login, language, home ----------------------------------------------------------------------
def test_login_page_is_chinese_by_default():
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "登录 Fansi" in body
    assert "Log in to Fansi" not in body


def test_login_page_is_english_after_set_language():
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    body = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in body
    assert "Log in to Fansi" in body
    assert "登录 Fansi" not in body


def test_language_switch_requires_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 403


def test_login_with_real_form_redirects_staff_to_inbox(owner):
    client = Client()
    response = client.post(reverse("login"), {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).url == reverse("inbox")


def test_login_with_wrong_password_shows_error_and_stays_anonymous(owner):
    client = Client()
    response = client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
    assert response.status_code == 200
    assert "alert-error" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_home_sends_anonymous_visitor_to_login():
    response = Client().get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("login")


def test_home_sends_fan_of_one_shop_to_its_chat(fan, shop):
    response = client_for(fan.user).get(reverse("home"))
    assert response.url == reverse("fan-chat", kwargs={"shop_slug": shop.slug})


def test_home_lists_shops_of_fan_following_several(fan, shop, other_shop):
    services.fan_follow(user=fan.user, shop=other_shop)
    response = client_for(fan.user).get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert shop.name in body and other_shop.name in body


def test_logout_is_a_post_form(fan):
    client = client_for(fan.user)
    page = client.get(reverse("fan-chat", kwargs={"shop_slug": fan.shop.slug})).content.decode()
    assert f'action="{reverse("logout")}"' in page
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- join through the invite link ----------------------------------------------------------------
def signup_data(**overrides) -> dict[str, str]:
    data = {
        "username": "newfan",
        "display_name": "小新",
        "password1": "Tricky-pass-2024",
        "password2": "Tricky-pass-2024",
    }
    data.update(overrides)
    return data


def test_join_signs_up_follows_and_opens_chat(shop):
    client = Client()
    url = reverse("join", kwargs={"invite_code": shop.invite_code})
    assert client.get(url).status_code == 200
    response = client.post(url, signup_data())
    assert response.status_code == 302
    assert response.url == reverse("fan-chat", kwargs={"shop_slug": shop.slug})
    user = User.objects.get(username="newfan")
    fan = Fan.objects.get(shop=shop, user=user)
    assert fan.display_name == "小新"
    assert Conversation.objects.filter(shop=shop, fan=fan).count() == 1
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(response.url).status_code == 200


def test_join_rejects_mismatched_or_weak_passwords_and_creates_nothing(shop):
    url = reverse("join", kwargs={"invite_code": shop.invite_code})
    response = Client().post(url, signup_data(password2="Other-pass-2024"))
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    response = Client().post(url, signup_data(password1="12345678", password2="12345678"))
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert not User.objects.filter(username="newfan").exists()
    assert not Fan.objects.filter(shop=shop).exists()


def test_join_by_logged_in_user_follows_once(shop, stranger):
    client = client_for(stranger)
    url = reverse("join", kwargs={"invite_code": shop.invite_code})
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["already"] is False
    for _ in range(2):
        response = client.post(url)
        assert response.status_code == 302
    assert Fan.objects.filter(shop=shop, user=stranger).count() == 1
    assert Conversation.objects.filter(shop=shop, fan__user=stranger).count() == 1
    assert client.get(url).context["already"] is True


def test_join_with_unknown_invite_code_is_404():
    response = Client().get(reverse("join", kwargs={"invite_code": "no-such-code"}))
    assert response.status_code == 404
    response = Client().post(reverse("join", kwargs={"invite_code": "no-such-code"}), signup_data())
    assert response.status_code == 404
    assert not User.objects.filter(username="newfan").exists()


def test_join_form_enforces_csrf(shop):
    client = Client(enforce_csrf_checks=True)
    url = reverse("join", kwargs={"invite_code": shop.invite_code})
    response = client.post(url, signup_data())
    assert response.status_code == 403
    assert not User.objects.filter(username="newfan").exists()
    assert not Fan.objects.filter(shop=shop).exists()


def test_follow_button_enforces_csrf(shop, stranger):
    client = Client(enforce_csrf_checks=True)
    client.force_login(stranger)
    response = client.post(reverse("join", kwargs={"invite_code": shop.invite_code}))
    assert response.status_code == 403
    assert not Fan.objects.filter(shop=shop, user=stranger).exists()


# --- fan chat page ------------------------------------------------------------------------------
def test_fan_chat_logged_out_is_the_shop_preview_not_a_login_bounce(shop):
    url = reverse("fan-chat", kwargs={"shop_slug": shop.slug})
    response = Client().get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-page="shop-public"' in html and shop.name in html and reverse("login") in html


def test_fan_chat_shows_join_button_to_non_follower(shop, stranger):
    response = client_for(stranger).get(reverse("fan-chat", kwargs={"shop_slug": shop.slug}))
    assert response.status_code == 200
    body = response.content.decode()
    assert shop.name in body
    assert 'data-testid="join-button"' in body
    assert reverse("join", kwargs={"invite_code": shop.invite_code}) in body
    assert 'id="composer"' not in body


def test_fan_chat_embeds_history_as_inert_json(fan, shop):
    say(fan, "<script>alert(1)</script>")
    response = client_for(fan.user).get(reverse("fan-chat", kwargs={"shop_slug": shop.slug}))
    body = response.content.decode()
    assert 'id="composer"' in body
    assert "<script>alert(1)</script>" not in body
    config = response.context["config"]
    assert config["conversation"] == fan.conversation.pk
    assert [m["text"] for m in config["messages"]] == ["<script>alert(1)</script>"]


def test_fan_chat_of_unknown_shop_is_404(fan):
    assert client_for(fan.user).get(reverse("fan-chat", kwargs={"shop_slug": "nope"})).status_code == 404


# --- the inbox ----------------------------------------------------------------------------------
def test_inbox_is_404_for_a_fan(fan):
    assert client_for(fan.user).get(reverse("inbox")).status_code == 404


def test_inbox_is_404_for_staff_of_another_shop_opening_our_conversation(conversation, other_shop):
    outsider = other_shop.owner
    client = client_for(outsider)
    assert client.get(reverse("inbox-conversation", args=[conversation.pk])).status_code == 404
    assert client.get(reverse("inbox"), {"c": conversation.pk}).status_code == 404
    assert client.get(reverse("inbox"), {"shop": conversation.shop_id}).status_code == 404


def test_inbox_lists_only_own_shop_conversations(owner, fan, other_shop):
    foreign = FanFactory(shop=other_shop)
    response = client_for(owner).get(reverse("inbox"))
    assert response.status_code == 200
    assert listed_ids(response) == [fan.conversation.pk]
    assert foreign.display_name not in response.content.decode()


def test_inbox_of_staff_for_two_shops_switches_by_shop_param(owner, fan, other_shop):
    ShopMemberFactory(shop=other_shop, user=owner, role=ShopRole.MANAGER)
    foreign = FanFactory(shop=other_shop)
    client = client_for(owner)
    assert listed_ids(client.get(reverse("inbox"), {"shop": other_shop.pk})) == [foreign.conversation.pk]
    assert listed_ids(client.get(reverse("inbox"), {"shop": fan.shop_id})) == [fan.conversation.pk]


def test_inbox_search_by_fan_name_and_message_text(owner, shop):
    alice = FanFactory(shop=shop, display_name="爱丽丝")
    bob = FanFactory(shop=shop, display_name="鲍勃")
    say(bob, "请问面霜还有货吗")
    client = client_for(owner)
    assert listed_ids(client.get(reverse("inbox"), {"q": "丽丝"})) == [alice.conversation.pk]
    assert listed_ids(client.get(reverse("inbox"), {"q": "面霜"})) == [bob.conversation.pk]
    response = client.get(reverse("inbox"), {"q": "nothing-matches"})
    assert listed_ids(response) == []


def test_inbox_assignee_filter(owner, staff, shop):
    mine = FanFactory(shop=shop)
    theirs = FanFactory(shop=shop)
    free = FanFactory(shop=shop)
    services.conversation_assign(actor=owner, conversation_id=mine.conversation.pk, assignee_id=owner.pk)
    services.conversation_assign(actor=owner, conversation_id=theirs.conversation.pk, assignee_id=staff.pk)
    client = client_for(owner)
    assert listed_ids(client.get(reverse("inbox"), {"assigned": "mine"})) == [mine.conversation.pk]
    assert listed_ids(client.get(reverse("inbox"), {"assigned": str(staff.pk)})) == [theirs.conversation.pk]
    assert listed_ids(client.get(reverse("inbox"), {"assigned": "unassigned"})) == [free.conversation.pk]
    assert set(listed_ids(client.get(reverse("inbox")))) == {
        mine.conversation.pk,
        theirs.conversation.pk,
        free.conversation.pk,
    }


def test_inbox_orders_by_last_activity_and_shows_unread_badge(owner, shop):
    quiet = FanFactory(shop=shop, display_name="安静")
    busy = FanFactory(shop=shop, display_name="热闹")
    say(quiet, "早")
    say(busy, "在吗")
    say(busy, "老板在吗")
    response = client_for(owner).get(reverse("inbox"))
    assert listed_ids(response)[:2] == [busy.conversation.pk, quiet.conversation.pk]
    assert 'data-unread="2"' in response.content.decode()


def test_inbox_opens_conversation_beside_the_list(owner, fan):
    say(fan, "你好")
    response = client_for(owner).get(reverse("inbox-conversation", args=[fan.conversation.pk]))
    assert response.status_code == 200
    assert response.context["open"].pk == fan.conversation.pk
    config = json.loads(json.dumps(response.context["config"]))  # what json_script hands to the page
    assert config["side"] == "shop"
    assert [m["text"] for m in config["messages"]] == ["你好"]
    body = response.content.decode()
    assert 'id="assign-select"' in body and 'id="card-button"' in body


def test_inbox_rejects_garbage_params_with_404(owner):
    client = client_for(owner)
    assert client.get(reverse("inbox"), {"shop": "abc"}).status_code == 404
    assert client.get(reverse("inbox"), {"c": "abc"}).status_code == 404


def test_inbox_requires_login():
    response = Client().get(reverse("inbox"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_inbox_unknown_assignee_filter_falls_back_to_all(owner, fan):
    stranger = UserFactory()
    response = client_for(owner).get(reverse("inbox"), {"assigned": str(stranger.pk)})
    assert listed_ids(response) == [fan.conversation.pk]
