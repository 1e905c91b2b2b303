"""A new shop's first-campaign checklist: add a product, create a campaign, share its poster, first fan.

Each step ticks itself from data. Shops knows products only; the higher apps answer their own steps through
the `onboarding_steps` registry (preorders: campaign and poster; chat: the first fan), so the inbox, which
sits below preorders, can show the whole list.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.hooks import Registry
from shops.models import Product, Shop


@dataclass(frozen=True)
class StepState:
    done: bool
    url: str


StepProvider = Callable[[Shop], StepState]


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    hint: str
    done: bool
    url: str


# The steps in the order an owner takes them, with the words the checklist shows.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("product", _("Add a product"), _("Your own, or one picked from the platform catalogue.")),
    ("campaign", _("Create a campaign"), _("A group pre-order with a price ladder, or a subscription.")),
    ("poster", _("Share its poster"), _("Open or download the poster and send it to your fans.")),
    ("fan", _("Your first fan"), _("A fan who opens your link joins your shop and appears here.")),
)

onboarding_steps: Registry[StepProvider] = Registry(
    "shops.onboarding_steps",
    required=tuple(key for key, _l, _h in STEPS),
    offered_by="shops / preorders / chat",
)


def product_step(shop: Shop) -> StepState:
    has_product = Product.objects.filter(shop=shop, is_available=True).exists()
    return StepState(done=has_product, url=reverse("products" if has_product else "product-new"))


def onboarding_checklist(*, shop: Shop) -> list[Step]:
    """Every step with whether it is done and where to do it (a step no app answers counts as not done)."""
    steps = []
    for key, label, hint in STEPS:
        provider = onboarding_steps.get(key)
        state = provider(shop) if provider else StepState(done=False, url="")
        steps.append(Step(key=key, label=str(label), hint=str(hint), done=state.done, url=state.url))
    return steps
