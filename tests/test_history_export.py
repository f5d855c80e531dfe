"""The history as CSV: the owner's own predictions, with the page's filters and order, every class's
probability, streamed; a cell a spreadsheet would run as a formula is quoted; bad filters are refused."""

import csv
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from classifier.history_csv import safe_cell
from trainer.models import ModelVersion

from .page_helpers import BAD_LIST_FILTERS, _done, _prediction

pytestmark = pytest.mark.django_db

EXPORT = "/predictions/export.csv"


def _rows(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_lists_each_own_prediction_with_every_class_and_its_times(
    alice_client, alice, other_user, model_version
):
    assert reverse("classifier:history-export") == EXPORT
    birds = ModelVersion.objects.create(
        name="birds", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )
    finished = timezone.now()
    cat = _done(alice, model_version, label="cat", confidence=0.8, finished_at=finished, name="tom.png")
    bird = _prediction(
        alice, name="tweety.png", status="done", label="bird", verdict="unsure", confidence=0.5,
        probabilities={"bird": 0.5, "cat": 0.3, "dog": 0.2}, model_version=birds,
    )  # fmt: skip
    failed = _prediction(alice, name="broken.png", status="failed", error="The photo could not be read.")
    _done(other_user, model_version, name="not-mine.png")

    r = alice_client.get(EXPORT)

    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"].startswith('attachment; filename="catdog-history-')
    rows = _rows(r)
    assert [int(row["id"]) for row in rows] == [failed.pk, bird.pk, cat.pk]  # newest first, as the page
    assert list(rows[0]) == [
        "id", "file_name", "status", "verdict", "label", "confidence", "p(cat)", "p(dog)", "p(bird)",
        "model_version", "created_at", "finished_at", "error",
    ]  # fmt: skip
    by_name = {row["file_name"]: row for row in rows}
    assert by_name["tom.png"]["verdict"] == "cat"
    assert float(by_name["tom.png"]["p(cat)"]) == 0.8
    assert by_name["tom.png"]["p(bird)"] == ""
    assert by_name["tom.png"]["model_version"] == model_version.name
    assert by_name["tom.png"]["finished_at"] == finished.isoformat()
    assert by_name["tom.png"]["created_at"] == cat.created_at.isoformat()
    assert by_name["tweety.png"]["verdict"] == "unsure"
    assert by_name["tweety.png"]["label"] == "bird"
    assert float(by_name["tweety.png"]["p(bird)"]) == 0.5
    assert by_name["broken.png"]["status"] == "failed"
    assert by_name["broken.png"]["error"] == "The photo could not be read."
    assert by_name["broken.png"]["verdict"] == ""


def test_the_export_keeps_the_filters_and_order_of_the_page(alice_client, alice, model_version):
    low = _done(alice, model_version, confidence=0.55)
    high = _done(alice, model_version, confidence=0.95)
    _prediction(alice, status="failed")

    rows = _rows(alice_client.get(EXPORT, {"status": "done", "sort": "confidence"}))

    assert [int(row["id"]) for row in rows] == [high.pk, low.pk]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd"])
def test_a_file_name_that_a_spreadsheet_would_run_is_quoted(alice_client, alice, name):
    _prediction(alice, name=name)
    [row] = _rows(alice_client.get(EXPORT))
    assert row["file_name"] == "'" + name


def test_harmless_cells_are_left_as_they_are():
    assert [safe_cell(value) for value in ("kitty.png", 0.25, None, 12)] == ["kitty.png", "0.25", "", "12"]


@pytest.mark.parametrize("query, message", BAD_LIST_FILTERS)
def test_an_export_with_a_bad_filter_is_refused_saying_why(alice_client, alice, query, message):
    _prediction(alice)
    r = alice_client.get(EXPORT, query)
    assert r.status_code == 400
    assert r.content.decode() == message


def test_the_export_reads_the_rows_only_as_it_sends_them(alice_client, alice):
    """Streamed: the rows are not read before the response starts (a long history never sits in memory)."""
    for n in range(3):
        _prediction(alice, name=f"p{n}.png")
    with CaptureQueriesContext(connection) as before:
        r = alice_client.get(EXPORT)
    with CaptureQueriesContext(connection) as sending:
        lines = list(r.streaming_content)
    assert len(lines) == 4
    assert not [query for query in before.captured_queries if '"original_name"' in query["sql"]]
    assert [query for query in sending.captured_queries if '"original_name"' in query["sql"]]


def test_the_export_reads_each_answers_version_by_its_name_only(alice_client, alice, model_version):
    """A version's row holds kilobytes of summary and metrics: a line needs its name, not the row."""
    _done(alice, model_version, name="a.png")
    version = model_version
    r = alice_client.get(EXPORT)
    with CaptureQueriesContext(connection) as sending:
        lines = list(r.streaming_content)
    assert version.name.encode() in lines[1]
    assert not [query for query in sending.captured_queries if '"summary"' in query["sql"]]
