"""The admin's dashboard with a million predictions: the page's time before and after its indexes.

    nice -n 5 .venv/bin/python bench/bench_dashboard.py [--rows 1000000] [--requests 5]
                                                         [--database-url postgres://postgres@127.0.0.1:5432/test]

It makes a scratch database of its own (a new PostgreSQL database beside the one named, dropped at the end; or
a SQLite file in a temporary folder), migrates it, inserts `--rows` synthetic predictions spread over the last
30 days, oldest first as a service writes them (bulk_create in chunks: two model versions, the second less
sure of itself, a few failures with five reasons, answers of each kind), then times the dashboard page, signed
in as a superuser through Django's test client (median of `--requests` after one warm-up), first without the
indexes migration 0009 adds (the schema of the code before the dashboard: migrated back to 0008), then with
them; and each of the page's queries apart.
The broker's fragment is not part of the page (it is fetched after it, with its own one-second timeout).
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 10_000
REASONS = [
    "The photo could not be read.",
    "The service's model is unavailable right now: an administrator must fix it.",
    "The photo stopped its worker 3 times.",
    "Storage could not deliver the photo.",
    "The worker ran out of time.",
]


def _scratch_postgres(url: str) -> tuple[str, callable]:
    """A new database beside the one `url` names, and a function that drops it."""
    import psycopg

    name = f"bench_dashboard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)

    def drop():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _fill(rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from classifier.models import Prediction
    from trainer.models import ModelVersion

    owner = get_user_model().objects.create_user(username="owner")
    first = ModelVersion.objects.create(
        name="v1", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"]
    )
    second = ModelVersion.objects.create(
        name="v2", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"]
    )
    now = timezone.now()
    created_at = Prediction._meta.get_field("created_at")
    created_at.auto_now_add = False  # the rows' own times, spread over 30 days
    rng = random.Random(14)
    started = time.monotonic()
    try:
        # Oldest first, as a running service writes them: rows of one day lie together in the table.
        ages = sorted((rng.uniform(0, 30 * 86400) for _ in range(rows)), reverse=True)
        for start in range(0, rows, CHUNK):
            batch = []
            for age in ages[start : start + CHUNK]:
                at = now - timedelta(seconds=age)
                version = first if at < now - timedelta(days=10) else second
                draw = rng.random()
                fields = {"status": "done", "model_version": version}
                if draw < 0.02:
                    fields = {"status": "pending"}
                elif draw < 0.05:
                    fields = {"status": "failed", "error": rng.choice(REASONS), "finished_at": at}
                else:
                    top = rng.uniform(0.5, 1.0) if version is first else rng.uniform(0.5, 0.8)
                    label = rng.choice(["cat", "dog"])
                    verdict = label if top > 0.6 else rng.choice(["unsure", "other"])
                    fields |= {
                        "label": label,
                        "verdict": verdict,
                        "confidence": top,
                        "probabilities": {label: top, "dog" if label == "cat" else "cat": 1 - top},
                        "inference_ms": rng.uniform(20, 80),
                        "finished_at": at + timedelta(seconds=rng.uniform(0.1, 5)),
                    }
                batch.append(
                    Prediction(
                        owner=owner, original_name="photo.jpg", image="uploads/bench/photo.jpg", image_format="JPEG",
                        width=500, height=375, size_bytes=40_000, created_at=at, **fields,
                    )
                )  # fmt: skip
            with transaction.atomic():
                Prediction.objects.bulk_create(batch)
            if (start // CHUNK) % 20 == 0:
                print(f"  {start + len(batch):,} rows, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        created_at.auto_now_add = True
    print(f"inserted {rows:,} predictions in {time.monotonic() - started:.0f} s", flush=True)


def _time_page(client, requests: int) -> tuple[float, list[float]]:
    url = "/admin/classifier/prediction/dashboard/"
    assert client.get(url).status_code == 200  # warm-up: connections, templates
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(times), times


def _time_parts() -> dict[str, float]:
    from django.utils import timezone

    from classifier import dashboard

    now = timezone.now()
    parts = {}
    for name in ("counts_per_hour", "counts_per_day", "timings", "failures", "answer_mix", "confidence_by_version"):
        started = time.perf_counter()
        getattr(dashboard, name)(now)
        parts[name] = time.perf_counter() - started
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a scratch database is made beside it)")
    args = parser.parse_args()

    drop = None
    scratch = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
    if args.database_url.startswith("postgres"):
        database_url, drop = _scratch_postgres(args.database_url)
    else:
        database_url = f"sqlite:///{scratch.name}/bench.sqlite3"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "catdog_site.settings.test"
    os.environ["CATDOG_MEDIA_ROOT"] = scratch.name
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
        call_command("migrate", verbosity=0)
        _fill(args.rows)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE classifier_prediction")
        else:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        admin = get_user_model().objects.create_superuser(username="admin", password=None)
        client = Client()
        client.force_login(admin)

        results = {}
        for label, target in (("without the dashboard's indexes (0008)", "0008"), ("with them (0009)", "0009")):
            call_command("migrate", "classifier", target, verbosity=0)
            median, times = _time_page(client, args.requests)
            parts = _time_parts()
            results[label] = median
            shown = ", ".join(f"{t * 1000:.0f}" for t in times)
            print(f"{label}: page median {median * 1000:.0f} ms ({shown} ms)", flush=True)
            print("    " + ", ".join(f"{name} {t * 1000:.0f} ms" for name, t in parts.items()), flush=True)
        before, after = results.values()
        print(f"{args.rows:,} predictions, {connection.vendor}: {before * 1000:.0f} ms -> {after * 1000:.0f} ms "
              f"({before / after:.1f}x)")  # fmt: skip
    finally:
        if drop is not None:
            from django.db import connections

            connections.close_all()
            drop()
        scratch.cleanup()


if __name__ == "__main__":
    main()
