"""Extension points of the CRM that higher apps fill (STYLE.md layering).

`fan_pledges`: the fan profile lists the fan's pledges in this shop, which preorders owns. A provider is
`provider(fan) -> list[dict]`, each dict with id, campaign_id, campaign_title, campaign_url, kind,
variant, quantity, status, status_label, paid (the net cash paid, a string) and currency.
"""

from collections.abc import Callable
from typing import Any

from core.hooks import Registry

PledgeLister = Callable[[Any], list[dict[str, Any]]]

fan_pledges: Registry[PledgeLister] = Registry(
    "fans.crm.fan_pledges", required=("pledges",), offered_by="preorders"
)


def fan_pledge_list(fan: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for provider in fan_pledges.providers():
        rows += provider(fan)
    return rows


# provider(request) -> HTML: more sections of /me/privacy/ (reach: this person's notification devices).
PrivacySection = Callable[[Any], Any]
privacy_sections: Registry[PrivacySection] = Registry(
    "fans.crm.privacy_sections", required=("devices",), offered_by="reach"
)


def privacy_sections_render(request: Any) -> list[Any]:
    return [html for html in (p(request) for p in privacy_sections.providers()) if html]


# provider(shop_id, since) -> (sql, params): a SELECT of (fan_id, spend, orders, last_paid_at) over the shop's fans,
# one row per fan who paid since `since` (spend: net cash paid; orders: payments in; last_paid_at: the latest).
# The nightly lifecycle tags (fans.crm.lifecycle) join it into one set-based statement; preorders owns the money.
SpendSql = Callable[[int, Any], tuple[str, list[Any]]]
fan_spend_sql: Registry[SpendSql] = Registry(
    "fans.crm.fan_spend_sql", required=("spend",), offered_by="preorders"
)
