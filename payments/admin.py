from django.contrib import admin

from payments.models import LedgerLeg, LedgerTransaction, Payment, SimulatedTransaction, SimulatorRule


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
    list_display = ["id", "purpose", "amount", "status", "attempt", "pledge_id", "reference", "created_at"]
    list_filter = ["purpose", "status"]
    search_fields = ["reference"]
    readonly_fields = [f.name for f in Payment._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SimulatedTransaction)
class SimulatedTransactionAdmin(admin.ModelAdmin):
    list_display = ["provider_id", "kind", "amount", "status", "reference", "notified_at"]
    list_filter = ["kind", "status"]
    search_fields = ["reference", "provider_id"]


@admin.register(SimulatorRule)
class SimulatorRuleAdmin(admin.ModelAdmin):
    """Tell the simulated provider to decline, time out or succeed a fan's next charges."""

    list_display = ["user", "outcome", "times", "created_at"]
    raw_id_fields = ["user"]
