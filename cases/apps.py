from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"

    def ready(self) -> None:
        # Fill Celery's task registry in every process: services enqueue tasks by name.
        from cases import receivers, tasks  # noqa: F401
        from cases.enforcement import tasks as enforcement_tasks  # noqa: F401
        from cases.evidence import tasks as evidence_tasks  # noqa: F401
        from cases.policy import case_policy

        receivers.connect()
        # A bad CASE_POLICY setting stops the process here, not at the first case sync.
        case_policy()
