"""Structured enforcement: the policy, violation category and length a proposal must name, where
they travel (approval step, webhook payload, ban list, exports), and the notifications the
proposer gets at each step."""

import importlib
import pkgutil
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases.enforcement import banlist
from cases.enforcement.backends import DeliveryResult
from cases.enforcement.models import EnforcementAction, OutboxMessage, Policy, ViolationCategory
from cases.enforcement.services import action_decide, action_propose, outbox_deliver
from cases.models import AuditEvent, Notification
from cases.services.notifications import notification_email_send
from tests.cases.conftest import HOSTILE
from tests.factories import enforcement_terms, enforcement_terms_form

pytestmark = pytest.mark.django_db
A = EnforcementAction.Status


@pytest.fixture
def no_worker(monkeypatch):
    """Deliveries and mails are run by hand, so the test sees every step."""
    from cases.enforcement.tasks import deliver_outbox_message_task
    from cases.tasks import send_notification_email_task

    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)
    monkeypatch.setattr(send_notification_email_task, "apply_async", lambda *a, **kw: None)


def deliver_all(action) -> None:
    for pk in OutboxMessage.objects.filter(action=action).values_list("pk", flat=True):
        outbox_deliver(message_id=pk)


def _seed_terms():
    """The data migration's function, found by name (migrations get renumbered)."""
    import cases.migrations

    for info in pkgutil.iter_modules(cases.migrations.__path__):
        module = importlib.import_module(f"cases.migrations.{info.name}")
        if hasattr(module, "seed_terms"):
            return module.seed_terms
    raise AssertionError("no migration seeds the policies")


def test_the_migration_seeds_policies_and_categories_for_distillation():
    # A journey's flushed database may have emptied them: seed from nothing, twice.
    Policy.objects.all().delete()
    ViolationCategory.objects.all().delete()
    seed = _seed_terms()
    seed(django_apps, None)
    seed(django_apps, None)
    assert Policy.objects.active().filter(code="usage-distillation").count() == 1
    assert ViolationCategory.objects.active().filter(code="cot-elicitation").count() == 1
    assert Policy.objects.count() == 5 and ViolationCategory.objects.count() == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"policy": None}, "policy"),
        ({"category": None}, "violation category"),
        ({"kind": "suspend"}, "a suspension needs a length"),
        ({"duration_days": 0}, "whole number of days"),
        ({"duration_days": 4000}, "whole number of days"),
    ],
)
def test_a_proposal_must_name_its_terms(make_case, analyst, change, message):
    case = make_case(accounts=2)
    arguments = {**enforcement_terms(), "kind": "ban", "reason": "r", **change}
    with pytest.raises(ValidationError, match=message):
        action_propose(case=case, by=analyst, **arguments)
    assert not EnforcementAction.objects.exists()


def test_a_retired_policy_is_no_longer_offered_or_accepted(make_case, analyst, analyst_client):
    case = make_case(accounts=2)
    terms = enforcement_terms()
    Policy.objects.filter(pk=terms["policy"].pk).update(active=False)
    terms["policy"].refresh_from_db()
    with pytest.raises(ValidationError, match="policy"):
        action_propose(case=case, by=analyst, kind="ban", reason="r", **terms)
    form = analyst_client.get(reverse("cases:action_propose", args=[case.pk]))
    assert terms["policy"].name not in form.content.decode()


def test_the_form_requires_policy_and_category_and_a_suspension_length(make_case, analyst_client):
    case = make_case(accounts=2)
    url = reverse("cases:action_propose", args=[case.pk])
    html = analyst_client.post(url, {"kind": "ban", "scope": "all", "reason": "r"}).content
    assert b"field-policy has-error" in html and b"field-category has-error" in html
    suspend = {**enforcement_terms_form(), "kind": "suspend", "scope": "all", "reason": "r"}
    html = analyst_client.post(url, suspend).content.decode()
    assert "A suspension needs a length" in html
    assert not EnforcementAction.objects.exists()
    response = analyst_client.post(url, {**suspend, "length": "30"})
    assert response.status_code == 302
    action = EnforcementAction.objects.get()
    assert action.kind == "suspend" and action.duration_days == 30
    audit = AuditEvent.objects.get(verb="action.proposed").data
    assert audit["policy"] == "usage-distillation" and audit["duration_days"] == 30


def test_terms_show_in_the_approval_step_and_travel_in_the_payload_and_ban_list(
    make_case, analyst, approver, approver_client, no_worker
):
    case = make_case(accounts=2)
    terms = enforcement_terms()
    ViolationCategory.objects.filter(pk=terms["category"].pk).update(name=HOSTILE)
    terms["category"].refresh_from_db()
    action = action_propose(
        case=case, by=analyst, kind="suspend", duration_days=30, reason="r", **terms
    )
    page = approver_client.get(reverse("cases:action_decide", args=[case.pk, action.pk]))
    html = page.content.decode()
    assert terms["policy"].name in html and "30 days" in html
    assert HOSTILE not in html  # escaped, never raw
    queue = approver_client.get(reverse("cases:approval_queue")).content.decode()
    assert terms["policy"].name in queue and "30 days" in queue

    before = timezone.now()
    action_decide(action=action, by=approver, approve=True)
    action.refresh_from_db()
    assert before + timedelta(days=30) <= action.ends_at <= timezone.now() + timedelta(days=30)
    payload = OutboxMessage.objects.filter(action=action).first().payload
    assert payload["policy"] == {"code": "usage-distillation", "name": terms["policy"].name}
    assert payload["category"]["code"] == "output-harvesting"
    assert payload["duration_days"] == 30 and payload["ends_at"] == action.ends_at.isoformat()

    outbox_deliver(message_id=action.outbox.get(backend="banlist").pk)
    rows = list(banlist.current_rows())
    assert len(rows) == 2
    assert {r["policy"] for r in rows} == {"usage-distillation"}
    assert {r["ends_at"] for r in rows} == {action.ends_at.isoformat()}
    # Once the suspension has run its length it is off the list, with nothing to reverse.
    assert list(banlist.current_rows(now=action.ends_at + timedelta(seconds=1))) == []
    csv_text = "".join(banlist.csv_chunks(iter(rows)))
    assert csv_text.splitlines()[0] == ",".join(banlist.COLUMNS)


def test_the_case_report_lists_the_terms(make_case, analyst, manager_client):
    case = make_case(accounts=2)
    action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    from cases.exports.report import case_report_data

    data = case_report_data(case)
    assert data["actions"][0].policy.code == "usage-distillation"
    from django.template.loader import render_to_string

    html = render_to_string("cases/export_case_report.html", data)
    assert enforcement_terms()["policy"].name in html and "permanent" in html


def _messages(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("message", flat=True))


def test_the_proposer_hears_of_approval_delivery_and_failure(
    make_case, analyst, approver, settings, no_worker, monkeypatch
):
    # A webhook with no secret: its delivery is dead-lettered at once.
    settings.ENFORCEMENT_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    settings.ENFORCEMENT_WEBHOOK_SECRET = ""
    case = make_case(accounts=2)
    action = action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    assert _messages(analyst) == []
    action_decide(action=action, by=approver, approve=True, comment="clear")
    assert _messages(analyst) == [
        f"{approver.username} approved your ban #{action.pk} on case #{case.pk}; "
        "delivery is under way."
    ]
    deliver_all(action)
    action.refresh_from_db()
    assert action.status == A.FAILED
    latest = Notification.objects.filter(user=analyst).first()
    assert "Delivery of your ban" in latest.message
    assert "ENFORCEMENT_WEBHOOK_SECRET" in latest.message

    # Fixed and retried: delivered, and the proposer is told it is in force.
    from cases.enforcement import webhook

    monkeypatch.setattr(webhook, "deliver", lambda message: DeliveryResult(ok=True))
    from cases.enforcement.services import outbox_retry

    dead = action.outbox.get(status="dead")
    outbox_retry(message=dead, by=approver)
    assert outbox_deliver(message_id=dead.pk) == "delivered"
    latest = Notification.objects.filter(user=analyst).first()
    assert latest.message == (
        f"Your ban #{action.pk} on case #{case.pk} is delivered and in force on 2 account(s)."
    )
    assert Notification.objects.filter(user=approver).count() == 0


def test_a_rejection_tells_the_proposer_why_and_mails_them_once(
    make_case, analyst, approver, django_capture_on_commit_callbacks, monkeypatch
):
    from cases.tasks import send_notification_email_task

    queued = []
    monkeypatch.setattr(
        send_notification_email_task, "apply_async", lambda args, *_, **__: queued.append(*args)
    )
    case = make_case(accounts=2)
    action = action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    with django_capture_on_commit_callbacks(execute=True):
        action_decide(action=action, by=approver, approve=False, comment="Campus NAT")
    notification = Notification.objects.get(user=analyst)
    assert notification.message.endswith(": Campus NAT") and queued == [notification.pk]
    assert notification_email_send(notification.pk) == "sent"
    assert notification_email_send(notification.pk) == "already sent or gone"
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [analyst.email] and "Campus NAT" in sent.subject
    assert f"/cases/{case.pk}/" in sent.body


def test_no_mail_without_an_address_or_mail_settings(
    make_case, analyst, approver, settings, django_capture_on_commit_callbacks
):
    case = make_case(accounts=2)
    action = action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    analyst.email = ""
    analyst.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action_decide(action=action, by=approver, approve=False, comment="no")
    assert Notification.objects.filter(user=analyst).count() == 1 and callbacks == []
    settings.NOTIFY_BY_EMAIL = False
    analyst.email = "ana@example.test"
    analyst.save()
    again = action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action_decide(action=again, by=approver, approve=False, comment="no")
    assert Notification.objects.filter(user=analyst).count() == 2 and callbacks == []


def test_notifications_page_lists_them_and_the_header_counts_unread(
    make_case, analyst, approver, analyst_client
):
    case = make_case(accounts=2)
    action = action_propose(case=case, by=analyst, kind="ban", reason="r", **enforcement_terms())
    action_decide(action=action, by=approver, approve=False, comment="<b>no</b>")
    page = analyst_client.get(reverse("cases:notification_list")).content.decode()
    assert "Notifications, 1 unread" in page and "rejected your ban" in page
    assert "<b>no</b>" not in page
    analyst_client.post(reverse("cases:notification_mark_read"))
    page = analyst_client.get(reverse("cases:notification_list")).content.decode()
    assert "unread" not in page.split("<main", 1)[0]


def test_admins_keep_the_lists_and_a_used_entry_cannot_be_deleted(
    admin_client_, make_case, analyst, analyst_client
):
    add = reverse("admin:cases_violationcategory_add")
    response = admin_client_.post(
        add,
        {"code": "benchmark-scraping", "name": "Benchmark scraping", "active": "on", "position": 5},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(verb="admin.added").exists()
    form = analyst_client.get(reverse("cases:action_propose", args=[make_case().pk]))
    assert "Benchmark scraping" in form.content.decode()

    terms = enforcement_terms()
    action_propose(case=make_case(), by=analyst, kind="ban", reason="r", **terms)
    delete = reverse("admin:cases_policy_delete", args=[terms["policy"].pk])
    page = admin_client_.post(delete, {"post": "yes"})
    assert page.status_code == 200 and "Cannot delete policy" in page.content.decode()
    assert Policy.objects.filter(pk=terms["policy"].pk).exists()


def test_the_queue_export_names_the_policy_in_the_decision(make_case, analyst):
    from cases.exports import summary_from_case
    from cases.models import Case
    from cases.services.exports import with_export_fields

    case = make_case(accounts=2)
    terms = enforcement_terms()
    action_propose(case=case, by=analyst, kind="ban", reason="r", **terms)
    row = with_export_fields(Case.objects.filter(pk=case.pk)).get()
    summary = summary_from_case(row, site_url="https://console.example")
    assert f"Ban proposed under {terms['policy'].name}" in str(summary.values())
