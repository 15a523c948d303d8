from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        # Fill Celery's task registry in every process: services enqueue tasks by name.
        from detection import tasks  # noqa: F401
