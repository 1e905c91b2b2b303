import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from fans.chat import services
from fans.chat.models import Message
from tests.factories import PASSWORD, FanFactory, ShopFactory

pytestmark = pytest.mark.django_db


def png_bytes(size=(64, 48), fmt="PNG", exif=None) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, (200, 80, 60))
    kwargs = {"exif": exif} if exif is not None else {}
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def post_text(client, conversation, text="你好", client_id=None):
    return client.post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(client_id or uuid.uuid4()), "kind": "text", "text": text},
        format="json",
    )


def test_token_endpoint_returns_a_token_that_authenticates(fan_user):
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": fan_user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/conversations/").status_code == 200


def test_token_endpoint_rejects_a_wrong_password_with_a_code(fan_user):
    response = APIClient().post(
        "/api/auth/token/", {"username": fan_user.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["message"]


def test_anonymous_api_calls_are_401_with_a_code():
    response = APIClient().get("/api/conversations/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_conversation_list_is_scoped_to_the_caller(api_for, fan, owner, shop, other_shop):
    FanFactory(shop=other_shop)  # another shop's conversation
    second = FanFactory(shop=shop)
    as_owner = api_for(owner).get("/api/conversations/").json()
    assert {c["id"] for c in as_owner["results"]} == {fan.conversation.pk, second.conversation.pk}
    assert as_owner["count"] == 2
    item = next(c for c in as_owner["results"] if c["id"] == fan.conversation.pk)
    assert (item["shop"], item["fan"]) == (shop.pk, fan.pk)
    as_fan = api_for(fan.user).get("/api/conversations/").json()
    assert [c["id"] for c in as_fan["results"]] == [fan.conversation.pk]
    as_other_owner = api_for(other_shop.owner).get("/api/conversations/").json()
    assert fan.conversation.pk not in {c["id"] for c in as_other_owner["results"]}


def test_conversation_list_is_ordered_by_last_activity_with_unread(api_for, owner, shop):
    a, b = FanFactory(shop=shop), FanFactory(shop=shop)
    services.message_send(user=a.user, conversation_id=a.conversation.pk, client_id=uuid.uuid4(), text="早")
    services.message_send(user=b.user, conversation_id=b.conversation.pk, client_id=uuid.uuid4(), text="晚")
    results = api_for(owner).get("/api/conversations/").json()["results"]
    assert [c["id"] for c in results[:2]] == [b.conversation.pk, a.conversation.pk]
    assert results[0]["unread"] == 1


def test_conversation_search_matches_fan_name_and_message_text(api_for, owner, shop):
    a = FanFactory(shop=shop, display_name="王小红")
    b = FanFactory(shop=shop, display_name="李静")
    services.message_send(
        user=b.user, conversation_id=b.conversation.pk, client_id=uuid.uuid4(), text="芒果什么时候发货"
    )
    client = api_for(owner)
    assert [c["id"] for c in client.get("/api/conversations/", {"q": "小红"}).json()["results"]] == [
        a.conversation.pk
    ]
    assert [c["id"] for c in client.get("/api/conversations/", {"q": "芒果"}).json()["results"]] == [
        b.conversation.pk
    ]


def test_conversation_filter_by_assignee(api_for, owner, staff, shop):
    a, b = FanFactory(shop=shop), FanFactory(shop=shop)
    services.conversation_assign(actor=owner, conversation_id=a.conversation.pk, assignee_id=staff.pk)
    client = api_for(owner)
    mine = client.get("/api/conversations/", {"assigned_to": staff.pk}).json()["results"]
    assert [c["id"] for c in mine] == [a.conversation.pk]
    unassigned = client.get("/api/conversations/", {"assigned_to": "none"}).json()["results"]
    assert [c["id"] for c in unassigned] == [b.conversation.pk]
    assert client.get("/api/conversations/", {"assigned_to": "abc"}).status_code == 400


def test_post_message_then_read_it_back_after_seq(api_for, fan_user, owner, conversation):
    cid = uuid.uuid4()
    created = post_text(api_for(fan_user), conversation, "第一条", cid)
    assert created.status_code == 201
    body = created.json()
    assert (body["seq"], body["text"], body["client_id"], body["conversation"]) == (
        1,
        "第一条",
        str(cid),
        conversation.pk,
    )
    post_text(api_for(owner), conversation, "回复")
    page = api_for(owner).get(f"/api/conversations/{conversation.pk}/messages/", {"after_seq": 1}).json()
    assert [m["text"] for m in page["results"]] == ["回复"]
    assert page["has_more"] is False and page["last_seq"] == 2


def test_post_message_is_idempotent_by_client_id(api_for, fan_user, conversation):
    client = api_for(fan_user)
    cid = uuid.uuid4()
    first = post_text(client, conversation, "一次", cid)
    second = post_text(client, conversation, "一次", cid)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"kind": "text", "text": "hi"}, "invalid"),  # no client_id
        ({"client_id": "x", "kind": "text", "text": "hi"}, "invalid"),
        ({"client_id": "11111111-1111-1111-1111-111111111111", "kind": "text", "text": ""}, "invalid"),
        (
            {"client_id": "11111111-1111-1111-1111-111111111111", "kind": "text", "text": "x" * 4001},
            "too_long",
        ),
        ({"client_id": "11111111-1111-1111-1111-111111111111", "kind": "sticker", "text": "x"}, "invalid"),
    ],
)
def test_bad_posts_are_400_with_a_code_and_store_nothing(api_for, fan_user, conversation, payload, code):
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/", payload, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert Message.objects.count() == 0


def test_malformed_json_is_400(api_for, fan_user, conversation):
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/", "{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_foreign_conversation_is_404_for_every_operation(api_for, conversation, other_shop):
    outsider = api_for(other_shop.owner)
    base = f"/api/conversations/{conversation.pk}"
    assert outsider.get(f"{base}/").status_code == 404
    assert outsider.get(f"{base}/messages/").status_code == 404
    assert post_text(outsider, conversation).status_code == 404
    assert outsider.post(f"{base}/read/", {"seq": 1}, format="json").status_code == 404
    assert outsider.post(f"{base}/assign/", {"staff": None}, format="json").status_code == 404
    assert Message.objects.count() == 0


def test_image_upload_strips_exif_and_makes_a_thumbnail(api_for, fan_user, owner, conversation):
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    data = png_bytes((800, 600), "JPEG", exif=exif.tobytes())
    assert b"SecretCameraMaker" in data
    upload = SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "image", "image": upload},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    image = response.json()["image"]
    assert (image["width"], image["height"]) == (800, 600)
    stored = b"".join(api_for(owner).get(image["url"]).streaming_content)
    assert b"SecretCameraMaker" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()
    thumb = b"".join(api_for(owner).get(image["thumbnail_url"]).streaming_content)
    assert max(Image.open(io.BytesIO(thumb)).size) <= 320
    # a stranger cannot fetch a private chat image
    stranger = FanFactory(shop=ShopFactory()).user
    assert api_for(stranger).get(image["url"]).status_code == 404


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("notes.txt", b"just text, not an image", "invalid_image"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"broken" * 10, "invalid_image"),
    ],
)
def test_non_images_are_refused(api_for, fan_user, conversation, filename, content, code):
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "image", "image": SimpleUploadedFile(filename, content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert Message.objects.count() == 0


def test_decompression_bomb_is_refused_before_decoding(api_for, fan_user, conversation):
    # 10000 x 10000 = 100 megapixels of one colour compresses to a tiny PNG.
    buf = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buf, "PNG", optimize=True)
    assert len(buf.getvalue()) < 10 * 1024 * 1024
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {
            "client_id": str(uuid.uuid4()),
            "kind": "image",
            "image": SimpleUploadedFile("bomb.png", buf.getvalue()),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"
    assert Message.objects.count() == 0


def test_oversized_upload_is_refused(api_for, fan_user, conversation):
    big = SimpleUploadedFile(
        "big.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 10), content_type="image/jpeg"
    )
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "image", "image": big},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"


def test_read_endpoint_moves_the_pointer(api_for, fan_user, owner, conversation):
    post_text(api_for(fan_user), conversation, "a")
    response = api_for(owner).post(f"/api/conversations/{conversation.pk}/read/", {"seq": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["shop_read_seq"] == 1 and response.json()["unread"] == 0


def test_products_api_lists_own_shop_catalogue_with_variants(api_for, owner, shop, fan_user, other_shop):
    from tests.factories import VariantFactory

    variant = VariantFactory(product__shop=shop)
    VariantFactory(product__shop=other_shop)
    body = api_for(owner).get("/api/products/").json()
    assert [p["id"] for p in body] == [variant.product_id]
    assert body[0]["variants"][0]["id"] == variant.pk
    assert api_for(fan_user).get("/api/products/").status_code == 404


def test_openapi_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
