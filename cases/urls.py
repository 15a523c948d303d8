from django.urls import path

from cases import views
from cases.accounts import views as accounts
from cases.enforcement import views as enforcement
from cases.evidence import views as evidence
from cases.intel import views as intel

app_name = "cases"

urlpatterns = [
    # The queue and what acts on many cases.
    path("", views.case_queue, name="case_queue"),
    path("bulk/", views.case_bulk, name="case_bulk"),
    path("palette/", views.palette, name="palette"),
    path("views/new/", views.saved_view_new, name="saved_view_new"),
    path("views/<int:pk>/edit/", views.saved_view_edit, name="saved_view_edit"),
    path("views/<int:pk>/delete/", views.saved_view_delete_view, name="saved_view_delete"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/read/", views.notification_mark_read, name="notification_mark_read"),
    # One case: the page (its header for htmx) and its sections.
    path("<int:pk>/", views.case_detail, name="case_detail"),
    path("<int:pk>/step/", views.case_step, name="case_step"),
    path("<int:pk>/summary/", views.case_summary_view, name="case_summary"),
    path("<int:pk>/why/", views.case_why, name="case_why"),
    path("<int:pk>/accounts/", views.case_accounts, name="case_accounts"),
    path("<int:pk>/notes/", views.case_notes, name="case_notes"),
    path("<int:pk>/timeline/", views.case_timeline_view, name="case_timeline"),
    path("<int:pk>/related/", accounts.case_related, name="case_related"),
    path("<int:pk>/watch-list/", intel.case_intel, name="case_intel"),
    path("<int:pk>/indicators/", intel.case_indicators, name="case_indicators"),
    # One case: workflow actions (GET the form, POST to apply).
    path("<int:pk>/assign/", views.case_assign, name="case_assign"),
    path("<int:pk>/status/", views.case_status, name="case_status"),
    path("<int:pk>/priority/", views.case_priority, name="case_priority"),
    path("<int:pk>/tags/add/", views.case_tag_add, name="case_tag_add"),
    path("<int:pk>/tags/<slug:name>/remove/", views.case_tag_remove, name="case_tag_remove"),
    path("<int:pk>/merge/", views.case_merge, name="case_merge"),
    path("<int:pk>/accounts/add/", views.case_account_add_view, name="case_account_add"),
    path(
        "<int:pk>/accounts/<int:link_pk>/remove/",
        views.case_account_remove_view,
        name="case_account_remove",
    ),
    path("<int:pk>/notes/<int:note_pk>/edit/", views.note_edit_view, name="note_edit"),
    path("<int:pk>/notes/<int:note_pk>/history/", views.note_history, name="note_history"),
    # One case: evidence snapshots and their charts.
    path("<int:pk>/evidence/", evidence.case_evidence, name="case_evidence"),
    path("<int:pk>/evidence/charts/", evidence.case_charts, name="case_charts"),
    path("<int:pk>/evidence/refresh/", evidence.evidence_refresh, name="evidence_refresh"),
    path(
        "<int:pk>/evidence/<int:snapshot_pk>/status/",
        evidence.snapshot_status,
        name="snapshot_status",
    ),
    path(
        "<int:pk>/evidence/<int:snapshot_pk>/retry/", evidence.evidence_retry, name="evidence_retry"
    ),
    path("<int:pk>/evidence/prompts/<int:exchange_pk>/", evidence.prompt_text, name="prompt_text"),
    # Exports for managers and approvers: the queue's filter, one case, background ones.
    path("export/<str:fmt>/", views.queue_export, name="queue_export"),
    path("<int:pk>/export/<str:fmt>/", views.case_export, name="case_export"),
    path("exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    # Enforcement: proposals, four-eyes decisions, delivery, reversal, ban list.
    path("approvals/", enforcement.approval_queue, name="approval_queue"),
    path("ban-list.<str:fmt>", enforcement.ban_list, name="ban_list"),
    path("<int:pk>/enforcement/", enforcement.case_enforcement, name="case_enforcement"),
    path("<int:pk>/enforcement/propose/", enforcement.action_propose, name="action_propose"),
    path("<int:pk>/enforcement/<int:action_pk>/", enforcement.action_detail, name="action_detail"),
    path(
        "<int:pk>/enforcement/<int:action_pk>/decide/",
        enforcement.action_decide,
        name="action_decide",
    ),
    path(
        "<int:pk>/enforcement/<int:action_pk>/reverse/",
        enforcement.action_reverse,
        name="action_reverse",
    ),
    path(
        "<int:pk>/enforcement/deliveries/<int:message_pk>/retry/",
        enforcement.outbox_retry,
        name="outbox_retry",
    ),
]
