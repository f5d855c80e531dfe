"""The prediction admin shows each answer's verdict and filters by it; an answer from before verdicts counts
as its label."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LIST = "admin:classifier_prediction_changelist"


@pytest.fixture
def answers(make_prediction, model_version):
    def done(name, label, verdict):
        return make_prediction(
            original_name=name, status="done", label=label, verdict=verdict, confidence=0.6,
            probabilities={"cat": 0.6, "dog": 0.4} if label == "cat" else {"cat": 0.4, "dog": 0.6},
            model_version=model_version,
        )  # fmt: skip

    return {
        "cat": done("sure-cat.png", "cat", "cat"),
        "unsure": done("hesitant.png", "cat", "unsure"),
        "other": done("screenshot.png", "dog", "other"),
        "dog": done("before-verdicts.png", "dog", ""),
    }


def test_the_list_shows_each_verdict(admin_client, answers):
    page = admin_client.get(reverse(LIST)).content.decode()
    for prediction in answers.values():
        row = page.split(f">{prediction.original_name}<", 1)[1].split("</tr>", 1)[0]
        verdict = prediction.verdict or prediction.label
        assert f'<td class="field-verdict_shown">{verdict}</td>' in row


@pytest.mark.parametrize("verdict", ["cat", "dog", "unsure", "other"])
def test_the_list_filters_by_verdict(admin_client, answers, verdict):
    page = admin_client.get(reverse(LIST), {"verdict": verdict}).content.decode()
    shown = {name for name in ("sure-cat.png", "hesitant.png", "screenshot.png", "before-verdicts.png") if name in page}
    assert shown == {answers[verdict].original_name}


def test_the_page_says_the_answer_in_words(admin_client, answers):
    page = admin_client.get(reverse("admin:classifier_prediction_change", args=[answers["other"].pk])).content.decode()
    assert "Not a cat or a dog" in page
    page = admin_client.get(reverse("admin:classifier_prediction_change", args=[answers["unsure"].pk])).content.decode()
    assert "Can&#x27;t tell: cat 60%, dog 40%" in page
