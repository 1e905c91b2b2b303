"""Co-design rounds (共创): an owner offers option combinations, fans vote with a refundable deposit, and
at the deadline every combination that reached its target becomes a group campaign with its voters
pre-pledged (c2m.design.services)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fans.chat.models import Fan
from preorders.models import Campaign, Pledge
from shops.models import Factory, Product, Shop, Variant

MONEY = {"max_digits": 12, "decimal_places": 2}


class RoundStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Voting")
    DECIDING = "deciding", _("Counting the votes")  # the decide step started; it finishes on a rerun
    DECIDED = "decided", _("Decided")
    CANCELLED = "cancelled", _("Cancelled")


class DesignRound(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="design_rounds")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="design_rounds")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # {attribute: [option, ...]}: 1-3 attributes, 2-6 distinct options each (c2m.design.rules).
    attributes = models.JSONField(_("attributes"))
    # The attribute names in the owner's order (a JSON object's key order is not kept by PostgreSQL).
    attribute_order = models.JSONField(default=list)
    target_per_combination = models.PositiveIntegerField(_("votes needed per combination"))
    vote_deposit = models.DecimalField(_("vote deposit"), **MONEY)
    deadline = models.DateTimeField(_("voting deadline"))
    status = models.CharField(max_length=16, choices=RoundStatus.choices, default=RoundStatus.DRAFT)
    # The campaigns made from the winners: their deposit share and how long they run.
    campaign_deposit_percent = models.DecimalField(
        _("campaign deposit %"), max_digits=5, decimal_places=2, default=20
    )
    campaign_days = models.PositiveIntegerField(_("campaign length (days)"), default=14)
    factory = models.ForeignKey(
        Factory,
        verbose_name=_("factory"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="design_rounds",
    )
    factory_assigned_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("design round")
        verbose_name_plural = _("design rounds")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RoundStatus.values), name="designround_status"),
            models.CheckConstraint(condition=Q(target_per_combination__gte=1), name="designround_target"),
            models.CheckConstraint(condition=Q(vote_deposit__gt=0), name="designround_deposit_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="designround_due"),
            models.Index(fields=["shop", "-created_at"], name="designround_shop_recent"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def ordered_attributes(self) -> dict[str, list[str]]:
        """{attribute: [option, ...]} in the order the owner gave them."""
        names = [n for n in self.attribute_order if n in self.attributes]
        names += sorted(n for n in self.attributes if n not in names)
        return {n: self.attributes[n] for n in names}


class VoteStatus(models.TextChoices):
    PENDING = "pending", _("Paying the vote deposit")
    HELD = "held", _("Deposit held")
    CONVERTED = "converted", _("Counted toward a pledge")
    REFUNDED = "refunded", _("Refunded")
    FAILED = "failed", _("Payment failed")


# A fan's live vote in a round: at most one at a time (a failed one frees the place).
LIVE_VOTE_STATUSES = (VoteStatus.PENDING, VoteStatus.HELD, VoteStatus.CONVERTED, VoteStatus.REFUNDED)


class DesignVote(models.Model):
    """A fan's vote: one per round, movable to another combination while the round is live (no second
    deposit). The deposit is a payments.Payment of purpose "design_vote" (reference `charge_reference`)."""

    round = models.ForeignKey(DesignRound, on_delete=models.CASCADE, related_name="votes")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="design_votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # {attribute: option} with every attribute of the round, keys sorted (rules.combination_clean)
    combination = models.JSONField()
    combination_key = models.CharField(max_length=400)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=16, choices=VoteStatus.choices, default=VoteStatus.PENDING)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("design vote")
        verbose_name_plural = _("design votes")
        constraints = [
            models.UniqueConstraint(
                fields=["round", "fan"],
                condition=Q(status__in=LIVE_VOTE_STATUSES),
                name="designvote_one_per_fan",
            ),
            models.CheckConstraint(condition=Q(status__in=VoteStatus.values), name="designvote_status"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="designvote_amount_positive"),
        ]
        indexes = [models.Index(fields=["round", "status", "combination_key"], name="designvote_tally")]

    def __str__(self) -> str:
        return f"vote {self.pk} on {self.round_id}: {self.combination_key}"

    @property
    def charge_reference(self) -> str:
        return f"design-vote-{self.pk}-charge"


class DesignVoteKey(models.Model):
    """Idempotency-Key of a vote request: unique per (user, key); a retry gets the stored answer."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    vote = models.ForeignKey(DesignVote, null=True, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="designvotekey_unique")]

    def __str__(self) -> str:
        return self.key


class DesignWinner(models.Model):
    """A combination that reached its target, and the campaign made from it (once: unique key)."""

    round = models.ForeignKey(DesignRound, on_delete=models.CASCADE, related_name="winners")
    combination = models.JSONField()
    combination_key = models.CharField(max_length=400)
    votes = models.PositiveIntegerField()
    variant = models.ForeignKey(Variant, null=True, on_delete=models.PROTECT, related_name="+")
    campaign = models.OneToOneField(
        Campaign, null=True, on_delete=models.SET_NULL, related_name="design_winner"
    )

    class Meta:
        verbose_name = _("winning combination")
        verbose_name_plural = _("winning combinations")
        constraints = [
            models.UniqueConstraint(fields=["round", "combination_key"], name="designwinner_unique"),
        ]

    def __str__(self) -> str:
        return self.combination_key


class PrePledgeStatus(models.TextChoices):
    OFFERED = "offered", _("Waiting for your confirmation")
    CONFIRMED = "confirmed", _("Confirmed")
    LAPSED = "lapsed", _("Not confirmed in time: refunded")
    DECLINED = "declined", _("Declined: refunded")


class DesignPrePledge(models.Model):
    """A winning voter's place in the campaign: 48 h to confirm (the vote deposit counts toward the
    campaign deposit) or the vote deposit is refunded."""

    vote = models.OneToOneField(DesignVote, on_delete=models.CASCADE, related_name="pre_pledge")
    winner = models.ForeignKey(DesignWinner, on_delete=models.CASCADE, related_name="pre_pledges")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="design_pre_pledges")
    status = models.CharField(max_length=16, choices=PrePledgeStatus.choices, default=PrePledgeStatus.OFFERED)
    expires_at = models.DateTimeField()
    pledge = models.OneToOneField(
        Pledge, null=True, blank=True, on_delete=models.SET_NULL, related_name="design_pre_pledge"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pre-pledge")
        verbose_name_plural = _("pre-pledges")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PrePledgeStatus.values), name="prepledge_status"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="prepledge_due")]

    def __str__(self) -> str:
        return f"pre-pledge {self.pk} ({self.status})"


class DesignComment(models.Model):
    round = models.ForeignKey(DesignRound, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    fan = models.ForeignKey(Fan, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    is_staff = models.BooleanField(default=False)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("design comment")
        verbose_name_plural = _("design comments")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["round", "created_at"], name="designcomment_round")]

    def __str__(self) -> str:
        return self.text[:40]
