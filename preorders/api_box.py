"""Fruit box API: a fan's box and changes before the cut-off, cancel-with-an-offer, and the owner's items.

Every fan endpoint answers the fan's whole box afterwards (preorders.box_selectors.pledge_box_get), so a page
redraws from one body. Shapes are checked here; the rules, with their codes, in preorders.services.fruit_box.
"""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict, NotFound
from preorders.access import access_campaign, access_pledge
from preorders.box_models import CycleChangeKind
from preorders.box_selectors import box_item_to_dict, campaign_box_get, pledge_box_get
from preorders.models import CampaignKind
from preorders.services import fruit_box, fruit_box_items, fruit_box_retention
from preorders.services.fruit_box import UNSET


class BoxItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField()
    name = serializers.CharField()
    unit_price = serializers.CharField()
    ripen_days = serializers.IntegerField()
    quantity = serializers.IntegerField()
    is_default = serializers.BooleanField()
    position = serializers.IntegerField()


class BoxLineOut(serializers.Serializer):
    item = serializers.IntegerField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()
    ripen_days = serializers.IntegerField()
    replaces = serializers.IntegerField(allow_null=True)


class ReadyOut(serializers.Serializer):
    item = serializers.IntegerField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    best = serializers.BooleanField()


class CalendarDayOut(serializers.Serializer):
    day = serializers.IntegerField()
    date = serializers.DateField()
    ready = ReadyOut(many=True)


class CalendarOut(serializers.Serializer):
    cycle = serializers.IntegerField(allow_null=True)
    delivery_date = serializers.DateField()
    days = CalendarDayOut(many=True)
    gaps = serializers.ListField(child=serializers.IntegerField())
    contents = BoxLineOut(many=True)


class CycleOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    delivery_at = serializers.DateTimeField()
    cutoff_at = serializers.DateTimeField()
    changeable = serializers.BooleanField()


class SwapOut(serializers.Serializer):
    item = serializers.IntegerField()
    option = serializers.IntegerField()


class DelayOut(serializers.Serializer):
    days = serializers.IntegerField()


class GiftOut(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    address = serializers.CharField()
    message = serializers.CharField()


class PledgeBoxOut(serializers.Serializer):
    pledge = serializers.IntegerField()
    campaign = serializers.IntegerField()
    status = serializers.CharField()
    boxes = serializers.IntegerField()
    frequency = serializers.CharField()
    frequency_from = serializers.IntegerField(allow_null=True)
    can_change_frequency = serializers.BooleanField()
    box_size = serializers.CharField()
    never = serializers.ListField(child=serializers.IntegerField())
    swaps = SwapOut(many=True)
    cycle = CycleOut(allow_null=True)
    receives = serializers.BooleanField()
    why_not = serializers.CharField(allow_null=True)
    delay = DelayOut(allow_null=True)
    gift = GiftOut(allow_null=True)
    unit_price = serializers.CharField()
    currency = serializers.CharField()
    items = BoxItemOut(many=True)
    swap_choices = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    calendar = CalendarOut()


class CampaignBoxOut(serializers.Serializer):
    campaign = serializers.IntegerField()
    items = BoxItemOut(many=True)
    box_value = serializers.CharField()
    unit_price = serializers.CharField()
    currency = serializers.CharField()
    calendar = CalendarOut()


def _given(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """Only the keys the client sent (a missing key changes nothing; null is a value the service checks)."""
    return {name: data[name] for name in names if name in data}


class PledgeBoxIn(serializers.Serializer):
    never = serializers.JSONField(required=False)
    box_size = serializers.JSONField(required=False)


class PledgeBoxApi(APIView):
    """GET: the fan's box (choices, next box, contents, calendar). PUT: never-list and box size."""

    @extend_schema(responses=PledgeBoxOut)
    def get(self, request: Request, pledge_id: int) -> Response:
        pledge = access_pledge(request.user, pledge_id)
        if pledge.campaign.kind != CampaignKind.SUBSCRIPTION:
            raise Conflict(_("This is not a subscription."), code="not_subscription")
        return Response(pledge_box_get(pledge))

    @extend_schema(request=PledgeBoxIn, responses=PledgeBoxOut)
    def put(self, request: Request, pledge_id: int) -> Response:
        data = PledgeBoxIn(data=request.data)
        data.is_valid(raise_exception=True)
        given = _given(request.data, "never", "box_size")
        return Response(
            fruit_box.box_prefs_update(
                user=request.user,
                pledge_id=pledge_id,
                never=given.get("never", UNSET),
                box_size=given.get("box_size", UNSET),
            )
        )


class SwapIn(serializers.Serializer):
    item = serializers.JSONField()
    option = serializers.JSONField(required=False, allow_null=True)


class PledgeBoxSwapApi(APIView):
    """Swap a standard item for an option of equal unit price; option null swaps back."""

    @extend_schema(request=SwapIn, responses=PledgeBoxOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        data = SwapIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            fruit_box.box_swap(
                user=request.user, pledge_id=pledge_id, item_id=v["item"], option_id=v.get("option")
            )
        )


class DelayIn(serializers.Serializer):
    days = serializers.JSONField()


class PledgeBoxDelayApi(APIView):
    """POST: deliver the next box 1 to 6 days later. DELETE: on its day again."""

    @extend_schema(request=DelayIn, responses=PledgeBoxOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        data = DelayIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            fruit_box.box_delay(user=request.user, pledge_id=pledge_id, days=data.validated_data["days"])
        )

    @extend_schema(request=None, responses=PledgeBoxOut)
    def delete(self, request: Request, pledge_id: int) -> Response:
        return Response(
            fruit_box.box_change_remove(user=request.user, pledge_id=pledge_id, kind=CycleChangeKind.DELAY)
        )


class GiftIn(serializers.Serializer):
    name = serializers.JSONField()
    phone = serializers.JSONField()
    address = serializers.JSONField()
    message = serializers.JSONField(required=False)


class PledgeBoxGiftApi(APIView):
    """POST: send the next box to someone else. DELETE: to the fan again."""

    @extend_schema(request=GiftIn, responses=PledgeBoxOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        data = GiftIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            fruit_box.box_gift(
                user=request.user,
                pledge_id=pledge_id,
                name=v["name"],
                phone=v["phone"],
                address=v["address"],
                message=v.get("message", ""),
            )
        )

    @extend_schema(request=None, responses=PledgeBoxOut)
    def delete(self, request: Request, pledge_id: int) -> Response:
        return Response(
            fruit_box.box_change_remove(user=request.user, pledge_id=pledge_id, kind=CycleChangeKind.GIFT)
        )


class FrequencyIn(serializers.Serializer):
    frequency = serializers.JSONField()


class PledgeBoxFrequencyApi(APIView):
    """Weekly or every two weeks (weekly campaigns)."""

    @extend_schema(request=FrequencyIn, responses=PledgeBoxOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        data = FrequencyIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            fruit_box.box_frequency_set(
                user=request.user, pledge_id=pledge_id, frequency=data.validated_data["frequency"]
            )
        )


class CancelOfferIn(serializers.Serializer):
    reason = serializers.JSONField()
    note = serializers.JSONField(required=False)


class CancelOfferOut(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()
    offer = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class CancelOfferAcceptOut(serializers.Serializer):
    offer = serializers.CharField()
    message = serializers.CharField()
    box = PledgeBoxOut()


class CancelOfferApi(APIView):
    """A fan gives a reason for cancelling and hears the offer that fits it (declining: POST .../cancel/)."""

    @extend_schema(request=CancelOfferIn, responses=CancelOfferOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        data = CancelOfferIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            fruit_box_retention.retention_offer_make(
                user=request.user, pledge_id=pledge_id, reason=v["reason"], note=v.get("note", "")
            )
        )


class CancelOfferAcceptApi(APIView):
    @extend_schema(request=None, responses=CancelOfferAcceptOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        return Response(fruit_box_retention.retention_offer_accept(user=request.user, pledge_id=pledge_id))


class BoxItemIn(serializers.Serializer):
    name = serializers.JSONField()
    unit_price = serializers.JSONField()
    ripen_days = serializers.JSONField(required=False)
    quantity = serializers.JSONField(required=False)
    is_default = serializers.JSONField(required=False)


class BoxItemChangeIn(serializers.Serializer):
    name = serializers.JSONField(required=False)
    unit_price = serializers.JSONField(required=False)
    ripen_days = serializers.JSONField(required=False)
    quantity = serializers.JSONField(required=False)
    is_default = serializers.JSONField(required=False)


ITEM_FIELDS = ("name", "unit_price", "ripen_days", "quantity", "is_default")


class CampaignBoxItemsApi(APIView):
    """GET: the box's items, value and calendar (the shop's staff). POST: add an item (owners, managers)."""

    @extend_schema(responses=CampaignBoxOut)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign, is_staff = access_campaign(request.user, campaign_id)
        if not is_staff:
            raise NotFound()
        return Response(campaign_box_get(campaign))

    @extend_schema(request=BoxItemIn, responses={201: BoxItemOut})
    def post(self, request: Request, campaign_id: int) -> Response:
        data = BoxItemIn(data=request.data)
        data.is_valid(raise_exception=True)
        item = fruit_box_items.box_item_create(
            user=request.user, campaign_id=campaign_id, **_given(request.data, *ITEM_FIELDS)
        )
        return Response(box_item_to_dict(item), status=status.HTTP_201_CREATED)


class BoxItemDetailApi(APIView):
    @extend_schema(request=BoxItemChangeIn, responses=BoxItemOut)
    def patch(self, request: Request, item_id: int) -> Response:
        data = BoxItemChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        item = fruit_box_items.box_item_update(
            user=request.user, item_id=item_id, **_given(request.data, *ITEM_FIELDS)
        )
        return Response(box_item_to_dict(item))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, item_id: int) -> Response:
        fruit_box_items.box_item_delete(user=request.user, item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
