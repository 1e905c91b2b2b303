"""The factory scorecards (工厂优选) in the admin: read-only (computed from data, never typed in), with an
action to recompute them all now instead of waiting for the hourly beat."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from preorders.models import FactoryScorecard
from preorders.scorecards import scorecards_recompute


@admin.register(FactoryScorecard)
class FactoryScorecardAdmin(admin.ModelAdmin):
    list_display = [
        "factory",
        "score",
        "on_time_rate",
        "refund_rate",
        "late_compensations",
        "fulfilled_orders",
        "reviews_avg",
        "rating_score",
        "computed_at",
    ]
    list_filter = ["factory__category"]
    search_fields = ["factory__name"]
    ordering = ["-score"]
    actions = ["recompute_all"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: FactoryScorecard | None = None) -> bool:
        return False

    @admin.action(description=_("Recompute every factory scorecard now"))
    def recompute_all(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = scorecards_recompute()
        self.message_user(
            request,
            ngettext("%(n)d scorecard recomputed.", "%(n)d scorecards recomputed.", n) % {"n": n},
            messages.SUCCESS,
        )
