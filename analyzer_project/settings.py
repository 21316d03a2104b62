"""Settings: every value comes from the environment, here and nowhere else (see .env.example)."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from analyzer_project import embedded_db
from analyzer_project.durations import parse_duration
from analyzer_project.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={raw!r}: expected true/false, 1/0, yes/no or on/off")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def env_list(name: str) -> list[str]:
    """A comma-separated list; unset or empty: no item."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A rate such as 600/min (per s, min, h or day), or None for "off"."""
    raw = os.environ.get(name) or default
    if raw.lower() == "off":
        return None
    count, _, period = raw.partition("/")
    if not (
        count.isdigit() and int(count) > 0 and period in {"s", "sec", "min", "h", "hour", "day"}
    ):
        raise ValueError(f"{name}={raw!r}: expected a count per s, min, h or day (600/min) or off")
    return raw


def env_duration(name: str, default: str) -> timedelta:
    raw = os.environ.get(name) or default
    try:
        value = parse_duration(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r}: {error}") from None
    if value <= timedelta(0):
        raise ValueError(f"{name}={raw!r}: must be longer than zero")
    return value


def process_name() -> str:
    """Name this process in pg_stat_activity and logs, e.g. "collect_stream"."""
    if os.environ.get("PROCESS_NAME"):
        return os.environ["PROCESS_NAME"]
    program = Path(sys.argv[0]).name
    if program == "manage.py" and len(sys.argv) > 1:
        return sys.argv[1]
    return program or "python"


def is_gunicorn() -> bool:
    """Whether this process is gunicorn (`gunicorn` or `python -m gunicorn`): production."""
    program = Path(sys.argv[0])
    return program.name == "gunicorn" or program.parent.name == "gunicorn"


def is_web() -> bool:
    """Whether this process serves the API (gunicorn, runserver): its threads share a pool."""
    program = Path(sys.argv[0]).name
    return is_gunicorn() or (program == "manage.py" and sys.argv[1:2] == ["runserver"])


DEBUG = env_bool("DJANGO_DEBUG", False)
DEVELOPMENT_SECRET_KEY = "insecure-development-key-set-DJANGO_SECRET_KEY"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if is_gunicorn() and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set: the web process will not serve production with the"
        " development key. Make one with"
        " `python -c 'import secrets; print(secrets.token_urlsafe(50))'` and set"
        " DJANGO_SECRET_KEY in the environment (.env for docker compose)."
    )
ALLOWED_HOSTS = env_str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")

STREAM_URL = env_str("STREAM_URL", "https://stream.upfluence.co/stream")
# An upstream event larger than this is discarded and counted (rejected{reason="too_large"}):
# the stream's posts are a few hundred KB at most, and no upstream may grow a buffer without end.
STREAM_MAX_EVENT_BYTES = env_int("STREAM_MAX_EVENT_BYTES", 2**20, minimum=1024)
RETENTION = env_duration("RETENTION", "24h")
PARTITION_INTERVAL = env_duration("PARTITION_INTERVAL", "1h")
REALTIME_MAX_DURATION = env_duration("REALTIME_MAX_DURATION", "60s")
REALTIME_MAX_CONCURRENT = env_int("REALTIME_MAX_CONCURRENT", 256, minimum=1)
ANALYSIS_MIN_DURATION = env_duration("ANALYSIS_MIN_DURATION", "5s")
ANALYSIS_MAX_DURATION = env_duration("ANALYSIS_MAX_DURATION", "24h")

# --- Security (README "Security") ------------------------------------------------------
# HTTPS, served directly or by a TLS-terminating proxy: secure cookies, redirects to https
# (not the probes, which the orchestrator calls over plain HTTP), HSTS.
HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# The header the proxy sets to say the request came over HTTPS (e.g. X-Forwarded-Proto);
# unset, no header is trusted, since a client could send it.
if _proxy_ssl_header := env_str("DJANGO_SECURE_PROXY_SSL_HEADER", ""):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")  # the admin's origin behind a proxy
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)

# Client identity: with TRUSTED_PROXIES = n, the address the n-th proxy from here received
# the request from (X-Forwarded-For); 0: the connection's address, whatever headers say.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
ANALYSIS_RATE_LIMIT = env_rate("ANALYSIS_RATE_LIMIT", "600/min")  # per client; "off"
REALTIME_MAX_PER_CLIENT = env_int("REALTIME_MAX_PER_CLIENT", 8, minimum=1)

# Admin login lockout (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT failures for one
# username from one address, that pair is refused for ADMIN_LOGIN_COOLOFF. Locking the pair,
# not the username alone, keeps an attacker from locking the real admin out everywhere.
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_duration("ADMIN_LOGIN_COOLOFF", "15m")
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_CLIENT_IP_CALLABLE = "analyzer_project.clients.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_ALLOWED_CORS_ORIGINS = ""  # axes' own answer to XMLHttpRequest logins: no CORS
AXES_LOCKOUT_CALLABLE = "analyzer_project.lockout.login_locked"  # says for how long
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login
    "django.contrib.auth.backends.ModelBackend",
]

# CORS for browser clients of the read API: GET from the configured origins only.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/(?:analysis|v1/)"
CORS_ALLOW_METHODS = ["GET"]
CORS_EXPOSE_HEADERS = [
    "Retry-After",
    "X-Request-ID",
    "X-Window-Start",
    "X-Window-End",
    "X-Data-Age",
    "X-Data-Since",
]

INSTALLED_APPS = [
    "analysis",  # first: its runserver (port 8080) overrides staticfiles' one
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "corsheaders",
    "ingestion",
    "dashboard",
]

MIDDLEWARE = [
    "analyzer_project.request_id.RequestIdMiddleware",  # first: every answer and log line
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "analyzer_project.compression.JsonGZipMiddleware",
    # Serves the admin's and the API docs' static files under gunicorn too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "analyzer_project.urls"
WSGI_APPLICATION = "analyzer_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    _database = {
        **dj_database_url.parse(os.environ["DATABASE_URL"]),
        "ENGINE": "django.db.backends.postgresql",
    }
else:
    # PostgreSQL's backend too, on a server it starts at the first connection, not here.
    _database = {
        "ENGINE": "analyzer_project.embedded_db",
        "NAME": embedded_db.DATABASE_NAME,
        "USER": embedded_db.USER,
    }
# The web's threads (gunicorn's REALTIME_MAX_CONCURRENT + 16, runserver's one per request)
# share one pool per process: a request holds a connection only while it runs, and waits up
# to DATABASE_POOL_TIMEOUT for a free one instead of failing with PostgreSQL's "too many
# clients". Other processes keep one connection per thread (DATABASE_CONN_MAX_AGE): the
# collector and the scheduler are loops on one connection, which a pool would make wait
# DATABASE_POOL_TIMEOUT per attempt during an outage, and the scheduler forks its workers,
# which a pool's connections and threads do not survive.
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 20, minimum=1)
DATABASE_POOL_TIMEOUT = env_duration("DATABASE_POOL_TIMEOUT", "10s")
DATABASES = {
    "default": {
        **_database,
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            **_database.get("OPTIONS", {}),
            "application_name": f"stream-analyzer {process_name()}"[:63],
            "connect_timeout": 5,
        },
    }
}
if is_web():
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pooled connection goes back after each request
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(4, DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT.total_seconds(),
    }

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every web process (the rate limits): a table of the same PostgreSQL, created
    # by a migration (analysis/migrations), so no other service. Expired rows go first when
    # MAX_ENTRIES is reached; an entry lives one rate period.
    "shared": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "shared_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "analysis.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["analysis.throttling.ClientRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The scheduler process (`manage.py qcluster`). The ORM broker keeps its queue in this
# database, so there is no other service to run; its only job is partition maintenance
# every 5 minutes (ingestion.tasks), hence one worker and a lazy poll.
Q_CLUSTER = {
    "name": "stream-analyzer",
    "orm": "default",
    "workers": 1,
    "poll": 2,  # seconds between queue polls when idle: a task waits at most that long
    "timeout": 240,  # kill a run after 4 min, before the next one is due
    "retry": 300,  # longer than timeout, or the broker hands out a running task again
    "max_attempts": 1,  # a failed run is not retried: the next one is 5 minutes away
    "catch_up": False,  # after downtime run once, not once per missed 5-minute slot
    "save_limit": 288,  # keep a day of successful runs for the admin
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Stream Analyzer API",
    "DESCRIPTION": "Post counts and exact percentiles over a window of a live post stream.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page works offline: Swagger UI is served from the sidecar package.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ValueError(f"LOG_FORMAT={LOG_FORMAT!r}: expected plain or json")
LOGGING = logging_config(
    process=process_name(), json_lines=LOG_FORMAT == "json", level=env_str("LOG_LEVEL", "INFO")
)
