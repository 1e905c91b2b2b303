"""Chat's step of the onboarding checklist (shops.onboarding): the shop's first fan."""

from django.urls import reverse

from fans.chat.models import Fan
from shops.models import Shop
from shops.onboarding import StepState


def first_fan_step(shop: Shop) -> StepState:
    return StepState(done=Fan.objects.filter(shop=shop).exists(), url=reverse("inbox") + f"?shop={shop.pk}")
