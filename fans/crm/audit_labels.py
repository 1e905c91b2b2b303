"""What each audit-log action code reads as, in the UI language. The code stays the record (and its own
column); a higher app whose services write audit entries registers its labels in AppConfig.ready()."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.hooks import Registry

AUDIT_ACTIONS = {
    "bulk.add_tags": gettext_noop("Bulk: added tags"),
    "bulk.remove_tags": gettext_noop("Bulk: removed tags"),
    "bulk.assign": gettext_noop("Bulk: assigned fans"),
    "bulk.export": gettext_noop("Bulk: exported CSV"),
    "import": gettext_noop("CSV import"),
    "team.handover": gettext_noop("Handed over fans"),
    "privacy.tags_erased": gettext_noop("A fan erased their tags"),
    "privacy.personalisation_off": gettext_noop("A fan turned personalised recommendations off"),
    "privacy.personalisation_on": gettext_noop("A fan turned personalised recommendations on"),
    "tag_group.create": gettext_noop("Created a tag group"),
    "lifecycle.settings": gettext_noop("Changed the lifecycle thresholds"),
    "broadcast.create": gettext_noop("Sent a broadcast"),
    "broadcast.cancel": gettext_noop("Stopped a broadcast"),
    "broadcast.schedule": gettext_noop("Scheduled a broadcast to skipped fans"),
}

# code -> untranslated label (gettext_noop), for actions of higher apps
audit_labels: Registry[str] = Registry("crm.audit_labels")


def audit_action_label(code: str) -> str:
    """The action's label in the active language; an unknown code reads as "Other action", never raw."""
    label = AUDIT_ACTIONS.get(code) or audit_labels.get(code)
    return _(label) if label else _("Other action")
