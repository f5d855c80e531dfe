"""What the admin's dashboard shows (classifier/admin/dashboard.py), computed in the database so that a million
predictions cost a handful of aggregate queries, each over an indexed time range: never a row per prediction in
Python. The broker's state (queue depths, workers) is read apart, with short timeouts, for a fragment of its own.

Drift: the population stability index (PSI) of a version's confidences in the last week against its first week,
over CONFIDENCE_BINS equal bins of [0, 1]: PSI = sum over bins of (recent - first) * ln(recent / first), each a
share of its week (an empty bin counts as PSI_FLOOR). Under 0.1 is usually read as no change, 0.1 to 0.2 as a
small one, over DRIFT_PSI (0.2) as a change worth looking at: the photos people send, or how the version sees
them, are no longer those of its first week.
"""

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Min, Sum
from django.db.models.functions import Floor, Least
from django.utils import timezone

from trainer.models import ModelVersion

from .models import Prediction, local_midnight

logger = logging.getLogger(__name__)

HOURS, DAYS = 48, 30
PERCENTILE_WINDOW = timedelta(hours=24)  # the median and p95 are of the last day's answers
CONFIDENCE_BINS = 20
PSI_FLOOR = 1e-4
DRIFT_PSI = 0.2
DRIFT_WEEK = timedelta(days=7)
TOP_FAILURES = 10
RECENT_TRAININGS = 10
BROKER_TIMEOUT = 1.0  # seconds: the live fragment waits at most about this for the broker and the workers


class _PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression): exact, in one pass."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _percentiles(rows, expression, fractions=(0.5, 0.95)) -> list:
    """The `fractions` percentiles of `expression` over `rows` (None when there are none). PostgreSQL computes
    them exactly with percentile_cont; elsewhere (SQLite) each is the row at its rank, read with an ordered
    OFFSET query (nearest rank, no interpolation)."""
    rows = rows.annotate(measured=expression).exclude(measured=None).order_by()
    if connection.vendor == "postgresql":
        output = expression.output_field
        found = rows.aggregate(
            **{f"p{i}": _PercentileCont("measured", f, output_field=output) for i, f in enumerate(fractions)}
        )
        return [found[f"p{i}"] for i in range(len(fractions))]
    count = rows.count()
    if not count:
        return [None] * len(fractions)
    ordered = rows.order_by("measured").values_list("measured", flat=True)
    return [ordered[max(0, math.ceil(f * count) - 1)] for f in fractions]  # nearest rank


def _per_period(starts: list[datetime], end: datetime, fields: tuple[str, ...] = ()) -> list[list[dict]]:
    """For each period, from one of `starts` to the next (the last to `end`), its predictions counted in the
    database, grouped by `fields`: one query per period over its range of the created_at index. Not one
    query grouped by TruncHour or TruncDay: SQLite computes those with a Python function called once per row
    (about 12 s for a million rows), and on PostgreSQL the ranges cost no more than the time-zone arithmetic."""
    periods = []
    for start, stop in zip(starts, [*starts[1:], end], strict=True):
        rows = Prediction.objects.filter(created_at__gte=start, created_at__lt=stop).values(*fields).order_by()
        if fields:
            periods.append(
                list(rows.annotate(n=Count("pk"), confidence_sum=Sum("confidence"), answered=Count("confidence")))
            )
        else:
            periods.append([{"n": rows.count()}])
    return periods


def counts_per_hour(now) -> list[tuple[datetime, int]]:
    """Predictions uploaded in each of the last HOURS hours (an hour without any counts 0), oldest first."""
    first = (now - timedelta(hours=HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    hours = [first + timedelta(hours=h) for h in range(HOURS)]
    return [
        (hour, rows[0]["n"]) for hour, rows in zip(hours, _per_period(hours, now + timedelta(hours=1)), strict=True)
    ]


def daily_summary(now) -> list[dict]:
    """The last DAYS days' predictions, in the site's time zone, counted per day and grouped by status, answer and
    version: a few hundred rows, from which the per-day counts, the mix of answers and each version's mean
    confidence per day are all drawn (one pass over the rows, not one per figure)."""
    first = timezone.localdate(now) - timedelta(days=DAYS - 1)
    days = [first + timedelta(days=d) for d in range(DAYS)]
    fields = ("status", "verdict", "label", "model_version")
    periods = _per_period([local_midnight(day) for day in days], local_midnight(days[-1] + timedelta(days=1)), fields)
    return [{**row, "day": day} for day, rows in zip(days, periods, strict=True) for row in rows]


def counts_per_day(now, summary: list[dict] | None = None) -> list[tuple[date, int]]:
    """Predictions uploaded on each of the last DAYS days, in the site's time zone, oldest first."""
    first = timezone.localdate(now) - timedelta(days=DAYS - 1)
    found: dict[date, int] = {}
    for row in daily_summary(now) if summary is None else summary:
        found[row["day"]] = found.get(row["day"], 0) + row["n"]
    return [(day, found.get(day, 0)) for day in (first + timedelta(days=d) for d in range(DAYS))]


def timings(now) -> dict:
    """Median and p95, over the last PERCENTILE_WINDOW's answers, of the time from upload to answer (seconds)
    and of the inference alone (milliseconds)."""
    answered = Prediction.objects.filter(
        status=Prediction.Status.DONE, created_at__gte=now - PERCENTILE_WINDOW, finished_at__isnull=False
    )
    waited = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    inference = ExpressionWrapper(F("inference_ms"), output_field=FloatField())
    wait_p50, wait_p95 = _percentiles(answered, waited)
    inference_p50, inference_p95 = _percentiles(answered, inference)
    seconds = [None if value is None else value.total_seconds() for value in (wait_p50, wait_p95)]
    return {
        "wait_p50": seconds[0],
        "wait_p95": seconds[1],
        "inference_p50": inference_p50,
        "inference_p95": inference_p95,
    }


def failures(now) -> list[dict]:
    """The commonest reasons of the last DAYS days' failures, with their counts, commonest first."""
    rows = (
        Prediction.objects.filter(status=Prediction.Status.FAILED, created_at__gte=now - timedelta(days=DAYS))
        .values("error")
        .annotate(n=Count("pk"))
        .order_by("-n", "error")
    )
    return [{"reason": row["error"] or "No reason was recorded.", "count": row["n"]} for row in rows[:TOP_FAILURES]]


def answer_mix(now, summary: list[dict] | None = None) -> list[dict]:
    """The last DAYS days' answers by verdict (each class, "unsure", "other"; an answer from before verdicts
    counts as its label), with their shares, commonest first."""
    counts: dict[str, int] = {}
    for row in daily_summary(now) if summary is None else summary:
        if row["status"] == Prediction.Status.DONE:
            verdict = row["verdict"] or row["label"]
            counts[verdict] = counts.get(verdict, 0) + row["n"]
    total = sum(counts.values()) or 1
    return [
        {"verdict": verdict, "count": n, "share": n / total}
        for verdict, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


@dataclass
class VersionConfidence:
    version: ModelVersion
    days: list[tuple[date, float, int]]  # (day, mean confidence, answers)
    psi: float | None  # None until the version has answered in its first week and in the last one

    @property
    def drifted(self) -> bool:
        return self.psi is not None and self.psi > DRIFT_PSI


def _bins(rows) -> dict[int, int]:
    bucket = Least(Floor(F("confidence") * CONFIDENCE_BINS), CONFIDENCE_BINS - 1, output_field=FloatField())
    grouped = rows.exclude(confidence=None).annotate(bin=bucket).values("bin").annotate(n=Count("pk")).order_by()
    return {int(row["bin"]): row["n"] for row in grouped}


def population_stability_index(expected: dict[int, int], actual: dict[int, int]) -> float | None:
    """PSI of `actual` against `expected`, two histograms over the same bins (counts); None if either is empty."""
    total_expected, total_actual = sum(expected.values()), sum(actual.values())
    if not total_expected or not total_actual:
        return None
    psi = 0.0
    for b in set(expected) | set(actual):
        e = max(expected.get(b, 0) / total_expected, PSI_FLOOR)
        a = max(actual.get(b, 0) / total_actual, PSI_FLOOR)
        psi += (a - e) * math.log(a / e)
    return psi


def confidence_by_version(now, summary: list[dict] | None = None) -> list[VersionConfidence]:
    """Each version that answered in the last DAYS days: its mean confidence per day, and the PSI of its last
    week's confidences against its first week's."""
    sums: dict[int, dict[date, list[float]]] = {}
    for row in daily_summary(now) if summary is None else summary:
        if row["status"] == Prediction.Status.DONE and row["model_version"] and row["answered"]:
            day = sums.setdefault(row["model_version"], {}).setdefault(row["day"], [0.0, 0])
            day[0] += row["confidence_sum"]
            day[1] += row["answered"]
    versions = ModelVersion.objects.in_bulk(sums)
    answered = Prediction.objects.filter(status=Prediction.Status.DONE)
    # Each version's first answer, in one grouped query.
    firsts = dict(
        answered.filter(model_version_id__in=sums)
        .values_list("model_version")
        .annotate(first=Min("created_at"))
        .order_by()
    )
    result = []
    for version_id, days in sums.items():
        mine = answered.filter(model_version_id=version_id)
        first = firsts[version_id]
        first_week = _bins(mine.filter(created_at__gte=first, created_at__lt=first + DRIFT_WEEK))
        last_week = _bins(mine.filter(created_at__gte=max(now - DRIFT_WEEK, first + DRIFT_WEEK)))
        means = [(day, total / n, n) for day, (total, n) in sorted(days.items())]
        result.append(VersionConfidence(versions[version_id], means, population_stability_index(first_week, last_week)))
    return sorted(result, key=lambda item: -item.version.pk)


def recent_trainings() -> list[ModelVersion]:
    return list(ModelVersion.objects.select_related("dataset").order_by("-created_at", "-id")[:RECENT_TRAININGS])


# --- The broker's state: read for the live fragment, never for the page itself ------------------------------------


def queue_names() -> list[str]:
    """Every queue a task is routed to (CELERY_TASK_ROUTES) and the default one."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


def queue_depths() -> dict[str, int] | None:
    """Messages waiting in each queue (Redis LLEN through the broker's own connection); None when the broker
    cannot be reached, or is not Redis."""
    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
            client = conn.default_channel.client
            return {name: int(client.llen(name)) for name in queue_names()}
    except Exception as error:  # noqa: BLE001 - any broker trouble shows as "unreachable", never as a 500
        logger.warning("Dashboard: queue depths unavailable (%s)", error)
        return None


def workers() -> dict[str, list[str]] | None:
    """The workers that answered a ping within BROKER_TIMEOUT, each with the queues it consumes; {} when none
    answered, None when the broker cannot be reached."""
    try:
        inspect = current_app.control.inspect(timeout=BROKER_TIMEOUT)
        queues = inspect.active_queues() or {}
    except Exception as error:  # noqa: BLE001
        logger.warning("Dashboard: workers unavailable (%s)", error)
        return None
    return {name: sorted(queue["name"] for queue in consumed) for name, consumed in sorted(queues.items())}
