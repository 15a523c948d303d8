from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class Session(AbstractBaseSession):
    """Django's database session, with a column for the user it logs in.

    With that column the session, its user, the user's permissions and roles and their
    unread notification count are read in one query per request instead of four
    (``dashboard/sessions.py`` says why). The column is written from the session's own data
    whenever the session is saved; deleting a user deletes their sessions.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )

    class Meta(AbstractBaseSession.Meta):
        db_table = "dashboard_session"

    @classmethod
    def get_session_store_class(cls):
        from dashboard.sessions import SessionStore

        return SessionStore
