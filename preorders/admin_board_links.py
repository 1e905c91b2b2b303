"""Demand-board links in the admin: revoke a factory's link, or issue a new one (the old ones stop working)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from preorders.board_link_models import BoardLink
from preorders.board_links import board_link_revoke, board_link_rotate


@admin.register(BoardLink)
class BoardLinkAdmin(admin.ModelAdmin):
    list_display = ["factory", "generation", "issued_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["factory__name"]
    fields = ["factory"]
    actions = ["revoke", "rotate"]

    def has_change_permission(self, request: HttpRequest, obj: BoardLink | None = None) -> bool:
        return False  # generations and dates change only through the actions

    def save_model(self, request: HttpRequest, obj: BoardLink, form: object, change: bool) -> None:
        board_link_rotate(factory=obj.factory)  # adding one for a factory issues its link

    @admin.action(description=_("Revoke the selected board links"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[BoardLink]) -> None:
        n = board_link_revoke(factory_ids=list(queryset.values_list("factory_id", flat=True)))
        self.message_user(
            request, ngettext("%(n)d link revoked.", "%(n)d links revoked.", n) % {"n": n}, messages.SUCCESS
        )

    @admin.action(description=_("Issue new board links (the old ones stop working)"))
    def rotate(self, request: HttpRequest, queryset: QuerySet[BoardLink]) -> None:
        for link in queryset.select_related("factory"):
            board_link_rotate(factory=link.factory)
        self.message_user(
            request, _("New links issued; share them from the factory directory."), messages.SUCCESS
        )
