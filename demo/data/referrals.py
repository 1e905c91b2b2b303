"""A few shop1 fans brought friends in through their share links, so the owner's "invited" counts show."""

from demo.data.people import fan_username
from fans.chat.models import Fan
from fans.chat.referrals import fan_referral_code
from shops.models import Shop

# referrer fan number -> the fan numbers who followed through their link (one level only)
REFERRALS = {1: range(21, 26), 2: range(26, 29), 3: range(29, 30)}


def demo_referrals_ensure(shop: Shop) -> None:
    """Idempotent: a fan already recorded as invited keeps who invited them."""
    fans = {f.user.username: f for f in Fan.objects.filter(shop=shop).select_related("user")}
    for referrer_n, invited in REFERRALS.items():
        referrer = fans.get(fan_username(referrer_n))
        if referrer is None:
            continue
        fan_referral_code(referrer)
        pks = [fans[fan_username(n)].pk for n in invited if fan_username(n) in fans]
        Fan.objects.filter(pk__in=pks, referred_by__isnull=True).update(referred_by=referrer)
