"""The embedded default database logs ahead: pages read while a worker writes, and a commit does not wait for
the disk (catdog_site/settings/base.py)."""

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's settings; this run uses another database"),
    pytest.mark.django_db,
]


def pragma(name: str, on=connection):
    with on.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_the_database_file_is_in_write_ahead_logging_mode():
    assert pragma("journal_mode") == "wal"


def test_a_commit_waits_for_the_disk_only_at_checkpoints():
    assert pragma("synchronous") == 1  # NORMAL; FULL (2) is SQLite's default


def test_every_new_connection_gets_them():
    """synchronous is a setting of each connection (journal_mode stays with the file): a worker's own
    connection must set it too."""
    other = connections.create_connection("default")
    try:
        assert (pragma("journal_mode", other), pragma("synchronous", other)) == ("wal", 1)
    finally:
        other.close()
