"""Settings for the console: one file, read from the environment.

Every knob is an environment variable documented in ``.env.example`` and the README.
With nothing set, the app runs on a SQLite file in the project folder and runs its
Celery tasks in-process (the "embedded default"), so ``make demo`` works on a laptop.
Production sets ``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` and ``CACHE_URL``
(Redis), a real ``SECRET_KEY`` and ``DEBUG=false``; the dev secret key is refused when
``DEBUG`` is off.
A ``.env`` file in the project folder is read too (real environment variables win).
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
# A local .env (written by ``make install`` for development) fills in what the real
# environment does not set; the real environment always wins.
load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"  # noqa: S105

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
if SECRET_KEY == DEV_SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment, or DEBUG=true for local "
            "development (never in production)."
        )
    warnings.warn(
        "Using the built-in development SECRET_KEY: fine on a laptop, never in production.",
        stacklevel=1,
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PORT = int(os.environ.get("PORT", "8000"))
SITE_URL = os.environ.get("SITE_URL", f"http://localhost:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "axes",
    "mozilla_django_oidc",
    "common",
    "dashboard",
    "detection",
    "cases",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Marks every answer to a logged-in user ``Cache-Control: no-store`` (outermost of the
    # session-aware middleware, so it sees the final response, redirects included).
    "common.middleware.NoStoreForUsersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's LoginRequiredMiddleware, sending htmx requests to the login page as a whole.
    "common.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Slides an idle session's expiry forward, at most once a minute (see SESSION_IDLE_MINUTES).
    "common.middleware.IdleSessionMiddleware",
    # Login throttling (django-axes); last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.navigation",
            ],
        },
    }
]

# Database: PostgreSQL in production and tests, a SQLite file by default.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the in-process tasks and the web server share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis, shared by every web and worker process, when CACHE_URL is set (production:
# the queue's filter choices are cached until a user, group or tag changes, and the change
# is seen by every process at once); otherwise each process keeps its own (laptops, tests).
# Values are stored as JSON, never pickled, so a write to Redis cannot run code here.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "console",
            "OPTIONS": {
                "serializer": "dashboard.cache.JSONSerializer",
                # A cache that hangs costs a page half a second a call, not redis-py's
                # default of waiting for ever (the queue falls back to the database).
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
            },
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# django-axes first: it refuses a locked-out username or address before the password is
# checked (and never counts a caller with no request, such as a management command).
AUTHENTICATION_BACKENDS = [
    "common.auth.ThrottlingBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Single sign-on through OpenID Connect (dashboard.sso; docs/operations.md, "Single sign-on"),
# on when a client id is set. The provider's endpoints are given one by one, as its discovery
# document (/.well-known/openid-configuration) lists them.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = os.environ.get("OIDC_OP_LOGOUT_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
# The claim that carries a person's groups, how its values map to the console's roles
# ("value=role,value=role"; a value that is a role's own name needs no entry), and the
# values that make someone an administrator (staff and superuser, for the admin).
OIDC_ROLES_CLAIM = os.environ.get("OIDC_ROLES_CLAIM", "groups")
OIDC_ROLE_MAP = dict(pair.split("=", 1) for pair in env_list("OIDC_ROLE_MAP") if "=" in pair)
OIDC_ADMIN_VALUES = env_list("OIDC_ADMIN_VALUES")
OIDC_USERNAME_ALGO = "dashboard.sso.username_from_claims"
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", True)
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/"
# PASSWORD_LOGIN=false: no username and password form, here or in the admin; only SSO.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("dashboard.sso.RoleMappingBackend")
    if not PASSWORD_LOGIN:
        # The OIDC backend answers permission checks as ModelBackend does (its subclass).
        AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
# Analysts and approvers land on the queue, managers on the overview (dashboard.views.landing).
LOGIN_REDIRECT_URL = "landing"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"
# Reject files written by the app (ingest uploads, exports, reject reports) go here.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var"))

# Django's sessions, in the database always. A session cached in Redis (``cached_db``) is one
# query fewer a page, but with Redis down every logged-in page would answer 500; a primary-key
# read of one row is a cost nobody feels, and the sessions then live and die with the data.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Idle expiry: a session not used for this many minutes ends. Each request slides the expiry
# forward, but writes the session row at most once a minute (common.middleware's
# IdleSessionMiddleware) rather than on every request as SESSION_SAVE_EVERY_REQUEST would.
SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "60"))
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# Approving an enforcement action asks for the password again unless the approver entered it
# within this many minutes (common.auth, and cases.enforcement.views where an approval asks for it).
REAUTH_MINUTES = int(os.environ.get("REAUTH_MINUTES", "10"))

# Failed logins are throttled per username and per address (django-axes), on the console's
# login form and the admin's alike: after LOGIN_FAILURE_LIMIT failures in a row the username
# (from anywhere) and the address (for any username) are refused for LOGIN_COOLOFF_MINUTES.
# Attempts are counted in the database, shared by every process and unaffected by a Redis
# outage (a per-process count would multiply the limit by the number of workers).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
# Behind proxies the address is the one the outermost trusted proxy saw (common.auth).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "common.auth.client_address"
AXES_VERBOSE = False
# Locks are lifted with the axes_reset_* commands; the admin shows no attempts pages, whose
# deletes would be changes outside the audit log.
AXES_ENABLE_ADMIN = False

# Security: safe production defaults; DEBUG relaxes only what it must.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
# HTTPS: redirect plain HTTP (the health check is exempt, for load balancers that probe over
# HTTP), and Strict-Transport-Security for this many seconds (0: not sent). Turn HSTS on once
# HTTPS works: browsers then refuse plain HTTP to the host for that long.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Content-Security-Policy (django-csp): scripts, fonts, images and connections from this
# site only, no framing, forms posting only here. No page has inline script; inline style is
# allowed because htmx (its indicator rule) and plotly.js insert <style> elements and the
# charts and the "why flagged" bars set style attributes; style cannot run code. Templates'
# own rules live in static stylesheets. CSP_REPORT_ONLY=true sends the same
# policy as Content-Security-Policy-Report-Only, to try it on a deployment first.
_CSP = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# Celery: Redis in production; with no broker, tasks run in-process (eagerly).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Redis redelivers an unacknowledged task after this many seconds; it must exceed the
# longest task (a detection chunk, an export) or the task runs twice. A worker looks for such
# tasks every CELERY_UNACKED_RESTORE_SECONDS (kombu sweeps every interval x throttle calls:
# 10 x 10 by default), so a dead worker's task waits up to the sum of the two.
_RESTORE_SECONDS = max(1, int(os.environ.get("CELERY_UNACKED_RESTORE_SECONDS", "100")))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "unacked_restore_interval": min(_RESTORE_SECONDS, 10),
    "unacked_restore_throttle": max(1, _RESTORE_SECONDS // min(_RESTORE_SECONDS, 10)),
    # A worker holds a lock while it looks; one killed holding it blocks every other worker's
    # look until the lock expires (kombu's default: 300 s).
    "unacked_mutex_expire": min(300, 5 * _RESTORE_SECONDS),
}
DETECTION_SCHEDULE_MINUTES = int(os.environ.get("DETECTION_SCHEDULE_MINUTES", "60"))
# Ingest: processes that parse a big JSON Lines exchange file on PostgreSQL (0: one per core,
# at most 8; 1: parse in the ingesting process), and the maintenance_work_mem the bulk path
# (an empty table: load first, index after) builds the indexes with.
INGEST_WORKERS = int(os.environ.get("INGEST_WORKERS", "0"))
INGEST_BULK_WORK_MEM = os.environ.get("INGEST_BULK_WORK_MEM", "256MB")
# Memory and disk an ingest may take whatever a file holds: a line longer than this is
# rejected without being read whole, and a reject file stops listing at this size (every
# reject is still counted on the report).
INGEST_MAX_LINE_BYTES = int(os.environ.get("INGEST_MAX_LINE_BYTES", str(16 * 1024 * 1024)))
INGEST_REJECTS_MAX_BYTES = int(os.environ.get("INGEST_REJECTS_MAX_BYTES", str(64 * 1024 * 1024)))
# A running ingest with no progress (no batch committed) for this many minutes is shown as
# interrupted: the process is gone, or lost the database for longer than it waits to record
# the failure (INGEST_RECONNECT_SECONDS). Longer than a bulk load's index build.
INGEST_STALE_MINUTES = int(os.environ.get("INGEST_STALE_MINUTES", "15"))
# How long an ingest cut from the database keeps trying to reach it again, to record on its
# report that it stopped (and where) before it exits.
INGEST_RECONNECT_SECONDS = int(os.environ.get("INGEST_RECONNECT_SECONDS", "60"))
# The largest file the admin's upload accepts (as sent, so compressed for a .gz). The upload
# handler stops reading at the limit rather than writing the rest to a temporary file.
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(2 * 1024 * 1024 * 1024)))
FILE_UPLOAD_HANDLERS = [
    "common.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Exchanges dated more than this many minutes past now are quarantined: stored, counted in
# the ingest report, left out of detection until the clock reaches them (docs/ingest.md).
TELEMETRY_CLOCK_SKEW_MINUTES = int(os.environ.get("TELEMETRY_CLOCK_SKEW_MINUTES", "60"))
TELEMETRY_RETENTION_DAYS = int(os.environ.get("TELEMETRY_RETENTION_DAYS", "180"))
# PostgreSQL: exchanges are partitioned by month; the daily beat task (and the
# partition_exchanges command) keeps this many months' partitions made ahead of the current
# one (docs/operations.md, "Partitioned telemetry").
TELEMETRY_PARTITIONS_AHEAD = int(os.environ.get("TELEMETRY_PARTITIONS_AHEAD", "3"))
# Mail, for the scheduled reports and for notifications to people with an address: Django's
# SMTP backend when EMAIL_HOST is set; without it, report mail is written to the worker's log
# (the console backend), so nothing is lost silently, and notifications stay in the console's
# own list unless NOTIFY_BY_EMAIL forces them out through EMAIL_BACKEND.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "console@localhost")
EMAIL_SUBJECT_PREFIX = os.environ.get("EMAIL_SUBJECT_PREFIX", "[Distillation console] ")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
NOTIFY_BY_EMAIL = env_bool("NOTIFY_BY_EMAIL", bool(EMAIL_HOST))
# Scheduled reports: the hour (TIME_ZONE) the daily run sends them, and the largest PDF
# attached to the email; a larger one is sent as a link to the report's page.
REPORT_SEND_HOUR = int(os.environ.get("REPORT_SEND_HOUR", "6"))
REPORT_EMAIL_MAX_BYTES = int(os.environ.get("REPORT_EMAIL_MAX_BYTES", str(5 * 1024 * 1024)))
CELERY_BEAT_SCHEDULE = {
    "detection-run": {
        "task": "detection.tasks.detection_scheduled_run_task",
        "schedule": DETECTION_SCHEDULE_MINUTES * 60,
    },
    "prune-telemetry": {
        "task": "detection.tasks.prune_telemetry_task",
        "schedule": 24 * 60 * 60,
    },
    "partition-exchanges": {
        "task": "detection.tasks.partition_exchanges_task",
        "schedule": 24 * 60 * 60,
    },
    "prune-exports": {
        "task": "cases.tasks.prune_exports_task",
        "schedule": 24 * 60 * 60,
    },
    # The period report for its subscribers: daily, each period's email made once.
    "report-deliveries": {
        "task": "dashboard.reports.tasks.report_deliveries_task",
        "schedule": crontab(hour=REPORT_SEND_HOUR, minute=0),
    },
    # Enforcement outbox safety net: re-enqueue due deliveries, recover lost workers' leases.
    "enforcement-outbox-sweep": {
        "task": "cases.tasks.sweep_outbox_task",
        "schedule": 60,
    },
}

# Evidence: extra sources (dotted paths, comma-separated) beside the built-in telemetry one,
# the telemetry window a snapshot reads, when a running snapshot counts as stalled, and ASNs
# to mark as hosting or proxy ranges (comma-separated integers).
EVIDENCE_SOURCES = env_list("EVIDENCE_SOURCES", "cases.evidence.telemetry.TelemetrySource")
EVIDENCE_WINDOW_DAYS = int(os.environ.get("EVIDENCE_WINDOW_DAYS", "30"))
EVIDENCE_STALE_MINUTES = int(os.environ.get("EVIDENCE_STALE_MINUTES", "30"))
EVIDENCE_HOSTING_ASNS = [int(v) for v in env_list("EVIDENCE_HOSTING_ASNS")]
EVIDENCE_PROXY_ASNS = [int(v) for v in env_list("EVIDENCE_PROXY_ASNS")]
# Exports with more rows than this run as a task with a download link.
EXPORT_SYNC_MAX_ROWS = int(os.environ.get("EXPORT_SYNC_MAX_ROWS", "5000"))
# Built export files are deleted this many days after they were written (celery beat).
# Who a shared indicator file says it comes from (the STIX identity of exported bundles).
INDICATOR_SHARING_IDENTITY = os.environ.get("INDICATOR_SHARING_IDENTITY", "Trust and Safety")
EXPORT_RETENTION_DAYS = int(os.environ.get("EXPORT_RETENTION_DAYS", "30"))

# Enforcement delivery (the account platform's webhook); the ban list is always available.
ENFORCEMENT_WEBHOOK_URL = os.environ.get("ENFORCEMENT_WEBHOOK_URL", "")
ENFORCEMENT_WEBHOOK_SECRET = os.environ.get("ENFORCEMENT_WEBHOOK_SECRET", "")
# Seconds per webhook request; attempts before a message is dead-lettered; the retry backoff
# (base doubling up to max); how long a worker holds a claimed message before the sweeper
# takes it back (must exceed the timeout). See docs/enforcement.md.
ENFORCEMENT_WEBHOOK_TIMEOUT = float(os.environ.get("ENFORCEMENT_WEBHOOK_TIMEOUT", "10"))
ENFORCEMENT_MAX_ATTEMPTS = int(os.environ.get("ENFORCEMENT_MAX_ATTEMPTS", "8"))
ENFORCEMENT_RETRY_BASE_SECONDS = int(os.environ.get("ENFORCEMENT_RETRY_BASE_SECONDS", "30"))
ENFORCEMENT_RETRY_MAX_SECONDS = int(os.environ.get("ENFORCEMENT_RETRY_MAX_SECONDS", "3600"))
ENFORCEMENT_LEASE_SECONDS = int(os.environ.get("ENFORCEMENT_LEASE_SECONDS", "120"))
# A bearer token that lets the account platform download the ban list without a login.
ENFORCEMENT_BANLIST_TOKEN = os.environ.get("ENFORCEMENT_BANLIST_TOKEN", "")

# The REST API (api/, docs/api.md): service tokens only, JSON only, OpenAPI 3 by
# drf-spectacular with Swagger UI served from our own static files (the sidecar package).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ServiceTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ScopeRequired"],
    # Each token's requests per scope, at API_THROTTLE_RATES (api.throttling).
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenScopeThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Non-ASCII as \u escapes: a lone surrogate that reached a reason or a value is then
    # still valid JSON on the wire rather than an encoding error.
    "UNICODE_JSON": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Distillation console API",
    "DESCRIPTION": "Push telemetry, read cases, campaigns and accounts, pull enforcement "
    "decisions. Authenticate with `Authorization: Bearer <token>` (tokens are made in the "
    "admin, with scopes ingest, read and decide). Guide: docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseKindEnum": "cases.models.Case.Kind",
        "CaseStatusEnum": "cases.models.Case.Status",
        "BatchKindEnum": "detection.models.IngestReport.Kind",
        "BatchStatusEnum": "api.serializers.BATCH_STATUSES",
    },
}


def _throttle_rate(name: str, default: str) -> str:
    """``API_THROTTLE_<NAME>``: ``<n>/<second|minute|hour|day>``, or empty for no limit."""
    rate = os.environ.get(f"API_THROTTLE_{name.upper()}", default).strip()
    number, _, period = rate.partition("/")
    if rate and not (number.isdigit() and int(number) > 0 and period in _THROTTLE_PERIODS):
        raise ImproperlyConfigured(
            f"API_THROTTLE_{name.upper()}={rate!r}: give <requests>/<second|minute|hour|day> "
            "(e.g. 600/minute), or leave it empty for no limit"
        )
    return rate


_THROTTLE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}
# Requests a service token may make per period to the endpoints of each scope, and failed
# token authentications an address may make (then it is refused for the rest of the period,
# any token it presents); over a rate the API answers 429 with Retry-After (docs/api.md).
API_THROTTLE_RATES = {
    "ingest": _throttle_rate("ingest", "120/minute"),
    "read": _throttle_rate("read", "600/minute"),
    "decide": _throttle_rate("decide", "120/minute"),
    "auth_failures": _throttle_rate("auth_failures", "30/minute"),
}
# A pushed batch: at most this many records and this many bytes of request body; a bigger
# one is refused whole (400 / 413), to be split by the sender.
API_BATCH_MAX_RECORDS = int(os.environ.get("API_BATCH_MAX_RECORDS", "10000"))
API_BATCH_MAX_BYTES = int(os.environ.get("API_BATCH_MAX_BYTES", str(32 * 1024 * 1024)))
# The decisions and ban list feeds hold back rows younger than this many seconds, so a
# transaction still committing is never skipped by a client's cursor (docs/api.md).
API_FEED_SETTLE_SECONDS = int(os.environ.get("API_FEED_SETTLE_SECONDS", "5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
