"""Journeys API (issue 16 part 5): list with per-step counts, enable/disable, create and edit with coded 400s
that change nothing, access by shop and role, and the fan's own birthday."""

import pytest

from fans.crm.models import Tag, TagGroup
from journeys.models import Journey, JourneyStep, Template
from shops.models import ShopRole
from tests.factories import ShopMemberFactory

pytestmark = pytest.mark.django_db

GOOD_STEPS = [
    {"kind": "send_message", "text": "欢迎 {name}"},
    {"kind": "wait", "wait_minutes": 60},
    {"kind": "send_card", "card": {"card": "recommended"}},
]


def test_list_has_the_three_ready_made_journeys_off_with_steps_and_counts(api_for, owner, shop):
    response = api_for(owner).get(f"/api/journeys/?shop={shop.pk}")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert sorted(r["template"] for r in rows) == sorted(t.value for t in Template)
    by = {r["template"]: r for r in rows}
    assert by["welcome"]["trigger"] == "followed" and by["welcome"]["enabled"] is False
    assert by["balance_nudge"]["transactional"] is True and by["winback"]["transactional"] is False
    assert [s["kind"] for s in by["welcome"]["steps"]] == ["send_message", "wait", "send_card"]
    assert by["welcome"]["steps"][0]["counts"] == {"entered": 0, "messaged": 0, "converted": 0}
    # Lazily created once.
    api_for(owner).get("/api/journeys/")
    assert Journey.objects.filter(shop=shop).count() == 3


def test_enable_and_disable(api_for, owner, shop):
    api_for(owner).get("/api/journeys/")
    journey = Journey.objects.get(shop=shop, template="welcome")
    response = api_for(owner).post(f"/api/journeys/{journey.pk}/enable/")
    assert response.status_code == 200 and response.json()["enabled"] is True
    journey.refresh_from_db()
    assert journey.enabled and journey.enabled_at is not None
    response = api_for(owner).post(f"/api/journeys/{journey.pk}/disable/")
    assert response.json()["enabled"] is False
    journey.refresh_from_db()
    assert not journey.enabled


def test_create_a_journey(api_for, owner, shop):
    response = api_for(owner).post(
        "/api/journeys/",
        {"shop": shop.pk, "name": "首单感谢", "trigger": "first_paid", "steps": GOOD_STEPS},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "首单感谢" and body["enabled"] is False
    assert [s["wait_seconds"] for s in body["steps"]] == [None, 3600, None]
    iso = [{"kind": "send_message", "text": "hi"}, {"kind": "wait", "duration": "P2D"}]
    response = api_for(owner).post(
        "/api/journeys/", {"shop": shop.pk, "name": "y", "trigger": "lapsed", "steps": iso}, format="json"
    )
    assert response.status_code == 201 and response.json()["steps"][1]["wait_seconds"] == 2 * 86400


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait", "wait_minutes": 0}], "wait_not_positive"),
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait", "wait_seconds": -5}], "wait_not_positive"),
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait", "wait_days": -1}], "wait_not_positive"),
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait"}], "wait_not_positive"),
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait", "duration": "PT0S"}], "wait_not_positive"),
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait", "wait_minutes": "soon"}], "wait_invalid"),
        ([{"kind": "send_message", "text": "hi"}, {"kind": "wait", "wait_days": 400}], "wait_too_long"),
        ([{"kind": "teleport"}], "step_kind_unknown"),
        ([{"kind": "add_tag", "tag": 999999}], "tag_unknown"),
        ([{"kind": "send_message", "text": "  "}], "text_required"),
        ([{"kind": "send_card", "card": {"card": "coupon"}}], "card_invalid"),
        ([], "steps_invalid"),
    ],
)
def test_bad_steps_are_coded_400_and_nothing_is_written(api_for, owner, shop, steps, code):
    before = (Journey.objects.count(), JourneyStep.objects.count())
    response = api_for(owner).post(
        "/api/journeys/", {"shop": shop.pk, "name": "x", "trigger": "followed", "steps": steps}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == code, response.content
    assert response.json()["message"]
    assert (Journey.objects.count(), JourneyStep.objects.count()) == before


def test_unknown_trigger_is_400(api_for, owner, shop):
    response = api_for(owner).post(
        "/api/journeys/",
        {"shop": shop.pk, "name": "x", "trigger": "moon", "steps": GOOD_STEPS},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "trigger_unknown"


def test_editing_with_a_zero_wait_changes_nothing(api_for, owner, shop):
    api_for(owner).get("/api/journeys/")
    journey = Journey.objects.get(shop=shop, template="welcome")
    steps = list(JourneyStep.objects.filter(journey=journey).values_list("pk", "kind", "wait_seconds"))
    response = api_for(owner).patch(
        f"/api/journeys/{journey.pk}/",
        {
            "name": "新名字",
            "steps": [{"kind": "send_message", "text": "hi"}, {"kind": "wait", "wait_minutes": 0}],
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "wait_not_positive"
    journey.refresh_from_db()
    assert journey.name == ""
    assert (
        list(JourneyStep.objects.filter(journey=journey).values_list("pk", "kind", "wait_seconds")) == steps
    )


def test_editing_reorders_keeps_ids_and_drops_removed_steps(api_for, owner, shop):
    api_for(owner).get("/api/journeys/")
    journey = Journey.objects.get(shop=shop, template="welcome")
    message, wait, card = JourneyStep.objects.filter(journey=journey)
    tag = Tag.objects.filter(group__shop__isnull=True).first()
    response = api_for(owner).patch(
        f"/api/journeys/{journey.pk}/",
        {
            "steps": [
                {"id": card.pk, "kind": "send_card", "card": {"card": "product"}},
                {"id": message.pk, "kind": "send_message", "text": "改过的"},
                {"kind": "add_tag", "tag": tag.pk},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    steps = response.json()["steps"]
    assert [s["id"] for s in steps[:2]] == [card.pk, message.pk]
    assert steps[1]["text"] == "改过的" and steps[2]["tag"] == tag.pk
    assert not JourneyStep.objects.filter(pk=wait.pk).exists()


def test_another_shops_tag_is_unknown(api_for, owner, shop, other_shop):
    group = TagGroup.objects.create(shop=other_shop, code="vip", name_zh="贵宾", name_en="VIP")
    tag = Tag.objects.create(group=group, code="gold", name_zh="金", name_en="Gold")
    response = api_for(owner).post(
        "/api/journeys/",
        {"shop": shop.pk, "name": "x", "trigger": "followed", "steps": [{"kind": "add_tag", "tag": tag.pk}]},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "tag_unknown"


def test_access_other_shops_staff_get_404_assistants_403(api_for, owner, shop, other_shop, staff, stranger):
    api_for(owner).get("/api/journeys/")
    journey = Journey.objects.get(shop=shop, template="welcome")
    other_owner = other_shop.owner
    assert api_for(other_owner).get(f"/api/journeys/{journey.pk}/").status_code == 404
    assert api_for(other_owner).post(f"/api/journeys/{journey.pk}/enable/").status_code == 404
    assert api_for(other_owner).get(f"/api/journeys/?shop={shop.pk}").status_code == 404
    assert api_for(stranger).get("/api/journeys/").status_code == 404
    # An assistant reads but cannot change.
    assert api_for(staff).get(f"/api/journeys/{journey.pk}/").status_code == 200
    assert api_for(staff).post(f"/api/journeys/{journey.pk}/enable/").status_code == 403
    response = api_for(staff).patch(f"/api/journeys/{journey.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    journey.refresh_from_db()
    assert not journey.enabled and journey.name == ""
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    assert api_for(manager).post(f"/api/journeys/{journey.pk}/enable/").status_code == 200


def test_a_fan_shares_and_clears_their_birthday(api_for, fan, shop, stranger):
    response = api_for(fan.user).patch(
        "/api/me/birthday/", {"fan": fan.pk, "birthday": "05-21"}, format="json"
    )
    assert response.status_code == 200 and response.json()["birthday"] == "05-21"
    fan.refresh_from_db()
    assert (fan.birthday_month, fan.birthday_day) == (5, 21)
    bad = api_for(fan.user).patch("/api/me/birthday/", {"fan": fan.pk, "birthday": "02-30"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "birthday_invalid"
    other = api_for(stranger).patch("/api/me/birthday/", {"fan": fan.pk, "birthday": "01-01"}, format="json")
    assert other.status_code == 404
    fan.refresh_from_db()
    assert (fan.birthday_month, fan.birthday_day) == (5, 21)
    cleared = api_for(fan.user).patch("/api/me/birthday/", {"fan": fan.pk, "birthday": None}, format="json")
    assert cleared.json()["birthday"] is None
    fan.refresh_from_db()
    assert fan.birthday_month is None


def test_owner_page_and_privacy_section_render(client, owner, shop, fan):
    client.force_login(owner)
    page = client.get(f"/journeys/?shop={shop.pk}")
    assert page.status_code == 200 and b'id="journey-list"' in page.content
    client.force_login(fan.user)
    assert client.get("/journeys/").status_code == 404
    privacy = client.get("/me/privacy/")
    assert b"data-birthday-fan" in privacy.content
