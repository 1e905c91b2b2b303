"""API tokens: sign in for one (throttled by django-axes), and rotate it (issue 17).

POST /api/auth/token/ keeps DRF's contract (username and password in, `token` out) and adds `expires_at`.
Failures go through django.contrib.auth.authenticate with the real request, so axes counts them and locks a
failing username or address out (core/auth_throttle.py): 429 login_locked.
"""

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth_throttle import lockout_response
from core.errors import Invalid
from core.tokens import token_expires_at, token_issue, token_rotate


class TokenIn(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenOut(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


def _token_body(token) -> dict:
    return {"token": token.key, "expires_at": token_expires_at(token.created)}


class ObtainTokenApi(APIView):
    """Username and password for the user's live API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=TokenIn, responses=TokenOut, operation_id="auth_token_obtain")
    def post(self, request: Request) -> Response:
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = {"username": data.validated_data["username"]}
        django_request = request._request  # axes marks the HttpRequest its middleware answers from
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            return lockout_response(django_request)
        user = authenticate(
            request=django_request, username=credentials["username"], password=data.validated_data["password"]
        )
        if getattr(django_request, "axes_locked_out", False):
            return lockout_response(django_request)
        if user is None or not user.is_active:
            raise Invalid(_("Unable to log in with the username and password given."), code="invalid")
        # No session login here, so axes' on-login reset does not run: clear this username's failures.
        AxesProxyHandler.reset_attempts(username=user.get_username())
        return Response(_token_body(token_issue(user)))


class RotateTokenApi(APIView):
    """A new token for the caller; the token used so far stops working at once."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=TokenOut, operation_id="auth_token_rotate")
    def post(self, request: Request) -> Response:
        return Response(_token_body(token_rotate(request.user)))
