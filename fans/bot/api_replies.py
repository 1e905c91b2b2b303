"""One canned reply or FAQ answer: edit (PATCH) and delete (DELETE), for the shop's managers and owner."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.limits import MESSAGE_MAX_LENGTH
from fans.bot.api import CannedReplyOut, FaqOut
from fans.bot.services import replies
from fans.crm.api import member_for


class CannedReplyPatchIn(serializers.Serializer):
    title = serializers.CharField(max_length=60, required=False)
    text = serializers.CharField(max_length=min(2000, MESSAGE_MAX_LENGTH), required=False)


class FaqPatchIn(serializers.Serializer):
    keywords = serializers.CharField(max_length=200, required=False)
    answer = serializers.CharField(max_length=2000, required=False)
    is_active = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class CannedReplyDetailApi(APIView):
    @extend_schema(request=CannedReplyPatchIn, responses=CannedReplyOut)
    def patch(self, request: Request, reply_id: int) -> Response:
        member = member_for(request)
        data = CannedReplyPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        reply = replies.canned_reply_update(member=member, reply_id=reply_id, changes=data.validated_data)
        return Response(CannedReplyOut(reply).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, reply_id: int) -> Response:
        replies.canned_reply_delete(member=member_for(request), reply_id=reply_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FaqDetailApi(APIView):
    @extend_schema(request=FaqPatchIn, responses=FaqOut)
    def patch(self, request: Request, rule_id: int) -> Response:
        member = member_for(request)
        data = FaqPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        rule = replies.faq_rule_update(member=member, rule_id=rule_id, changes=data.validated_data)
        return Response(FaqOut(rule).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, rule_id: int) -> Response:
        replies.faq_rule_delete(member=member_for(request), rule_id=rule_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
