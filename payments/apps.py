from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """The payment provider interface, the simulated provider, webhooks and the double-entry ledger."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = _("Payments and ledger")
