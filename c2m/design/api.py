"""Design rounds API (共创): thin views over c2m.design.services, one per operation."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from c2m.design import selectors, services
from c2m.design.access import access_round, access_round_to_manage, rounds_visible
from c2m.design.models import DesignVote
from core.errors import Forbidden, Invalid


class RoundIn(serializers.Serializer):
    product = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    attributes = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    target_per_combination = serializers.IntegerField()
    vote_deposit = serializers.DecimalField(max_digits=12, decimal_places=2)
    deadline = serializers.DateTimeField()
    campaign_deposit_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    campaign_days = serializers.IntegerField(required=False)


class VoteIn(serializers.Serializer):
    combination = serializers.DictField(child=serializers.CharField())


class CommentIn(serializers.Serializer):
    text = serializers.CharField()


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise Invalid(code="body_invalid")
    return request.data


class RoundsApi(APIView):
    """GET: the rounds of the caller's shops and the launched rounds of the shops they follow.
    POST (owner or manager): a draft round."""

    @extend_schema(operation_id="design_rounds_list", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        qs = rounds_visible(request.user)
        wanted = request.query_params.get("status")
        if wanted:
            qs = qs.filter(status=wanted)
        rows = [selectors.round_summary(r) for r in qs.order_by("-created_at", "-pk")[:200]]
        return Response({"results": rows})

    @extend_schema(request=RoundIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = _body(request)
        rnd = services.round_create(
            user=request.user,
            product_id=data.get("product"),
            title=data.get("title"),
            description=data.get("description", ""),
            attributes=data.get("attributes"),
            target_per_combination=data.get("target_per_combination"),
            vote_deposit=data.get("vote_deposit"),
            deadline=data.get("deadline"),
            campaign_deposit_percent=data.get("campaign_deposit_percent"),
            campaign_days=data.get("campaign_days"),
        )
        return Response(selectors.round_to_dict(rnd), status=status.HTTP_201_CREATED)


class RoundApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, round_id: int) -> Response:
        rnd, _staff, _fan = access_round(request.user, round_id)
        return Response(selectors.round_to_dict(rnd))


class RoundLaunchApi(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, round_id: int) -> Response:
        rnd = services.round_launch(user=request.user, round_id=round_id)
        return Response(selectors.round_to_dict(rnd))


class RoundVotesApi(APIView):
    """POST (fan, Idempotency-Key): vote for a combination with the vote deposit, or move the vote."""

    @extend_schema(request=VoteIn, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def post(self, request: Request, round_id: int) -> Response:
        body, created = services.vote_place(
            user=request.user,
            round_id=round_id,
            combination=_body(request).get("combination"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MyVotesApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, round_id: int) -> Response:
        rnd, _staff, _fan = access_round(request.user, round_id)
        votes = DesignVote.objects.filter(round=rnd, user=request.user).order_by("-pk")
        return Response({"results": [services.vote_to_dict(v) for v in votes]})


class RoundCommentsApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, round_id: int) -> Response:
        rnd, _staff, _fan = access_round(request.user, round_id)
        rows = [{**c, "created_at": c["created_at"].isoformat()} for c in selectors.comments_of(rnd)]
        return Response({"results": rows})

    @extend_schema(request=CommentIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, round_id: int) -> Response:
        comment = services.comment_add(user=request.user, round_id=round_id, text=_body(request).get("text"))
        return Response(
            {"id": comment.pk, "text": comment.text, "is_staff": comment.is_staff},
            status=status.HTTP_201_CREATED,
        )


class RoundForecastApi(APIView):
    """The team's forecast of votes per combination (80% interval), before and during the round."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, round_id: int) -> Response:
        rnd, is_staff, _fan = access_round(request.user, round_id)
        if not is_staff:
            raise Forbidden()
        return Response({"combinations": selectors.round_forecast(rnd)})


class RoundSuggestionsApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, round_id: int) -> Response:
        rnd = access_round_to_manage(request.user, round_id)
        return Response({"results": selectors.round_suggestions(rnd)})


class PrePledgeConfirmApi(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pre_pledge_id: int) -> Response:
        return Response(services.pre_pledge_confirm(user=request.user, pre_pledge_id=pre_pledge_id))


class PrePledgeDeclineApi(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pre_pledge_id: int) -> Response:
        return Response(services.pre_pledge_decline(user=request.user, pre_pledge_id=pre_pledge_id))
