"""Fans' reviews through the real URL config: one review per delivered pledge, photos checked and EXIF-
stripped, every bad input coded and writing nothing, the shop's public reply, the public list (tags, never
the name unless opted in), the `reviewed` flag on /api/me/orders/ and reviews_avg_by_product."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from fans.crm.models import FanTag, Tag
from preorders.models import Review, ReviewPhoto
from preorders.services.reviews import reviews_avg_by_product
from shops.models import ShopRole
from tests.factories import ShopMemberFactory, UserFactory
from tests.preorders.review_helpers import deliver, delivered_flow, jpeg_with_exif

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow(owner, shop, product, django_capture_on_commit_callbacks):
    return delivered_flow(owner, shop, product, django_capture_on_commit_callbacks)


def post(client, body, fmt="json"):
    return client.post("/api/reviews/", body, format=fmt)


def test_review_created_and_listed_with_tags_not_name(flow, api_for):
    a = flow.pledges[0]
    oily = Tag.objects.get(group__code="skin_type", code="oily")
    FanTag.objects.create(fan=a.fan, tag=oily, group=oily.group, single=True, source="staff")
    pref = Tag.objects.get(group__code="preference", code="value")  # scope "all": not shown on a review
    FanTag.objects.create(fan=a.fan, tag=pref, group=pref.group, single=True, source="staff")
    client = api_for(a.user)
    r = post(
        client, {"pledge": a.pk, "stars": 4, "text": "保湿不错，油皮也不闷", "suits": {"skin_type": True}}
    )
    assert r.status_code == 201, r.content
    assert r.json()["stars"] == 4 and r.json()["suits"] == {"skin_type": True}
    review = Review.objects.get(pledge=a)
    assert review.product_id == flow.campaign.product_id and not review.show_name

    public = APIClient().get(f"/api/reviews/?campaign={flow.campaign.pk}")
    assert public.status_code == 200
    body = public.json()
    assert body["count"] == 1 and body["average"] == "4.00"
    assert body["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    item = body["items"][0]
    assert item["label"] == "油皮 · 4★" and item["tags"] == ["油皮"]
    assert item["name"] is None and a.fan.display_name not in public.content.decode()
    by_product = APIClient().get(f"/api/reviews/?product={flow.campaign.product_id}").json()
    assert by_product["count"] == 1
    assert reviews_avg_by_product([flow.campaign.product_id, 999999]) == {
        flow.campaign.product_id: (Decimal("4.00"), 1)
    }


def test_show_name_opt_in(flow, api_for):
    a = flow.pledges[0]
    r = post(api_for(a.user), {"pledge": a.pk, "stars": 5, "text": "好", "show_name": True})
    assert r.status_code == 201
    item = APIClient().get(f"/api/reviews/?campaign={flow.campaign.pk}").json()["items"][0]
    assert item["name"] == a.fan.display_name


def test_multipart_photos_are_checked_and_exif_stripped(flow, api_for):
    a = flow.pledges[0]
    photos = [SimpleUploadedFile(f"p{i}.jpg", jpeg_with_exif(), content_type="image/jpeg") for i in range(2)]
    r = post(api_for(a.user), {"pledge": a.pk, "stars": "5", "text": "颜色正", "photos": photos}, "multipart")
    assert r.status_code == 201, r.content
    urls = r.json()["photos"]
    assert len(urls) == 2 and ReviewPhoto.objects.filter(review__pledge=a).count() == 2
    got = APIClient().get(urls[0])
    assert got.status_code == 200
    img = Image.open(io.BytesIO(b"".join(got.streaming_content)))
    assert img.size == (40, 30) and "SecretCam" not in str(dict(img.getexif()))


def test_bad_inputs_are_coded_and_write_nothing(flow, api_for):
    a, b = flow.pledges[0], flow.pledges[1]  # b is paid but not delivered
    client = api_for(a.user)
    cases = [
        (client, {"pledge": b.pk, "stars": 4}, "json", 404, None),  # someone else's pledge
        (api_for(b.user), {"pledge": b.pk, "stars": 4}, "json", 409, "not_delivered"),
        (client, {"pledge": a.pk, "stars": 0}, "json", 400, "stars_invalid"),
        (client, {"pledge": a.pk, "stars": 6}, "json", 400, "stars_invalid"),
        (client, {"pledge": a.pk, "stars": "4.5"}, "json", 400, "stars_invalid"),
        (client, {"pledge": a.pk}, "json", 400, "stars_invalid"),
        (client, {"pledge": a.pk, "stars": 4, "suits": {"fruit_taste": True}}, "json", 400, "suits_invalid"),
        (client, {"pledge": "x", "stars": 4}, "json", 400, "pledge_invalid"),
        (client, {"pledge": a.pk, "stars": 4, "photos": ["http://x/y.jpg"]}, "json", 400, "photos_invalid"),
    ]
    for c, body, fmt, code, err in cases:
        r = post(c, body, fmt)
        assert r.status_code == code, (body, r.content)
        if err:
            assert r.json()["code"] == err and r.json()["message"]
    too_many = [
        SimpleUploadedFile(f"p{i}.jpg", jpeg_with_exif(), content_type="image/jpeg") for i in range(4)
    ]
    r = post(client, {"pledge": a.pk, "stars": 4, "photos": too_many}, "multipart")
    assert r.status_code == 400 and r.json()["code"] == "photos_invalid"
    fake = SimpleUploadedFile("p.jpg", b"not an image at all", content_type="image/jpeg")
    r = post(client, {"pledge": a.pk, "stars": 4, "photos": [fake]}, "multipart")
    assert r.status_code == 400 and r.json()["code"] == "photos_invalid"
    assert Review.objects.count() == 0 and ReviewPhoto.objects.count() == 0
    assert APIClient().post("/api/reviews/", {"pledge": a.pk, "stars": 4}, format="json").status_code in (
        401,
        403,
    )

    assert post(client, {"pledge": a.pk, "stars": 3, "text": "一般"}).status_code == 201
    again = post(client, {"pledge": a.pk, "stars": 5, "text": "改"})
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    assert list(Review.objects.values_list("stars", "text")) == [(3, "一般")]


def test_owner_replies_once_then_edits_assistant_and_others_refused(flow, api_for, owner, shop):
    a = flow.pledges[0]
    review_id = post(api_for(a.user), {"pledge": a.pk, "stars": 3, "text": "有点小"}).json()["id"]
    url = f"/api/reviews/{review_id}/reply/"
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    assert api_for(assistant).post(url, {"text": "x"}, format="json").status_code == 403
    assert api_for(UserFactory()).post(url, {"text": "x"}, format="json").status_code == 404
    assert api_for(a.user).post(url, {"text": "x"}, format="json").status_code == 404
    empty = api_for(owner).post(url, {"text": "  "}, format="json")
    assert empty.status_code == 400 and empty.json()["code"] == "reply_required"
    assert Review.objects.get(pk=review_id).reply == ""
    ok = api_for(owner).post(url, {"text": "亲，可以联系客服换大一码"}, format="json")
    assert ok.status_code == 200 and ok.json()["reply"] == "亲，可以联系客服换大一码"
    twice = api_for(owner).post(url, {"text": "再说一次"}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "already_replied"
    edited = api_for(owner).patch(url, {"text": "已为您安排换货"}, format="json")
    assert edited.status_code == 200
    item = APIClient().get(f"/api/reviews/?campaign={flow.campaign.pk}").json()["items"][0]
    assert item["reply"] == "已为您安排换货"


def test_my_orders_carry_reviewed(flow, api_for):
    a = flow.pledges[0]
    client = api_for(a.user)
    rows = {o["pledge"]: o for o in client.get("/api/me/orders/").json()}
    assert rows[a.pk]["reviewed"] is False
    assert post(client, {"pledge": a.pk, "stars": 5}).status_code == 201
    rows = {o["pledge"]: o for o in client.get("/api/me/orders/").json()}
    assert rows[a.pk]["reviewed"] is True
    b = flow.pledges[1]
    deliver(flow, b)
    assert {o["pledge"]: o for o in api_for(b.user).get("/api/me/orders/").json()}[b.pk]["reviewed"] is False


def test_public_list_needs_an_id_and_hides_drafts(flow):
    r = APIClient().get("/api/reviews/")
    assert r.status_code == 400 and r.json()["code"] == "product_or_campaign_required"
    assert APIClient().get("/api/reviews/?campaign=99999999").status_code == 404


def test_admin_hides_a_review_it_leaves_list_average_and_photos(flow, api_for, client):
    from django.contrib.auth import get_user_model

    a, b = flow.pledges[0], flow.pledges[1]
    deliver(flow, b)
    photo = SimpleUploadedFile("p.jpg", jpeg_with_exif(), content_type="image/jpeg")
    r = post(api_for(a.user), {"pledge": a.pk, "stars": 1, "text": "垃圾", "photos": [photo]}, "multipart")
    photo_url = r.json()["photos"][0]
    assert post(api_for(b.user), {"pledge": b.pk, "stars": 5, "text": "很好"}).status_code == 201
    admin = get_user_model().objects.create_superuser("mod", "mod@example.com", "pw-mod-123")
    client.force_login(admin)
    changelist = client.post(
        "/admin/preorders/review/", {"action": "hide", "_selected_action": [r.json()["id"]]}, follow=True
    )
    assert changelist.status_code == 200
    assert Review.objects.get(pk=r.json()["id"]).hidden
    body = APIClient().get(f"/api/reviews/?campaign={flow.campaign.pk}").json()
    assert body["count"] == 1 and body["average"] == "5.00" and "垃圾" not in str(body)
    assert reviews_avg_by_product([flow.campaign.product_id])[flow.campaign.product_id] == (
        Decimal("5.00"),
        1,
    )
    assert APIClient().get(photo_url).status_code == 404


def test_owner_pages_show_the_reviews_section(flow, owner, client):
    client.force_login(owner)
    detail = client.get(f"/campaigns/{flow.campaign.pk}/").content.decode()
    assert f'data-query="campaign={flow.campaign.pk}"' in detail and "data-can-reply" in detail
    product = client.get(f"/products/{flow.campaign.product_id}/edit/").content.decode()
    assert f'data-query="product={flow.campaign.product_id}"' in product
    fan_page = client.get(f"/c/{flow.campaign.pk}/").content.decode()
    assert f'data-query="campaign={flow.campaign.pk}"' in fan_page
