"""Fan CRM: the tag vocabulary, tag assignments with history, segments, bulk jobs, imports, audit."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.jobs import JobStatus
from fans.chat.models import Fan
from shops.models import Shop

__all__ = ["JobStatus"]  # defined with the job lease in core.jobs; the CRM's and the bot's jobs share it


class TagChoice(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTI = "multi", _("Multiple choice")


class TagSource(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")
    IMPORT = "import", _("Import")
    RULE = "rule", _("Rule")
    BOT = "bot", _("Bot")
    FAN = "fan", _("Fan (privacy request)")
    # Computed by the platform (the nightly lifecycle tags, fans.crm.lifecycle): never added or removed by hand.
    SYSTEM = "system", _("System")


class LocalizedName(models.Model):
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "zh-hans").startswith("en") else self.name_zh


class TagGroup(LocalizedName):
    """E.g. 肤质 skin type. Platform-standard when `shop` is null, else private to one shop."""

    code = models.SlugField(max_length=40)
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="tag_groups")
    scope = models.CharField(_("category scope"), max_length=32, default="all")
    choice = models.CharField(max_length=8, choices=TagChoice.choices, default=TagChoice.MULTI)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_taggroup"
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(shop__isnull=True), name="taggroup_platform_code"
            ),
            models.UniqueConstraint(fields=["shop", "code"], name="taggroup_shop_code"),
            models.CheckConstraint(condition=Q(choice__in=TagChoice.values), name="taggroup_choice_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class Tag(LocalizedName):
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="tags")
    code = models.SlugField(max_length=40)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_tag"
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["group_id", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["group", "code"], name="tag_unique_code")]

    def __str__(self) -> str:
        return f"{self.group.code}:{self.code}"


class FanTag(models.Model):
    """A tag a shop holds on one of its fans."""

    # No single-column indexes: fantag_unique (fan, tag) and fantag_tag_fan (tag, fan) lead with these columns,
    # and every bulk insert paid for two more index entries a row.
    # No database foreign key to the fan, as on FanTagEvent: its per-row check at COMMIT (~30 us a row, and a
    # FOR KEY SHARE lock rewriting every fan row's header) was a quarter of the first lifecycle run for 1M fans
    # (bench/lifecycle.py). Fans are never deleted by raw SQL; Django's collector still cascades a fan's
    # deletion, and every writer inserts from rows it has just read (tests/fans/crm/test_fantag_integrity.py).
    fan = models.ForeignKey(
        Fan, on_delete=models.CASCADE, related_name="fan_tags", db_index=False, db_constraint=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="fan_tags", db_index=False)
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="+")
    # Copied from the group so the database can enforce "one value per single-choice group".
    single = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=TagSource.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_fantag"
        verbose_name = _("fan tag")
        verbose_name_plural = _("fan tags")
        constraints = [
            models.UniqueConstraint(fields=["fan", "tag"], name="fantag_unique"),
            models.UniqueConstraint(
                fields=["fan", "group"], condition=Q(single=True), name="fantag_single_choice"
            ),
            models.CheckConstraint(condition=Q(source__in=TagSource.values), name="fantag_source_valid"),
        ]
        indexes = [models.Index(fields=["tag", "fan"], name="fantag_tag_fan")]

    def __str__(self) -> str:
        return f"{self.fan_id}:{self.tag_id}"


class FanTagSet(models.Model):
    """The ids of the tags one fan holds, on a narrow row that segment queries on PostgreSQL scan.

    Kept by fans.services.tagging in the same transaction as FanTag; a fan without a row holds no tags. An
    intarray GIN index finds the rows holding all-of/any-of tags (`@>`, `&&`), and a (shop, joined_at, fan) index that
    includes the tags walks the fan list's first page without reading the table (migration 0011, bench/crm.py).
    The row is a fraction of a Fan row, so counting a large segment reads a few thousand pages, not the fans.
    """

    fan = models.OneToOneField(Fan, primary_key=True, on_delete=models.CASCADE, related_name="+")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    joined_at = models.DateTimeField()  # Fan.joined_at, which never changes: the fan list's default order
    tags = ArrayField(models.IntegerField(), default=list, blank=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_fantagset"

    def __str__(self) -> str:
        return f"{self.fan_id}: {self.tags}"


class FanTagEvent(models.Model):
    """Tag history: every add and remove, so freshness can be shown and changes audited.

    An append-only log written 100k rows at a time by bulk jobs: its references carry no database foreign key
    (the per-row checks at commit cost more than the writes, bench/crm.py); Django still cascades deletes.
    """

    ADD, REMOVE = "add", "remove"
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="tag_events", db_constraint=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    action = models.CharField(max_length=8, choices=[(ADD, ADD), (REMOVE, REMOVE)])
    source = models.CharField(max_length=8, choices=TagSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_fantagevent"
        indexes = [models.Index(fields=["fan", "-created_at"], name="fantagevent_fan_time")]

    def __str__(self) -> str:
        return f"{self.action} {self.tag_id} on {self.fan_id}"


class Segment(models.Model):
    """A saved, named fan filter (分群); its count is always computed live."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(_("name"), max_length=100)
    filter = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_segment"
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name


class BulkJob(models.Model):
    ADD_TAGS, REMOVE_TAGS, ASSIGN, EXPORT = "add_tags", "remove_tags", "assign", "export"
    ACTIONS = [
        (ADD_TAGS, _("Add tags")),
        (REMOVE_TAGS, _("Remove tags")),
        (ASSIGN, _("Assign to staff")),
        (EXPORT, _("Export CSV")),
    ]

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="bulk_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=ACTIONS)
    params = models.JSONField(default=dict)
    selection = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # The worker's lease (core.jobs): renewed with every batch; for a queued job, when it was last dispatched.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The last fan of the last committed batch: a run that lost its worker resumes after it.
    last_fan_id = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="exports/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_bulkjob"
        indexes = [
            models.Index(
                fields=["status", "heartbeat_at"],
                condition=Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
                name="bulkjob_unfinished",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=models.F("total")), name="bulkjob_processed_le_total"
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="bulkjob_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        return round(self.processed / self.total, 4) if self.total else 0.0


class ImportJob(models.Model):
    """A CSV import: parsed and checked into a preview first, applied in one transaction on confirm."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to="imports/")
    encoding = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=10, default="preview")
    total = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # Whose role the import is applied with (shops.roles): the person who confirmed it.
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_requested = models.BooleanField(default=False)
    # The worker's lease (core.jobs); for a queued import, when it was last dispatched.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_importjob"
        indexes = [
            models.Index(
                fields=["status", "heartbeat_at"],
                condition=Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
                name="importjob_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        """Outside a run (which reports finer progress through the cache): all or nothing, as it applies."""
        return 1.0 if self.status == "succeeded" else 0.0


class AuditLog(models.Model):
    """Who did what to how many fans, and when."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="audit_log")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_auditlog"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["shop", "-created_at"], name="audit_shop_time")]

    def __str__(self) -> str:
        return f"{self.action} x{self.count}"


# The platform tag group of the automatic lifecycle tags (fans.crm.lifecycle). Codes are an interface: journeys
# trigger on a FanTagEvent(action=add, source=system) of lifecycle:lapsed.
LIFECYCLE_GROUP = "lifecycle"
LIFECYCLE_STAGES = ("new", "active", "at_risk", "lapsed")  # exactly one of these per fan
LIFECYCLE_VIP = "vip"  # top spenders; may coexist with a stage
SYSTEM_GROUPS = (LIFECYCLE_GROUP,)


class LifecycleSettings(models.Model):
    """One shop's lifecycle thresholds (RFM) and the last nightly computation's outcome."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="lifecycle_settings")
    new_days = models.PositiveSmallIntegerField(_("new for (days after joining)"), default=14)
    at_risk_after_days = models.PositiveSmallIntegerField(
        _("at risk after (days without activity)"), default=45
    )
    lapsed_after_days = models.PositiveSmallIntegerField(
        _("lapsed after (days without activity)"), default=90
    )
    vip_percentile = models.PositiveSmallIntegerField(_("VIP: top percent by 12-month spend"), default=10)
    computed_at = models.DateTimeField(null=True, blank=True)
    # {"counts": {tag code: fans}, "added": n, "removed": n, "seconds": s}
    result = models.JSONField(default=dict, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)  # "recompute now", until a run finishes
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lifecycle settings")
        verbose_name_plural = _("lifecycle settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(at_risk_after_days__lt=models.F("lapsed_after_days")),
                name="lifecycle_at_risk_lt_lapsed",
            ),
            models.CheckConstraint(
                condition=Q(vip_percentile__gte=1, vip_percentile__lte=50),
                name="lifecycle_vip_percentile_range",
            ),
        ]

    def __str__(self) -> str:
        return f"lifecycle settings of shop {self.shop_id}"
