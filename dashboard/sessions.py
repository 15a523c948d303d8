"""The session engine (``SESSION_ENGINE = "dashboard.sessions"``): Django's database sessions,
with the session, the user it logs in, that user's permissions and roles and their unread
notification count read in one query.

Every logged-in page read the session, then the user, then the permissions and roles, then
(for the top bar) the unread count: four round trips before and during the view, about 2 ms
of a 9 ms queue page on our machine, the database answering each in microseconds
(docs/benchmarks.md, "Pages"). The session row names its user (``dashboard.models.Session``,
written from the session's own data on every save), so one query can join them.

What stays as it was, because it is still Django's code that decides: the session must
exist in the database and be unexpired (logging out, or deleting the row, ends it at the next
request); the user must exist, be active (``RoleBackend.get_user``) and match the session's
password hash (``django.contrib.auth.get_user``); permissions and roles are read on every
request. Nothing read is kept between requests; on PostgreSQL the query's plan is, once per
connection (see ``_cursor``).
"""

import functools
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from dashboard.roles import groups_and_permissions_sql, remember_groups_and_permissions

# The session whose user is being authenticated, while it is (AuthenticationMiddleware).
_authenticating: ContextVar["SessionStore | None"] = ContextVar("authenticating", default=None)


def _user_pk(value):
    """The user primary key ``value`` (the session's text) stands for, or None."""
    try:
        return get_user_model()._meta.pk.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return None


@functools.cache
def _session_sql(alias: str, session_model) -> str:
    """The session's row joined with its user's columns and unread count, then the user's
    permission and group rows (``groups_and_permissions_sql``), as one ``UNION ALL``: the
    first kind has the session data, the second NULL there and the three permission columns
    at the end. Parameters: the session key and the time. Table and column names come from
    the models; written once per database."""
    from cases.models import Notification

    q = connections[alias].ops.quote_name
    session, user, notification = session_model._meta, get_user_model()._meta, Notification._meta

    def col(opts, name: str) -> str:
        return q(opts.get_field(name).column)

    user_columns = ", ".join(f"u.{q(field.column)}" for field in user.concrete_fields)
    unread = (
        f"(SELECT COUNT(*) FROM {q(notification.db_table)} n"  # noqa: S608 (the models' names)
        f" WHERE n.{col(notification, 'user')} = u.{q(user.pk.column)}"
        f" AND n.{col(notification, 'read_at')} IS NULL)"
    )
    padding = ", ".join(["NULL"] * (len(user.concrete_fields) + 2))
    permissions = groups_and_permissions_sql(connections[alias], user="(SELECT uid FROM s)")
    # A CTE named three times is computed once (PostgreSQL 12 and later, SQLite).
    return (
        f"WITH s AS (SELECT {col(session, 'session_data')} AS data, {col(session, 'user')} AS uid"  # noqa: S608
        f" FROM {q(session.db_table)}"
        f" WHERE {col(session, 'session_key')} = %s AND {col(session, 'expire_date')} > %s)\n"
        f"SELECT s.data, {user_columns}, {unread}, NULL, NULL, NULL\n"
        f"FROM s LEFT JOIN {q(user.db_table)} u ON u.{q(user.pk.column)} = s.uid\n"
        "UNION ALL\n"
        f"SELECT {padding}, perms.* FROM (\n"
        f"{permissions}\n) perms"
    )


class SessionStore(db.SessionStore):
    """``django.contrib.sessions.backends.db`` on ``dashboard.models.Session``, whose load
    also reads the user the session names (kept for ``RoleBackend.get_user``)."""

    user_read = None

    @classmethod
    def get_model_class(cls):
        from dashboard.models import Session

        return Session

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = _user_pk(data.get(SESSION_KEY))
        return session

    def load(self):
        self.user_read = None
        User = get_user_model()
        fields = User._meta.concrete_fields
        connection = connections[router.db_for_read(self.model)]
        params = [self.session_key, timezone.now()]
        with _cursor(connection) as cursor:
            cursor.execute(_session_sql(connection.alias, self.model), params)
            rows = cursor.fetchall()
        found = [row for row in rows if row[0] is not None]
        if not found:
            self._session_key = None
            return {}
        data, *user_values = found[0][: len(fields) + 2]
        unread = user_values.pop()
        if user_values[fields.index(User._meta.pk)] is not None:
            values = [
                _from_db(connection, field, value)
                for field, value in zip(fields, user_values, strict=True)
            ]
            user = User.from_db(connection.alias, [f.attname for f in fields], values)
            remember_groups_and_permissions(user, [row[-3:] for row in rows if row[0] is None])
            user.unread_notification_count = unread
            self.user_read = user
        return self.decode(data)


def _cursor(connection):
    """A cursor for the session's query: on PostgreSQL one that prepares it, so that each
    connection plans it once (planning was 0.3 ms of its 0.45 ms in PostgreSQL), unless
    ``PREPARE_SESSION_QUERY`` is off (a connection pooler that drops prepared statements)."""
    if connection.vendor != "postgresql" or not settings.PREPARE_SESSION_QUERY:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # psycopg prepares nothing, even when asked, while the threshold is None (Django's
        # default); a threshold no query reaches keeps everything else unprepared.
        raw.prepare_threshold = 2**31
    logged = connection.queries_logged
    cursor = _preparing_cursor_classes()[logged](raw)
    return connection.make_debug_cursor(cursor) if logged else connection.make_cursor(cursor)


@functools.cache
def _preparing_cursor_classes():
    """Cursors that prepare each statement: Django's own for server-side binding, and one
    for when Django logs queries (tests, ``DEBUG``), which also keeps the statement where
    Django's log reads it (psycopg keeps it only for a statement it does not prepare)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    class LoggedPreparingCursor(PreparingCursor):
        def execute(self, query, params=None, **kwargs):
            result = super().execute(query, params, **kwargs)
            self._query = self._convert_query(query, params)
            return result

    return {False: PreparingCursor, True: LoggedPreparingCursor}


def _from_db(connection, field, value):
    """``value`` as the ORM would give it (SQLite hands back text dates and 0/1 booleans)."""
    expression, converters = _converters(connection.alias, field)
    for converter in converters:
        value = converter(value, expression, connection)
    return value


@functools.cache
def _converters(alias: str, field):
    connection = connections[alias]
    expression = field.get_col(field.model._meta.db_table)
    return expression, connection.ops.get_db_converters(expression) + field.get_db_converters(
        connection
    )


def user_read_with_session(user_id):
    """The user the session being authenticated read with it, if it is ``user_id``."""
    session = _authenticating.get()
    user = getattr(session, "user_read", None)
    if user is None or user.pk != _user_pk(user_id):
        return None
    return user


@contextmanager
def _authenticating_with(session):
    token = _authenticating.set(session)
    try:
        yield
    finally:
        _authenticating.reset(token)


def get_user(request):
    """``django.contrib.auth.get_user``, letting ``RoleBackend`` take the user from the
    session's query."""
    if not hasattr(request, "_cached_user"):
        with _authenticating_with(request.session):
            request._cached_user = auth.get_user(request)
    return request._cached_user


class AuthenticationMiddleware(DjangoAuthMiddleware):
    """Django's ``AuthenticationMiddleware`` with :func:`get_user` (the rest unchanged)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: get_user(request))
