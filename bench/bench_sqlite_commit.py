"""What a commit costs on the embedded SQLite database: today's journal (SQLite's defaults, a rollback journal
and a wait for the disk at every commit) against the settings' write-ahead log (catdog_site/settings/base.py).

    .venv/bin/python bench/bench_sqlite_commit.py [--commits 300] [--folder var]

Each round makes a scratch database in --folder (the disk the app's database is on), writes 1,000 rows, then
times --commits transactions of one UPDATE each, as a worker stores an answer; the two settings take turns,
twice each. Prints the median and p95 of each, and their ratio.
"""

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catdog_site.settings.local")
os.environ.pop("DATABASE_URL", None)  # the embedded default's settings


def settings_init_command() -> str:
    import django
    from django.conf import settings

    django.setup()
    return settings.DATABASES["default"]["OPTIONS"]["init_command"]


def commit_times(folder: Path, init_command: str, commits: int) -> list[float]:
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        database = sqlite3.connect(Path(scratch) / "bench.sqlite3", isolation_level=None)
        for command in filter(None, (c.strip() for c in init_command.split(";"))):
            database.execute(command)
        database.execute("CREATE TABLE answer (id INTEGER PRIMARY KEY, body TEXT)")
        database.executemany("INSERT INTO answer VALUES (?, ?)", [(i, "x" * 200) for i in range(1000)])
        times = []
        for i in range(commits):
            started = time.perf_counter()
            database.execute("BEGIN IMMEDIATE")
            database.execute("UPDATE answer SET body = ? WHERE id = ?", ("y" * 200, i % 1000))
            database.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
        database.close()
        return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--folder", type=Path, default=ROOT / "var")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    modes = {"today (SQLite's defaults)": "", "now": settings_init_command()}
    times = {name: [] for name in modes}
    for _ in range(2):
        for name, init_command in modes.items():
            times[name] += commit_times(args.folder, init_command, args.commits)
    print(f"{args.commits * 2} commits each, in {args.folder}; load average {os.getloadavg()}")
    today = statistics.median(times["today (SQLite's defaults)"])
    for name, values in times.items():
        median, p95 = statistics.median(values), statistics.quantiles(values, n=20)[-1]
        print(f"  {name:27} median {median:7.3f} ms  p95 {p95:7.3f} ms  {median / today:6.3f}x")


if __name__ == "__main__":
    main()
