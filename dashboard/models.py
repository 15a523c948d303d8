"""The project's own models: the period report's subscriptions and deliveries (Django
registers an app's models from this module)."""

from dashboard.reports.models import ReportDelivery, ReportSubscription

__all__ = ["ReportDelivery", "ReportSubscription"]
