"""Phone sign-in API: ask for a code, then sign in with it (the account is made on first sign-in).

Both answer logged-out callers. Signing in answers an API token and also logs the browser session in, so the
campaign page's in-place sign-up goes on to the pledge without a trip to the login page.
"""

import ipaddress

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.signals import user_login_failed
from django.middleware.csrf import get_token
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth_throttle import lockout_response
from core.errors import DomainError
from core.tokens import token_issue
from shops.phone_auth import phone_code_send, phone_login, phone_normalise


def client_ip(request: Request) -> str | None:
    """The caller's address: behind a proxy, the header it sets (FANSI_CLIENT_IP_HEADER, e.g. X-Real-IP),
    else the socket's; without this every visitor would share the proxy's IP throttle."""
    header = settings.FANSI_CLIENT_IP_HEADER
    raw = (request.META.get(header) if header else None) or request.META.get("REMOTE_ADDR") or ""
    raw = raw.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


class PhoneCodeIn(serializers.Serializer):
    # Shape only: phone_normalise answers phone_invalid for anything that is not a mainland mobile number.
    phone = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", max_length=32
    )


class PhoneLoginIn(serializers.Serializer):
    phone = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", max_length=32
    )
    code = serializers.CharField(required=False, allow_blank=True, allow_null=True, default="", max_length=12)
    display_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=30)


class PhoneCodeApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=PhoneCodeIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = PhoneCodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        phone, code = phone_code_send(phone=data.validated_data["phone"], ip=client_ip(request))
        body: dict[str, object] = {"phone": phone, "expires_in_s": settings.FANSI_PHONE_CODE["TTL_S"]}
        if settings.FANSI_SMS_DEBUG_CODES:
            body["debug_code"] = code
        return Response(body, status=status.HTTP_202_ACCEPTED)


class PhoneLoginApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=PhoneLoginIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = PhoneLoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # Axes counts wrong codes per phone and per address like wrong passwords (core/auth_throttle.py):
        # one code dies after 5 tries, but new codes could be asked for and guessed without end.
        credentials = {"username": f"phone:{phone_normalise(v['phone'])}"}
        django_request = request._request
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            return lockout_response(django_request)
        try:
            user, created = phone_login(phone=v["phone"], code=v["code"], display_name=v["display_name"])
        except DomainError as error:
            if error.code in ("code_invalid", "too_many_attempts"):
                user_login_failed.send(sender=__name__, credentials=credentials, request=django_request)
                if getattr(django_request, "axes_locked_out", False):
                    return lockout_response(django_request)
            raise
        AxesProxyHandler.reset_attempts(username=credentials["username"])
        token = token_issue(user)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(
            {
                "token": token.key,
                "created": created,
                "user": {
                    "id": user.pk,
                    "username": user.get_username(),
                    "display_name": user.get_full_name() or user.get_username(),
                },
                # login() rotates the CSRF token; the page's next POST needs the new one.
                "csrf_token": get_token(request._request),
            }
        )
