"""Sign-in throttling with django-axes (issue 17): a failing username, or a failing address, is locked out.

Two lockout sets, each with its own limit (axes itself has one limit for all sets):
- a username after FANSI_LOGIN_USERNAME_FAILURES failures, from any address: guessing one account's password;
- a phone (sign-in by SMS code) after FANSI_LOGIN_PHONE_FAILURES wrong codes, over all its codes;
- an address after FANSI_LOGIN_IP_FAILURES failures, whatever usernames it tried: spraying many accounts.
Attempts refused during a lockout are not counted, so a locked username does not push its address over the
address limit: other people behind the same address keep signing in. A successful sign-in clears that
username's failures (AXES_RESET_ON_SUCCESS). Lockouts last AXES_COOLOFF_TIME (FANSI_LOGIN_LOCKOUT_MINUTES);
an admin unlocks early by deleting the row under Axes > Access attempts, or `manage.py axes_reset_username`.
"""

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _limits(username: str | None) -> list[int]:
    """Failure limits in the order of AXES_LOCKOUT_PARAMETERS (username, then address). Phone sign-in counts
    as username `phone:<number>`, with its own limit: each code already dies after 5 wrong tries."""
    if username and username.startswith("phone:"):
        first = settings.FANSI_LOGIN_PHONE_FAILURES
    else:
        first = settings.FANSI_LOGIN_USERNAME_FAILURES
    return [first, settings.FANSI_LOGIN_IP_FAILURES]


class FansiAxesHandler(AxesDatabaseHandler):
    """Axes' database handler with one limit per lockout set.

    Axes locks when get_failures() >= AXES_FAILURE_LIMIT; this answers each set's failures scaled to that
    limit, so a set reaches it exactly when it reaches its own limit."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> float:
        base = settings.AXES_FAILURE_LIMIT
        scaled = [0.0]
        limits = _limits(get_client_username(request, credentials))
        for attempts, limit in zip(self.get_user_attempts(request, credentials), limits, strict=False):
            failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            scaled.append(failures * base / limit)
        return max(scaled)

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A success clears that username's failures only: axes would also clear every failure from the
        address, so one good sign-in to an attacker's own account would unlock the accounts it was guessing."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


class FansiAxesBackend(AxesStandaloneBackend):
    """Axes' gate for every sign-in that comes with a request (the login form, the token endpoint, the admin).

    A request-less authenticate() (the test client's login(), management commands) has nothing an attacker
    can drive and nothing to throttle by: it is passed on to the next backend instead of refused."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def retry_after_s(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds()) if cool_off else 0


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a coded JSON 429 for the API, a page saying when to try again for forms.

    (Axes' async middleware passes its arguments in another order; nothing here depends on them.)"""
    retry = retry_after_s(request)
    minutes = max(1, math.ceil(retry / 60)) if retry else None
    message = (
        _("Too many failed sign-in attempts. Try again in %(minutes)s minutes.") % {"minutes": minutes}
        if minutes
        else _("Too many failed sign-in attempts. Ask an administrator to unlock the account.")
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"code": "login_locked", "message": message, "detail": {"retry_after_s": retry}}, status=429
        )
    else:
        response = render(request, "core/locked.html", {"message": message}, status=429)
    if retry:
        response["Retry-After"] = str(retry)
    return response
