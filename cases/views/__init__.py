"""Case views, one module per screen area; ``cases/urls.py`` names them all, with the views
of the enforcement and evidence packages (``cases.enforcement.views``, ``cases.evidence.views``)."""

from cases.views.accounts import case_account_add_view, case_account_remove_view
from cases.views.actions import (
    case_assign,
    case_merge,
    case_priority,
    case_status,
    case_tag_add,
    case_tag_remove,
)
from cases.views.case import (
    case_accounts,
    case_detail,
    case_summary_view,
    case_timeline_view,
    case_why,
)
from cases.views.exports import case_export, export_detail, export_download, queue_export
from cases.views.notes import (
    case_notes,
    note_edit_view,
    note_history,
    notification_list,
    notification_mark_read,
)
from cases.views.palette import palette
from cases.views.queue import case_bulk, case_queue, case_step
from cases.views.saved_views import saved_view_delete_view, saved_view_edit, saved_view_new

__all__ = [
    "case_account_add_view",
    "case_account_remove_view",
    "case_accounts",
    "case_assign",
    "case_bulk",
    "case_detail",
    "case_export",
    "case_merge",
    "case_notes",
    "case_priority",
    "case_queue",
    "case_status",
    "case_step",
    "case_summary_view",
    "case_tag_add",
    "case_tag_remove",
    "case_timeline_view",
    "case_why",
    "export_detail",
    "export_download",
    "note_edit_view",
    "note_history",
    "notification_list",
    "notification_mark_read",
    "palette",
    "queue_export",
    "saved_view_delete_view",
    "saved_view_edit",
    "saved_view_new",
]
