"""Settings for every environment, read from environment variables (see .env.example).

With no environment at all the app runs on its embedded defaults: a SQLite file, Celery tasks run
in-process, a local-memory cache, SMS and e-mail printed on the console, media on local disk.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file at the project root is read unless DJANGO_READ_DOT_ENV=0 (tests of the defaults).
if env.bool("DJANGO_READ_DOT_ENV", default=True) and (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DJANGO_DEBUG=0 the app needs its own secret key: set "
            "SECRET_KEY to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of the site, used in links sent by e-mail and SMS.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "accounts.webadmin.WebAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    # django-ninja's static files: the API docs pages load Swagger UI from here, not a CDN.
    "ninja",
    "axes",
    # Content-Security-Policy header (CONTENT_SECURITY_POLICY below); its system checks.
    "csp",
    "anymail",
    "accounts",
    "services",
    "scheduling",
    "routes",
    "lastmile",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.AccountLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the outcome of authentication on every login view.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tracking.urls"
WSGI_APPLICATION = "tracking.wsgi.application"

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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# Database: a SQLite file by default; DATABASE_URL selects PostgreSQL. Connections persist
# (CONN_MAX_AGE) because opening one per request makes a simple view an order of magnitude slower.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves a few concurrent writers (the demo's simulated drivers): a write
    # transaction takes the lock when it begins and others wait for it, instead of failing with
    # "database is locked" when a read turns into a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: when REDIS_URL is set it is the Celery broker and the cache; without it tasks run
# in-process and the cache is local memory.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, except that an unreachable Redis is an empty cache rather
            # than an error: pages and API calls keep answering through a Redis outage.
            "BACKEND": "tracking.lib.cache.FailSoftRedisCache",
            "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
            "KEY_PREFIX": "tracking",
            # Short socket timeouts (redis-py waits 5 s by default), so that a Redis that does
            # not answer costs a request a fraction of a second, not seconds per cache call.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# How long /healthz waits for a worker to answer a ping.
HEALTHZ_WORKER_TIMEOUT_S = env.float("HEALTHZ_WORKER_TIMEOUT_S", default=1.0)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 24)

# Login throttling: after LOGIN_FAILURE_LIMIT failures for one e-mail from one address, that pair
# is locked out for LOGIN_COOLOFF_MINUTES; every failure is recorded and logged.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.forms.axes_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Security logs name the e-mail and address of each failure; passwords are never logged.
AXES_SENSITIVE_PARAMETERS = []

# Internationalization: English, Brazilian Portuguese and Spanish; each account has its own
# language and time zone, which the middleware activates for its users.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("pt-br", _("Portuguese (Brazil)")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Proof-of-delivery images from the driver app (routes.evidence): larger files or more pixels are
# refused before decoding, which bounds the work done within the upload request.
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=10 * 1024 * 1024)
EVIDENCE_MAX_PIXELS = env.int("EVIDENCE_MAX_PIXELS", default=40_000_000)
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

# E-mail: printed on the console by default; EMAIL_URL (smtp://...) or an Anymail backend in
# production (e.g. EMAIL_BACKEND=anymail.backends.postmark.EmailBackend with ANYMAIL_* settings).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Last Mile <no-reply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Where the file e-mail backend (django.core.mail.backends.filebased.EmailBackend) writes.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(MEDIA_ROOT / "emails"))
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
# Seconds to wait for the e-mail server or the ESP's API; then the send counts as failed (and a
# timed-out answer from an ESP as "may have been sent": see lastmile.sending).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT_S", default=10)
ANYMAIL = {
    "REQUESTS_TIMEOUT": EMAIL_TIMEOUT,
    **{
        key: value
        for key, value in {
            "POSTMARK_SERVER_TOKEN": env.str("POSTMARK_SERVER_TOKEN", default=""),
            "POSTMARK_API_URL": env.str("POSTMARK_API_URL", default=""),
            "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY", default=""),
            "MAILGUN_API_URL": env.str("MAILGUN_API_URL", default=""),
            "MAILGUN_SENDER_DOMAIN": env.str("MAILGUN_SENDER_DOMAIN", default=""),
            "SENDGRID_API_KEY": env.str("SENDGRID_API_KEY", default=""),
            "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default=""),
        }.items()
        if value
    },
}

# SMS: a backend shaped like Django's e-mail backends (tracking.lib.sms).
SMS_BACKEND = env.str("SMS_BACKEND", default="tracking.lib.sms.ConsoleBackend")
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(MEDIA_ROOT / "sms"))
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Another base address for Twilio's API (a regional edge, or a local fake in tests).
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="")
# Seconds to wait for Twilio's answer; a timed-out send is settled by asking Twilio before any
# second try (lastmile.sending).
TWILIO_TIMEOUT_S = env.float("TWILIO_TIMEOUT_S", default=10)

# Outgoing webhooks may call private, loopback or link-local addresses (and plain http on
# localhost) only when this is on: development and tests. Off in production, so an account's
# webhook cannot reach the platform's own network or a cloud metadata service.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=DEBUG)

# Travel matrices from an OSRM server (routes.matrix.OsrmProvider) when OSRM_URL is set; without it
# distances and times are haversine estimates. The timeout is per request (seconds).
OSRM_URL = env.str("OSRM_URL", default="")
OSRM_PROFILE = env.str("OSRM_PROFILE", default="driving")
OSRM_TIMEOUT_S = env.float("OSRM_TIMEOUT_S", default=10)

# Security: strict by default when DEBUG is off. Behind a TLS-terminating proxy that sets
# X-Forwarded-Proto (and overwrites any value the client sent), requests are recognised as https;
# an empty SECURE_PROXY_SSL_HEADER trusts no header (the app is reached directly).
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="X-Forwarded-Proto").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)

# Content-Security-Policy (django-csp): scripts only from our own static files (no inline script,
# no eval), nothing may frame the site, no plugins, forms post only to us. Images may also be the
# map tiles (Leaflet; routes.views.MAP_TILES) and data:/blob: URLs (Leaflet, Chart.js, signature
# pads). Styles allow inline ones: the Django admin, htmx's indicator rules, the e-mail preview
# and a few computed widths and brand colours use them, and CSS cannot run script.
MAP_TILE_ORIGINS = ["https://tile.openstreetmap.org"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:", *MAP_TILE_ORIGINS],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # Twilio's client logs every request's headers at INFO.
        "twilio.http_client": {"level": "WARNING"},
    },
}
