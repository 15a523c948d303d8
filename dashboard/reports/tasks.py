"""Celery tasks of the scheduled report (thin adapters over ``dashboard.reports.services``)."""

from celery import shared_task

from dashboard.reports import services

MAX_RETRIES = 5


@shared_task(name="dashboard.reports.tasks.report_deliveries_task", acks_late=True)
def report_deliveries_task() -> int:
    """Daily (celery beat): queue each subscriber's report for the last full period, once."""
    return services.deliveries_due()


@shared_task(
    bind=True, name="dashboard.reports.tasks.report_send_task", acks_late=True,
    max_retries=MAX_RETRIES,
)  # fmt: skip
def report_send_task(self, delivery_id: int) -> str:
    """Send one report; a mail error is retried with a growing delay, then marked failed."""
    try:
        return services.delivery_send(delivery_id)
    except services.TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            services.delivery_failed(delivery_id, exc)
            return "failed"
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc
