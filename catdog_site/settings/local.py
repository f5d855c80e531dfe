"""One machine: `make run`. Served as in production (DEBUG off, whitenoise); `DJANGO_DEBUG=true` for development."""

from .base import *  # noqa: F403
from .base import MIDDLEWARE

# whitenoise serves the static files straight from the app and project folders: no collectstatic step.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # nothing collected, so nothing for whitenoise to look for
