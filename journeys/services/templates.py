"""The three ready-made journeys every shop gets (lazily, on first look): welcome, balance-unpaid nudge and
win-back. They start disabled: nothing reaches a shop's fans until its owner turns one on. Their texts are in
the language of whoever first opens the page (zh-hans by default; English available)."""

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from fans.crm.models import Tag, TagGroup
from journeys.models import TRANSACTIONAL_TRIGGERS, Journey, JourneyStep, StepKind, Template, Trigger
from shops.models import Shop

DAY = 86400
WINBACK_GROUP, WINBACK_TAG = "journeys", "win-back"


def winback_tag(shop: Shop) -> Tag:
    """The shop's own "win-back" tag (group "journeys"), which the win-back journey adds."""
    group, _created = TagGroup.objects.get_or_create(
        shop=shop, code=WINBACK_GROUP, defaults={"name_zh": "旅程", "name_en": "Journeys"}
    )
    tag, _created = Tag.objects.get_or_create(
        group=group, code=WINBACK_TAG, defaults={"name_zh": "召回中", "name_en": "Win-back"}
    )
    return tag


def _steps(template: str, shop: Shop) -> list[dict]:
    if template == Template.WELCOME:
        return [
            {
                "kind": StepKind.SEND_MESSAGE,
                "text": _("Hi {name}, welcome to {shop}! Ask us anything here, we answer every message."),
            },
            {"kind": StepKind.WAIT, "wait_seconds": 3 * DAY},
            {"kind": StepKind.SEND_CARD, "card": {"card": "recommended"}},
        ]
    if template == Template.BALANCE_NUDGE:
        return [
            {
                "kind": StepKind.SEND_MESSAGE,
                "text": _(
                    "Hi {name}, the group order succeeded and your balance is still due. "
                    "Pay it from My orders before the deadline to keep your place."
                ),
            },
            {"kind": StepKind.WAIT, "wait_seconds": 2 * DAY},
            {
                "kind": StepKind.SEND_MESSAGE,
                "text": _("A last reminder from {shop}: your balance is still unpaid. Pay it in My orders."),
            },
        ]
    return [
        {"kind": StepKind.SEND_MESSAGE, "text": _("Hi {name}, we miss you at {shop}! Here is what is new.")},
        {"kind": StepKind.WAIT, "wait_seconds": 2 * DAY},
        {"kind": StepKind.SEND_CARD, "card": {"card": "recommended"}},
        {"kind": StepKind.ADD_TAG, "tag": winback_tag(shop)},
    ]


TEMPLATE_TRIGGERS = {
    Template.WELCOME: Trigger.FOLLOWED,
    Template.BALANCE_NUDGE: Trigger.BALANCE_UNPAID,
    Template.WINBACK: Trigger.LAPSED,
}


def journeys_ensure(shop: Shop, *, language: str | None = None) -> None:
    """Create whichever ready-made journeys the shop lacks (idempotent, safe under concurrency)."""
    have = set(Journey.objects.filter(shop=shop).exclude(template="").values_list("template", flat=True))
    missing = [t for t in Template if t.value not in have]
    if not missing:
        return
    with translation.override(language or translation.get_language() or "zh-hans"):
        for template in missing:
            trigger = TEMPLATE_TRIGGERS[template]
            try:
                with transaction.atomic():
                    journey = Journey.objects.create(
                        shop=shop,
                        template=template,
                        trigger=trigger,
                        transactional=trigger in TRANSACTIONAL_TRIGGERS,
                    )
                    JourneyStep.objects.bulk_create(
                        [
                            JourneyStep(journey=journey, position=i, **step)
                            for i, step in enumerate(_steps(template, shop))
                        ]
                    )
            except IntegrityError:  # created concurrently
                continue
