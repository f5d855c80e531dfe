import os

from celery import Celery
from celery.signals import task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")

app = Celery("catdog_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _workers_wait_for_a_hung_broker(sender, **kwargs):
    """Workers drop the socket timeout that keeps web requests short when the broker hangs.

    In a worker, a timed-out acknowledgement is fatal: kombu's Redis transport then keeps the message counted
    as unacknowledged, and a worker whose prefetch limit is one never takes another message (it neither
    fails nor reconnects). Waiting for a frozen broker to come back costs nothing; a broker that is down or
    restarted refuses or resets the connection instead, and the worker reconnects.
    """
    options = dict(sender.app.conf.broker_transport_options or {})
    options.pop("socket_timeout", None)
    sender.app.conf.broker_transport_options = options


@task_prerun.connect
def _drop_failed_database_connections(**kwargs):
    """A worker keeps its database connection from task to task (CELERY_DB_REUSE_MAX): one that failed (the
    database restarted, say) is closed before the next task, which connects afresh, as Django does between
    two web requests; otherwise every task until the next recycling would fail on it."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is None or not connection.errors_occurred:
            continue
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()
