"""One settings module for every environment, driven by environment variables.

With ``DATABASE_URL`` unset the embedded PostgreSQL under ``var/pgdata`` is started (or reused); with
``REDIS_URL`` unset the local Redis that ``make run`` starts on ``EMBEDDED_REDIS_PORT`` is used.
Production secrets have no default: ``DEBUG=0`` without ``SECRET_KEY`` refuses to start, and the
development key that ``DEBUG=1`` falls back to serves loopback only.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from matchmaker.embedded import ensure_postgres
from matchmaker.env import env_bool, env_float, env_int, env_list, env_str, parse_database_url
from matchmaker.security import DEV_SECRET_KEY, require_loopback_for_dev_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MATCHMAKER_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if SECRET_KEY == DEV_SECRET_KEY:
    # The development key is public: it may serve loopback only (matchmaker/security.py).
    require_loopback_for_dev_key(ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = (env_str("SITE_URL") or "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "taxonomy",
    "accounts",
    "matching",
    "challenges",
    "notifications",
    "ops",
]

MIDDLEWARE = [
    "matchmaker.middleware.DevSecretKeyLoopbackMiddleware",
    "matchmaker.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "matchmaker.urls"
WSGI_APPLICATION = "matchmaker.wsgi.application"
ASGI_APPLICATION = "matchmaker.asgi.application"

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
                "django.template.context_processors.i18n",
                "core.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _db = parse_database_url(DATABASE_URL)
else:
    _db = ensure_postgres(VAR_DIR / "pgdata")
_db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0)
_db["CONN_HEALTH_CHECKS"] = True
_db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME") or f"test_{_db['NAME']}"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ------------------------------------------------------------------------
EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 6479)
REDIS_URL = env_str("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "mm",
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 14 * 60)
CELERY_RESULT_EXPIRES = 24 * 3600
# A task not acked within the visibility timeout is redelivered; keep it above the hard time limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 5 * 60)
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE: dict = {
    # matching: keep building the index of a newly configured model until it can be switched to.
    "matching-ensure-index-current": {"task": "matching.ensure_index_current", "schedule": 600.0},
    # notifications: re-queue stuck outbox rows; build the daily and weekly digests that are due.
    "notifications-outbox-sweep": {"task": "notifications.outbox_sweep", "schedule": 60.0},
    "notifications-digests": {"task": "notifications.digests_build", "schedule": 900.0},
    # challenges: close bidding past the deadline, flag overdue milestones, remind before deadlines.
    "challenges-close-due": {"task": "challenges.close_due_challenges", "schedule": 60.0},
    "challenges-flag-overdue": {"task": "challenges.flag_overdue_milestones", "schedule": 3600.0},
    "challenges-remind-deadlines": {"task": "challenges.remind_bid_deadlines", "schedule": 3600.0},
    # challenges: remind whoever owes an answer to an invitation or a bid; record missed ones.
    "challenges-answers-sweep": {"task": "challenges.answers_sweep", "schedule": 900.0},
    # matching: remind enterprises of access requests due soon; record missed answer deadlines.
    "matching-answers-sweep": {"task": "matching.answers_sweep", "schedule": 900.0},
    # matching: remind owners of needs/results about to expire; mark expired ones (fresh listings).
    "matching-listings-expiry-sweep": {
        "task": "matching.listings_expiry_sweep",
        "schedule": 3600.0,
    },
}
# Fresh listings (matching/catalogue/freshness.py): months a published need or result stays valid
# unless its owner sets another date, and days before the end its owner is reminded.
LISTING_VALIDITY_MONTHS = env_int("LISTING_VALIDITY_MONTHS", 12)
LISTING_EXPIRY_REMINDER_DAYS = env_int("LISTING_EXPIRY_REMINDER_DAYS", 14)
# Contract package (challenges/contract_package.py): the TrueType font (a .ttf, or a .ttc whose first
# face is used) the PDF draft is set in; it must hold Chinese glyphs. ``make setup`` installs this one
# (Debian package fonts-wqy-zenhei).
CONTRACT_PDF_FONT = env_str("CONTRACT_PDF_FONT") or "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
# Coded answers (matching/catalogue/answers.py): the default days to answer an access request, an
# invitation to bid or a bid (each need and challenge may set its own), and how many hours before
# that deadline the side that owes the answer is reminded.
ANSWER_DEADLINE_DAYS = env_int("ANSWER_DEADLINE_DAYS", 10)
ANSWER_REMINDER_HOURS = env_int("ANSWER_REMINDER_HOURS", 48)
# Notifications (the email outbox of the notifications app).
# The score a match must reach to be emailed (under every user's own minimum). Unset: the calibrated
# threshold of the match's model (matching/matcher/calibration.json, fitted so that on dev at least 80 % of
# the emailed matches are relevant; 0.5 for a model without calibration). Weaker pairings are shown
# on the pages as weak candidates but do not email anyone.
NOTIFICATION_MIN_SCORE: float | None = env_float("NOTIFICATION_MIN_SCORE", None)  # type: ignore[arg-type]
NOTIFICATION_MATCHES_PER_EMAIL = env_int("NOTIFICATION_MATCHES_PER_EMAIL", 5)
# Temporary SMTP failures (4xx, refused, timeout) are retried with exponential backoff (jittered,
# capped) up to this many attempts; permanent ones (5xx) are not retried.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 10)
NOTIFICATION_RETRY_BACKOFF = env_float("NOTIFICATION_RETRY_BACKOFF", 30.0)
NOTIFICATION_RETRY_BACKOFF_MAX = env_float("NOTIFICATION_RETRY_BACKOFF_MAX", 3600.0)
# One send's limits. A claim older than NOTIFICATION_CLAIM_TIMEOUT belongs to a dead worker and is
# taken over, so keep it above the hard limit.
NOTIFICATION_SEND_TIME_LIMIT = env_int("NOTIFICATION_SEND_TIME_LIMIT", 120)
NOTIFICATION_SEND_SOFT_TIME_LIMIT = env_int("NOTIFICATION_SEND_SOFT_TIME_LIMIT", 100)
NOTIFICATION_CLAIM_TIMEOUT = env_float("NOTIFICATION_CLAIM_TIMEOUT", 300.0)
# The sweeper leaves a due row alone this long, so it does not race the task already queued for it.
NOTIFICATION_SWEEP_GRACE = env_float("NOTIFICATION_SWEEP_GRACE", 60.0)
# Token bucket per recipient domain (in Redis): messages per second and burst; rate 0 disables it.
NOTIFICATION_DOMAIN_RATE = env_float("NOTIFICATION_DOMAIN_RATE", 2.0)
NOTIFICATION_DOMAIN_BURST = env_int("NOTIFICATION_DOMAIN_BURST", 20)
NOTIFICATION_UNSUBSCRIBE_MAILTO = (
    env_str("NOTIFICATION_UNSUBSCRIBE_MAILTO") or "unsubscribe@matchmaker.local"
)
NOTIFICATION_MESSAGE_ID_DOMAIN = env_str("NOTIFICATION_MESSAGE_ID_DOMAIN") or ""
# Digests are built from this local hour on: daily ones every day, weekly ones on Mondays.
NOTIFICATION_DIGEST_HOUR = env_int("NOTIFICATION_DIGEST_HOUR", 8)
if (
    NOTIFICATION_MAX_ATTEMPTS < 1
    or NOTIFICATION_DOMAIN_RATE < 0
    or NOTIFICATION_DOMAIN_BURST < 1
    or not 0 <= NOTIFICATION_DIGEST_HOUR <= 23
):
    raise ImproperlyConfigured("NOTIFICATION_* values are out of range")
# Queues. Email has its own queue and worker so that a burst of emails (a digest run, a busy
# challenge) never delays matching; everything else uses the default queue. `make run` and
# docker-compose start one worker per queue; /healthz checks that each queue has a consumer.
# A full rebuild of the matcher's indexes (matching/matcher/reindex.py) is split into batch tasks on
# the `reindex` queue: any number of worker processes or machines consuming it share the rebuild,
# while live matching (publish → matches) keeps the default queue and its own workers.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_MAIL_QUEUE = "mail"
CELERY_REINDEX_QUEUE = "reindex"
CELERY_TASK_ROUTES = {
    "notifications.*": {"queue": CELERY_MAIL_QUEUE},
    "matching.reindex_*": {"queue": CELERY_REINDEX_QUEUE},
    "matching.ensure_index_current": {"queue": CELERY_REINDEX_QUEUE},
}
WORKER_QUEUES = (CELERY_TASK_DEFAULT_QUEUE, CELERY_MAIL_QUEUE, CELERY_REINDEX_QUEUE)
# Objects per rebuild batch (one task), and how long a batch's claim holds before another worker
# may take it over (its worker died); keep the lease above the task time limit.
REINDEX_BATCH_SIZE = env_int("REINDEX_BATCH_SIZE", 256)
REINDEX_BATCH_LEASE = env_int("REINDEX_BATCH_LEASE", CELERY_TASK_TIME_LIMIT + 60)
# Live matching keeps priority over a rebuild (matching/matcher/priority.py): the rebuild encodes
# REINDEX_ENCODE_CHUNK texts at a time and, before each chunk or need, waits while live matching runs,
# at most REINDEX_YIELD_MAX_SECONDS per wait; a live task's marker lapses after its lease.
REINDEX_ENCODE_CHUNK = env_int("REINDEX_ENCODE_CHUNK", 8)
REINDEX_YIELD_MAX_SECONDS = env_float("REINDEX_YIELD_MAX_SECONDS", 10.0)
MATCHER_LIVE_LEASE_SECONDS = env_int("MATCHER_LIVE_LEASE_SECONDS", 120)
if REINDEX_ENCODE_CHUNK < 1 or REINDEX_YIELD_MAX_SECONDS < 0 or MATCHER_LIVE_LEASE_SECONDS < 1:
    raise ImproperlyConfigured(
        "REINDEX_ENCODE_CHUNK, REINDEX_YIELD_MAX_SECONDS or MATCHER_LIVE_LEASE_SECONDS out of range"
    )
# Load the embedding model when a worker's pool process starts (off for the mail worker).
WORKER_PRELOAD_MODEL = env_bool("WORKER_PRELOAD_MODEL", True)
# torch's threads per process that encodes (0: torch's default, every core). Several reindex worker
# processes on one machine each take every core by default and slow each other down: give each
# cores / processes.
MATCHER_TORCH_THREADS = env_int("MATCHER_TORCH_THREADS", 0)
# Load the embedding model in each gunicorn worker when it starts (gunicorn.conf.py), so the first
# ad-hoc match (POST /api/v1/match/ encodes its text in the web process) does not pay for it.
WEB_PRELOAD_MODEL = env_bool("WEB_PRELOAD_MODEL", True)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Email confirmation links stay valid for three days.
ACCOUNT_CONFIRMATION_MAX_AGE = env_int("ACCOUNT_CONFIRMATION_MAX_AGE", 3 * 24 * 3600)
INVITATION_MAX_AGE = env_int("INVITATION_MAX_AGE", 14 * 24 * 3600)
# Login throttling (accounts/services.py, login_*): failed logins counted per account and per client
# address (REMOTE_ADDR) in the cache; past either limit every attempt, even with the right password,
# is refused until the window that began with the first failure ends. A limit of 0 turns it off
# (e.g. the per-address one behind a proxy that does not pass the client's address as REMOTE_ADDR).
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 10)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 30)
if LOGIN_FAILURE_WINDOW < 1 or LOGIN_FAILURES_PER_ACCOUNT < 0 or LOGIN_FAILURES_PER_ADDRESS < 0:
    raise ImproperlyConfigured("LOGIN_FAILURE_* values are out of range")

# --- I18n -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
# Uploaded files live outside the web root and are only served by views that check permissions.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "uploads")
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 20)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024

# --- Email ----------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "技术转移撮合平台 <noreply@matchmaker.local>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_FILE_PATH = VAR_DIR / "mail"
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # Embedded default: every message is written to var/mail/ so a user can read it.
    EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.filebased.EmailBackend"

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    # DRF's parsers, refusing text the database cannot store (NUL, lone surrogates) with a 400.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.JSONParser",
        "core.api.FormParser",
        "core.api.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # Counted atomically in Redis, per user (every API token of a user shares the budget).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.UserRateThrottle",
        "core.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_THROTTLE_USER") or "600/minute",
        "anon": env_str("API_THROTTLE_ANON") or "60/minute",
        "bulk": env_str("API_THROTTLE_BULK") or "60/hour",
    },
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    # ASCII: client generators make the package name from the title (openapi-python-client would
    # otherwise write a package name pip cannot install).
    "TITLE": "Tech Transfer Matchmaking API",
    "DESCRIPTION": "技术转移撮合平台 API. Needs, results, capability profiles, matches and challenges for "
    "provincial platforms and enterprise systems. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets sharing a field name (status, kind) across components get stable names.
    "ENUM_NAME_OVERRIDES": {
        "NeedStatusEnum": "matching.models.Need.Status",
        "ResultStatusEnum": "matching.models.Result.Status",
        "PatentStatusEnum": "matching.models.Patent.Status",
        "PatentKindEnum": "matching.models.Patent.Kind",
        "CoopModeEnum": "matching.models.CoopMode",
        "ImportStatusEnum": "matching.catalogue.api.serializers.IMPORT_STATUS_CHOICES",
        "OrganizationKindEnum": "accounts.models.Organization.Kind",
        # The discriminator of items seen by their summary or in full (core.schema.by_visibility).
        "VisibilitySummaryEnum": ["summary"],
        "VisibilityFullEnum": ["full"],
        "DeclineReasonEnum": "matching.catalogue.answers.DeclineReason",
        # The match feedback's reasons keep the name they had before DeclineReason came along.
        "ReasonEnum": "matching.models.MatchFeedback.Reason",
    },
}

# --- Matcher --------------------------------------------------------------------------------------
MATCHER_DEFAULT_MODEL_DIR = VAR_DIR / "models" / "default"
MATCHER_MODEL = env_str("MATCHER_MODEL") or str(MATCHER_DEFAULT_MODEL_DIR)
MATCHER_MIN_SCORE = env_float("MATCHER_MIN_SCORE", 0.0)
# Cut texts to this many tokens before embedding (unset: the model's own length, 128 for the
# default). Another length makes another model id (":tok<N>"), so a new index version is built and
# stored vectors of different lengths never mix. Shorter is faster (bench/bench_encode.py).
EMBEDDING_MAX_TOKENS = env_int("EMBEDDING_MAX_TOKENS", 0) or None
if EMBEDDING_MAX_TOKENS is not None and not 8 <= EMBEDDING_MAX_TOKENS <= 512:
    raise ImproperlyConfigured("EMBEDDING_MAX_TOKENS must be between 8 and 512")
# maintenance_work_mem for building a version's HNSW indexes (a PostgreSQL memory size).
MATCHER_INDEX_BUILD_MEMORY = env_str("MATCHER_INDEX_BUILD_MEMORY") or "1GB"
# The evaluation split ``manage.py tune_ranking`` refits on and guards with (shared/eval/dev format).
MATCHER_TUNE_DATA = env_str("MATCHER_TUNE_DATA") or str(BASE_DIR.parent / "shared" / "eval" / "dev")

# --- Security -------------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent with every response (matchmaker/middleware.py). No inline script, style or event handler
# anywhere: templates use static/js and static/css with data attributes, and the Swagger UI is the
# split view (its script is a separate request) with a template of our own without inline style.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {"pgserver": {"level": "WARNING"}},
}
