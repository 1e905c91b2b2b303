"""`manage.py demo`: every step in order, and the logins, invite links and URLs printed afterwards."""

from demo.data.broadcasts import demo_broadcasts_ensure
from demo.data.c2m_design import demo_design_ensure
from demo.data.c2m_forecast import demo_forecast_ensure
from demo.data.c2m_insight import demo_insight_ensure
from demo.data.campaigns import demo_campaigns_ensure
from demo.data.catalogue import demo_catalogue_ensure
from demo.data.chat import demo_history_ensure
from demo.data.extras import demo_extras_ensure
from demo.data.factories import demo_factories_ensure
from demo.data.fruit_box import demo_fruit_box_ensure
from demo.data.journeys import demo_journeys_ensure
from demo.data.lifecycle import demo_lifecycle_ensure
from demo.data.money import demo_money_ensure
from demo.data.people import FAN_COUNT, PASSWORD, SHOP2_FAN_COUNT, demo_fans_ensure, demo_users_ensure
from demo.data.platform_catalogue import demo_platform_catalogue_ensure
from demo.data.ratings import demo_ratings_ensure
from demo.data.reach import demo_reach_ensure
from demo.data.referrals import demo_referrals_ensure
from demo.data.result import DemoResult
from demo.data.reviews import demo_reviews_ensure
from demo.data.shops import SHOPS, demo_shops_ensure
from fans.bot.models import BotSettings
from preorders.services.spend import fans_spend_sweep
from shops.models import Product

BASE_URL = "http://127.0.0.1:8000"


def demo_seed() -> DemoResult:
    """Create (or find) all demo data. Safe to run again: the second run stores nothing new."""
    result = DemoResult()
    users = demo_users_ensure(result)
    shops = demo_shops_ensure(users, result)
    products: dict[str, dict[str, Product]] = {}
    for spec in SHOPS:
        catalogue = demo_catalogue_ensure(shops[spec.slug], spec.products, result)
        products[spec.slug] = {code: p for code, p in zip(spec.products, catalogue, strict=True)}
    demo_fans_ensure(users, shops, result)
    demo_referrals_ensure(shops["shop1"])
    # The history is the past: the bot still reads it for tag suggestions, but posts no away messages into it.
    for shop in shops.values():
        BotSettings.objects.update_or_create(shop=shop, defaults={"enabled": False})
    demo_history_ensure(users, shops, products, result)
    BotSettings.objects.filter(shop__in=list(shops.values())).update(enabled=True)
    demo_campaigns_ensure()
    result.money = demo_money_ensure()
    demo_reviews_ensure()
    result.fruit_box = demo_fruit_box_ensure()
    demo_extras_ensure()
    demo_platform_catalogue_ensure()
    demo_broadcasts_ensure()
    demo_ratings_ensure()
    # 消费 from the ledger for every fan (postings refresh it after commit; the sweep makes sure).
    fans_spend_sweep()
    # 工厂优选: the directory and the scorecards, computed from everything seeded above.
    demo_factories_ensure()
    demo_insight_ensure()
    result.design = demo_design_ensure()  # 共创: a decided round (winners made into campaigns) and a live one
    demo_forecast_ensure()  # AQ 预判: launch forecasts, and forecast against actual on closed campaigns
    demo_reach_ensure()  # the unanswered digest setting and the owner's follow-up reminders
    demo_lifecycle_ensure()  # lifecycle tags (new/active/at risk/lapsed/VIP) from the fans' activity and spend
    demo_journeys_ensure()  # shop1's three journeys on, with a month of enrollments and their funnel
    return result


def demo_report_lines(result: DemoResult, *, base_url: str = BASE_URL) -> list[str]:
    """The logins, invite links and URLs to print after seeding."""
    created = (
        f"created: {result.users_created} users, {result.fans_created} fans, {result.products_created} products, "
        f"{result.variants_created} variants, {result.images_written} images, {result.messages_created} messages"
    )
    logins = [
        ("admin", "platform admin (Django admin)"),
        ("owner", "shop1 owner"),
        ("staff1", "shop1 assistant"),
        ("manager1", "shop1 manager"),
        ("owner2", "shop2 owner"),
        (f"fan1 … fan{FAN_COUNT}", f"fans of shop1; fan1 … fan{SHOP2_FAN_COUNT} also follow shop2"),
    ]
    width = max(len(name) for name, _ in logins)
    lines = [created, "", f"{'login'.ljust(width)}  {'password'.ljust(len(PASSWORD))}  role"]
    lines.append(f"{'-' * width}  {'-' * len(PASSWORD)}  {'-' * 40}")
    lines += [f"{name.ljust(width)}  {PASSWORD}  {role}" for name, role in logins]
    lines += ["", "shops:"]
    for shop in result.shops:
        lines.append(f"  {shop.slug}  {shop.name}  invite: {base_url}/join/{shop.invite_code}/")
    lines += [
        "",
        "urls:",
        f"  owner inbox   {base_url}/inbox/",
        f"  new owner     {base_url}/signup/owner/  (sign up, open a shop, pick from the platform catalogue)",
        f"  fan chat      {base_url}/s/shop1/",
        f"  admin         {base_url}/admin/",
        f"  API docs      {base_url}/api/docs/",
    ]
    if "shipped" in result.money:
        shipped, due = result.money["shipped"], result.money.get("balance_open")
        lines.append(
            f"  shipped order {base_url}/campaigns/{shipped}/  (funnel, settlement, after-sales: owner)"
        )
        lines.append(
            f"  settlement    {base_url}/campaigns/{shipped}/settlement/  ·  {base_url}/shop/settlement/"
        )
        if due:
            lines.append(
                f"  balance due   {base_url}/campaigns/{due}/  (owner)  ·  fans: {base_url}/me/orders/"
            )
        lines.append(
            f"  my orders     {base_url}/me/orders/  (fan1: paid and received; fan3: after-sales refund; "
            "fan8: 慢就赔 credit; fan9: lapsed; fan11: balance due)"
        )
    if result.design:
        lines.append(
            f"  co-design     {base_url}/design-rounds/  (owner; decided: {base_url}/design-rounds/"
            f"{result.design['decided']}/, live: {base_url}/design-rounds/{result.design['live']}/, fan101 voted)"
        )
    if "campaign" in result.fruit_box:
        lines.append(f"  fruit box     {base_url}/campaigns/{result.fruit_box['campaign']}/box/  (owner)")
    if "pledge" in result.fruit_box:
        lines.append(f"  fan's box     {base_url}/me/box/{result.fruit_box['pledge']}/  (fan13)")
    return lines
