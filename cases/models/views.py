"""Saved views: a named queue filter, kept by its owner and optionally shared with the team."""

from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class SavedViewQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The user's own views and every view someone shared with the team."""
        return self.filter(Q(owner=user) | Q(shared=True)).select_related("owner")


class SavedView(models.Model):
    """A queue filter under a name. ``query`` is the queue's query string as it was saved
    (paging dropped); opening the view is following the queue URL with it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True, default="")
    shared = models.BooleanField(
        default=False, help_text="Everyone who works the queue sees it (only you can change it)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedview_owner_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        url = reverse("cases:case_queue")
        return f"{url}?{self.query}" if self.query else url

    # Paging and the htmx cache-buster are where the user was, not what they filter on.
    NOT_SAVED = frozenset({"page", "cursor", "dir", "_"})

    @classmethod
    def clean_query(cls, query: str) -> str:
        pairs = [(k, v) for k, v in parse_qsl(query or "", keep_blank_values=False)]
        return urlencode([(k, v) for k, v in pairs if k not in cls.NOT_SAVED and v])
