"""POST /api/shops/: any logged-in person without a shop opens one and becomes its owner; bad input is coded
and writes nothing."""

import io

import pytest
from PIL import Image

from shops.models import Shop, ShopMember, ShopRole
from tests.factories import FanFactory, ShopMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def png_bytes(size=(40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (240, 120, 80)).save(out, "PNG")
    return out.getvalue()


def test_shop_created_with_caller_as_owner(api_for):
    user = UserFactory(username="newowner")
    body = {"name": "小红美妆", "slug": "xiaohong-beauty", "timezone": "Asia/Shanghai", "description": "护肤"}
    resp = api_for(user).post("/api/shops/", body, format="json")
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["name"] == "小红美妆" and data["slug"] == "xiaohong-beauty" and data["role"] == "owner"
    assert data["timezone"] == "Asia/Shanghai" and data["invite_code"]
    assert data["invite_link"].endswith(f"/join/{data['invite_code']}/")
    shop = Shop.objects.get(pk=data["id"])
    assert shop.owner == user and shop.description == "护肤"
    member = ShopMember.objects.get(shop=shop, user=user)
    assert member.role == ShopRole.OWNER and member.is_active
    # The new owner sees the shop in their list and reaches its staff pages.
    listed = api_for(user).get("/api/shops/").json()
    assert [(s["id"], s["role"]) for s in listed] == [(shop.pk, "owner")]


def test_a_fan_of_another_shop_may_open_a_shop(api_for, shop):
    fan = FanFactory(shop=shop)
    resp = api_for(fan.user).post(
        "/api/shops/", {"name": "新店", "slug": "new-shop", "timezone": "Asia/Tokyo"}
    )
    assert resp.status_code == 201
    assert Shop.objects.get(slug="new-shop").timezone == "Asia/Tokyo"


def test_shop_created_with_avatar_is_reencoded(api_for, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    avatar = SimpleUploadedFile("me.png", png_bytes((300, 200)), content_type="image/png")
    resp = api_for(UserFactory()).post(
        "/api/shops/",
        {"name": "头像店", "slug": "avatar-shop", "timezone": "Asia/Shanghai", "avatar": avatar},
    )
    assert resp.status_code == 201, resp.content
    shop = Shop.objects.get(slug="avatar-shop")
    assert shop.avatar.name.startswith("avatars/") and shop.avatar.name.endswith(".jpg")
    assert resp.json()["avatar"].endswith(".jpg")
    with shop.avatar.open("rb") as fh:
        assert Image.open(io.BytesIO(fh.read())).size == (256, 256)  # cropped square for the round avatar


def test_logged_out_cannot_create_a_shop(client):
    resp = client.post("/api/shops/", {"name": "x", "slug": "xyz", "timezone": "Asia/Shanghai"})
    assert resp.status_code in (401, 403)
    assert not Shop.objects.filter(slug="xyz").exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "店", "slug": "beauty-shop", "timezone": "Asia/Shanghai"}, 409, "slug_taken"),
        ({"name": "店", "slug": "Beauty Shop!", "timezone": "Asia/Shanghai"}, 400, "slug_invalid"),
        ({"name": "店", "slug": "我的店铺", "timezone": "Asia/Shanghai"}, 400, "slug_invalid"),
        ({"name": "店", "slug": "ab", "timezone": "Asia/Shanghai"}, 400, "slug_invalid"),
        ({"name": "店", "slug": "a" * 61, "timezone": "Asia/Shanghai"}, 400, "slug_invalid"),
        ({"name": "店", "slug": "under_score", "timezone": "Asia/Shanghai"}, 400, "slug_invalid"),
        ({"name": "店", "slug": "fine-slug", "timezone": "China/Beijing"}, 400, "timezone_invalid"),
        ({"name": "店", "slug": "fine-slug", "timezone": "+08:00"}, 400, "timezone_invalid"),
        ({"slug": "fine-slug", "timezone": "Asia/Shanghai"}, 400, "name_required"),
        ({"name": "  ", "slug": "fine-slug", "timezone": "Asia/Shanghai"}, 400, "name_required"),
    ],
)
def test_bad_shop_input_is_coded_and_writes_nothing(api_for, shop, body, status, code):
    user = UserFactory()
    before = (Shop.objects.count(), ShopMember.objects.count())
    resp = api_for(user).post("/api/shops/", body, format="json")
    assert resp.status_code == status, resp.content
    data = resp.json()
    assert data["code"] == code and data["message"]
    assert (Shop.objects.count(), ShopMember.objects.count()) == before


def test_owner_cannot_open_a_second_shop(api_for, shop, owner):
    resp = api_for(owner).post(
        "/api/shops/", {"name": "二店", "slug": "second-shop", "timezone": "Asia/Shanghai"}
    )
    assert resp.status_code == 409 and resp.json()["code"] == "already_has_shop"
    assert not Shop.objects.filter(slug="second-shop").exists()


def test_staff_member_cannot_open_a_shop(api_for, shop):
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    resp = api_for(assistant).post(
        "/api/shops/", {"name": "店", "slug": "staff-shop", "timezone": "Asia/Shanghai"}
    )
    assert resp.status_code == 409 and resp.json()["code"] == "already_has_shop"


def test_bad_avatar_is_refused_and_writes_nothing(api_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    resp = api_for(UserFactory()).post(
        "/api/shops/", {"name": "店", "slug": "bad-avatar", "timezone": "Asia/Shanghai", "avatar": fake}
    )
    assert resp.status_code == 400 and resp.json()["code"] == "image_invalid"
    assert not Shop.objects.filter(slug="bad-avatar").exists()


def test_slug_check_answers_free_taken_and_invalid(api_for, shop):
    client = api_for(UserFactory())
    assert client.get("/api/shops/slug-check/?slug=free-one").json() == {
        "slug": "free-one",
        "available": True,
    }
    taken = client.get("/api/shops/slug-check/?slug=beauty-shop")
    assert taken.status_code == 409 and taken.json()["code"] == "slug_taken"
    bad = client.get("/api/shops/slug-check/?slug=No!")
    assert bad.status_code == 400 and bad.json()["code"] == "slug_invalid"
