from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"

    def ready(self) -> None:
        # Fill Celery's task registry in every process: services enqueue tasks by name.
        from cases import receivers, tasks  # noqa: F401

        receivers.connect()
