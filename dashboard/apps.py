from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        # Fill Celery's task registry in every process (services enqueue tasks by name), and
        # answer detection's hooks.
        from dashboard import receivers, tasks  # noqa: F401
        from dashboard.reports import tasks as report_tasks  # noqa: F401

        receivers.connect()
