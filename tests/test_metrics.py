"""Prometheus metrics at /metrics: off (404) unless CATDOG_METRICS_TOKEN is set, then only with it as a bearer
token; request latency and uploads counted in the process (added up over processes in multiprocess mode), the
last hour's predictions by verdict, inference time and queue depths read at scrape time."""

import os
import subprocess
import sys

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from classifier.metrics import REQUEST_LATENCY

from .conftest import image_bytes, upload
from .page_helpers import _done, _prediction

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-scrape-token"


@pytest.fixture
def metrics_on(settings):
    settings.CATDOG_METRICS_TOKEN = TOKEN


def _scrape(client) -> dict:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"])
def test_a_scrape_without_the_right_bearer_token_is_refused(client, metrics_on, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"catdog_" not in r.content


def test_a_scrape_needs_no_login_and_writes_nothing(client, metrics_on):
    with CaptureQueriesContext(connection) as queries:
        samples = _scrape(client)
    assert ("catdog_broker_up", ()) in samples
    assert not [q for q in queries.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]


def test_predictions_by_status_and_verdict_and_inference_time(client, metrics_on, user, model_version):
    for _ in range(3):
        _done(user, model_version, label="cat", verdict="cat", finished_at=None)
    _done(user, model_version, label="dog", verdict="unsure")
    _prediction(user, status="failed")
    samples = _scrape(client)
    assert samples[("catdog_predictions_last_hour", (("status", "done"), ("verdict", "cat")))] == 3
    assert samples[("catdog_predictions_last_hour", (("status", "done"), ("verdict", "unsure")))] == 1
    assert samples[("catdog_predictions_last_hour", (("status", "failed"), ("verdict", "")))] == 1


def test_inference_time_quantiles_come_from_the_last_day_s_answers(client, metrics_on, user, model_version):
    for ms in (10.0, 20.0, 30.0):
        _prediction(user, status="done", model_version=model_version, inference_ms=ms, finished_at=timezone.now())
    samples = _scrape(client)
    assert 0.02 <= samples[("catdog_inference_seconds", (("quantile", "0.5"),))] <= 0.02
    assert 0.029 <= samples[("catdog_inference_seconds", (("quantile", "0.95"),))] <= 0.03


def test_uploads_and_request_latency_are_counted(client, metrics_on, alice_client, django_capture_on_commit_callbacks):
    before = _scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post("/", {"images": [upload("a.png", image_bytes()), upload("b.png", image_bytes())]})
    assert r.status_code == 302
    after = _scrape(client)
    assert after[("catdog_uploads_total", ())] - before.get(("catdog_uploads_total", ()), 0) == 2
    key = ("catdog_request_duration_seconds_count", (("method", "POST"), ("view", "classifier:upload")))
    assert after[key] - before.get(key, 0) == 1


def test_queue_depths_and_a_broker_that_is_down(client, metrics_on, monkeypatch):
    with current_app.connection_for_write() as conn:
        redis = conn.default_channel.client
        redis.delete("predictions")
        redis.lpush("predictions", "x", "y")
        try:
            samples = _scrape(client)
        finally:
            redis.delete("predictions")
    assert samples[("catdog_queue_depth", (("queue", "predictions"),))] == 2
    assert samples[("catdog_broker_up", ())] == 1

    monkeypatch.setattr(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(current_app, "_pool", None)
    samples = _scrape(client)
    assert samples[("catdog_broker_up", ())] == 0
    assert not [key for key in samples if key[0] == "catdog_queue_depth"]


def test_request_latency_is_labelled_by_view_name_never_by_path(client, metrics_on, alice_client):
    alice_client.get("/predictions/12345/")
    views = {labels["view"] for labels in (dict(s.labels) for s in REQUEST_LATENCY.collect()[0].samples)}
    assert "classifier:detail" in views
    assert not any("12345" in view for view in views)


def _in_a_process(code: str, multiproc_dir) -> str:
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "DJANGO_SETTINGS_MODULE": "catdog_site.settings.test",
    }
    setup = "import django; django.setup(); from classifier import metrics; "
    done = subprocess.run([sys.executable, "-c", setup + code], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def test_under_several_processes_a_scrape_adds_up_every_process_s_counts(tmp_path):
    """gunicorn's processes each count their own uploads; with PROMETHEUS_MULTIPROC_DIR any one of them answers
    a scrape with the sum."""
    for n in (2, 3):
        _in_a_process(f"metrics.count_uploads({n})", tmp_path)
    scraped = _in_a_process("print(metrics._in_process_metrics().decode())", tmp_path)
    [total] = [line for line in scraped.splitlines() if line.startswith("catdog_uploads_total")]
    assert float(total.split()[-1]) == 5
