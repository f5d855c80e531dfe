"""The history by status, by the days photos were uploaded (in the site's time zone, both ends included) and
in three orders, kept in the pages' links and the export's; a filter that makes no sense is refused (400)
with its reason, and the list shows the photos without it."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from classifier.models import Prediction

from .page_helpers import BAD_LIST_FILTERS, _done, _page, _prediction

pytestmark = pytest.mark.django_db

HISTORY = "/predictions/"


def _shown(response) -> list[int]:
    return [int(row["data-prediction-id"]) for row in _page(response)[1].find("li", data_prediction=True)]


def _uploaded_at(prediction, when):
    Prediction.objects.filter(pk=prediction.pk).update(created_at=when)


def test_the_status_filter_shows_only_that_status(alice_client, alice, model_version):
    done = _done(alice, model_version)
    failed = _prediction(alice, status="failed")
    pending = _prediction(alice)
    assert _shown(alice_client.get(HISTORY, {"status": "done"})) == [done.pk]
    assert _shown(alice_client.get(HISTORY, {"status": "failed"})) == [failed.pk]
    assert _shown(alice_client.get(HISTORY, {"status": "pending"})) == [pending.pk]


def test_the_date_range_takes_whole_days_in_the_site_time_zone(alice_client, alice, settings):
    tz = timezone.get_current_timezone()
    days = {}
    for day, hour in [(1, 0), (2, 0), (2, 23), (3, 12), (4, 0)]:
        prediction = _prediction(alice)
        _uploaded_at(prediction, datetime(2026, 5, day, hour, 30, tzinfo=tz))
        days.setdefault(day, []).append(prediction.pk)

    shown = _shown(alice_client.get(HISTORY, {"since": "2026-05-02", "until": "2026-05-03"}))

    assert sorted(shown) == sorted(days[2] + days[3])
    assert sorted(_shown(alice_client.get(HISTORY, {"since": " 2026-05-04 "}))) == days[4]  # spaces are trimmed
    assert sorted(_shown(alice_client.get(HISTORY, {"until": "2026-05-01"}))) == days[1]


def test_the_three_orders(alice_client, alice, model_version):
    now = timezone.now()
    first = _done(alice, model_version, confidence=0.7)
    second = _done(alice, model_version, confidence=0.99)
    third = _prediction(alice)  # no confidence yet: last when ordered by confidence
    for age, prediction in enumerate([third, second, first]):
        _uploaded_at(prediction, now - timedelta(minutes=age))

    assert _shown(alice_client.get(HISTORY)) == [third.pk, second.pk, first.pk]
    assert _shown(alice_client.get(HISTORY, {"sort": "oldest"})) == [first.pk, second.pk, third.pk]
    assert _shown(alice_client.get(HISTORY, {"sort": "confidence"})) == [second.pk, first.pk, third.pk]


def test_the_next_page_and_the_export_keep_status_dates_and_order(alice_client, alice):
    for _ in range(30):
        _prediction(alice, status="failed")
    query = {"status": "failed", "since": "2000-01-01", "sort": "oldest"}
    html, page = _page(alice_client.get(HISTORY, query))
    [older] = page.find("a", rel="next")
    assert older["href"] == "?status=failed&since=2000-01-01&sort=oldest&page=2"
    [export] = page.find("a", data_export_csv=True)
    assert export["href"] == "/predictions/export.csv?status=failed&since=2000-01-01&sort=oldest"


def test_a_narrowed_history_with_no_photo_says_so(alice_client, alice):
    _prediction(alice)
    html, page = _page(alice_client.get(HISTORY, {"status": "failed"}))
    assert page.find("div", data_empty=True)
    assert "No photos match" in html


@pytest.mark.parametrize("query, message", BAD_LIST_FILTERS)
def test_a_bad_filter_is_refused_with_its_reason_and_the_list_shows_everything(alice_client, alice, query, message):
    mine = _prediction(alice)
    r = alice_client.get(HISTORY, query)
    assert r.status_code == 400
    html, page = _page(r)
    assert page.find("div", data_list_errors=True)
    assert message in html
    assert _shown(r) == [mine.pk]
