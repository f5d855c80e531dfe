"""What a commit costs on the embedded SQLite database: today's journal (SQLite's defaults, a rollback journal
and a wait for the disk at every commit) against the settings' write-ahead log (catdog_site/settings/base.py).

    .venv/bin/python bench/bench_sqlite_commit.py [--commits 300] [--folder var]

Each round makes a scratch database in --folder (the disk the app's database is on), opened by Django's SQLite
backend with the settings' OPTIONS (today: the same without their init_command), writes 1,000 rows, then
times --commits transactions of one UPDATE each, as a worker stores an answer; the two settings take turns,
twice each. Prints the median and p95 of each, and their ratio.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
os.environ.pop("DATABASE_URL", None)  # the embedded default's settings


def database_options() -> dict:
    """The embedded default database's OPTIONS, as the settings give them."""
    import django
    from django.db import connections

    django.setup()
    return connections.settings["default"]["OPTIONS"]


def commit_times(folder: Path, options: dict, commits: int) -> list[float]:
    """Commits on a scratch database opened by Django's own SQLite backend with `options`, as the app opens one."""
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper

    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        wrapper = DatabaseWrapper({**connections.settings["default"], "NAME": str(Path(scratch) / "bench.sqlite3"),
                                   "OPTIONS": options}, alias="bench")  # fmt: skip
        wrapper.ensure_connection()
        database = wrapper.connection
        database.execute("CREATE TABLE answer (id INTEGER PRIMARY KEY, body TEXT)")
        database.executemany("INSERT INTO answer VALUES (?, ?)", [(i, "x" * 200) for i in range(1000)])
        times = []
        for i in range(commits):
            started = time.perf_counter()
            database.execute("BEGIN IMMEDIATE")
            database.execute("UPDATE answer SET body = ? WHERE id = ?", ("y" * 200, i % 1000))
            database.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
        wrapper.close()
        return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--folder", type=Path, default=ROOT / "var")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    now = database_options()
    today = {name: value for name, value in now.items() if name != "init_command"}  # SQLite's own defaults
    modes = {"today (SQLite's defaults)": today, "now": now}
    times = {name: [] for name in modes}
    for _ in range(2):
        for name, options in modes.items():
            times[name] += commit_times(args.folder, options, args.commits)
    print(f"{args.commits * 2} commits each, in {args.folder}; load average {os.getloadavg()}")
    base = statistics.median(times["today (SQLite's defaults)"])
    for name, values in times.items():
        median, p95 = statistics.median(values), statistics.quantiles(values, n=20)[-1]
        print(f"  {name:27} median {median:7.3f} ms  p95 {p95:7.3f} ms  {median / base:6.3f}x")


if __name__ == "__main__":
    main()
