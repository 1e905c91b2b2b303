"""`manage.py demo`: the exact demo logins, shops, catalogues, fans and chat history, and idempotency."""

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.utils import timezone
from PIL import Image

from fans.bot.models import Broadcast, PromoDelivery
from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from shops.models import Category, Product, Shop, ShopMember, ShopRole, Variant
from tests.demo.seeded.helpers import CJK, PASSWORD, row_counts, run_demo


def test_demo_creates_and_prints_the_documented_logins(demo_output):
    users = get_user_model().objects
    admin = users.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    for username in ["admin", "owner", "staff1", "manager1", "owner2", "fan1", "fan20", "fan200"]:
        assert authenticate(username=username, password=PASSWORD) is not None, username
    assert not users.filter(
        username__in=["owner", "staff1", "manager1", "owner2", "fan1"], is_staff=True
    ).exists()
    for expected in [
        "admin",
        "owner",
        "staff1",
        "manager1",
        "owner2",
        "fan1",
        "fan200",
        PASSWORD,
        "http://127.0.0.1:8000/join/shop1-invite/",
        "http://127.0.0.1:8000/join/shop2-invite/",
        "http://127.0.0.1:8000/inbox/",
        "http://127.0.0.1:8000/s/shop1/",
        "http://127.0.0.1:8000/admin/",
        "http://127.0.0.1:8000/api/docs/",
    ]:
        assert expected in demo_output


def test_demo_shops_have_their_owners_staff_and_stable_invite_codes(demo_output):
    shop1, shop2 = Shop.objects.get(slug="shop1"), Shop.objects.get(slug="shop2")
    assert shop1.owner.username == "owner"
    assert shop2.owner.username == "owner2"
    assert shop1.invite_code == "shop1-invite"
    assert shop2.invite_code == "shop2-invite"
    roles = {
        (m.shop.slug, m.user.username): m.role for m in ShopMember.objects.select_related("shop", "user")
    }
    assert roles == {
        ("shop1", "owner"): ShopRole.OWNER,
        ("shop1", "staff1"): ShopRole.ASSISTANT,
        ("shop1", "manager1"): ShopRole.MANAGER,
        ("shop2", "owner2"): ShopRole.OWNER,
    }


def test_demo_fans_follow_shop1_and_first_twenty_also_follow_shop2(demo_output):
    shop1_fans = set(Fan.objects.filter(shop__slug="shop1").values_list("user__username", flat=True))
    shop2_fans = set(Fan.objects.filter(shop__slug="shop2").values_list("user__username", flat=True))
    assert shop1_fans == {f"fan{n}" for n in range(1, 201)}
    assert shop2_fans == {f"fan{n}" for n in range(1, 21)}
    assert Conversation.objects.filter(shop__slug="shop1").count() == 200
    assert Conversation.objects.filter(shop__slug="shop2").count() == 20
    assert all(CJK.search(name) for name in Fan.objects.values_list("display_name", flat=True))


def test_demo_catalogues_have_variants_and_readable_pictures(demo_output, media_root):
    for slug in ("shop1", "shop2"):
        products = Product.objects.filter(shop__slug=slug).prefetch_related("variants")
        assert 25 <= products.count() <= 35
        assert set(products.values_list("category", flat=True)) == set(Category.values)
        for product in products:
            assert CJK.search(product.name) and product.brand
            assert product.currency == "CNY" and product.price > 0
            assert 1 <= len(product.variants.all()) <= 4
            assert product.image.name.startswith("products/")
            with Image.open(product.image.path) as picture:
                picture.verify()
            assert str(media_root) in product.image.path
    assert Product.objects.filter(description__contains="适合油皮").exists()
    assert Product.objects.filter(description__contains="适合干皮").exists()
    skus = list(Variant.objects.values_list("sku", flat=True))
    assert len(skus) == len(set(skus))


def test_demo_chat_history_has_chinese_dialogue_cards_unread_and_assignments(demo_output):
    shop1 = Conversation.objects.filter(shop__slug="shop1")
    # A dialogue starts with the fan: order notices and a broadcast (sent or not by the hour) are not history.
    with_history = shop1.filter(messages__side=Side.FAN).distinct()
    # demo/data/chat.py's dialogues, and every fifth fan saying what they want (demo/data/extras.py).
    from demo.data.extras import SAYINGS

    sayings = [text for pair in SAYINGS for text in pair]
    fans = list(Fan.objects.filter(shop__slug="shop1").order_by("pk").values_list("pk", flat=True))
    chatty = [pk for i, pk in enumerate(fans) if i % 5 == 4]
    assert with_history.filter(fan_id__in=chatty).count() == len(chatty)
    dialogues = shop1.filter(
        pk__in=Message.objects.filter(side=Side.FAN).exclude(text__in=sayings).values("conversation_id")
    )
    assert 35 <= dialogues.count() <= 45
    assert Conversation.objects.filter(shop__slug="shop2", last_seq__gt=0).exists()
    texts = Message.objects.filter(kind=MessageKind.TEXT)
    assert texts.filter(side=Side.FAN, text__contains="油皮").exists()
    assert texts.filter(side=Side.SHOP).exists()
    assert all(CJK.search(text) for text in texts.values_list("text", flat=True))
    for conversation in with_history:
        # The dialogue (the platform's order notices from the demo campaigns come on top of it).
        sides = list(
            conversation.messages.exclude(side=Side.SYSTEM).order_by("seq").values_list("side", flat=True)
        )
        # Up to 9 in a dialogue, and the two sentences a chatty fan adds (demo/data/extras.py).
        assert 2 <= len(sides) <= 9 + len(SAYINGS[0])
        assert sides[0] == Side.FAN
    cards = Message.objects.filter(kind=MessageKind.PRODUCT_CARD).select_related("conversation", "sender")
    assert cards.exists()
    for card in cards:
        product = Product.objects.get(pk=card.payload["product"])
        assert product.shop_id == card.conversation.shop_id
        assert card.sender == card.conversation.shop.owner
    assert shop1.filter(shop_unread__gt=0).exists()
    assert set(shop1.exclude(assigned_to=None).values_list("assigned_to__username", flat=True)) == {"staff1"}
    # Every history message carries a client id (the platform's order notices and the broadcast, which the
    # hour decides to send or defer, are not history).
    broadcast = PromoDelivery.objects.exclude(message=None).values("message_id")
    history = Message.objects.exclude(side=Side.SYSTEM).exclude(pk__in=broadcast)
    assert history.exclude(client_id=None).count() == history.count()
    # Seeding lifts the send limit only while it runs.
    assert settings.FANSI_CHAT["RATE_LIMIT_MESSAGES"] > 0


def test_demo_second_run_creates_nothing_new(demo_output):
    before = row_counts()
    second = run_demo()
    assert row_counts() == before
    assert "created: 0 users, 0 fans, 0 products, 0 variants, 0 images, 0 messages" in second


def test_demo_fruit_box_has_ripening_items_and_changed_boxes(demo_output):
    from preorders.box_selectors import box_calendar
    from preorders.models import BoxItem, BoxSwap, Campaign, CycleChange, SubscriptionPrefs

    campaign = Campaign.objects.get(shop__slug="shop1", title="每周鲜果订阅")
    items = {i.name: i for i in BoxItem.objects.filter(campaign=campaign)}
    assert (items["芒果"].ripen_days, items["猕猴桃"].ripen_days, items["苹果"].ripen_days) == (3, 4, 0)
    assert items["榴莲"].is_default is False and items["梨"].unit_price == items["苹果"].unit_price
    assert box_calendar(campaign)["gaps"] == []
    never = SubscriptionPrefs.objects.get(pledge__user__username="fan13").never_items.all()
    assert [i.name for i in never] == ["榴莲"]
    assert BoxSwap.objects.filter(pledge__user__username="fan13", option__name="梨").exists()
    assert (
        CycleChange.objects.filter(pledge__user__username="fan14", kind="gift")
        .exclude(gift_address="")
        .exists()
    )
    assert SubscriptionPrefs.objects.get(pledge__user__username="fan15").frequency == "biweekly"
    assert SubscriptionPrefs.objects.get(pledge__user__username="fan16").box_size == "small"
    assert f"/campaigns/{campaign.pk}/box/" in demo_output and "/me/box/" in demo_output


def test_demo_fans_brought_friends_in_one_level(demo_output):
    from django.db.models import Count

    shop1 = Fan.objects.filter(shop__slug="shop1")
    counts = dict(
        shop1.filter(referred_fans__isnull=False)
        .annotate(n=Count("referred_fans"))
        .values_list("user__username", "n")
    )
    assert counts == {"fan1": 5, "fan2": 3, "fan3": 1}
    assert all(shop1.get(user__username=u).referral_code for u in counts)
    # one level: nobody who was invited has invited anyone
    assert not shop1.filter(referred_by__isnull=False, referred_fans__isnull=False).exists()
    run_demo()
    assert shop1.filter(referred_by__isnull=False).count() == 9


def test_demo_broadcast_lists_skipped_fans_and_moves_nobody_up(demo_output):

    broadcast = Broadcast.objects.get(shop__slug="shop1", scheduled_at__isnull=True)
    assert broadcast.status == "succeeded" and broadcast.queued > 2
    assert broadcast.skipped_opt_out == 2
    skipped = PromoDelivery.objects.filter(broadcast=broadcast).exclude(status="sent")
    assert skipped.filter(status="skipped_opt_out").count() == 2
    # Delivered or not, no conversation's inbox order is the broadcast's time.
    reached = Conversation.objects.filter(fan__promo_deliveries__broadcast=broadcast)
    assert not reached.filter(activity_at__gte=broadcast.created_at).exists()
    assert Conversation.objects.filter(shop__slug="shop1", awaiting_reply=True).exists()


def test_demo_has_a_scheduled_broadcast_the_owner_can_still_edit(demo_output, client):
    from fans.bot.services.broadcast_schedule import broadcast_waiting

    scheduled = Broadcast.objects.get(shop__slug="shop1", scheduled_at__isnull=False)
    assert broadcast_waiting(scheduled) and scheduled.scheduled_at > timezone.now()
    owner = scheduled.shop.owner
    client.force_login(owner)
    body = client.get(f"/api/broadcasts/{scheduled.pk}/").json()
    assert body["status"] == "scheduled" and body["sent"] == 0
    html = client.get("/broadcasts/").content.decode()
    assert f'data-broadcast="{scheduled.pk}" data-status="scheduled"' in html


def test_demo_spend_is_what_each_fan_paid(demo_output):
    """消费 is true in the demo: fans who paid deposits show them, and every spend matches the ledger."""
    from payments.ledger import pledges_cash
    from payments.models import LedgerLeg, TransactionKind
    from preorders.models import Pledge

    fans = Fan.objects.filter(shop__slug=Shop.objects.order_by("pk").first().slug)
    payers = set(Pledge.objects.filter(fan__in=fans).values_list("fan_id", flat=True))
    assert len(payers) >= 10
    spent = dict(Fan.objects.filter(pk__in=payers).values_list("pk", "total_spend"))
    assert sum(1 for v in spent.values() if v > 0) >= 0.9 * len(payers)
    cash = pledges_cash(Pledge.objects.filter(fan__in=fans).values_list("pk", flat=True))
    compensation = LedgerLeg.objects.filter(
        transaction__kind=TransactionKind.COMPENSATION, account="provider", transaction__shop_id__isnull=False
    )
    by_fan: dict[int, object] = {}
    for pk, fan_id in Pledge.objects.filter(fan__in=fans).values_list("pk", "fan_id"):
        by_fan[fan_id] = by_fan.get(fan_id, 0) + cash.get(pk, 0)
    for leg in compensation.select_related("transaction"):
        fan_id = Pledge.objects.filter(pk=leg.transaction.pledge_id).values_list("fan_id", flat=True).first()
        if fan_id in by_fan:
            by_fan[fan_id] += leg.amount
    assert all(spent[f] == by_fan[f] for f in payers), [
        (f, spent[f], by_fan[f]) for f in payers if spent[f] != by_fan[f]
    ][:5]


def test_demo_fans_say_what_they_want_and_the_model_keeps_what_they_said(demo_output):
    from recommend.models import Interaction, ModelVersion
    from recommend.serving import recommend_for_fan, serving_model, serving_reset

    shop1 = Fan.objects.filter(shop__slug="shop1")
    said = Message.objects.filter(conversation__fan__in=shop1, side=Side.FAN, text__contains="保湿")
    assert said.values("conversation__fan").distinct().count() >= 10
    fans = list(shop1.order_by("pk"))
    untagged = [fan for i, fan in enumerate(fans) if i % 5 == 4]
    assert all(Message.objects.filter(conversation__fan=fan, side=Side.FAN).exists() for fan in untagged[-5:])
    # The last five untagged fans have chatted but bought nothing (a campaign pledge may still count).
    chat_only = [fan for fan in untagged[-5:] if not Interaction.objects.filter(fan=fan).exists()]
    assert chat_only
    version = ModelVersion.objects.get(is_serving=True)
    assert "chat_users" in version.metrics and "chat_users" in version.params
    serving_reset()
    model = serving_model()
    assert model is not None and "text:保湿" in model.artifacts.user_vocab
    for fan in chat_only:
        assert len(model.user_text(model.user_row(fan.pk))[0])
        picks = recommend_for_fan(fan, 5)
        assert picks
        if "chat_users" in model.artifacts.regimes:
            assert picks[0].regime == "chat_users"


def test_demo_has_a_digest_setting_and_the_owners_reminders(demo_output, client):
    """Reach: shop1 digests at 20 minutes; its owner has one reminder due (the inbox's 跟进提醒 chip) and two
    ahead; the notification switch shows in the inbox and on a fan's chat page."""
    from reach.models import DigestSettings, Reminder, ReminderStatus

    shop = Shop.objects.get(slug="shop1")
    assert DigestSettings.objects.get(shop=shop).unanswered_after_minutes == 20
    reminders = Reminder.objects.filter(user=shop.owner, conversation__shop=shop)
    assert sorted(reminders.values_list("status", flat=True)) == sorted(
        [ReminderStatus.FIRED, ReminderStatus.PENDING, ReminderStatus.PENDING]
    )
    assert all(CJK.search(r.note) for r in reminders)
    client.force_login(shop.owner)
    inbox = client.get(f"/inbox/?shop={shop.pk}&filter=reminders").content.decode()
    due = reminders.get(status=ReminderStatus.FIRED)
    assert f'data-conversation="{due.conversation_id}"' in inbox and 'id="push-switch"' in inbox
    opened = client.get(f"/inbox/c/{due.conversation_id}/?shop={shop.pk}").content.decode()
    assert due.note in opened and "reminder-open" in opened
    bot_page = client.get(f"/bot/?shop={shop.pk}").content.decode()
    assert 'id="digest-minutes"' in bot_page and 'value="20"' in bot_page
    run_demo()
    assert Reminder.objects.filter(user=shop.owner).count() == 3  # idempotent


def test_demo_has_a_card_deferred_past_quiet_hours_in_the_send_later_list(demo_output, client):
    """Reach: a product card the owner sent in a fan's quiet hours waits, listed in that conversation."""
    from reach.models import ScheduledMessage

    shop = Shop.objects.get(slug="shop1")
    (row,) = ScheduledMessage.objects.filter(conversation__shop=shop, kind="product_card")
    assert row.status == "pending" and row.asked_at < row.send_at
    client.force_login(shop.owner)
    opened = client.get(f"/inbox/c/{row.conversation_id}/?shop={shop.pk}").content.decode()
    assert f'data-scheduled="{row.pk}"' in opened
    run_demo()
    assert ScheduledMessage.objects.filter(conversation__shop=shop, kind="product_card").count() == 1


def test_demo_journeys_are_on_with_a_funnel(demo_output, client):
    """Journeys: shop1's three ready-made journeys are on, with enrollments and per-step counts that fall
    from entered to messaged to converted; the owner's page shows them."""
    from journeys.models import Enrollment, Journey
    from journeys.selectors import journey_to_dict

    shop = Shop.objects.get(slug="shop1")
    journeys = Journey.objects.filter(shop=shop)
    assert sorted(journeys.values_list("template", flat=True)) == ["balance_nudge", "welcome", "winback"]
    assert all(journeys.values_list("enabled", flat=True))
    welcome = journey_to_dict(journeys.get(template="welcome"))
    first = welcome["steps"][0]["counts"]
    assert first["entered"] >= 30 and 0 < first["messaged"] < first["entered"]
    assert 0 < first["converted"] <= first["messaged"]
    assert 0 < welcome["steps"][2]["counts"]["entered"] < first["entered"]  # some still wait out the 3 days
    client.force_login(shop.owner)
    page = client.get(f"/journeys/?shop={shop.pk}").content.decode()
    assert "journeys-config" in page
    count = Enrollment.objects.filter(journey__shop=shop).count()
    run_demo()
    assert Enrollment.objects.filter(journey__shop=shop).count() == count  # idempotent
