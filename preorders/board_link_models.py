"""The factory's signed demand-board link: which generation of the link is current, and whether the platform
revoked it. The link itself is a timestamped signature (preorders.board_links); it names its generation, so
issuing a new link (the generation goes up) invalidates every older one, and a revoked link works no more."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Factory


class BoardLink(models.Model):
    factory = models.OneToOneField(Factory, on_delete=models.CASCADE, related_name="board_link")
    generation = models.PositiveIntegerField(_("generation"), default=1)
    issued_at = models.DateTimeField(_("issued at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("demand-board link")
        verbose_name_plural = _("demand-board links")

    def __str__(self) -> str:
        return f"{self.factory} #{self.generation}"
