"""The fan CRM pages: staff-only shells over the CRM API, and the fans' own privacy page."""

import pytest
from django.test import Client

from fans.crm.models import AuditLog, Segment, Tag
from fans.crm.services.tagging import fan_tags_bulk_add
from shops.models import ShopRole
from tests.factories import FanFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tag(string: str) -> Tag:
    group, code = string.split(":")
    return Tag.objects.select_related("group").get(group__code=group, group__shop__isnull=True, code=code)


@pytest.fixture
def segment(shop, owner):
    return Segment.objects.create(
        shop=shop, name="油皮性价比", filter={"tags_all": ["skin_type:oily"]}, created_by=owner
    )


def staff_pages(fan, segment) -> list[str]:
    return [
        "/fans/",
        f"/fans/{fan.pk}/",
        "/segments/",
        "/fans/import/",
        "/team/",
        "/fans/import/template.csv",
    ]


def test_every_crm_page_opens_for_the_shop_owner(owner, fan, segment):
    client = client_for(owner)
    for url in staff_pages(fan, segment):
        assert client.get(url).status_code == 200, url


def test_every_crm_page_opens_for_an_assistant(staff, fan, segment):
    client = client_for(staff)
    for url in staff_pages(fan, segment):
        assert client.get(url).status_code == 200, url


def test_crm_pages_are_404_for_fans(fan_user, fan, segment):
    client = client_for(fan_user)
    for url in staff_pages(fan, segment):
        assert client.get(url).status_code == 404, url


def test_crm_pages_are_404_for_another_shops_staff(other_shop, fan, segment):
    client = client_for(other_shop.owner)
    assert client.get(f"/fans/{fan.pk}/").status_code == 404
    for url in ("/fans/", "/segments/", "/team/", "/fans/import/"):
        assert client.get(f"{url}?shop={fan.shop_id}").status_code == 404, url


def test_crm_pages_redirect_anonymous_visitors_to_login(fan):
    response = Client().get("/fans/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_fan_list_renders_a_shell_not_the_fans(shop, owner, django_assert_max_num_queries):
    """At a million fans the page must not render fans server-side: rows come page by page from the API."""
    fans = [FanFactory(shop=shop, display_name=f"不该出现{i}") for i in range(30)]
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        response = client.get("/fans/")
    html = response.content.decode()
    assert response.status_code == 200
    assert not any(f.display_name in html for f in fans)
    config = response.context["config"]
    assert config["shop"] == shop.pk and config["role"] == ShopRole.OWNER
    assert "skin_type:oily" in html  # the tag chips of the filter panel
    assert 'id="select-all-matching"' in html and 'id="job-progress"' in html


def test_fan_list_hides_export_remove_and_assign_from_assistants(staff, fan):
    html = client_for(staff).get("/fans/").content.decode()
    assert 'id="bulk-add"' in html
    for control in ('id="bulk-remove"', 'id="bulk-assign"', 'id="bulk-export"'):
        assert control not in html


def test_fan_list_shows_everything_to_a_manager(shop, fan):
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    html = client_for(manager).get("/fans/").content.decode()
    for control in ('id="bulk-remove"', 'id="bulk-assign"', 'id="bulk-export"'):
        assert control in html


def test_fan_list_picks_the_shop_from_the_query_string(shop, other_shop, owner):
    ShopMemberFactory(shop=other_shop, user=owner, role=ShopRole.MANAGER)
    response = client_for(owner).get(f"/fans/?shop={other_shop.pk}")
    assert response.status_code == 200
    assert response.context["shop"] == other_shop
    assert client_for(owner).get("/fans/?shop=abc").status_code == 404


def test_fan_detail_shows_tags_with_source_and_freshness(fan, owner):
    fan_tags_bulk_add(fan_ids=[fan.pk], tags=[tag("skin_type:oily")], source="import", actor=None)
    fan.notes = "喜欢小样 <b>"
    fan.save()
    response = client_for(owner).get(f"/fans/{fan.pk}/")
    html = response.content.decode()
    assert "油皮" in html and "导入" in html and "刚刚" in html
    assert "喜欢小样 &lt;b&gt;" in html
    assert f"/inbox/c/{fan.conversation.pk}/" in html


def test_fan_detail_escapes_the_display_name(shop, owner):
    fan = FanFactory(shop=shop, display_name="<script>alert(1)</script>")
    html = client_for(owner).get(f"/fans/{fan.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html


def test_segments_page_shows_live_counts_and_opens_the_filter(shop, owner, segment):
    oily = [FanFactory(shop=shop) for _ in range(3)]
    FanFactory(shop=shop)
    fan_tags_bulk_add(fan_ids=[f.pk for f in oily], tags=[tag("skin_type:oily")], source="owner", actor=owner)
    response = client_for(owner).get("/segments/")
    row = response.context["rows"][0]
    assert row["count"] == 3
    assert row["url"] == f"/fans/?shop={shop.pk}&tags_all=skin_type%3Aoily"
    assert "油皮性价比" in response.content.decode()


def test_team_page_shows_roles_assigned_counts_and_audit_log_to_the_owner(shop, owner, staff):
    FanFactory(shop=shop, assigned_to=staff)
    AuditLog.objects.create(
        shop=shop,
        actor=owner,
        action="team.handover",
        count=7,
        detail={"from_user": staff.pk, "to_user": owner.pk},
    )
    response = client_for(owner).get("/team/")
    rows = {r["member"].user_id: r for r in response.context["rows"]}
    assert rows[staff.pk]["assigned"] == 1
    html = response.content.decode()
    assert 'id="member-form"' in html and 'id="handover-form"' in html
    assert "移交粉丝" in html  # the audit entry's label


def test_team_page_hides_staff_tools_and_audit_from_assistants(staff):
    response = client_for(staff).get("/team/")
    html = response.content.decode()
    assert 'id="member-form"' not in html and 'id="handover-form"' not in html
    assert response.context["audit"] == []


def test_import_template_is_a_csv_with_the_documented_columns(owner):
    response = client_for(owner).get("/fans/import/template.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode("utf-8-sig").splitlines()[0] == "fan_id,username,tags,notes,assigned_to"


def test_privacy_page_lists_the_tags_each_shop_holds_on_the_fan(fan, fan_user, other_shop):
    FanFactory(shop=other_shop, user=fan_user)
    fan_tags_bulk_add(
        fan_ids=[fan.pk], tags=[tag("skin_type:dry"), tag("preference:value")], source="owner", actor=None
    )
    response = client_for(fan_user).get("/me/privacy/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "干皮" in html and "性价比" in html
    assert "美妆小铺" in html and "别家店" in html
    assert f'data-erase-shop="{fan.shop_id}"' in html
    assert f'data-erase-shop="{other_shop.pk}"' not in html  # nothing to erase there


def test_fan_chat_links_to_the_privacy_page(fan, fan_user):
    html = client_for(fan_user).get(f"/s/{fan.shop.slug}/").content.decode()
    assert 'href="/me/privacy/"' in html


def test_staff_see_the_crm_navigation_and_fans_do_not(owner, fan_user):
    assert 'class="staff-nav"' in client_for(owner).get("/fans/").content.decode()
    assert 'class="staff-nav"' not in client_for(fan_user).get("/me/privacy/").content.decode()
