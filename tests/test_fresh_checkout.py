"""A fresh checkout has no var/ folder: the embedded set-up makes it, SQLite's database included."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_embedded_database_is_created_where_no_var_folder_exists(tmp_path):
    var = tmp_path / "fresh" / "var"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="catdog_site.settings.local", CATDOG_VAR_DIR=str(var))
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (var / "catdog.sqlite3").is_file()


def test_the_suite_is_collected_without_the_shared_photos(tmp_path):
    """A newcomer's checkout has nothing beside it: the tests that read the shared photos skip, and none of them
    may stop the suite from being collected (a module that names a photo at import time skips as a whole)."""
    env = {key: value for key, value in os.environ.items() if key != "CATDOG_REQUIRE_SHARED_DATA"}
    env["CATDOG_SHARED_DIR"] = str(tmp_path / "nothing-here")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "error" not in result.stdout.splitlines()[-1], result.stdout[-3000:]
