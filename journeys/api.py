"""Journeys API (docs/journeys.md): the shop's journeys with their per-step funnel, create and edit, enable
and disable, and the fan's own birthday. Staff of the shop read (404 for anyone else); owners and managers
write (403 for assistants). Bad input is a coded 400 and changes nothing."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from fans.crm.api import member_for
from journeys import selectors
from journeys.models import Journey
from journeys.services import editing
from journeys.services.birthday import birthday_set
from journeys.services.templates import journeys_ensure
from shops.access import access_shop_membership
from shops.models import ShopMember
from shops.roles import require_managing


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(_("The body must be a JSON object."), code="invalid_body")
    return data


def _journey_for(request: Request, journey_id: int) -> tuple[Journey, ShopMember]:
    journey = Journey.objects.select_related("shop").filter(pk=journey_id).first()
    if journey is None:
        raise NotFound()
    return journey, access_shop_membership(request.user, journey.shop_id)


class JourneysApi(APIView):
    """GET ?shop=: the shop's journeys (the three ready-made ones included) with trigger, enabled, steps and
    per-step counts. POST {"shop", "name", "trigger", "steps": [...], "enabled"?}: a new journey (201)."""

    @extend_schema(
        operation_id="journeys_list",
        parameters=[OpenApiParameter("shop", int)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        member = member_for(request)
        journeys_ensure(member.shop)
        return Response({"results": selectors.journeys_to_dicts(selectors.journey_list(member.shop))})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = _object(request.data)
        member = member_for(request)
        require_managing(member)
        journey = editing.journey_create(shop=member.shop, data=data)
        return Response(selectors.journey_to_dict(journey), status=status.HTTP_201_CREATED)


class JourneyApi(APIView):
    """GET: one journey. PATCH {"name"?, "trigger"?, "steps"?}: edit it (steps replace the list; a step sent
    back with its id keeps its counts)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, journey_id: int) -> Response:
        journey, _member = _journey_for(request, journey_id)
        return Response(selectors.journey_to_dict(journey))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, journey_id: int) -> Response:
        journey, member = _journey_for(request, journey_id)
        require_managing(member)
        journey = editing.journey_update(journey=journey, data=_object(request.data))
        return Response(selectors.journey_to_dict(journey))


class JourneyEnableApi(APIView):
    """POST: turn the journey on (only events from now on enroll)."""

    enabled = True

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, journey_id: int) -> Response:
        journey, member = _journey_for(request, journey_id)
        require_managing(member)
        journey = editing.journey_enable(journey=journey, enabled=self.enabled)
        return Response(selectors.journey_to_dict(journey))


class JourneyDisableApi(JourneyEnableApi):
    """POST: turn the journey off (nobody new enrolls; fans already in it wait until it is on again)."""

    enabled = False


class MyBirthdayApi(APIView):
    """PATCH {"fan", "birthday": "MM-DD" | null}: share my birthday with one shop I follow, or stop sharing."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request) -> Response:
        data = _object(request.data)
        fan = birthday_set(user=request.user, fan_id=data.get("fan"), value=data.get("birthday"))
        birthday = f"{fan.birthday_month:02d}-{fan.birthday_day:02d}" if fan.birthday_month else None
        return Response({"fan": fan.pk, "birthday": birthday})
