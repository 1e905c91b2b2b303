"""Campaign, pledge and subscription API. One view per operation, small serializers (factory orders and the
signed demand board: preorders/api_factory.py)."""

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Forbidden, Invalid
from preorders import selectors, services, sharing
from preorders.access import access_campaign
from preorders.models import Campaign


class ShopTimeField(serializers.DateTimeField):
    """Shop time, as DRF renders it; a stored time that shop time cannot hold (past year 9999 there) is given
    in UTC instead of failing the whole answer, so one bad row never breaks a list for everyone."""

    def to_representation(self, value: dt.datetime) -> str | None:
        try:
            return super().to_representation(value)
        except serializers.ValidationError:
            return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class CampaignOut(serializers.ModelSerializer):
    shop = serializers.IntegerField(source="shop_id")
    product = serializers.IntegerField(source="product_id")
    deadline = ShopTimeField()
    launched_at = ShopTimeField(allow_null=True)
    closed_at = ShopTimeField(allow_null=True)
    cancelled_at = ShopTimeField(allow_null=True)
    balance_deadline = ShopTimeField(allow_null=True)
    ship_by = ShopTimeField(allow_null=True)
    current_unit_price = serializers.SerializerMethodField()
    tiers = serializers.SerializerMethodField()
    share_url = serializers.SerializerMethodField()
    join_url = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "shop",
            "product",
            "kind",
            "title",
            "status",
            "target_quantity",
            "cap",
            "committed_quantity",
            "deadline",
            "deposit_percent",
            "per_fan_limit",
            "base_unit_price",
            "current_unit_price",
            "final_unit_price",
            "currency",
            "tiers",
            "cadence",
            "cycles",
            "cutoff_hours",
            "balance_deadline",
            "lapse_rule",
            "ship_by",
            "late_compensation_percent",
            "moq_shortfall",
            "moq_decision",
            "launched_at",
            "closed_at",
            "share_url",
            "join_url",
            "cancelled_at",
        ]

    def get_share_url(self, obj: Campaign) -> str:
        # context "ref": the caller's referral code for this campaign's shop (the detail view looks it up)
        return sharing.share_url(self.context.get("request"), obj, self.context.get("ref"))

    def get_join_url(self, obj: Campaign) -> str:
        return sharing.join_url(self.context.get("request"), obj)

    def get_current_unit_price(self, obj: Campaign) -> str:
        return str(selectors.campaign_current_unit_price(obj))

    def get_tiers(self, obj: Campaign) -> list[dict[str, Any]]:
        return [
            {"min_quantity": t.min_quantity, "unit_price": str(t.unit_price)}
            for t in selectors.campaign_tiers(obj)
        ]


class CampaignIn(serializers.Serializer):
    """Shape only; the rules (deadline, tiers, MOQ, deposit range) live in the service with stable codes."""

    kind = serializers.CharField(default="group")
    product = serializers.JSONField()
    # Blank or missing values reach the service, which reports every field's error at once.
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    target_quantity = serializers.JSONField(required=False, default=None)
    cap = serializers.JSONField(required=False, allow_null=True)
    deadline = serializers.CharField(required=False, allow_blank=True, default="")
    deposit_percent = serializers.JSONField(required=False, default=None)
    per_fan_limit = serializers.JSONField(required=False, allow_null=True)
    tiers = serializers.JSONField(required=False, allow_null=True)
    cadence = serializers.CharField(required=False, allow_blank=True, default="")
    cycles = serializers.JSONField(required=False, allow_null=True)
    cutoff_hours = serializers.JSONField(required=False, default=0)
    balance_deadline = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    lapse_rule = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    ship_by = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    late_compensation_percent = serializers.JSONField(required=False, allow_null=True)
    variants = serializers.JSONField(required=False, allow_null=True)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"{name} must be an id.") from None


class CampaignListApi(APIView):
    """GET: campaigns of shops the caller works for or follows. POST: an owner creates a draft."""

    @extend_schema(
        parameters=[OpenApiParameter("shop", int), OpenApiParameter("status", str)],
        responses=CampaignOut(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.campaign_list(
            user=request.user,
            shop_id=_int_param(request, "shop"),
            status=request.query_params.get("status") or None,
        )
        return Response(CampaignOut(qs[:200], many=True, context={"request": request}).data)

    @extend_schema(request=CampaignIn, responses={201: CampaignOut})
    def post(self, request: Request) -> Response:
        data = CampaignIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        campaign = services.campaign_create(
            user=request.user,
            kind=v["kind"],
            product_id=v["product"],
            title=v["title"],
            target_quantity=v["target_quantity"],
            cap=v.get("cap"),
            deadline=v["deadline"],
            deposit_percent=v["deposit_percent"],
            per_fan_limit=v.get("per_fan_limit"),
            tiers=v.get("tiers"),
            cadence=v.get("cadence", ""),
            cycles=v.get("cycles"),
            cutoff_hours=v.get("cutoff_hours", 0),
            balance_deadline=v.get("balance_deadline"),
            lapse_rule=v.get("lapse_rule"),
            ship_by=v.get("ship_by"),
            late_compensation_percent=v.get("late_compensation_percent"),
            variants=v.get("variants"),
        )
        return Response(
            CampaignOut(campaign, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class CampaignLaunchApi(APIView):
    @extend_schema(request=None, responses=CampaignOut)
    def post(self, request: Request, campaign_id: int) -> Response:
        services.campaign_launch(user=request.user, campaign_id=campaign_id)
        campaign, _staff = access_campaign(request.user, campaign_id)
        return Response(CampaignOut(campaign, context={"request": request}).data)


class PledgeOut(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField()
    variant = serializers.IntegerField()
    variant_name = serializers.CharField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()
    deposit_amount = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.CharField()
    final_unit_price = serializers.CharField(allow_null=True)
    balance_due = serializers.CharField(allow_null=True)
    cancel_reason = serializers.CharField()
    created_at = serializers.CharField(allow_null=True)


class PledgeIn(serializers.Serializer):
    variant = serializers.JSONField()
    quantity = serializers.JSONField()


class CampaignPledgesApi(APIView):
    """POST: a fan pledges (Idempotency-Key header). GET: the campaign's pledges, for its staff."""

    @extend_schema(
        request=PledgeIn,
        responses={201: PledgeOut},
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER)],
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        data = PledgeIn(data=request.data)
        data.is_valid(raise_exception=True)
        body, _created = services.pledge_place(
            user=request.user,
            campaign_id=campaign_id,
            variant_id=data.validated_data["variant"],
            quantity=data.validated_data["quantity"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=PledgeOut(many=True))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign, is_staff = access_campaign(request.user, campaign_id)
        if not is_staff:
            raise Forbidden()
        pledges = selectors.pledge_list_for_campaign(campaign=campaign)[:1000]
        return Response([services.pledge_to_dict(p) for p in pledges])


class MyPledgesApi(APIView):
    @extend_schema(responses=PledgeOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            [services.pledge_to_dict(p) for p in selectors.pledge_list_for_user(user=request.user)[:200]]
        )


class WaitlistIn(serializers.Serializer):
    variant = serializers.JSONField()
    quantity = serializers.JSONField(required=False, default=1)


class CampaignWaitlistApi(APIView):
    """POST: a fan joins the waitlist of a full (or closed, not yet ordered) campaign. GET: staff see it."""

    @extend_schema(request=WaitlistIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, campaign_id: int) -> Response:
        from preorders.services.waitlist import waitlist_join

        data = WaitlistIn(data=request.data)
        data.is_valid(raise_exception=True)
        entry = waitlist_join(
            user=request.user,
            campaign_id=campaign_id,
            variant_id=data.validated_data["variant"],
            quantity=data.validated_data["quantity"],
        )
        return Response(
            {
                "id": entry.pk,
                "campaign": campaign_id,
                "variant": entry.variant_id,
                "quantity": entry.quantity,
                "status": entry.status,
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, campaign_id: int) -> Response:
        from preorders.services.waitlist import waitlist_summary

        campaign, is_staff = access_campaign(request.user, campaign_id)
        if not is_staff:
            raise Forbidden()
        return Response(waitlist_summary(campaign))


class MyOrdersApi(APIView):
    """The fan's orders: pledges with balance due, what was paid, boxes, parcels, credits, after-sales."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        from preorders.orders import order_list

        return Response(order_list(user=request.user))


class PledgeChangeIn(serializers.Serializer):
    variant = serializers.JSONField(required=False)
    quantity = serializers.JSONField(required=False)


class PledgeDetailApi(APIView):
    """PATCH: change quantity or variant before the deadline."""

    @extend_schema(request=PledgeChangeIn, responses=PledgeOut)
    def patch(self, request: Request, pledge_id: int) -> Response:
        data = PledgeChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        body = services.pledge_change(
            user=request.user,
            pledge_id=pledge_id,
            quantity=data.validated_data.get("quantity"),
            variant_id=data.validated_data.get("variant"),
        )
        return Response(body)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class PledgeCancelApi(APIView):
    """Cancel a pledge or a subscription (with an optional reason); the deposit is refunded."""

    @extend_schema(request=ReasonIn, responses=PledgeOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        data = ReasonIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            services.pledge_cancel(
                user=request.user, pledge_id=pledge_id, reason=data.validated_data["reason"]
            )
        )


class PledgePayBalanceApi(APIView):
    """The fan pays the balance (尾款) of a confirmed pledge, with an Idempotency-Key."""

    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER)],
    )
    def post(self, request: Request, pledge_id: int) -> Response:
        from preorders.services.balance import balance_pay

        body, created = balance_pay(
            user=request.user, pledge_id=pledge_id, idempotency_key=request.headers.get("Idempotency-Key")
        )
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DeliveryPayNowApi(APIView):
    """The fan pays a subscription box in dunning now (the next attempt, at once)."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, delivery_id: int) -> Response:
        from preorders.services.cycle_charging import delivery_pay_now

        return Response(delivery_pay_now(user=request.user, delivery_id=delivery_id))


class SubscriptionSkipApi(APIView):
    @extend_schema(request=None, responses=PledgeOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        return Response(services.subscription_skip(user=request.user, pledge_id=pledge_id))


class SubscriptionPauseApi(APIView):
    @extend_schema(request=None, responses=PledgeOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        return Response(services.subscription_pause(user=request.user, pledge_id=pledge_id))


class SubscriptionResumeApi(APIView):
    @extend_schema(request=None, responses=PledgeOut)
    def post(self, request: Request, pledge_id: int) -> Response:
        return Response(services.subscription_resume(user=request.user, pledge_id=pledge_id))
