from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Shared plumbing"

    def ready(self):
        from common import receivers  # noqa: F401 (connects the login receiver)
