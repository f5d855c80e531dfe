"""The verdict in words wherever an answer is shown: the detail page, its title, the history's cards and the
pages' poll fragments, for a class, "Can't tell" and "none of these", by a 2-class and a 3-class version."""

import html as html_module
import re

import pytest
from django.urls import reverse

from trainer.models import ModelVersion

from .page_helpers import _page, _prediction

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def three_classes():
    return ModelVersion.objects.create(
        name="birds-cats-dogs", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )


def _answered(owner, version, verdict, probabilities, name="kitty.png"):
    label = max(probabilities, key=probabilities.get)
    return _prediction(
        owner, name=name, status="done", label=label, verdict=verdict, confidence=probabilities[label],
        probabilities=probabilities, model_version=version,
    )  # fmt: skip


def _text(html: str) -> str:
    """The page's words, tags dropped and spaces squeezed, as a person reads them."""
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ,", ","))


CASES = [
    # version, verdict, probabilities, the answer's words, its kind
    ("two", "cat", {"cat": 0.981, "dog": 0.019}, "cat 98.1% confident", "class"),
    ("two", "unsure", {"cat": 0.55, "dog": 0.45}, "Can't tell cat 55%, dog 45%", "unsure"),
    ("two", "other", {"cat": 0.285, "dog": 0.715}, "Not a cat or a dog", "other"),
    ("three", "unsure", {"bird": 0.1, "cat": 0.48, "dog": 0.42}, "Can't tell cat 48%, dog 42%, bird 10%", "unsure"),
    ("three", "other", {"bird": 0.2, "cat": 0.3, "dog": 0.5}, "Not a bird, a cat or a dog", "other"),
]


@pytest.mark.parametrize(("which", "verdict", "probabilities", "words", "kind"), CASES)
def test_the_detail_page_says_the_verdict_in_words(
    alice_client, alice, model_version, three_classes, which, verdict, probabilities, words, kind
):
    version = model_version if which == "two" else three_classes
    prediction = _answered(alice, version, verdict, probabilities)
    html, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    [answer] = page.find("div", data_verdict=verdict)
    assert answer["data-verdict-kind"] == kind
    section = html.split('class="answer verdict', 1)[1].split("</div>", 1)[0]
    assert words in _text(section)
    assert page.find("li", data_class=True), "the probabilities' bars stay"
    title = _text(html.split("<title>", 1)[1].split("</title>", 1)[0])
    headline = {"class": "Cat", "unsure": "Can't tell"}.get(kind, words)
    assert title == f"{headline} · kitty.png · catdog"


@pytest.mark.parametrize(("verdict", "explained"), [("cat", False), ("unsure", True), ("other", True)])
def test_the_detail_page_explains_an_unsure_or_other_answer(alice_client, alice, model_version, verdict, explained):
    prediction = _answered(alice, model_version, verdict, {"cat": 0.55, "dog": 0.45})
    html, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    assert bool(page.find("p", data_verdict_explanation=True)) == explained
    if verdict == "other":
        assert "looks like none of the kinds of thing this model knows (cat and dog)" in _text(html)
    if verdict == "unsure":
        assert "looks like a cat or a dog, but the model cannot tell which" in _text(html)


def test_an_answer_from_before_verdicts_shows_its_label_as_before(alice_client, alice, model_version):
    prediction = _answered(alice, model_version, "", {"cat": 0.127, "dog": 0.873})
    html, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    assert page.find("div", data_verdict="dog", data_verdict_kind="class")
    assert "dog 87.3% confident" in _text(html)


@pytest.mark.parametrize(("which", "verdict", "probabilities", "words", "kind"), CASES)
def test_the_history_card_says_the_verdict_in_words(
    alice_client, alice, model_version, three_classes, which, verdict, probabilities, words, kind
):
    version = model_version if which == "two" else three_classes
    prediction = _answered(alice, version, verdict, probabilities)
    html, page = _page(alice_client.get(reverse("classifier:history")))
    card = html.split(f'id="prediction-{prediction.pk}"', 1)[1].split("</li>", 1)[0]
    assert re.search(f'data-verdict="{verdict}" data-verdict-kind="{kind}"', card)
    assert _text(words).replace(" confident", "") in _text(card)


def test_the_polls_fragment_says_the_answer_in_the_same_words(client, alice, model_version, make_prediction):
    client.force_login(alice)
    prediction = make_prediction()
    fields = {"status": "done", "label": "dog", "verdict": "other", "confidence": 0.7}
    type(prediction).objects.filter(pk=prediction.pk).update(
        **fields, probabilities={"cat": 0.3, "dog": 0.7}, model_version=model_version
    )
    for name in ("classifier:history-updates", "classifier:detail-updates"):
        html = client.get(reverse(name), {"watch": f"{prediction.pk}:pending"}, **HTMX).content.decode()
        assert 'data-verdict-kind="other"' in html
        assert "Not a cat or a dog" in _text(html)
    detail = client.get(reverse("classifier:detail-updates"), {"watch": f"{prediction.pk}:pending"}, **HTMX)
    assert "<title>Not a cat or a dog · photo.png · catdog</title>" in detail.content.decode()


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (["cat", "dog"], "Not a cat or a dog"),
        (["apple", "pear"], "Not an apple or a pear"),
        (["bird", "cat", "dog"], "Not a bird, a cat or a dog"),
        (["golden_retriever", "tabby"], "Not a golden retriever or a tabby"),
        (["cats", "dogs"], "None of: cats, dogs"),
        (["Cat", "Dog"], "None of: Cat, Dog"),
        ([f"kind{n}" for n in range(12)], "None of the 12 kinds of thing it knows"),
    ],
)
def test_none_of_these_is_worded_from_the_versions_own_classes(names, words):
    from classifier.answers import none_of

    assert none_of(names) == words
