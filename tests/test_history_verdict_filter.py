"""The history filtered by verdict: a chip per class of the active version, "Can't tell" and "None of these",
kept across pages and the redirect to the last page; an unknown verdict is ignored, and the page says so."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from classifier.views import HISTORY_PAGE_SIZE
from trainer.models import ModelVersion

from .page_helpers import _page, _prediction

pytestmark = pytest.mark.django_db

HISTORY = "/predictions/"


@pytest.fixture
def active():
    return ModelVersion.objects.create(
        name="pets", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"], is_active=True
    )


def _answered(owner, version, label, verdict, name="photo.png"):
    other = "dog" if label == "cat" else "cat"
    return _prediction(
        owner, name=name, status="done", label=label, verdict=verdict, confidence=0.6,
        probabilities={label: 0.6, other: 0.4}, model_version=version,
    )  # fmt: skip


def _shown(page) -> list[int]:
    return [int(row["data-prediction-id"]) for row in page.find("li", data_prediction=True)]


def test_the_filter_offers_each_class_cant_tell_none_of_these_and_all(alice_client, alice, active):
    assert reverse("classifier:history") == HISTORY
    _answered(alice, active, "cat", "cat")
    _answered(alice, active, "dog", "other")
    _answered(alice, active, "dog", "")  # answered before verdicts: counts as its label
    html, page = _page(alice_client.get(HISTORY))
    chips = page.find("a", data_verdict=True)
    assert [(chip["data-verdict"], chip["href"]) for chip in chips] == [
        ("", HISTORY),
        ("cat", f"{HISTORY}?verdict=cat"),
        ("dog", f"{HISTORY}?verdict=dog"),
        ("unsure", f"{HISTORY}?verdict=unsure"),
        ("other", f"{HISTORY}?verdict=other"),
    ]
    assert page.find("a", data_verdict="", aria_current="true")
    assert 'Can&#x27;t tell <span class="chip-count" data-count>0</span>' in html
    assert 'None of these <span class="chip-count" data-count>1</span>' in html
    assert 'dog <span class="chip-count" data-count>1</span>' in html


@pytest.mark.parametrize("verdict", ["cat", "dog", "unsure", "other"])
def test_a_chip_shows_only_the_answers_with_its_verdict(alice_client, alice, active, verdict):
    answers = {
        "cat": _answered(alice, active, "cat", "cat"),
        "unsure": _answered(alice, active, "cat", "unsure"),
        "other": _answered(alice, active, "dog", "other"),
        "dog": _answered(alice, active, "dog", ""),
    }
    _prediction(alice)  # pending: in no verdict's list
    html, page = _page(alice_client.get(HISTORY, {"verdict": verdict}))
    assert _shown(page) == [answers[verdict].pk]
    assert page.find("a", data_verdict=verdict, aria_current="true")


def test_a_class_of_an_earlier_version_stays_a_filter(alice_client, alice, active):
    birds = ModelVersion.objects.create(
        name="birds", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )
    bird = _answered(alice, birds, "bird", "bird")
    _, page = _page(alice_client.get(HISTORY, {"verdict": "bird"}))
    assert _shown(page) == [bird.pk]
    assert page.find("a", data_verdict="bird", aria_current="true")


def test_the_pages_keep_the_filter(alice_client, alice, active):
    unsure = [_answered(alice, active, "cat", "unsure") for _ in range(HISTORY_PAGE_SIZE + 1)]
    _answered(alice, active, "cat", "cat")
    html, page = _page(alice_client.get(HISTORY, {"verdict": "unsure"}))
    assert len(_shown(page)) == HISTORY_PAGE_SIZE
    assert page.find("a", href="?verdict=unsure&page=2", rel="next")
    assert "25 photos answered “Can&#x27;t tell”" in html
    _, page = _page(alice_client.get(HISTORY, {"verdict": "unsure", "page": 2}))
    assert _shown(page) == [unsure[0].pk]
    assert page.find("a", href="?verdict=unsure&page=1", rel="prev")


def test_a_page_past_the_end_redirects_to_the_last_page_of_the_same_filter(alice_client, alice, active):
    for _ in range(HISTORY_PAGE_SIZE + 1):
        _answered(alice, active, "dog", "other")
    r = alice_client.get(HISTORY, {"verdict": "other", "page": 9})
    assert r.status_code == 302
    assert r["Location"] == f"{HISTORY}?verdict=other&page=2"


def test_the_polls_filters_keep_the_current_verdict(alice_client, alice, active):
    prediction = _answered(alice, active, "dog", "other")
    query = {"verdict": "other", "watch": f"{prediction.pk}:pending"}
    _, fragment = _page(alice_client.get(reverse("classifier:history-updates"), query, HTTP_HX_REQUEST="true"))
    assert fragment.find("div", id="history-filters", hx_swap_oob="true")
    assert fragment.find("a", data_verdict="other", aria_current="true")


def test_an_unknown_verdict_is_ignored_and_the_page_says_so(alice_client, alice, active):
    shown = [_answered(alice, active, "cat", "cat"), _answered(alice, active, "dog", "other")]
    r = alice_client.get(HISTORY, {"verdict": "horse"})
    assert r.status_code == 200
    html, page = _page(r)
    assert sorted(_shown(page)) == sorted(prediction.pk for prediction in shown)
    assert page.find("div", data_unknown_verdict=True)
    assert "No answer can be “horse”, so all your photos are shown." in html
    assert page.find("a", data_verdict="", aria_current="true")


def test_a_verdict_no_photo_has_says_so(alice_client, alice, active):
    _answered(alice, active, "cat", "cat")
    html, page = _page(alice_client.get(HISTORY, {"verdict": "unsure"}))
    assert page.find("div", data_empty=True)
    assert "No photos answered “Can&#x27;t tell”" in html


def test_the_filtered_history_writes_nothing(alice_client, alice, active):
    _answered(alice, active, "dog", "other")
    _prediction(alice)
    with CaptureQueriesContext(connection) as queries:
        for query in ({"verdict": "other"}, {"verdict": "horse"}, {"verdict": "other", "page": 5}):
            alice_client.get(HISTORY, query)
    writes = [q["sql"] for q in queries if q["sql"].split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []
