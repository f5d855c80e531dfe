"""The admin's dashboard: predictions per hour and per day, the median and p95 wait and inference, failures by
reason, the mix of answers, mean confidence per version with its drift (PSI against its first week), recent
trainings; and, in a fragment of its own, the queues and workers, which a broker that is down does not break.
Staff only; GETs that write nothing."""

from datetime import timedelta

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from classifier import dashboard
from classifier.models import Prediction
from trainer.models import ModelVersion

from .page_helpers import _page

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/classifier/prediction/dashboard/"
LIVE = "/admin/classifier/prediction/dashboard/live/"


@pytest.fixture
def version():
    return ModelVersion.objects.create(
        name="pets", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"]
    )


def _rows(owner, n, *, at, **fields):
    """`n` predictions uploaded at `at` (a datetime, or a function of the row's number)."""
    made = Prediction.objects.bulk_create(
        Prediction(owner=owner, original_name="p.png", image="uploads/p.png", image_format="PNG", width=1, height=1,
                   size_bytes=1, **fields)
        for _ in range(n)
    )  # fmt: skip
    for i, prediction in enumerate(made):
        Prediction.objects.filter(pk=prediction.pk).update(created_at=at(i) if callable(at) else at)
    return made


def test_the_page_counts_uploads_per_hour_and_per_day(admin_client, admin_user):
    now = timezone.now()
    _rows(admin_user, 3, at=now)
    _rows(admin_user, 2, at=now - timedelta(hours=5))
    _rows(admin_user, 4, at=now - timedelta(days=3))
    _rows(admin_user, 1, at=now - timedelta(days=40))  # out of both

    per_hour = dashboard.counts_per_hour(now)
    per_day = dashboard.counts_per_day(now)

    assert len(per_hour) == dashboard.HOURS and len(per_day) == dashboard.DAYS
    assert per_hour[-1][1] == 3 and per_hour[-6][1] == 2 and sum(n for _, n in per_hour) == 5
    assert sum(n for _, n in per_day) == 9
    assert per_day[-1][0] == timezone.localdate(now)
    html, page = _page(admin_client.get(DASHBOARD))
    assert "5 in the last 48 hours; 9 in the last 30 days." in html
    assert sum(float(bar["data-value"]) for bar in page.find("rect", data_value=True)) == 14


def test_median_and_p95_of_the_wait_and_of_the_inference(admin_user):
    now = timezone.now()
    made = _rows(admin_user, 20, at=now - timedelta(hours=1), status="done")
    for i, prediction in enumerate(made, start=1):  # waited 1..20 s, inference 10..200 ms
        Prediction.objects.filter(pk=prediction.pk).update(
            finished_at=now - timedelta(hours=1) + timedelta(seconds=i), inference_ms=10.0 * i
        )
    _rows(admin_user, 5, at=now - timedelta(days=2), status="done", finished_at=now, inference_ms=9999)  # too old

    found = dashboard.timings(now)

    # Exact on PostgreSQL (percentile_cont: 10.5 and 19.05), nearest rank elsewhere (10 and 19).
    assert 10 <= found["wait_p50"] <= 10.5 and 19 <= found["wait_p95"] <= 19.05
    assert 100 <= found["inference_p50"] <= 105 and 190 <= found["inference_p95"] <= 190.5


def test_no_answers_have_no_timings(admin_user):
    assert dashboard.timings(timezone.now()) == dict.fromkeys(
        ["wait_p50", "wait_p95", "inference_p50", "inference_p95"]
    )


def test_failures_by_reason_and_the_mix_of_answers(admin_client, admin_user, version):
    now = timezone.now()
    _rows(admin_user, 3, at=now, status="failed", error="The photo could not be read.")
    _rows(admin_user, 1, at=now, status="failed", error="The service's model is unavailable right now.")
    _rows(admin_user, 6, at=now, status="done", label="cat", verdict="cat", confidence=0.9, model_version=version)
    _rows(admin_user, 2, at=now, status="done", label="dog", verdict="unsure", confidence=0.6, model_version=version)
    _rows(admin_user, 2, at=now, status="done", label="dog", verdict="other", confidence=0.7, model_version=version)

    assert dashboard.failures(now) == [
        {"reason": "The photo could not be read.", "count": 3},
        {"reason": "The service's model is unavailable right now.", "count": 1},
    ]
    assert [(row["verdict"], row["count"]) for row in dashboard.answer_mix(now)] == [
        ("cat", 6), ("other", 2), ("unsure", 2),
    ]  # fmt: skip
    html, page = _page(admin_client.get(DASHBOARD))
    assert page.find("tr", data_verdict="unsure") and page.find("tr", data_verdict="other")
    assert "The photo could not be read." in html


def test_psi_is_zero_for_the_same_histogram_and_large_for_a_swapped_one():
    assert dashboard.population_stability_index({18: 50, 19: 50}, {18: 5, 19: 5}) == 0
    swapped = dashboard.population_stability_index({18: 90, 19: 10}, {18: 10, 19: 90})
    assert swapped == pytest.approx(2 * 0.8 * 2.1972, rel=1e-3)  # 2 × 0.8 × ln 9
    assert dashboard.population_stability_index({}, {18: 1}) is None


def _answers(owner, version, confidences, *, days_ago):
    now = timezone.now()
    return [
        _rows(owner, 1, at=now - timedelta(days=days_ago, minutes=i), status="done", label="cat", verdict="cat",
              confidence=c, model_version=version)
        for i, c in enumerate(confidences)
    ]  # fmt: skip


def test_a_version_whose_confidences_moved_since_its_first_week_is_marked_as_drifted(admin_client, admin_user, version):
    steady = ModelVersion.objects.create(name="steady", status="ready", architecture="mobilenet_v2", class_names=["a"])
    _answers(admin_user, version, [0.97, 0.98, 0.99] * 10, days_ago=25)  # its first week: sure
    _answers(admin_user, version, [0.55, 0.6, 0.65] * 10, days_ago=1)  # now: hesitant
    _answers(admin_user, steady, [0.7, 0.8, 0.9] * 10, days_ago=25)
    _answers(admin_user, steady, [0.7, 0.8, 0.9] * 10, days_ago=1)

    found = {item.version.name: item for item in dashboard.confidence_by_version(timezone.now())}

    assert found["pets"].drifted and found["pets"].psi > dashboard.DRIFT_PSI
    assert not found["steady"].drifted and found["steady"].psi == pytest.approx(0, abs=1e-9)
    assert [round(mean, 2) for _, mean, _ in found["pets"].days] == [0.98, 0.6]
    html, page = _page(admin_client.get(DASHBOARD))
    [marked] = page.find("strong", data_drift=True)
    assert page.find("div", data_version_confidence=str(version.pk))
    assert html.count("drifted") == 1


def test_a_version_that_answered_only_in_its_first_week_has_no_psi_yet(admin_user, version):
    _answers(admin_user, version, [0.9, 0.8], days_ago=1)
    [item] = dashboard.confidence_by_version(timezone.now())
    assert item.psi is None and not item.drifted


def test_the_page_lists_recent_trainings_and_loads_the_live_fragment(admin_client, version):
    html, page = _page(admin_client.get(DASHBOARD))
    assert "pets" in html and page.find("table", data_trainings=True)
    assert page.find("div", data_live_slot=True, hx_get=LIVE)
    _, listing = _page(admin_client.get("/admin/classifier/prediction/"))
    assert listing.find("a", href=DASHBOARD, data_dashboard_link=True)


def test_showing_the_dashboard_writes_nothing(admin_client, admin_user, version):
    _answers(admin_user, version, [0.9], days_ago=1)
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(DASHBOARD).status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_people_who_are_not_staff_are_sent_to_log_in(client, user):
    client.force_login(user)
    for url in (DASHBOARD, LIVE):
        r = client.get(url)
        assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_staff_without_the_right_to_view_predictions_are_refused(client, django_user_model):
    staff = django_user_model.objects.create_user(username="clerk", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(LIVE).status_code == 403


def _use_broker(monkeypatch, url: str) -> None:
    monkeypatch.setattr(current_app.conf, "broker_url", url)
    monkeypatch.setattr(current_app, "_pool", None)


def test_the_live_fragment_says_when_the_broker_is_down(admin_client, monkeypatch):
    _use_broker(monkeypatch, "redis://127.0.0.1:1/0")
    r = admin_client.get(LIVE)
    assert r.status_code == 200
    html, page = _page(r)
    assert page.find("p", data_broker_down=True) and page.find("p", data_workers_unknown=True)


def test_the_live_fragment_shows_each_queue_s_depth_and_that_no_worker_answers(admin_client):
    with current_app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete("predictions", "training")
        client.lpush("predictions", "a", "b", "c")
        try:
            html, page = _page(admin_client.get(LIVE))
        finally:
            client.delete("predictions")
    [row] = page.find("tr", data_queue="predictions")
    assert "<td>predictions</td><td>3</td>" in html
    assert "<td>training</td><td>0</td>" in html
    assert page.find("p", data_no_workers=True)
