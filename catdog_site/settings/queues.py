"""Celery's settings: the broker, how publishing gives up, the queue each task goes to, and beat's sweeps.

Part of the shared settings (base.py reads it with `from .queues import *`, after the .env file): every value
can be overridden from the environment there too.
"""

import environ

from catdog_site.localbroker import socket_path, var_dir

env = environ.Env()
VAR_DIR = var_dir()

# The default broker is the embedded Redis of `make run`, on a unix socket in VAR_DIR.
LOCAL_REDIS_SOCKET = socket_path()
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=f"redis+socket://{LOCAL_REDIS_SOCKET}")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died unacknowledged comes back after this many seconds.
    "visibility_timeout": env.int("CATDOG_VISIBILITY_TIMEOUT", default=3600),
    # A broker that hangs instead of refusing must not hold a web request for long: each publish try
    # gives up after this (see CELERY_TASK_PUBLISH_RETRY_POLICY and classifier/actions/predictions.py).
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from a web request: two tries, then the upload is answered anyway and its prediction stays
# pending, marked unsent; the sweep below sends it once the broker is back. A broker that refuses costs the
# request well under a second; one that hangs, at most about 6 s (the socket timeouts above).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# A worker that loses the broker lets its running task finish: the result goes to the database, not the
# broker (Celery 6 will cancel such tasks by default).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# The sweep (celery beat, one per deployment): pending predictions that were never queued, or queued more
# than CATDOG_RESEND_AFTER_SECONDS ago, are sent again. The task is idempotent, so a duplicate is harmless.
CATDOG_SWEEP_SECONDS = env.float("CATDOG_SWEEP_SECONDS", default=30.0)
CATDOG_RESEND_AFTER_SECONDS = env.int("CATDOG_RESEND_AFTER_SECONDS", default=300)
CATDOG_IDEMPOTENCY_SWEEP_SECONDS = env.float("CATDOG_IDEMPOTENCY_SWEEP_SECONDS", default=3600.0)
CELERY_BEAT_SCHEDULE = {
    "resend-predictions": {
        "task": "classifier.tasks.resend_predictions",
        "schedule": CATDOG_SWEEP_SECONDS,
        "options": {"expires": CATDOG_SWEEP_SECONDS},  # sweeps that piled up while workers were down: one will do
    },
    # Idempotency-Keys of API uploads past their 24 hours (classifier.models.IDEMPOTENCY_KEY_LIFETIME).
    "forget-idempotency-keys": {
        "task": "classifier.tasks.forget_idempotency_keys",
        "schedule": CATDOG_IDEMPOTENCY_SWEEP_SECONDS,
        "options": {"expires": CATDOG_IDEMPOTENCY_SWEEP_SECONDS},
    },
    # Webhook deliveries whose message was lost (webhooks.actions.STALLED_AFTER): sent again, or failed once too old.
    "resend-webhook-deliveries": {
        "task": "webhooks.tasks.resend_stalled_deliveries",
        "schedule": CATDOG_SWEEP_SECONDS,
        "options": {"expires": CATDOG_SWEEP_SECONDS},
    },
    # Trainings whose worker stopped beating, dataset checks that no worker is on any more: failed, with why.
    "sweep-stuck-work": {
        "task": "trainer.tasks.sweep_stuck_work",
        "schedule": CATDOG_SWEEP_SECONDS,
        "options": {"expires": CATDOG_SWEEP_SECONDS},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_IGNORE_RESULT = True  # results live in the database rows
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a long task must not hold messages another worker could take
# Celery's Django fixup closes the database connection before and after every task unless told to keep it.
# A prediction worker runs a task per photo, most of them one small query under a backlog, and a new
# PostgreSQL connection costs about 7 ms on the 2-core test machine: a worker keeps its connection for this
# many tasks (a connection that failed is dropped before the next task, catdog_site/celery.py).
CELERY_DB_REUSE_MAX = 100
CELERY_TASK_DEFAULT_QUEUE = "predictions"
# The first pattern that matches wins. The sweeps have a queue of their own, so that a backlog of photos
# cannot hold them up.
CELERY_TASK_ROUTES = {
    "classifier.tasks.resend_predictions": {"queue": "maintenance"},
    "classifier.tasks.forget_idempotency_keys": {"queue": "maintenance"},
    "classifier.tasks.*": {"queue": "predictions"},
    "trainer.tasks.ingest_*": {"queue": "datasets"},
    "trainer.tasks.sweep_*": {"queue": "maintenance"},  # its own queue: a backlog of work cannot starve it
    "trainer.tasks.*": {"queue": "training"},
    # Deliveries wait on other people's servers (up to CATDOG_WEBHOOK_TIMEOUT each): never in front of a photo.
    "webhooks.tasks.resend_stalled_deliveries": {"queue": "maintenance"},
    "webhooks.tasks.*": {"queue": "webhooks"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
