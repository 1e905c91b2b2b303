"""The model page: serving version, metrics per regime against the baselines, training status."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import Conflict, NotFound
from recommend import services
from recommend.models import ModelVersion
from recommend.selectors import model_version_list, model_version_serving
from recommend.shop_figures import regime_chart, shop_model_figures
from shops.access import access_shop_membership
from shops.models import ShopMember


def _require_staff(request: HttpRequest) -> None:
    if request.user.is_staff:
        return
    if not ShopMember.objects.filter(user=request.user, is_active=True).exists():
        raise PermissionDenied


def _status(version: ModelVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "id": version.pk,
        "version": version.version,
        "status": version.status,
        "progress": version.progress,
        "stage": version.stage,
        "is_serving": version.is_serving,
        "error": version.error.splitlines()[0] if version.error else "",
    }


@login_required
def model_page(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    versions = list(model_version_list()[:10])
    serving = model_version_serving()
    latest = versions[0] if versions else None
    try:
        raw = request.GET.get("shop")
        member = access_shop_membership(request.user, int(raw) if raw and raw.isdigit() else None)
    except NotFound:
        member = None  # platform staff with no shop: the platform-wide figures only
    context = {
        "serving": serving,
        "latest": latest,
        "versions": versions,
        "chart": regime_chart(serving) if serving else [],
        "can_train": request.user.is_staff,
        "status": _status(latest),
        "shop": member.shop if member else None,
        "membership": member,
        "shop_figures": shop_model_figures(member.shop, serving) if member else None,
    }
    return render(request, "recommend/models.html", context)


@login_required
def model_status(request: HttpRequest) -> JsonResponse:
    _require_staff(request)
    return JsonResponse({"latest": _status(model_version_list().first())})


@login_required
@require_POST
def model_train_now(request: HttpRequest) -> HttpResponse:
    # One model serves every shop, so only platform admins start training.
    if not request.user.is_staff:
        raise PermissionDenied
    try:
        version = services.model_train_request(user=request.user)
        messages.success(request, _("Training started: %(v)s") % {"v": version.version})
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("recommend-models")
