"""`make run`'s broker: a socket path the system cannot hold stops the start with a sentence."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check(var_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CATDOG_VAR_DIR": str(var_dir)}
    command = [sys.executable, "-m", "catdog_site.localbroker", "--check"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


def test_a_socket_path_too_long_stops_make_run_with_a_sentence(tmp_path):
    r = check(tmp_path / ("x" * 120))
    assert r.returncode == 1
    assert "unix sockets allow 103" in r.stderr and "set CATDOG_VAR_DIR to a shorter folder" in r.stderr


def test_a_short_socket_path_passes(tmp_path):
    r = check(tmp_path / "var")
    assert r.returncode == 0, r.stderr
