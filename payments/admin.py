from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from payments.models import (
    LedgerLeg,
    LedgerTransaction,
    Payment,
    SimulatedTransaction,
    SimulatorRule,
    TransactionKind,
)

# Words for codes the admin would otherwise show raw (these columns have no choices of their own).
PURPOSE_LABELS = {"balance": TransactionKind.BALANCE.label, "cycle": TransactionKind.CYCLE_CHARGE.label}
SIM_KIND_LABELS = {"charge": _("Charge"), "refund": TransactionKind.REFUND.label}
SIM_STATUS_LABELS = {
    "pending": _("Pending"),
    "succeeded": _("Paid"),
    "declined": _("Declined"),
    "voided": _("Voided"),
}


class LegInline(admin.TabularInline):
    model = LedgerLeg
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(admin.ModelAdmin):
    """Read-only: the ledger is written by services only; a correction is a new transaction."""

    list_display = ["id", "kind", "amount", "currency", "campaign_id", "pledge_id", "reference", "created_at"]
    list_filter = ["kind"]
    search_fields = ["reference", "provider_id"]
    inlines = [LegInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "purpose_label",
        "amount",
        "status",
        "attempt",
        "pledge_id",
        "reference",
        "created_at",
    ]
    list_filter = ["purpose", "status"]
    search_fields = ["reference"]
    readonly_fields = [f.name for f in Payment._meta.fields]

    @admin.display(description=_("purpose"), ordering="purpose")
    def purpose_label(self, obj: Payment) -> str:
        return str(PURPOSE_LABELS.get(obj.purpose, obj.purpose))

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SimulatedTransaction)
class SimulatedTransactionAdmin(admin.ModelAdmin):
    list_display = ["provider_id", "kind_label", "amount", "status_label", "reference", "notified_at"]
    list_filter = ["kind", "status"]
    search_fields = ["reference", "provider_id"]

    @admin.display(description=_("kind"), ordering="kind")
    def kind_label(self, obj: SimulatedTransaction) -> str:
        return str(SIM_KIND_LABELS.get(obj.kind, obj.kind))

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: SimulatedTransaction) -> str:
        return str(SIM_STATUS_LABELS.get(obj.status, obj.status))


@admin.register(SimulatorRule)
class SimulatorRuleAdmin(admin.ModelAdmin):
    """Tell the simulated provider to decline, time out or succeed a fan's next charges."""

    list_display = ["user", "outcome", "times", "created_at"]
    raw_id_fields = ["user"]
