"""Prometheus metrics at /metrics, off unless CATDOG_METRICS_TOKEN is set (then a scrape must send it as a bearer
token). Two kinds, for two reasons:

- What the web process itself sees, counted in the process: request latency (a histogram per view) and uploads.
  Under gunicorn's several processes, set PROMETHEUS_MULTIPROC_DIR (an empty folder, the same for every
  process of the host): each process writes its values there and a scrape adds them all up
  (prometheus_client's multiprocess mode); without it, a scrape sees only the process that answers it.
- What happens elsewhere (the workers answer, the broker holds the queues), read at scrape time from the
  database and the broker, so that no worker needs to be scraped: the last hour's predictions by status and
  verdict, the median and p95 inference time and wait of the last day's answers (classifier/dashboard.py), and
  each queue's depth.
"""

import os
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from . import dashboard
from .models import Prediction

REQUEST_LATENCY = Histogram(
    "catdog_request_duration_seconds",
    "Time to answer a request, by view (its URL name) and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
UPLOADS = Counter("catdog_uploads", "Photos uploaded (the upload page and the API), each a prediction.")
RECENT = timedelta(hours=1)


def count_uploads(n: int) -> None:
    UPLOADS.inc(n)


class RequestLatencyMiddleware:
    """Times every request; the view's URL name keeps the labels few (never the path, which holds ids)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match else "unresolved"
        REQUEST_LATENCY.labels(view=view, method=request.method).observe(time.perf_counter() - started)
        return response


class _FromTheDatabaseAndBroker:
    """The metrics read at scrape time: every process answers them alike."""

    def collect(self):
        now = timezone.now()
        predictions = GaugeMetricFamily(
            "catdog_predictions_last_hour",
            "Predictions uploaded in the last hour, by status and verdict (empty until answered).",
            labels=["status", "verdict"],
        )
        rows = (
            Prediction.objects.filter(created_at__gte=now - RECENT)
            .values_list("status", "verdict")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for status, verdict, n in rows:
            predictions.add_metric([status, verdict], n)
        yield predictions
        found = dashboard.timings(now)
        for name, unit, key, scale in [
            ("catdog_inference_seconds", "inference alone", "inference", 0.001),
            ("catdog_upload_to_answer_seconds", "upload to answer", "wait", 1.0),
        ]:
            family = GaugeMetricFamily(name, f"Time from {unit}, over the last day's answers.", labels=["quantile"])
            for quantile, suffix in (("0.5", "p50"), ("0.95", "p95")):
                value = found[f"{key}_{suffix}"]
                if value is not None:
                    family.add_metric([quantile], value * scale)
            yield family
        depths = dashboard.queue_depths()
        yield GaugeMetricFamily(
            "catdog_broker_up", "1 when the broker answered this scrape.", value=int(depths is not None)
        )
        queues = GaugeMetricFamily("catdog_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
        for name, depth in (depths or {}).items():
            queues.add_metric([name], depth)
        yield queues


def _in_process_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _authorized(request) -> bool:
    sent = request.headers.get("Authorization", "")
    expected = f"Bearer {settings.CATDOG_METRICS_TOKEN}"
    return secrets.compare_digest(sent.encode(), expected.encode())


@login_not_required
@require_GET
def metrics(request):
    """The Prometheus text format; 404 while metrics are off, 401 without the right bearer token."""
    if not settings.CATDOG_METRICS_TOKEN:
        raise Http404("Metrics are off: set CATDOG_METRICS_TOKEN.")
    if not _authorized(request):
        response = HttpResponse("A bearer token is needed: Authorization: Bearer <CATDOG_METRICS_TOKEN>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    scraped = CollectorRegistry()
    scraped.register(_FromTheDatabaseAndBroker())
    body = _in_process_metrics() + generate_latest(scraped)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
