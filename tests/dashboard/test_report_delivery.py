"""Scheduled delivery of the period report, through a real SMTP server (aiosmtpd) that the
test starts on a free local port: subscribing, the daily scheduler, the email with the PDF
attached (or a link when it is large), and retries when the mail server is down."""

import email
import io
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from django.utils import timezone
from pypdf import PdfReader

from cases.models import AuditEvent
from dashboard.reports import services
from dashboard.reports.models import ReportDelivery, ReportSubscription
from dashboard.reports.selectors import FIGURES, last_full
from dashboard.reports.tasks import MAX_RETRIES, report_deliveries_task, report_send_task
from tests.dashboard.report_data import EXPECTED, build, figures_in_pdf

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "console@example.com"
    yield inbox
    controller.stop()


@pytest.fixture
def subscriber(manager, manager_client):
    manager.email = "mona@example.com"
    manager.save()
    response = manager_client.post("/reports/subscription/", {"frequency": "week"})
    assert response.status_code == 302
    return manager


def _queued(django_capture_on_commit_callbacks) -> list[ReportDelivery]:
    with django_capture_on_commit_callbacks() as callbacks:
        assert report_deliveries_task() == 1
    assert len(callbacks) == 1  # the send task, enqueued once the row is committed
    return list(ReportDelivery.objects.all())


def test_subscribing_is_audited_and_shown(subscriber, manager_client):
    sub = ReportSubscription.objects.get(user=subscriber)
    assert sub.frequency == "week"
    event = AuditEvent.objects.get(verb="report.subscribed")
    assert event.actor == subscriber and event.data["frequency"] == "week"
    html = manager_client.get("/reports/").content.decode()
    assert "You receive the <strong>weekly</strong> report at mona@example.com" in html
    manager_client.post("/reports/subscription/", {"frequency": "none"})
    assert not ReportSubscription.objects.exists()
    assert AuditEvent.objects.filter(verb="report.unsubscribed", actor=subscriber).exists()


def test_no_email_address_no_subscription(manager_client, manager):
    manager.email = ""
    manager.save()
    response = manager_client.post("/reports/subscription/", {"frequency": "month"}, follow=True)
    assert "no email address" in response.content.decode()
    assert not ReportSubscription.objects.exists()


def test_analysts_cannot_subscribe(analyst_client):
    assert analyst_client.post("/reports/subscription/", {"frequency": "week"}).status_code == 403


def test_the_weekly_report_arrives_with_the_pdf(
    smtp, subscriber, analyst, approver, approver2, django_capture_on_commit_callbacks
):
    # The fixture's figures, in the week the scheduler reports on.
    build(analyst, approver, approver2, end=last_full("week", timezone.localdate()).end)
    (delivery,) = _queued(django_capture_on_commit_callbacks)
    week = last_full("week", timezone.localdate())
    assert (delivery.period_start, delivery.period_end) == (week.start, week.end)
    # The scheduler runs daily: the same period is never made (nor sent) twice.
    with django_capture_on_commit_callbacks() as again:
        assert report_deliveries_task() == 0
    assert not again and ReportDelivery.objects.count() == 1

    assert report_send_task(delivery.pk) == "sent"
    (message,) = smtp.messages
    assert message["To"] == "mona@example.com"
    assert message["Subject"].startswith("[Distillation console] Period report")
    body = message.get_body(("plain",)).get_content()
    assert "The report is attached as a PDF." in body
    found, stopped = EXPECTED["campaigns_found"][0], EXPECTED["campaigns_stopped"][0]
    assert f"Campaigns found: {found}; stopped: {stopped}." in body
    assert f"Reversals asked for: {EXPECTED['reversal_requests'][0]}." in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Period report" in text
    # Every figure as the page and the hand count have it (tests/dashboard/test_report.py).
    labels = {key: label for key, label, _ in FIGURES}
    assert figures_in_pdf(text, labels) == EXPECTED
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attached and delivery.attempts == 1
    # A redelivered task finds the row sent and sends nothing more.
    assert report_send_task(delivery.pk) == "not pending"
    assert len(smtp.messages) == 1


def test_a_large_report_is_sent_as_a_link(
    smtp, subscriber, settings, django_capture_on_commit_callbacks
):
    settings.REPORT_EMAIL_MAX_BYTES = 1000
    (delivery,) = _queued(django_capture_on_commit_callbacks)
    assert report_send_task(delivery.pk) == "sent"
    (message,) = smtp.messages
    assert not list(message.iter_attachments())
    body = message.get_body(("plain",)).get_content()
    assert "too large to attach" in body
    assert f"{settings.SITE_URL}/reports/?range=custom&start={delivery.period_start}" in body
    delivery.refresh_from_db()
    assert not delivery.attached and delivery.size > 1000


def test_a_mail_server_that_is_down_is_retried_then_given_up(
    subscriber, settings, django_capture_on_commit_callbacks, smtp
):
    (delivery,) = _queued(django_capture_on_commit_callbacks)
    settings.EMAIL_PORT = _free_port()  # nothing listens there
    with pytest.raises(OSError):
        services.delivery_send(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_error
    # The task asks Celery to try again later, with the error, while it has retries left ...
    with pytest.raises(Retry):
        report_send_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 2
    # ... and on its last retry gives up: the row says so, with the error.
    result = report_send_task.apply(args=[delivery.pk], retries=MAX_RETRIES)
    assert result.get() == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert "refused" in delivery.last_error.lower()
    assert not smtp.messages


def test_a_retry_after_the_server_is_back_sends(
    subscriber, settings, django_capture_on_commit_callbacks, smtp
):
    (delivery,) = _queued(django_capture_on_commit_callbacks)
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = _free_port()
    with pytest.raises(OSError):
        services.delivery_send(delivery.pk)
    settings.EMAIL_PORT = port
    assert report_send_task(delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 2 and delivery.last_error == ""
    assert len(smtp.messages) == 1


def test_a_subscriber_who_lost_the_role_gets_nothing(
    smtp, subscriber, django_capture_on_commit_callbacks
):
    (delivery,) = _queued(django_capture_on_commit_callbacks)
    subscriber.groups.clear()
    assert report_send_task(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "no longer" in delivery.last_error
    assert not smtp.messages
