"""What each role on a shop's team may do to fans: one rule, asked by the CRM, chat and bot alike.

Owners and managers may do all of it. An assistant works fan by fan: they may tag and untag a fan, write its
notes, and take a conversation for themselves (or let it go). Over many fans at once, through a bulk job or a
CSV import, an assistant may only add: adding tags, and notes where a fan has none. Changes to many fans that
take away or replace what colleagues recorded (removing tags, overwriting notes, reassigning fans), exporting
the fan list, and acting on work a colleague started are for owners and managers.
"""

from enum import StrEnum

from django.utils.translation import gettext as _

from core.errors import Forbidden
from core.limits import MANAGING_ROLES
from shops.models import ShopMember


class BulkChange(StrEnum):
    """What a bulk job or an import does to many fans (the bulk job actions keep these names)."""

    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    ASSIGN = "assign"
    EXPORT = "export"
    OVERWRITE_NOTES = "overwrite_notes"


# Over many fans an assistant may only add to what colleagues recorded.
ASSISTANT_BULK_CHANGES = frozenset({BulkChange.ADD_TAGS})


def is_managing(member: ShopMember) -> bool:
    return member.role in MANAGING_ROLES


def require_managing(member: ShopMember, message: str | None = None) -> None:
    if not is_managing(member):
        raise Forbidden(message or _("Your role cannot do this."))


def may_change_in_bulk(member: ShopMember, change: BulkChange) -> bool:
    return change in ASSISTANT_BULK_CHANGES or is_managing(member)


def require_bulk_change(member: ShopMember, change: BulkChange) -> None:
    if may_change_in_bulk(member, change):
        return
    messages = {
        BulkChange.REMOVE_TAGS: _("Assistants cannot export or bulk-remove."),
        BulkChange.EXPORT: _("Assistants cannot export or bulk-remove."),
        BulkChange.ASSIGN: _("Only owners and managers assign fans."),
        BulkChange.OVERWRITE_NOTES: _("Only owners and managers overwrite the notes of many fans."),
    }
    raise Forbidden(messages.get(change), detail={"change": str(change)})


def may_assign(member: ShopMember, assignee_id: int | None) -> bool:
    """One fan or conversation: an assistant may take it for themselves, or let it go."""
    return is_managing(member) or assignee_id is None or assignee_id == member.user_id


def require_assign(member: ShopMember, assignee_id: int | None, message: str | None = None) -> None:
    if not may_assign(member, assignee_id):
        raise Forbidden(message or _("Assistants can only take conversations themselves."))


def may_act_on_work_of(member: ShopMember, creator_id: int | None) -> bool:
    """Confirm, cancel or delete what someone started (an import, a job, a segment): theirs, or a manager's."""
    return is_managing(member) or (creator_id is not None and creator_id == member.user_id)


def require_act_on_work_of(member: ShopMember, creator_id: int | None, message: str | None = None) -> None:
    if not may_act_on_work_of(member, creator_id):
        raise Forbidden(message or _("Your role cannot do this."))
