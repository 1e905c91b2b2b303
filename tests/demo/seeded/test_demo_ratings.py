"""The demo's 红黑榜: ratings from both demo shops, and the shipped jacket black-listed with enough evidence."""

from preorders.models import Campaign
from shops.rating_models import Rating, RatingScore
from shops.ratings import product_statuses


def test_demo_ratings_come_from_both_shops_and_one_product_is_black(demo_output):
    assert set(Rating.objects.values_list("shop__slug", flat=True)) == {"shop1", "shop2"}
    jacket = Campaign.objects.get(title="春季新品拼团（已发货）").product_id
    assert product_statuses([jacket]) == {jacket: "black"}
    score = RatingScore.objects.get(entity_type="product", entity_id=str(jacket))
    assert score.black == 2 and score.black_weight > 2  # shop1 sold it: its rating weighs more
    assert RatingScore.objects.filter(status="red").exists()


def test_demo_board_shows_the_jackets_refund_rate_from_after_sales(demo_output):
    from django.contrib.auth import get_user_model

    from tests.conftest import api_client_for

    jacket = Campaign.objects.get(title="春季新品拼团（已发货）").product_id
    owner = get_user_model().objects.get(username="owner")
    rows = api_client_for(owner).get("/api/ratings/board/?entity_type=product").json()
    row = next(r for r in rows if r["entity_id"] == str(jacket))
    # Five parcels delivered, one refund approved (袖口有线头): 1 / 5.
    assert (row["side"], row["black"], row["refund_rate"]) == ("black", 2, 0.2)
    assert row["reviews_avg"] == 4.0  # the demo's three reviews of the jacket: 5, 4 and 3 stars
