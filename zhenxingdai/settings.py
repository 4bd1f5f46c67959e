"""Settings for Zhenxingdai, read from the environment.

Every variable a deployment may set is read here through ``env`` and nowhere
else, so that ``docker-compose.yml`` and the README can be checked against
this file (tests/test_deployment_files.py reads the names from it).

Unset, everything falls back to a local demo: a SQLite file under ``var/``
and Celery tasks run in-process, so ``make demo`` needs neither PostgreSQL
nor Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)

if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str(
        "SECRET_KEY",
        default="development-only-key-never-used-in-production-0123456789abcdef",
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "import_export",
    "simple_history",
    "axes",
    "csp",
    # Domain apps, lowest layer first: each may read the ones above it only.
    "divisions",
    "accounts",
    "beneficiaries",
    "loans",
    "riskfund",
    "subsidies",
    "reports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy, pages do.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.login.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "zhenxingdai.urls"

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
                "accounts.context_processors.role_navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "zhenxingdai.wsgi.application"
ASGI_APPLICATION = "zhenxingdai.asgi.application"

if not env.str("DATABASE_URL", default=""):
    # git ignores var/, so a fresh clone has none: SQLite cannot create the
    # file of the demo's database in a folder that is not there.
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default="sqlite:///" + str(BASE_DIR / "var" / "zhenxingdai.sqlite3"),
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# Behind PgBouncer in transaction mode a server-side cursor (QuerySet.iterator)
# would outlive the transaction's server connection: README, "A province on
# many workers".
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DISABLE_SERVER_SIDE_CURSORS", default=False
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool(
    "DATABASE_JIT", default=False
):
    # PostgreSQL compiles (JIT) every statement it costs above jit_above_cost;
    # the sums of the dashboards and the league table cost that much, and
    # compiling them takes longer than running them (bench/README.md: the
    # league page 4.0 s with JIT, 2.4 s without). Behind PgBouncer, which
    # ignores this startup option, set jit = off in postgresql.conf.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = (options.get("options", "") + " -c jit=off").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes checks every password login before Django's own backend does.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five wrong passwords for one username from one address lock that pair out
# for fifteen minutes, counted from the last attempt; a correct password
# before then clears the count. Other addresses, and the co-op's API keys,
# are unaffected. `manage.py axes_reset_username <name>` unlocks early.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.login.lockout_response"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Chinese first; English is selectable in every page's footer.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [
    ("zh-hans", "简体中文"),
    ("en", "English"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
# Outside production, serve static files straight from the source folders
# (no collectstatic needed for the demo or the tests).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Celery. With no broker configured, tasks run eagerly in the calling
# process: the demo and a plain `make test` need no Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "refresh-borrower-categories": {
        "task": "beneficiaries.refresh_categories",
        "schedule": crontab(hour=1, minute=10),
    },
    "release-due-notices": {
        "task": "loans.release_due_notices",
        "schedule": crontab(hour=0, minute=30),
    },
    "record-loan-statuses": {
        "task": "loans.record_loan_statuses",
        "schedule": crontab(hour=1, minute=0),
    },
    # The previous subsidy year's draft run of every active programme; the
    # county's "compute" button does the same, so nothing depends on it.
    "start-subsidy-runs": {
        "task": "subsidies.start_due_runs",
        "schedule": crontab(month_of_year=1, day_of_month=5, hour=2, minute=0),
    },
}
# A message a worker took but never acknowledged (the worker died) goes back
# to the queue after this many seconds; a subsidy part takes well under it.
# Workers look for such messages every interval × throttle seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}

# The co-op API (loans/api/): API keys only (no session, so no CSRF), JSON
# only, every error in one envelope, a request budget per key.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["loans.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["loans.api.permissions.CoopApiPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["loans.api.permissions.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": "1000/minute"},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loans.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "loans.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Zhenxingdai co-op API",
    "VERSION": "1",
    "DESCRIPTION": (
        "The credit co-op's API: read released applications, post contracts, interest and "
        "principal repayments, read loans back, file compensation claims on the "
        "risk-compensation fund and read them back. Send `Authorization: Token <key>` (issued by "
        "the county programme office). Every record carries the co-op's own `txn_id`: "
        "posting it again with the same content changes nothing, with different content it "
        "is refused (409). Amounts are decimal strings with 2 places, rates with 6, dates "
        '`YYYY-MM-DD`. Every error answers `{"errors": [{"index", "field", '
        '"code", "message"}]}` (`index` only for rows of a posted list).'
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI's files come from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LoanStatusEnum": "loans.models.Loan.Status",
        "ClaimStateEnum": "riskfund.models.Claim.State",
        "PostingOutcomeEnum": ["created", "already_exists"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every step of every PDF, and a warning for each SVG
    # presentation attribute it does not use: errors only.
    "loggers": {"weasyprint": {"level": "ERROR"}, "fontTools": {"level": "ERROR"}},
}

# Production hardening: `manage.py check --deploy` passes with no warning
# when DJANGO_ENV=production (tests/test_settings.py runs it).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A session ends after SESSION_IDLE_SECONDS without a request (every request
# pushes its expiry ahead) and, however busy, SESSION_MAX_SECONDS after its
# login (accounts.login.SessionLifetimeMiddleware).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_MAX_SECONDS = env.int("SESSION_MAX_SECONDS", default=8 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True

# History is append-only (accounts/history.py): never offer simple-history's
# revert, should a model ever be registered with its admin.
SIMPLE_HISTORY_REVERT_DISABLED = True
# No inline script or style: every page's scripts and styles are files under
# static/. A template that needs an inline block (the API reference page)
# marks it with request.csp_nonce; the nonce appears in the header only then.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if PRODUCTION:
    # TLS ends at the reverse proxy in front of gunicorn, which says so in
    # this header; /healthz stays reachable over plain HTTP for probes.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    # Count failed logins against the address the proxy saw, not against
    # whatever the client wrote into X-Forwarded-For.
    AXES_CLIENT_IP_CALLABLE = "accounts.login.proxied_client_ip"

# Reference data shipped with the project (official division codes).
DIVISIONS_DATA_DIR = BASE_DIR / "divisions" / "data"
