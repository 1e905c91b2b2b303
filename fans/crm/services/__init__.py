"""Every CRM write, by concern; callers may import the module they need or this package."""

from fans.crm.services.common import (
    BATCH,
    audit,
    fans_by_ids,
    selection_clean,
    selection_count,
    selection_queryset,
    tag_strings_by_id,
)
from fans.crm.services.fans import (
    fan_notes_update,
    fan_personalisation_set,
    fan_tags_erase,
    fan_tags_update,
    segment_create,
    segment_delete,
    tag_group_create,
)
from fans.crm.services.import_check import import_check
from fans.crm.services.imports import (
    IMPORT_CHECKING,
    IMPORT_INLINE_BYTES,
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ERRORS,
    import_apply,
    import_cancel,
    import_confirm,
    import_preview,
    import_progress,
    import_progress_key,
)
from fans.crm.services.jobs import (
    EXPORT_HEADER,
    bulk_job_cancel,
    bulk_job_create,
    bulk_job_run,
    fan_export_rows,
    jobs_sweep,
)
from fans.crm.services.tagging import (
    fan_tag_ids_refresh,
    fan_tags_bulk_add,
    fan_tags_bulk_remove,
    fan_tags_change,
    source_for,
)
from fans.crm.services.team import staff_handover

__all__ = [
    "BATCH",
    "audit",
    "selection_clean",
    "fans_by_ids",
    "selection_queryset",
    "selection_count",
    "tag_strings_by_id",
    "source_for",
    "fan_tag_ids_refresh",
    "fan_tags_change",
    "fan_tags_bulk_add",
    "fan_tags_bulk_remove",
    "fan_tags_update",
    "fan_notes_update",
    "segment_create",
    "segment_delete",
    "fan_personalisation_set",
    "fan_tags_erase",
    "tag_group_create",
    "EXPORT_HEADER",
    "bulk_job_create",
    "bulk_job_cancel",
    "bulk_job_run",
    "fan_export_rows",
    "jobs_sweep",
    "IMPORT_MAX_BYTES",
    "IMPORT_MAX_ERRORS",
    "import_preview",
    "import_check",
    "IMPORT_CHECKING",
    "IMPORT_INLINE_BYTES",
    "import_confirm",
    "import_cancel",
    "import_progress",
    "import_progress_key",
    "import_apply",
    "staff_handover",
]
