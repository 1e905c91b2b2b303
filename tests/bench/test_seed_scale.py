import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F, Q

from bench import seed_scale
from fans.chat.models import Conversation, Fan
from fans.crm.models import FanTag, Tag, TagChoice
from shops.models import Shop, ShopMember, ShopRole

pytestmark = pytest.mark.django_db

N = 2000


@pytest.fixture
def seeded():
    call_command(seed_scale.Command(), fans=N, shop_slug="seedtest", tags=60, seed=1)
    return Shop.objects.get(slug="seedtest")


def test_seed_creates_the_shop_fans_and_conversations(seeded):
    assert Fan.objects.filter(shop=seeded).count() == N
    assert Conversation.objects.filter(shop=seeded).count() == N
    assert not Fan.objects.filter(shop=seeded, conversation__isnull=True).exists()
    assert ShopMember.objects.filter(shop=seeded, user=seeded.owner, role=ShopRole.OWNER).exists()
    assert seeded.owner.check_password("fansi-demo")
    with_messages = Conversation.objects.filter(shop=seeded, last_message_at__isnull=False).count()
    assert 0.4 * N < with_messages < 0.8 * N


def test_seed_vocabulary_has_the_requested_size(seeded):
    vocabulary = Tag.objects.filter(Q(group__shop__isnull=True) | Q(group__shop=seeded))
    assert vocabulary.count() == 60


def test_seed_tags_come_from_the_shop_vocabulary(seeded):
    tags = FanTag.objects.filter(fan__shop=seeded)
    assert not tags.exclude(Q(tag__group__shop__isnull=True) | Q(tag__group__shop=seeded)).exists()
    assert not tags.exclude(group_id=F("tag__group_id")).exists()
    per_fan = tags.count() / N
    assert 3 <= per_fan <= 7


def test_seed_keeps_one_value_per_single_choice_group(seeded):
    tags = FanTag.objects.filter(fan__shop=seeded)
    assert not tags.filter(group__choice=TagChoice.SINGLE, single=False).exists()
    assert not tags.filter(group__choice=TagChoice.MULTI, single=True).exists()
    crowded = tags.filter(single=True).values("fan_id", "group_id").annotate(n=Count("pk")).filter(n__gt=1)
    assert not crowded.exists()


def test_seed_popularity_is_skewed(seeded):
    counts = sorted(
        FanTag.objects.filter(fan__shop=seeded)
        .values("tag_id")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    )
    assert counts[-1] > 10 * counts[0]


def test_seed_refuses_an_existing_shop_without_reset(seeded):
    with pytest.raises(CommandError):
        call_command(seed_scale.Command(), fans=10, shop_slug="seedtest")


def test_seed_reset_replaces_the_shop(seeded):
    call_command(seed_scale.Command(), fans=50, shop_slug="seedtest", reset=True)
    shop = Shop.objects.get(slug="seedtest")
    assert shop.pk != seeded.pk
    assert Fan.objects.filter(shop=shop).count() == 50
    assert not Fan.objects.filter(shop_id=seeded.pk).exists()


def test_seed_is_reproducible_for_a_seed(seeded):
    # Compared by tag code: a reset recreates the shop's private tags under new ids.
    fields = ("fan__user__username", "tag__group__code", "tag__code")
    first = sorted(FanTag.objects.filter(fan__shop=seeded).values_list(*fields))
    call_command(seed_scale.Command(), fans=N, shop_slug="seedtest", tags=60, seed=1, reset=True)
    again = sorted(FanTag.objects.filter(fan__shop__slug="seedtest").values_list(*fields))
    assert first == again


def test_seeded_tag_ids_mirror_fan_tags(seeded):
    from fans.chat.models import Fan

    for fan in Fan.objects.filter(shop=seeded).order_by("pk")[:200]:
        assert sorted(fan.tag_ids) == sorted(FanTag.objects.filter(fan=fan).values_list("tag_id", flat=True))
