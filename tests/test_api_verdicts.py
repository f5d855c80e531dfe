"""The API's `verdict`: in the detail and the list, for answers from before verdicts too, and as a filter."""

import pytest

from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(signed_in_api):
    return signed_in_api


@pytest.fixture
def answered(make_prediction):
    """Finished predictions of each kind, by a 3-class version; one answered before verdicts (none stored)."""
    version = ModelVersion.objects.create(
        name="birds", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )

    def done(label, verdict):
        probabilities = {name: (0.8 if name == label else 0.1) for name in version.class_names}
        return make_prediction(
            status="done", label=label, verdict=verdict, confidence=0.8, probabilities=probabilities,
            model_version=version,
        )  # fmt: skip

    return {
        "cat": done("cat", "cat"),
        "unsure": done("dog", "unsure"),
        "other": done("dog", "other"),
        "legacy dog": done("dog", ""),
        "bird": done("bird", "bird"),
    }


def test_the_detail_carries_the_verdict_beside_an_unchanged_label(api, answered):
    for key, verdict, label in [("cat", "cat", "cat"), ("unsure", "unsure", "dog"), ("other", "other", "dog")]:
        body = api.get(f"/api/predictions/{answered[key].pk}/").json()
        assert (body["verdict"], body["label"], body["confidence"]) == (verdict, label, 0.8)
        assert body["probabilities"] == {"bird": 0.1, "cat": 0.1, "dog": 0.1} | {label: 0.8}


def test_an_answer_from_before_verdicts_has_its_label_as_verdict(api, answered):
    body = api.get(f"/api/predictions/{answered['legacy dog'].pk}/").json()
    assert body["verdict"] == "dog"


def test_the_verdict_is_null_until_answered_and_for_a_failure(api, make_prediction):
    pending = make_prediction()
    failed = make_prediction(status="failed", error="The photo could not be decoded for the model.")
    assert api.get(f"/api/predictions/{pending.pk}/").json()["verdict"] is None
    assert api.get(f"/api/predictions/{failed.pk}/").json()["verdict"] is None


def test_the_list_carries_the_verdict(api, answered):
    results = api.get("/api/predictions/").json()["results"]
    assert {row["id"]: row["verdict"] for row in results} == {
        answered["cat"].pk: "cat",
        answered["unsure"].pk: "unsure",
        answered["other"].pk: "other",
        answered["legacy dog"].pk: "dog",
        answered["bird"].pk: "bird",
    }


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [("other", ["other"]), ("unsure", ["unsure"]), ("dog", ["legacy dog"]), ("cat", ["cat"]), ("bird", ["bird"])],
)
def test_the_list_is_filtered_by_verdict(api, answered, make_prediction, verdict, expected):
    make_prediction()  # pending: no verdict yet, in no filter
    results = api.get("/api/predictions/", {"verdict": verdict}).json()["results"]
    assert sorted(row["id"] for row in results) == sorted(answered[key].pk for key in expected)
    assert {row["verdict"] for row in results} == {verdict}


def test_an_unknown_verdict_is_a_400_that_names_the_choices(api, answered):
    r = api.get("/api/predictions/", {"verdict": "horse"})
    assert r.status_code == 400
    [message] = r.json()["verdict"]
    assert message == "'horse' is not a verdict these answers can have: use one of bird, cat, dog, unsure or other."


def test_the_active_versions_classes_are_valid_filters_before_any_answer(api):
    ModelVersion.objects.create(
        name="pets", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"], is_active=True
    )
    r = api.get("/api/predictions/", {"verdict": "dog"})
    assert r.status_code == 200
    assert r.json()["results"] == []
    assert api.get("/api/predictions/", {"verdict": "bird"}).status_code == 400
