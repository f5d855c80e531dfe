"""The test suite: `make test`."""

import os
import uuid
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, REST_FRAMEWORK, STORAGES, VAR_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
MEDIA_ROOT = Path(env("CATDOG_MEDIA_ROOT", default=str(VAR_DIR / "test-media")))
# Local files, whatever a developer's .env says about a bucket: the suite must never write to a real
# one. Only the workers the S3 tests start (tests/s3.py) keep S3, pointed at the suite's own server.
if not env.bool("CATDOG_TEST_S3", default=False):
    STORAGES = {**STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
# Unit tests run tasks eagerly; the end-to-end tests switch eager mode off and use real workers on
# this broker (tests/worker.py). Every key of a run starts with a prefix of its own (kombu's
# global_keyprefix), so two runs on one machine never take each other's messages or purge each other's
# queues; the workers a run starts inherit its id through the environment.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_BROKER_URL = env("CATDOG_TEST_BROKER_URL", default="redis://127.0.0.1:6379/15")
CATDOG_TEST_RUN_ID = os.environ.setdefault("CATDOG_TEST_RUN_ID", uuid.uuid4().hex[:12])
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60, "global_keyprefix": f"catdog-test-{CATDOG_TEST_RUN_ID}:"}
CELERY_TASK_EAGER_PROPAGATES = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a real worker process can open the test database.
    # One per run, so that two runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{CATDOG_TEST_RUN_ID}.sqlite3")}
else:
    # A server database: one of its own per run too, beside the developer's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_catdog_{CATDOG_TEST_RUN_ID}"}

# Rate limits: one process, so a local-memory cache (django-ratelimit's check wants a shared one), and
# rates no other test reaches; tests/test_rate_limits.py sets low ones.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "catdog-tests"}}
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
CATDOG_RATELIMIT_LOGIN_PER_IP = CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME = "10000/m"
CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "10000/m"
CATDOG_RATELIMIT_SIGNUP_PER_IP = CATDOG_RATELIMIT_UPLOAD_FORM = CATDOG_RATELIMIT_API_UPLOADS = "10000/m"
CATDOG_RATELIMIT_API = "10000/s"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"api": CATDOG_RATELIMIT_API, "uploads": CATDOG_RATELIMIT_API_UPLOADS},
}
