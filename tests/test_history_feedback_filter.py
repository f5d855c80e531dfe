"""The history and the API filtered by feedback: `?feedback=any` (the owner said what the photo shows) and
`?feedback=disagrees` (what they said differs from the answer); the API refuses another value with a 400."""

import pytest
from django.urls import reverse

from classifier.models import Feedback
from trainer.models import ModelVersion

from .page_helpers import _done, _page, _prediction

pytestmark = pytest.mark.django_db

HISTORY = reverse("classifier:history")
API = "/api/predictions/"


@pytest.fixture
def pets():
    return ModelVersion.objects.create(
        name="pets", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"], is_active=True
    )


@pytest.fixture
def answers(alice, other_user, pets):
    """Alice's answers: one she agreed with, one she corrected, one "can't tell" she named, one without feedback;
    and someone else's corrected one, which her lists never show."""
    made = {
        "agreed": _done(alice, pets, label="cat", verdict="cat"),
        "corrected": _done(alice, pets, label="cat", verdict="cat"),
        "unsure_named": _done(alice, pets, label="dog", verdict="unsure"),
        "old_corrected": _done(alice, pets, label="dog", verdict=""),  # from before verdicts: its label counts
        "silent": _done(alice, pets, label="dog", verdict="dog"),
    }
    for name, label in [("agreed", "cat"), ("corrected", "dog"), ("unsure_named", "dog"), ("old_corrected", "cat")]:
        Feedback.objects.create(prediction=made[name], label=label, given_by=alice)
    theirs = _done(other_user, pets, label="cat", verdict="cat")
    Feedback.objects.create(prediction=theirs, label="dog", given_by=other_user)
    _prediction(alice)  # pending
    return made


def _ids(answers, *names) -> list[int]:
    return sorted(answers[name].pk for name in names)


def _shown(page) -> list[int]:
    return sorted(int(row["data-prediction-id"]) for row in page.find("li", data_prediction=True))


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("any", ["agreed", "corrected", "unsure_named", "old_corrected"]),
        ("disagrees", ["corrected", "unsure_named", "old_corrected"]),
    ],
)
def test_the_history_shows_only_the_answers_with_that_feedback(alice_client, answers, kind, expected):
    html, page = _page(alice_client.get(HISTORY, {"feedback": kind}))
    assert _shown(page) == _ids(answers, *expected)
    assert page.find("a", data_feedback_filter=kind, aria_current="true")
    assert not page.find("a", data_verdict="", aria_current="true")


def test_the_history_offers_the_feedback_chips_with_their_counts(alice_client, answers):
    html, page = _page(alice_client.get(HISTORY))
    assert [(chip["data-feedback-filter"], chip["href"]) for chip in page.find("a", data_feedback_filter=True)] == [
        ("any", f"{HISTORY}?feedback=any"),
        ("disagrees", f"{HISTORY}?feedback=disagrees"),
    ]
    assert 'With feedback <span class="chip-count" data-count>4</span>' in html
    assert 'You disagreed <span class="chip-count" data-count>3</span>' in html


def test_no_feedback_chips_until_feedback_is_given(alice_client, alice, pets):
    _done(alice, pets, label="cat", verdict="cat")
    _, page = _page(alice_client.get(HISTORY))
    assert page.find("a", data_verdict=True)
    assert not page.find("a", data_feedback_filter=True)


def test_an_empty_filter_says_so(alice_client, alice, pets):
    agreed = _done(alice, pets, label="cat", verdict="cat")
    Feedback.objects.create(prediction=agreed, label="cat", given_by=alice)
    html, page = _page(alice_client.get(HISTORY, {"feedback": "disagrees"}))
    assert _shown(page) == []
    assert "Every time you gave feedback, you agreed with the answer." in html


def test_an_unknown_feedback_filter_on_the_page_shows_everything(alice_client, answers):
    _, page = _page(alice_client.get(HISTORY, {"feedback": "maybe"}))
    assert len(_shown(page)) == 6


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("any", ["agreed", "corrected", "unsure_named", "old_corrected"]),
        ("disagrees", ["corrected", "unsure_named", "old_corrected"]),
    ],
)
def test_the_api_list_filters_by_feedback(signed_in_api, answers, kind, expected):
    r = signed_in_api.get(API, {"feedback": kind})
    assert r.status_code == 200
    body = r.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert sorted(row["id"] for row in rows) == _ids(answers, *expected)


def test_the_api_refuses_an_unknown_feedback_filter(signed_in_api, answers):
    r = signed_in_api.get(API, {"feedback": "maybe"})
    assert r.status_code == 400
    [message] = r.json()["feedback"]
    assert message == (
        "'maybe' is no feedback filter: use any (with feedback) or disagrees (the feedback differs from the answer)."
    )
