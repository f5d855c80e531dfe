"""A worker keeps its database connection from task to task, as a prediction worker runs a task per photo: but
one that failed is dropped before the next task, which connects afresh."""

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import OperationalError, connection, connections

from catdog_site.celery import _drop_failed_database_connections
from catdog_site.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

A_TASK_IN_A_WORKER = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def _run_tasks(count: int) -> None:
    """What the worker does around each task it runs (Celery's Django fixup, then catdog's own signal)."""
    fixup = DjangoWorkerFixup(celery_app)
    for _ in range(count):
        fixup.on_task_prerun(A_TASK_IN_A_WORKER)
        _drop_failed_database_connections()
        fixup.on_task_postrun(A_TASK_IN_A_WORKER)


def test_the_connection_is_kept_from_task_to_task():
    connection.ensure_connection()
    opened = connection.connection
    _run_tasks(20)
    assert connection.connection is opened


def test_a_connection_that_failed_but_still_works_is_kept():
    connection.ensure_connection()
    opened = connection.connection
    connection.errors_occurred = True  # a statement failed, say on a lock timeout
    _run_tasks(1)
    assert connection.connection is opened and not connection.errors_occurred


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no server to lose")
def test_a_connection_the_database_dropped_is_replaced_before_the_next_task():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    _run_tasks(1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
