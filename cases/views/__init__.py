"""Case views, one module per screen area; ``cases/urls.py`` names them all."""

from cases.views.case import case_detail
from cases.views.queue import case_queue

__all__ = ["case_detail", "case_queue"]
