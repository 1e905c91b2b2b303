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

from core.errors import Conflict
from recommend import services
from recommend.evaluation import SELECTION_METRIC
from recommend.models import ModelVersion
from recommend.selectors import model_version_list, model_version_serving
from shops.models import ShopMember

REGIME_LABELS = {
    "warm_users": ("老粉丝（有认购记录）", "Fans with history"),
    "cold_users": ("只有标签的新粉丝", "New fans known by tags"),
    "cold_items": ("新品：邀请哪些粉丝", "New products: which fans to invite"),
}
METRIC_LABELS = {"precision_at_k": "precision@10", "auc": "AUC"}


def _require_staff(request: HttpRequest) -> None:
    if request.user.is_staff:
        return
    if not ShopMember.objects.filter(user=request.user, is_active=True).exists():
        raise PermissionDenied


def _chart(version: ModelVersion) -> list[dict[str, Any]]:
    """Per regime: one bar per ranker on the metric that chooses what is served (SVG drawn in the template)."""
    regimes = []
    for regime, rankers in (version.metrics or {}).items():
        metric = SELECTION_METRIC.get(regime, "auc")
        rows = []
        for name, values in rankers.items():
            value = values.get(metric)
            label = f"served: {values.get('served_name')}" if name == "served" else name
            rows.append({"name": label, "value": value, "served": name == "served"})
        top = max([r["value"] for r in rows if r["value"] is not None] or [1.0]) or 1.0
        for n, row in enumerate(rows):
            row["width"] = round(300 * (row["value"] or 0) / top, 1)
            row["y"] = n * 26
        zh, en = REGIME_LABELS.get(regime, (regime, regime))
        regimes.append(
            {
                "regime": regime,
                "label_zh": zh,
                "label_en": en,
                "metric": METRIC_LABELS.get(metric, metric),
                "rows": rows,
                "height": len(rows) * 26,
                "served": (version.served or {}).get(regime, {}),
            }
        )
    return regimes


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
    context = {
        "serving": serving,
        "latest": latest,
        "versions": versions,
        "chart": _chart(serving) if serving else [],
        "can_train": request.user.is_staff,
        "status": _status(latest),
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
