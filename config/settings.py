"""One settings module for every environment, driven by environment variables.

With no variables set the platform runs on the embedded default: SQLite and kombu's filesystem
transport under DATA_DIR, with a real worker process. DATABASE_URL and CELERY_BROKER_URL switch
to PostgreSQL and Redis/RabbitMQ. Bad values fail loudly at start-up (django-environ raises).
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
# SECRET_KEY is read below, once DATABASES says whether this is a production installation.

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS=true declares that the site is served over TLS and turns on everything that depends on
# it; each setting can still be overridden on its own. Off by default so that plain-HTTP local
# runs (`make run`) work with DEBUG off. See docs/deployment.md.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 60 * 60 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
# Preloading asks browser vendors to hard-code HTTPS for the whole registered domain, a request
# only its owner makes (at hstspreload.org), so it is opt-in and check --deploy's reminder about
# it (W021) is silenced.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# TLS ends at a reverse proxy that forwards plain HTTP: trust its X-Forwarded-Proto, or the
# SSL redirect would loop. Only behind a proxy that always sets that header itself, replacing
# any a client sent.
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "benchmarks",
    "submissions",
    "accounts",
    # The API's OpenAPI schema and its docs page, with Swagger UI served from our own static
    # files (config/openapi.py, docs/api.md).
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Structured editors for the JSON fields authors edit in the admin (docs/authors.md).
    "django_jsonform",
    # Pages that update themselves (a submission's status), with htmx from our own static files.
    "django_htmx",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.throttling.PostThrottleMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx
    # Last, as django-axes requires: it turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
# Persistent connections: a new PostgreSQL connection per request or job costs more than a
# small query. Health checks drop one that broke while idle.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server and worker write the same file: wait for locks instead of failing at once,
    # and take the write lock at BEGIN so that a read-then-write never deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # A file (not memory) so that a worker process can share the test database; one per test
    # run so that parallel runs do not trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test_db_{os.getpid()}.sqlite3")}

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        # A key generated on one machine's disk would sign sessions and tokens that the other
        # web servers and workers reject, and a fresh disk would invalidate them all.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off and DATABASE_URL naming a production "
            "database, set SECRET_KEY to a long random string shared by every web server and "
            "worker, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    # The embedded default: a per-installation key so that `make run` works without
    # configuration.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
    SECRET_KEY = key_file.read_text().strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "benchmark_list"
LOGOUT_REDIRECT_URL = "benchmark_list"
# Sign-up e-mail verification (docs/accounts.md): "none", or "mandatory" (a new account stays
# inactive until its owner opens the signed link mailed to them).
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="none")
if ACCOUNT_EMAIL_VERIFICATION not in ("none", "mandatory"):
    raise ImproperlyConfigured(
        f"ACCOUNT_EMAIL_VERIFICATION={ACCOUNT_EMAIL_VERIFICATION!r}: use none or mandatory."
    )
# E-mail (sign-up links, password resets): printed to the console unless EMAIL_URL names an
# SMTP server, e.g. smtp+tls://user:password@smtp.example.org:587 (django-environ's email_url).
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds; a request waits for the server
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Benchmark platform <noreply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# The site's public address, for links in e-mails sent without a request to build them from (a
# submission's result, from the worker): scheme and host (and port), nothing after them.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not re.fullmatch(r"https?://[^/\s]+", SITE_URL):
    raise ImproperlyConfigured(
        f"SITE_URL={SITE_URL!r}: use the site's public address, e.g. https://bench.example.org."
    )

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploaded and derived files. Everything is private: split data, uploads and bundles are served
# only through views that check access, never from a public URL.
PRIVATE_STORAGE_DIR = Path(env.str("PRIVATE_STORAGE_DIR", default=str(DATA_DIR / "files")))
STORAGES = {
    "default": {
        "BACKEND": env.str(
            "STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("STORAGE_OPTIONS", default={"location": str(PRIVATE_STORAGE_DIR)}),
    },
    # With DEBUG off, static files get content-hashed names (served with far-future cache
    # headers) from the manifest that `collectstatic` writes; a page that names a file missing
    # from the manifest fails instead of linking a stale or absent file. The test suite runs
    # without collectstatic and swaps in the plain storage (tests/conftest.py).
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# Upload limits: the whole request, and a prediction file on its own.
MAX_PREDICTION_FILE_MB = env.int("MAX_PREDICTION_FILE_MB", default=200)
# What one prediction file may hold once read (docs/formats.md, "Prediction files"). Decoded
# (after gzip or unzipping), as much as an uploaded file may be: compression saves bandwidth,
# not limits. Checking an upload holds at most about three times this in memory.
MAX_PREDICTION_DECODED_MB = env.int("MAX_PREDICTION_DECODED_MB", default=MAX_PREDICTION_FILE_MB)
# Rows: the ids of the benchmark's scored splits, plus 10% and this many (room for the message
# about duplicated and unknown ids). Columns: id, prediction, task and a few others.
MAX_PREDICTION_EXTRA_ROWS = env.int("MAX_PREDICTION_EXTRA_ROWS", default=1000)
MAX_PREDICTION_COLUMNS = env.int("MAX_PREDICTION_COLUMNS", default=8)
# Text predictions (question answering, generation): scoring time grows with their length.
MAX_PREDICTION_TEXT_CHARS = env.int("MAX_PREDICTION_TEXT_CHARS", default=20_000)
MAX_PREDICTION_MEAN_TEXT_CHARS = env.int("MAX_PREDICTION_MEAN_TEXT_CHARS", default=2_000)
# What a benchmark bundle may hold (docs/formats.md, "Benchmark bundles"): a zip uploaded on the
# admin's import page; a bundle's data decoded (a zip's entries unpacked, and its data files as
# read: after gzip, Parquet as decoded, images, Hub splits); the rows and columns of one split;
# the entries of a zip. Importing holds at most about four times MAX_BUNDLE_DECODED_MB in memory.
MAX_BUNDLE_MB = env.int("MAX_BUNDLE_MB", default=200)
MAX_BUNDLE_DECODED_MB = env.int("MAX_BUNDLE_DECODED_MB", default=500)
MAX_SPLIT_ROWS = env.int("MAX_SPLIT_ROWS", default=1_000_000)
MAX_SPLIT_COLUMNS = env.int("MAX_SPLIT_COLUMNS", default=50)
MAX_BUNDLE_FILES = env.int("MAX_BUNDLE_FILES", default=10_000)
# Called with benchmark= once a benchmark is published, or its data replaced while published:
# the automatic baselines (docs/authors.md). Named here so that benchmarks imports no app above.
BENCHMARK_PUBLISHED_HOOKS = [
    "submissions.split_cells.benchmark_cells_store",  # before any scoring reads them
    "submissions.baselines.benchmark_baselines_create",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Hidden-split slice cells smaller than this are suppressed everywhere (docs/formats.md).
MIN_SLICE_SIZE = env.int("MIN_SLICE_SIZE", default=20)
BOOTSTRAP_RESAMPLES = env.int("BOOTSTRAP_RESAMPLES", default=1000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Named tokens (docs/accounts.md) first; then the older single authtoken keys.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonThrottle",
        "config.throttling.UserThrottle",
        "config.throttling.PostThrottle",
    ],
}

# The OpenAPI schema of the REST API at /api/schema/ and its Swagger UI at /api/docs/ (docs/api.md),
# drf-spectacular; the UI's files come from drf-spectacular-sidecar, served as our own static
# files (no CDN). config/openapi.py adds the `{"errors": [...]}` answers to every operation.
SPECTACULAR_SETTINGS = {
    "TITLE": "Benchmark platform API",
    "DESCRIPTION": (
        "Benchmarks, submissions and leaderboards. Authenticate with `Authorization: Token "
        "<key>` (`manage.py create_api_token USERNAME`). Every 4xx and 5xx answer is "
        '`{"errors": ["message", ...]}`; see docs/api.md and docs/formats.md.'
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two `kind` choices: a submission's kind, and the `kind=model` of a model archive upload.
    "ENUM_NAME_OVERRIDES": {"SubmissionKindEnum": "submissions.models.Submission.Kind"},
    "PATH_CONVERTER_OVERRIDES": {"slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
}

# Throttling (config/throttling.py, docs/deployment.md). Rates are "N/second", "N/minute",
# "N/hour" or "N/day", counted over a sliding window; "none" (or empty) lifts a limit.
_RATE = re.compile(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)")


def throttle_rate(name: str, default: str) -> str | None:
    value = env.str(name, default=default).strip()
    if value.lower() in ("", "none"):
        return None
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name}={value!r}: use N/second, N/minute, N/hour or N/day, or none for no limit."
        )
    return value


THROTTLE_RATES = {
    "anon": throttle_rate("THROTTLE_ANON", "60/minute"),  # API, per client address
    "user": throttle_rate("THROTTLE_USER", "300/minute"),  # API, per account
    "uploads": throttle_rate("THROTTLE_UPLOADS", "30/hour"),  # page and API, per participant
    "login": throttle_rate("THROTTLE_LOGIN", "60/hour"),  # login POSTs, per client address
    "signup": throttle_rate("THROTTLE_SIGNUP", "10/hour"),  # sign-up POSTs, per client address
    # Password-reset and verification-mail POSTs, per client address.
    "mail": throttle_rate("THROTTLE_MAIL", "10/hour"),
    # Team page POSTs and API invitations, per account.
    "invites": throttle_rate("THROTTLE_INVITES", "30/hour"),
}
# Client addresses: the address that many hops back in X-Forwarded-For, else REMOTE_ADDR. Behind
# a TLS proxy (which must append to X-Forwarded-For) one; never more than the proxies that really
# stand in front, or a client could pick its own address by sending the header.
REST_FRAMEWORK["NUM_PROXIES"] = env.int(
    "NUM_PROXIES", default=1 if env.bool("BEHIND_TLS_PROXY", default=False) else 0
)
# The throttles' counts must be shared by every web process: a folder in DATA_DIR on the
# embedded default (one machine), Redis (CACHE_URL=redis://...) with several web machines.
CACHES = {
    "default": env.cache("CACHE_URL", default=f"filecache://{DATA_DIR / 'cache'}?max_entries=5000")
}
# Failed logins (django-axes, its attempts in the database): LOGIN_FAILURE_LIMIT failures for
# one username from one address lock that username out from that address, the right password
# included, until LOGIN_COOLOFF_MINUTES have passed since the last attempt. Per username and
# address together, so that nobody can lock someone else out of their account from elsewhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "config.throttling.login_locked_out"
AXES_DISABLE_ACCESS_LOG = True  # failures only, not a history of every login
AXES_VERBOSE = False  # no banner at every start; failures are still logged

# Celery. The embedded default is kombu's filesystem transport in DATA_DIR, writing each message
# atomically (config/broker.py, docs/queue.md): a real broker shared by the web processes and
# real worker processes, with nothing else to install. Every file it writes stays in BROKER_DIR.
BROKER_DIR = DATA_DIR / "broker"
# The host part is ignored by the transport; naming one keeps kombu from warning on every publish.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own class lets a worker read a half-written message and die (docs/queue.md).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        # A worker claims a message by moving it here: one filesystem, so the move is atomic.
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Exchange bindings (remote control, e.g. revoke); kombu's default is ./control.
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.1,
    }
else:
    # Longer than the hard time limit of any task, so that a message is redelivered only when
    # its worker really died (acks_late).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_TASK_IGNORE_RESULT = True  # state lives in the database, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "scoring"
# Scoring jobs name their queue when published (submissions.pipeline.job_options); the reaper
# has a queue of its own so that a scoring backlog never delays it.
CELERY_TASK_ROUTES = {"submissions.tasks.reap_stuck_submissions": {"queue": "maintenance"}}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
# `runplatform` starts the scoring worker at this niceness (0 to 19): when web and workers share
# a host, uploads stay quick under a scoring backlog, which drains a little later instead.
WORKER_NICE = env.int("WORKER_NICE", default=10)
# Scoring a prediction file: the soft time limit of its job (the hard one is a minute later).
SCORING_TIME_LIMIT_SECONDS = env.int("SCORING_TIME_LIMIT_SECONDS", default=600)
# Model submissions (docs/sandbox.md). A run's limits come from its task's `model_run`, else
# these defaults; the job's time limit adds MODEL_FETCH_TIME_LIMIT_SECONDS to fetch the model.
MODEL_RUN_TIMEOUT_SECONDS = env.int("MODEL_RUN_TIMEOUT_SECONDS", default=600)
MODEL_RUN_MAX_MEMORY_GB = env.float("MODEL_RUN_MAX_MEMORY_GB", default=16.0)
MODEL_RUN_BATCH_SIZE = env.int("MODEL_RUN_BATCH_SIZE", default=32)
MODEL_RUN_MAX_NEW_TOKENS = env.int("MODEL_RUN_MAX_NEW_TOKENS", default=64)
MODEL_RUN_MAX_PROCESSES = env.int("MODEL_RUN_MAX_PROCESSES", default=256)
MODEL_RUN_MAX_OUTPUT_MB = env.int("MODEL_RUN_MAX_OUTPUT_MB", default=1024)
MODEL_FETCH_TIME_LIMIT_SECONDS = env.int("MODEL_FETCH_TIME_LIMIT_SECONDS", default=600)
# GPUs this machine's `gpu` worker gives to model runs (CUDA indices, e.g. "0"); none: the CPU.
MODEL_RUN_GPUS = env.list("MODEL_RUN_GPUS", default=[])
# Model runs need bubblewrap. For local development only, on a machine without it, this runs
# participant models without a sandbox: never on a platform that accepts strangers' models.
MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE = env.bool("MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE", default=False)
# The reaper publishes a job again when its submission is still queued after REQUEUE_AFTER,
# doubling the wait each time up to REQUEUE_MAX; it fails a run that is past its job's hard
# time limit by REAPER_GRACE (its worker died).
REQUEUE_AFTER = timedelta(seconds=env.int("REQUEUE_AFTER_SECONDS", default=90))
REQUEUE_MAX = timedelta(seconds=env.int("REQUEUE_MAX_SECONDS", default=30 * 60))
REAPER_GRACE = timedelta(seconds=env.int("REAPER_GRACE_SECONDS", default=120))
# A running job renews its lease every HEARTBEAT; a lease older than LEASE means its worker died,
# and the job is claimed again (at most MAX_CLAIMS runs, then failed as the platform's fault).
HEARTBEAT = timedelta(seconds=env.int("HEARTBEAT_SECONDS", default=10))
LEASE = timedelta(seconds=env.int("LEASE_SECONDS", default=45))
MAX_CLAIMS = env.int("MAX_CLAIMS", default=3)
CELERY_BEAT_SCHEDULE = {
    "reap-stuck-submissions": {
        "task": "submissions.tasks.reap_stuck_submissions",
        "schedule": env.int("REAPER_INTERVAL_SECONDS", default=60),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Hugging Face Hub access for `data.hub` bundles (HF_ENDPOINT / HF_TOKEN are read by
# huggingface_hub itself); the cache lives under DATA_DIR unless HF_HOME says otherwise.
HF_DATASETS_CACHE = env.str("HF_DATASETS_CACHE", default=str(DATA_DIR / "hf-datasets"))

# --- Model submissions: intake (submissions/model_sources/; docs/formats.md, "Model
# submissions: what is accepted") ---
# An uploaded model archive (.zip or .tar.gz): its size as uploaded, what its files unpack to in
# all (also the most a Hub model's fetched files may add up to), and how many entries it holds.
MAX_MODEL_ARCHIVE_MB = env.int("MAX_MODEL_ARCHIVE_MB", default=2048)
MAX_MODEL_DECODED_MB = env.int("MAX_MODEL_DECODED_MB", default=4096)
MAX_MODEL_FILES = env.int("MAX_MODEL_FILES", default=200)
# Where checked model folders live: unpacked archives, and per-policy views of Hub snapshots.
MODEL_FILES_DIR = Path(env.str("MODEL_FILES_DIR", default=str(DATA_DIR / "models")))
# The Hub cache that models are downloaded into (keyed by commit): HF_HUB_CACHE, else
# HF_HOME/hub, when set; else a folder under DATA_DIR.
_hf_home = env.str("HF_HOME", default="")
_hub_cache = str(Path(_hf_home) / "hub") if _hf_home else str(DATA_DIR / "hf-hub")
MODEL_HUB_CACHE = env.str("MODEL_HUB_CACHE", default=env.str("HF_HUB_CACHE", default=_hub_cache))
# --- end of model submissions: intake ---

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every login at INFO; its warnings (failures, lock-outs) are what matter.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
