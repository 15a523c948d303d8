"""Notifications: in the console (the header's count and the list page) and by e-mail.

The in-app row is written in the caller's transaction, so a rolled-back step notifies nobody;
the e-mail goes out from a task after commit, through Django's mail settings, only to people
with an address and only when mail is configured (``NOTIFY_BY_EMAIL``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from cases.models import Case, Notification
from common.tasks import enqueue_on_commit

log = logging.getLogger(__name__)
EMAIL_TASK = "cases.tasks.send_notification_email_task"
MAX_MESSAGE = 500


def notify(*, user, case: Case | None, message: str) -> Notification | None:
    """Tell ``user`` ``message`` about ``case``; nothing for an inactive or missing user."""
    if user is None or not user.is_active:
        return None
    notification = Notification.objects.create(user=user, case=case, message=message[:MAX_MESSAGE])
    if user.email and settings.NOTIFY_BY_EMAIL:
        enqueue_on_commit(EMAIL_TASK, notification.pk)
    return notification


def notification_email_send(notification_id: int) -> str:
    """Mail one notification to its user, at most once."""
    with transaction.atomic():
        claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if claimed != 1:
            return "already sent or gone"
        notification = Notification.objects.select_related("user").get(pk=notification_id)
    user = notification.user
    if not user.email:
        return "no address"
    link = f"{settings.SITE_URL}/cases/{notification.case_id}/" if notification.case_id else ""
    body = notification.message + (f"\n\n{link}\n" if link else "\n")
    try:
        send_mail(
            subject=f"[Distillation console] {notification.message[:120]}",
            message=body,
            from_email=None,
            recipient_list=[user.email],
        )
    except OSError as exc:
        # The in-app notice stands; release the claim so a retry of the task can send it.
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        log.warning("notification %s not mailed: %s", notification_id, exc)
        raise
    return "sent"
