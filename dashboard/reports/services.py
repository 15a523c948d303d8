"""Report subscriptions and their delivery by email.

``deliveries_due`` runs daily (celery beat): for each subscription it makes the delivery
row of the last full week or month, once (a unique period per subscription), and enqueues
its sending. ``delivery_send`` claims the row by compare-and-set, builds the report with the
subscriber's rights on the day, and sends it through Django's mail settings (``EMAIL_*``):
the PDF attached when it is at most ``REPORT_EMAIL_MAX_BYTES``, otherwise a link to the
report's page. A mail error leaves the row queued with the error, for the task's retry; the
last retry marks it failed. Every step is logged.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.http import urlencode

from cases import audit
from cases.selectors import cases_visible_to
from common.tasks import enqueue_on_commit
from dashboard.reports import exports
from dashboard.reports.models import ReportDelivery, ReportSubscription
from dashboard.reports.selectors import last_full, period_report
from dashboard.selectors import Period

log = logging.getLogger(__name__)
SEND_TASK = "dashboard.reports.tasks.report_send_task"
# Errors worth another try: the mail server down, refusing for now, or the network.
TRANSIENT = (smtplib.SMTPException, OSError)
# A claimed delivery untouched this long lost its worker; the next try may take it.
STALE_AFTER = timedelta(minutes=15)


@transaction.atomic
def subscription_set(*, user, frequency: str) -> ReportSubscription:
    sub, created = ReportSubscription.objects.update_or_create(
        user=user, defaults={"frequency": frequency}
    )
    audit.record(
        "report.subscribed",
        actor=user,
        target=sub,
        data={"frequency": frequency, "email": user.email, "new": created},
    )
    return sub


@transaction.atomic
def subscription_stop(*, user) -> None:
    deleted, _ = ReportSubscription.objects.filter(user=user).delete()
    if deleted:
        audit.record("report.unsubscribed", actor=user)


def deliveries_due(*, today: date | None = None) -> int:
    """Make (once) and enqueue the deliveries of the last full period of every subscription;
    returns how many were enqueued."""
    today = today or timezone.localdate()
    enqueued = 0
    for sub in ReportSubscription.objects.select_related("user"):
        period = last_full(sub.frequency, today)
        with transaction.atomic():
            delivery, created = ReportDelivery.objects.get_or_create(
                subscription=sub, period_start=period.start, period_end=period.end
            )
            if created:
                enqueue_on_commit(SEND_TASK, delivery.pk)
                enqueued += 1
                log.info("report delivery %s queued for %s", delivery.pk, sub.user)
    return enqueued


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    claimable = Q(status=ReportDelivery.Status.PENDING) | Q(
        status=ReportDelivery.Status.SENDING, claimed_at__lt=now - STALE_AFTER
    )
    return bool(
        ReportDelivery.objects.filter(claimable, pk=delivery_id).update(
            status=ReportDelivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    )


def report_link(period: Period) -> str:
    query = urlencode({"range": "custom", "start": period.start, "end": period.end})
    return f"{settings.SITE_URL.rstrip('/')}/reports/?{query}"


def delivery_send(delivery_id: int) -> str:
    """Send one delivery (the task's body). Idempotent: a sent or claimed row is left alone.

    Raises one of ``TRANSIENT`` when the mail could not be sent; the row is then queued
    again with the error, for the caller to retry."""
    if not _claim(delivery_id):
        return "not pending"
    delivery = ReportDelivery.objects.select_related("subscription__user").get(pk=delivery_id)
    user = delivery.subscription.user
    if not user.is_active or not user.email or not user.has_perm("cases.export_cases"):
        delivery_failed(delivery_id, "the subscriber may no longer receive reports")
        return "failed"
    period = Period(delivery.period_start, delivery.period_end)
    report = period_report(cases_visible_to(user), period, now=timezone.now())
    label = exports.period_label(report)
    pdf = exports.report_pdf(report, generated_by=f"{user.get_username()} (scheduled)")
    attach = len(pdf) <= settings.REPORT_EMAIL_MAX_BYTES
    f = report.figures
    lines = [
        f"The {delivery.subscription.get_frequency_display().lower()} report for {label}.",
        "",
        f"Campaigns found: {f.campaigns_found}; stopped: {f.campaigns_stopped}.",
        f"Accounts actioned: {f.accounts_actioned}.",
        f"Reversals asked for: {f.reversal_requests}.",
        "",
        "The report is attached as a PDF."
        if attach
        else f"The report is too large to attach ({len(pdf):,} bytes); read it here:",
        f"On the console: {report_link(period)}",
    ]
    message = EmailMessage(
        subject=f"{settings.EMAIL_SUBJECT_PREFIX}Period report {label}",
        body="\n".join(lines),
        to=[user.email],
    )
    if attach:
        message.attach(
            f"report-{period.start:%Y%m%d}-{period.end:%Y%m%d}.pdf", pdf, "application/pdf"
        )
    try:
        message.send()
    except TRANSIENT as exc:
        log.warning("report delivery %s: sending failed (%s), will retry", delivery_id, exc)
        ReportDelivery.objects.filter(pk=delivery_id).update(
            status=ReportDelivery.Status.PENDING, last_error=str(exc)[:2000]
        )
        raise
    ReportDelivery.objects.filter(pk=delivery_id).update(
        status=ReportDelivery.Status.SENT,
        sent_at=timezone.now(),
        attached=attach,
        size=len(pdf),
        last_error="",
    )
    log.info("report delivery %s sent to %s (%s)", delivery_id, user.email,
             "attached" if attach else "link")  # fmt: skip
    return "sent"


def delivery_failed(delivery_id: int, error: object) -> None:
    """Give up on a delivery: its last error stays on the row for the admin to read."""
    log.error("report delivery %s failed: %s", delivery_id, error)
    ReportDelivery.objects.filter(pk=delivery_id).update(
        status=ReportDelivery.Status.FAILED, last_error=str(error)[:2000]
    )
