import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from preorders import services
from preorders.models import (
    AfterSalesRequest,
    BoxItem,
    Campaign,
    FactoryOrder,
    FactoryOrderLine,
    FactoryOrderSource,
    FactoryOrderStatus,
    LedgerEntry,
    Pledge,
    RetentionOffer,
    Review,
    Shipment,
    ShipmentItem,
    SubscriptionCycle,
    Tier,
)
from preorders.services import fulfilment
from preorders.services.campaigns import deadline_clean, money_terms_clean


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0


class ReadOnlyTierInline(admin.TabularInline):
    model = Tier
    extra = 0
    can_delete = False
    readonly_fields = ["min_quantity", "unit_price"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class BoxItemInline(admin.TabularInline):
    """A subscription's fruit box stays editable while it runs (the owner's box page does the same)."""

    model = BoxItem
    extra = 0
    fields = ["name", "unit_price", "ripen_days", "quantity", "is_default", "position"]


class CampaignAdminForm(forms.ModelForm):
    """Drafts are editable here: the deadline gets the same check as campaign_create, before the save."""

    def clean_deadline(self) -> dt.datetime:
        deadline = self.cleaned_data["deadline"]
        if self.instance.pk and "deadline" not in self.changed_data:
            return deadline  # other fields of an old draft stay editable; launching re-checks the date
        try:
            return deadline_clean(deadline)
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None

    def clean(self) -> dict[str, Any]:
        """The money terms get campaign_create's rules and defaults: a balance deadline for a group
        campaign below a 100% deposit, ship_by after it (empty: the service's default)."""
        cleaned = super().clean()
        kind, deadline, percent = (cleaned.get(k) for k in ("kind", "deadline", "deposit_percent"))
        if kind is None or deadline is None or percent is None:
            return cleaned  # a field error is shown already
        factory_product = cleaned.get("factory_product")
        try:
            terms = money_terms_clean(
                kind=kind,
                deadline=deadline,
                deposit_percent=percent,
                lead_time_days=factory_product.lead_time_days if factory_product else 0,
                balance_deadline=cleaned.get("balance_deadline"),
                lapse_rule=cleaned.get("lapse_rule"),
                ship_by=cleaned.get("ship_by"),
                late_compensation_percent=cleaned.get("late_compensation_percent"),
            )
        except DomainError as exc:
            field = next((f for f in MONEY_TERM_FIELDS if exc.code.startswith(f)), None)
            self.add_error(field, forms.ValidationError(exc.message, code=exc.code))
            return cleaned
        cleaned.update(terms)
        return cleaned


# The money-term fields, by the prefix of the codes money_terms_clean raises for each.
MONEY_TERM_FIELDS = ("balance_deadline", "lapse_rule", "ship_by", "late_compensation_percent")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = [
        "id",
        "title",
        "shop",
        "kind",
        "status",
        "committed_quantity",
        "target_quantity",
        "cap",
        "deadline",
        "balance_deadline",
        "ship_by",
        "closed_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["title", "shop__name"]
    raw_id_fields = ["shop", "product", "factory_product", "created_by"]
    readonly_fields = [
        "committed_quantity",
        "final_unit_price",
        "launched_at",
        "decided_at",
        "closed_at",
        "balance_reminded",
        "lapsed_at",
        "moq_shortfall",
        "moq_decision",
        "original_deadline",
        "closed_early_at",
        "extended_at",
        "cancelled_at",
        "cancel_reason",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "shop",
                    "product",
                    "factory_product",
                    "kind",
                    "title",
                    "status",
                    "target_quantity",
                    "cap",
                    "deadline",
                    "deposit_percent",
                    "per_fan_limit",
                    "base_unit_price",
                    "currency",
                    "cadence",
                    "cycles",
                    "cutoff_hours",
                    "created_by",
                ]
            },
        ),
        (
            _("Balance and shipping"),
            {"fields": ["balance_deadline", "lapse_rule", "ship_by", "late_compensation_percent"]},
        ),
        (
            _("Progress"),
            {
                "fields": [
                    "committed_quantity",
                    "final_unit_price",
                    "launched_at",
                    "decided_at",
                    "closed_at",
                    "balance_reminded",
                    "lapsed_at",
                    "moq_shortfall",
                    "moq_decision",
                    # The owner's controls (preorders.services.campaign_manage).
                    "original_deadline",
                    "closed_early_at",
                    "extended_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            },
        ),
    ]
    inlines = [TierInline]
    actions = ["close_now"]

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        # Goal, tiers and deadline lock at launch, in the admin too.
        if obj is not None and obj.status != "draft":
            return [f.name for f in Campaign._meta.fields]
        return self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Campaign | None = None) -> list:
        tiers = TierInline if obj is None or obj.status == "draft" else ReadOnlyTierInline
        return [tiers, BoxItemInline] if obj is not None and obj.kind == "subscription" else [tiers]

    @admin.action(description="Close due campaigns now (idempotent)")
    def close_now(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            status = services.campaign_close(campaign_id=campaign.pk)
            self.message_user(request, f"{campaign}: {status}")


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "amount", "currency", "reference", "provider_id", "note", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Pledge)
class PledgeAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "campaign",
        "fan",
        "sku",
        "quantity",
        "unit_price",
        "deposit_amount",
        "status",
        "final_unit_price",
        "balance_due",
    ]
    list_filter = ["status"]
    search_fields = ["sku", "fan__display_name"]
    raw_id_fields = ["campaign", "fan", "user", "variant"]
    readonly_fields = [f.name for f in Pledge._meta.fields]
    inlines = [LedgerInline]


@admin.register(RetentionOffer)
class RetentionOfferAdmin(admin.ModelAdmin):
    """Why fans tried to cancel a subscription, the offer they met and what they chose (read-only)."""

    list_display = ["id", "pledge", "reason", "offer", "outcome", "created_at", "decided_at"]
    list_filter = ["reason", "offer", "outcome"]
    raw_id_fields = ["pledge"]
    readonly_fields = [f.name for f in RetentionOffer._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SubscriptionCycle)
class SubscriptionCycleAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "number", "delivery_at", "cutoff_at", "status", "quantity"]
    list_filter = ["status"]
    raw_id_fields = ["campaign"]


class FactoryOrderLineInline(admin.TabularInline):
    model = FactoryOrderLine
    extra = 0
    readonly_fields = ["sku", "name", "factory_variant", "quantity", "deposits", "value"]
    can_delete = False


class FactoryOrderSourceInline(admin.TabularInline):
    model = FactoryOrderSource
    extra = 0
    readonly_fields = ["campaign", "cycle"]
    can_delete = False


def _transition_action(target: str, label: str):
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[FactoryOrder]) -> None:
        for order in queryset.order_by("pk"):
            try:
                services.factory_order_transition(order_id=order.pk, status=target, actor=request.user)
            except DomainError as exc:
                modeladmin.message_user(request, f"FO-{order.pk}: {exc.message}", level=messages.ERROR)

    action.__name__ = f"mark_{target}"
    return admin.action(description=label)(action)


@admin.register(FactoryOrder)
class FactoryOrderAdmin(admin.ModelAdmin):
    list_display = ["id", "factory_product", "window_start", "cycle", "status", "created_at", "links"]
    list_filter = ["status", "factory_product__factory"]
    readonly_fields = ["factory_product", "window_start", "cycle", "status", "currency", "links"]
    inlines = [FactoryOrderLineInline, FactoryOrderSourceInline]
    actions = [
        _transition_action(FactoryOrderStatus.SENT, "Mark sent to the factory"),
        _transition_action(FactoryOrderStatus.CONFIRMED, "Mark confirmed by the factory"),
        _transition_action(FactoryOrderStatus.IN_PRODUCTION, "Mark in production"),
        _transition_action(FactoryOrderStatus.SHIPPED, "Mark shipped"),
        _transition_action(FactoryOrderStatus.DELIVERED, "Mark delivered"),
        _transition_action(FactoryOrderStatus.CANCELLED, "Cancel and refund deposits"),
    ]

    @admin.display(description="export")
    def links(self, obj: FactoryOrder) -> str:
        try:
            return format_html(
                '<a href="{}">CSV</a> · <a href="{}" target="_blank">Print</a>',
                reverse("factory-order-csv", args=[obj.pk]),
                reverse("factory-order-print", args=[obj.pk]),
            )
        except NoReverseMatch:  # preorders.urls not wired yet
            return "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from roll-ups only


# --- fulfilment ------------------------------------------------------------------------------------------


class ShipmentItemInline(admin.TabularInline):
    model = ShipmentItem
    extra = 0
    can_delete = False
    fields = ["pledge", "quantity", "lost"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Read-mostly: parcels are recorded through the API, the board or a CSV; the admin can mark them."""

    list_display = [
        "id",
        "factory_order",
        "fan",
        "carrier",
        "tracking_number",
        "status",
        "shipped_at",
        "confirmed_at",
    ]
    list_filter = ["status", "confirmed_by"]
    search_fields = ["tracking_number"]
    readonly_fields = [f.name for f in Shipment._meta.fields]
    inlines = [ShipmentItemInline]
    actions = ["mark_delivered", "mark_lost"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _each(self, request: HttpRequest, queryset: QuerySet[Shipment], step) -> None:
        for shipment in queryset.order_by("pk"):
            try:
                step(shipment_id=shipment.pk)
            except DomainError as exc:
                self.message_user(request, f"{shipment}: {exc.message}", level=messages.ERROR)

    @admin.action(description="Mark delivered")
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        self._each(request, queryset, fulfilment.shipment_deliver)

    @admin.action(description="Mark lost")
    def mark_lost(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        self._each(request, queryset, fulfilment.shipment_lose)


@admin.register(AfterSalesRequest)
class AfterSalesRequestAdmin(admin.ModelAdmin):
    """Read-only: the shop decides on its after-sales page."""

    list_display = ["id", "pledge", "kind", "amount", "status", "created_at", "decided_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [f.name for f in AfterSalesRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Moderation of fans' reviews: hide an abusive one (it leaves the lists, averages and photos)."""

    list_display = ("pk", "product", "stars", "text", "hidden", "reply", "created_at")
    list_filter = ("hidden", "stars")
    search_fields = ("text", "reply")
    raw_id_fields = ("pledge", "product", "replied_by")
    actions = ["hide", "show"]

    @admin.action(description=_("Hide the selected reviews"))
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        from preorders.services.reviews import review_hide

        review_hide(review_ids=queryset.values_list("pk", flat=True), hidden=True)

    @admin.action(description=_("Show the selected reviews again"))
    def show(self, request: HttpRequest, queryset: QuerySet) -> None:
        from preorders.services.reviews import review_hide

        review_hide(review_ids=queryset.values_list("pk", flat=True), hidden=False)


# 工厂优选: the scorecards (read-only, recomputed on demand), and the demand-board links (revoke or reissue,
# issue 17), register in their own modules.
from preorders import admin_board_links, admin_scorecards  # noqa: E402, F401
