"""Feedback on the pages: the detail page's result and each history card offer "Right", the right class or
"None of these" to the owner; after it, "You said: ..." with a way to change it. Plain POST forms."""

import html as html_module
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from classifier.models import Feedback, Prediction
from trainer.models import ModelVersion

from .page_helpers import _done, _page, _prediction

pytestmark = pytest.mark.django_db

HISTORY = reverse("classifier:history")


@pytest.fixture
def three_classes():
    return ModelVersion.objects.create(
        name="birds-cats-dogs", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )


def _feedback_url(prediction) -> str:
    return reverse("classifier:feedback", args=[prediction.pk])


def _text(html: str) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _buttons(page, prediction) -> list[str]:
    """The labels the page's one feedback form (for `prediction`) can send, one submit button each."""
    assert len(page.find("form", action=_feedback_url(prediction), method="post")) == 1
    return sorted(button["value"] for button in page.find("button", type="submit", name="label"))


@pytest.mark.parametrize("url_name", ["classifier:detail", "classifier:history"])
def test_the_owner_is_offered_right_each_class_and_none_of_these(alice_client, alice, three_classes, url_name):
    prediction = _done(alice, three_classes, label="cat", verdict="cat")
    url = reverse(url_name, args=[prediction.pk]) if url_name == "classifier:detail" else HISTORY
    html, page = _page(alice_client.get(url))
    assert page.find("button", name="label", value="cat", data_feedback_right=True)
    # "Right" stands for the answer: the other classes and "None of these" are offered beside it.
    assert _buttons(page, prediction) == ["bird", "cat", "dog", "other"]
    assert "Is this right?" in _text(html) and "None of these" in html
    assert page.find("input", name="csrfmiddlewaretoken")


def test_an_other_verdict_is_confirmed_as_other(alice_client, alice, three_classes):
    prediction = _done(alice, three_classes, label="dog", verdict="other")
    _, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    assert page.find("button", name="label", value="other", data_feedback_right=True)
    assert _buttons(page, prediction) == ["bird", "cat", "dog", "other"]


def test_cant_tell_has_no_right_only_the_classes(alice_client, alice, three_classes):
    prediction = _done(alice, three_classes, label="dog", verdict="unsure")
    html, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    assert not page.find("button", data_feedback_right=True)
    assert _buttons(page, prediction) == ["bird", "cat", "dog", "other"]
    assert "What does it show?" in _text(html)


def test_no_feedback_form_before_the_answer(alice_client, alice):
    for prediction in (_prediction(alice), _prediction(alice, status="failed", error="Broken.")):
        _, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
        assert not page.find("form", action=_feedback_url(prediction))


def test_feedback_from_the_detail_page_says_thank_you_and_what_was_said(alice_client, alice, three_classes):
    prediction = _done(alice, three_classes, label="cat", verdict="cat")
    r = alice_client.post(_feedback_url(prediction), {"label": "dog"}, follow=True)
    assert r.redirect_chain == [(reverse("classifier:detail", args=[prediction.pk]), 302)]
    html, page = _page(r)
    text = _text(html)
    assert "Thank you: you said dog." in text
    assert "You said: dog" in text
    # A way to change it: every answer again, the one given marked.
    assert page.find("details", data_feedback_change=True)
    assert page.find("button", name="label", value="dog", aria_pressed="true")
    assert _buttons(page, prediction) == ["bird", "cat", "dog", "other"]
    assert not page.find("button", data_feedback_right=True)
    assert Feedback.objects.get(prediction=prediction).label == "dog"


def test_feedback_from_a_history_card_returns_to_that_page_and_card(alice_client, alice, model_version):
    prediction = _done(alice, model_version, label="cat", verdict="cat")
    back = f"{HISTORY}?verdict=cat"
    _, page = _page(alice_client.get(back))
    assert page.find("input", name="next", value=back)
    r = alice_client.post(_feedback_url(prediction), {"label": "cat", "next": back})
    assert r.status_code == 302
    assert r["Location"] == f"{back}#prediction-{prediction.pk}"
    html, page = _page(alice_client.get(back))
    assert "You said: cat" in _text(html)
    assert page.find("div", data_feedback="cat")


def test_none_of_these_reads_as_the_versions_classes(alice_client, alice, model_version):
    prediction = _done(alice, model_version, label="cat", verdict="cat")
    r = alice_client.post(_feedback_url(prediction), {"label": "other"}, follow=True)
    assert "You said: Not a cat or a dog" in _text(r.content.decode())


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/predictions/",
        "//evil.example/predictions/",
        "/admin/",
        "/predictions",
        "/predictions/\r\nX: y",
    ],
)
def test_feedback_never_sends_anyone_off_the_history(alice_client, alice, model_version, next_url):
    prediction = _done(alice, model_version)
    r = alice_client.post(_feedback_url(prediction), {"label": "cat", "next": next_url})
    assert r["Location"] == reverse("classifier:detail", args=[prediction.pk])


@pytest.mark.parametrize("label", ["horse", "", "unsure"])
def test_a_bad_label_is_refused_on_the_page_and_nothing_is_stored(alice_client, alice, model_version, label):
    prediction = _done(alice, model_version)
    r = alice_client.post(_feedback_url(prediction), {"label": label} if label else {})
    assert r.status_code == 400
    html, page = _page(r)
    assert page.find("div", data_feedback_error=True)
    expected = "Say what the photo shows" if not label else f"“{label}” is not a class of the model that answered"
    assert expected in _text(html)
    assert not Feedback.objects.exists()


def test_a_photo_without_an_answer_is_refused_on_the_page(alice_client, alice):
    prediction = _prediction(alice)
    r = alice_client.post(_feedback_url(prediction), {"label": "cat"})
    assert r.status_code == 400
    assert "This photo has no answer yet: feedback can be given once it is answered." in _text(r.content.decode())
    assert not Feedback.objects.exists()


def test_the_feedback_url_takes_only_post(alice_client, alice, model_version):
    prediction = _done(alice, model_version)
    assert alice_client.get(_feedback_url(prediction)).status_code == 405


def test_another_users_photo_is_not_found(alice_client, other_user, model_version):
    theirs = _done(other_user, model_version)
    assert alice_client.post(_feedback_url(theirs), {"label": "dog"}).status_code == 404
    assert alice_client.post(reverse("classifier:feedback", args=[999999]), {"label": "dog"}).status_code == 404
    assert not Feedback.objects.exists()


def test_giving_feedback_leaves_the_answer_alone(alice_client, alice, model_version):
    prediction = _done(alice, model_version, label="cat", verdict="cat")
    before = Prediction.objects.filter(pk=prediction.pk).values().get()
    alice_client.post(_feedback_url(prediction), {"label": "dog"})
    alice_client.post(_feedback_url(prediction), {"label": "other"})
    assert Prediction.objects.filter(pk=prediction.pk).values().get() == before
    assert list(Feedback.objects.values_list("label", flat=True)) == ["other"]


def test_the_pages_with_feedback_write_nothing_and_the_history_asks_once(alice_client, alice, model_version):
    for n in range(3):
        prediction = _done(alice, model_version, name=f"p{n}.png")
        alice_client.post(_feedback_url(prediction), {"label": "dog"})
    with CaptureQueriesContext(connection) as queries:
        alice_client.get(HISTORY)
        alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    sql = [q["sql"] for q in queries.captured_queries]
    assert [q for q in sql if not q.lstrip().upper().startswith("SELECT")] == []
    assert [q for q in sql if 'FROM "classifier_feedback"' in q] == []  # joined to the predictions, not asked apart


def test_a_card_swapped_in_by_the_historys_poll_returns_to_the_page_it_is_on(client, alice, model_version):
    client.force_login(alice)
    prediction = _prediction(alice)
    Prediction.objects.filter(pk=prediction.pk).update(
        status="done", label="cat", verdict="cat", confidence=0.9, probabilities={"cat": 0.9, "dog": 0.1},
        model_version=model_version,
    )  # fmt: skip
    page_url = f"{HISTORY}?page=1&verdict=cat"
    r = client.get(
        reverse("classifier:history-updates"),
        {"watch": f"{prediction.pk}:pending"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page_url}",
    )
    _, page = _page(r)
    assert page.find("input", name="next", value=page_url)
    assert page.find("button", name="label", value="cat", data_feedback_right=True)


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_with_htmx_the_answer_is_the_fragment_saying_thank_you(alice_client, alice, model_version):
    prediction = _done(alice, model_version, label="cat", verdict="cat")
    back = f"{HISTORY}?page=1"
    r = alice_client.post(_feedback_url(prediction), {"label": "dog", "next": back}, **HTMX)
    assert r.status_code == 200
    html, page = _page(r)
    assert "You said: dog . Thank you!" in _text(html)
    [fragment] = page.find("div", id=f"feedback-{prediction.pk}")
    assert "feedback-compact" in fragment["class"]
    assert page.find("input", name="next", value=back)
    assert "<html" not in html
    assert Feedback.objects.get(prediction=prediction).label == "dog"


def test_with_htmx_a_bad_label_answers_the_fragment_saying_why(alice_client, alice, model_version):
    prediction = _done(alice, model_version)
    r = alice_client.post(_feedback_url(prediction), {"label": "horse"}, **HTMX)
    assert r.status_code == 400
    html, page = _page(r)
    assert page.find("div", id=f"feedback-{prediction.pk}")
    assert page.find("div", data_feedback_error=True)
    assert "“horse” is not a class of the model that answered" in _text(html)
    assert not Feedback.objects.exists()
