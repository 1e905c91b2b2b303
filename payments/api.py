"""The provider's webhook, and the simulated provider's staff-only rule endpoint."""

import logging

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from payments.models import SimulatorOutcome
from payments.provider import BadNotification, payment_provider, simulated_configured
from payments.services import notification_receive

logger = logging.getLogger(__name__)


class PaymentWebhookApi(APIView):
    """The payment provider's signed notifications (no login: the signature is the proof)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        try:
            notification = notification_receive(headers=dict(request.headers), body=request.body)
        except BadNotification as exc:
            logger.warning("payment webhook refused from %s: %s", request.META.get("REMOTE_ADDR"), exc)
            return Response(
                {"code": "bad_signature", "detail": _("The notification's signature does not verify.")},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        return Response({"code": "SUCCESS", "reference": notification.reference})


class SimulatorRuleIn(serializers.Serializer):
    username = serializers.CharField(required=False, allow_blank=True, default="")
    outcome = serializers.ChoiceField(choices=SimulatorOutcome.values)
    times = serializers.IntegerField(min_value=1, max_value=10000, default=1)


class SimulatorRulesApi(APIView):
    """Staff tell the simulated provider how to answer a fan's next charges (only while it is configured)."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=SimulatorRuleIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        if not simulated_configured():
            raise NotFound()
        data = SimulatorRuleIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user_id = None
        if v["username"]:
            user = get_user_model().objects.filter(username=v["username"]).first()
            if user is None:
                raise Invalid(_("No such user."), code="user_unknown")
            user_id = user.pk
        rule = payment_provider().rule_add(user_id=user_id, outcome=v["outcome"], times=v["times"])
        return Response(
            {"id": rule.pk, "username": v["username"], "outcome": rule.outcome, "times": rule.times},
            status=status.HTTP_201_CREATED,
        )
