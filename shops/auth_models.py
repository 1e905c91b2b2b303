"""Phone sign-in: the one-time codes sent by SMS, and the phone number each account signs in with."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PhoneAccount(models.Model):
    """The account a (normalised, mainland) phone number signs in to; one account per number."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_account"
    )
    phone = models.CharField(_("phone number"), max_length=20, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("phone account")
        verbose_name_plural = _("phone accounts")

    def __str__(self) -> str:
        return self.phone


class PhoneCode(models.Model):
    """A one-time code sent to a phone. Only its hash is kept; the newest unused code is the live one."""

    phone = models.CharField(max_length=20)
    code_hash = models.CharField(max_length=128)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("phone code")
        verbose_name_plural = _("phone codes")
        indexes = [
            models.Index(fields=["phone", "created_at"], name="phonecode_phone_created"),
            models.Index(fields=["ip", "created_at"], name="phonecode_ip_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="phonecode_expiry_after"
            )
        ]

    def __str__(self) -> str:
        return f"{self.phone} @ {self.created_at:%Y-%m-%d %H:%M}"
