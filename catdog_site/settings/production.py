"""Production: every secret comes from the environment, and a missing one stops the start."""

import sys

from .base import *  # noqa: F403
from .base import MIDDLEWARE, STORAGES, env

# Named here so that a missing one stops the start with one clear line, not a traceback.
REQUIRED_VARIABLES = {
    "DJANGO_SECRET_KEY": "a long random string that signs sessions and tokens",
    "DJANGO_ALLOWED_HOSTS": "the host names the site answers to, comma-separated",
    "CACHE_URL": "the cache that every web process shares for the rate limits, e.g. redis://host:6379/1",
    "CELERY_BROKER_URL": "the Redis that web and workers share for tasks, e.g. redis://host:6379/0",
}
_missing = [name for name in REQUIRED_VARIABLES if not env.str(name, default="").strip()]
if _missing:
    sys.exit(
        "catdog_site.settings.production refuses to start: set the environment variable"
        + ("s " if len(_missing) > 1 else " ")
        + "; ".join(f"{name} ({REQUIRED_VARIABLES[name]})" for name in _missing)
    )

SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DEBUG = False  # whatever DJANGO_DEBUG says: no debug pages in production

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# The rate limits' counters: shared by every web process on every host, so never a per-host cache
# (django-ratelimit's check refuses local-memory, file and database caches).
CACHES = {"default": env.cache_url("CACHE_URL")}
SILENCED_SYSTEM_CHECKS = (
    # Django's own Redis backend increments atomically (INCR); django-ratelimit only knows django-redis.
    ["django_ratelimit.W001"] if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache" else []
)

# gunicorn serves the static files itself, compressed and cached for ever under hashed names.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
