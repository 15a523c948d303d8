from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        # Fill Celery's task registry in every process: services enqueue tasks by name.
        from dashboard import tasks  # noqa: F401
