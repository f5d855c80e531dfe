"""`POST /api/predictions/{id}/feedback/`: what a photo really shows, kept beside the answer it never changes."""

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from classifier.models import Feedback, Prediction
from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(signed_in_api):
    return signed_in_api


@pytest.fixture
def version():
    return ModelVersion.objects.create(
        name="birds", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )


@pytest.fixture
def answered(make_prediction, version):
    def make(owner=None, label="cat", verdict="cat"):
        probabilities = {name: (0.8 if name == label else 0.1) for name in version.class_names}
        return make_prediction(
            owner=owner, status="done", label=label, verdict=verdict, confidence=0.8,
            probabilities=probabilities, model_version=version,
        )  # fmt: skip

    return make


def _url(prediction) -> str:
    return f"/api/predictions/{prediction.pk}/feedback/"


def test_feedback_is_stored_with_who_gave_it_and_when(api, answered, user):
    prediction = answered()
    r = api.post(_url(prediction), {"label": "dog"}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert body["label"] == "dog"
    feedback = Feedback.objects.get(prediction=prediction)
    assert (feedback.label, feedback.given_by) == ("dog", user)
    assert body["created_at"] and body["updated_at"]


def test_a_second_post_replaces_the_first(api, answered):
    prediction = answered()
    first = api.post(_url(prediction), {"label": "dog"}, format="json").json()
    r = api.post(_url(prediction), {"label": "other"}, format="json")
    assert r.status_code == 200
    assert r.json()["label"] == "other"
    assert r.json()["created_at"] == first["created_at"]
    assert datetime.fromisoformat(r.json()["updated_at"]) > datetime.fromisoformat(first["updated_at"])
    assert list(Feedback.objects.filter(prediction=prediction).values_list("label", flat=True)) == ["other"]


def test_feedback_never_changes_the_answer(api, answered):
    prediction = answered(label="cat", verdict="unsure")
    before = Prediction.objects.filter(pk=prediction.pk).values().get()
    assert api.post(_url(prediction), {"label": "bird"}, format="json").status_code == 201
    assert Prediction.objects.filter(pk=prediction.pk).values().get() == before
    body = api.get(f"/api/predictions/{prediction.pk}/").json()
    assert (body["label"], body["verdict"], body["feedback"]) == ("cat", "unsure", "bird")


def test_another_users_prediction_and_a_missing_one_answer_404(api, answered, other_user):
    theirs = answered(owner=other_user)
    assert api.post(_url(theirs), {"label": "dog"}, format="json").status_code == 404
    assert api.post("/api/predictions/999999/feedback/", {"label": "dog"}, format="json").status_code == 404
    assert not Feedback.objects.exists()


def test_an_unknown_label_is_refused_naming_the_choices(api, answered):
    prediction = answered()
    for label in ("horse", "unsure", "Dog"):
        r = api.post(_url(prediction), {"label": label}, format="json")
        assert r.status_code == 400
        [message] = r.json()["label"]
        assert f"“{label}” is not a class of the model that answered" in message
        assert "“bird”, “cat”, “dog”" in message and "“other”" in message
    assert not Feedback.objects.exists()


def test_a_missing_label_is_refused(api, answered):
    prediction = answered()
    for data in ({}, {"label": ""}):
        r = api.post(_url(prediction), data, format="json")
        assert r.status_code == 400
        assert r.json()["label"]
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("fields", [{}, {"status": "failed", "error": "The photo could not be decoded."}])
def test_a_prediction_without_an_answer_is_refused_with_a_message(api, make_prediction, fields):
    prediction = make_prediction(**fields)
    r = api.post(_url(prediction), {"label": "dog"}, format="json")
    assert r.status_code == 400
    assert r.json() == {"detail": "This photo has no answer yet: feedback can be given once it is answered."}
    assert not Feedback.objects.exists()


def test_anonymous_callers_are_refused(answered):
    prediction = answered()
    r = APIClient().post(_url(prediction), {"label": "dog"}, format="json")
    assert r.status_code == 401
    assert not Feedback.objects.exists()


def test_feedback_can_be_withdrawn(api, answered):
    prediction = answered()
    api.post(_url(prediction), {"label": "dog"}, format="json")
    assert api.delete(_url(prediction)).status_code == 204
    assert not Feedback.objects.exists()
    assert api.delete(_url(prediction)).status_code == 404
    assert api.get(f"/api/predictions/{prediction.pk}/").json()["feedback"] is None


def test_the_detail_and_the_list_carry_the_feedback(api, answered, make_prediction):
    said, silent, pending = answered(), answered(label="dog", verdict="dog"), make_prediction()
    api.post(_url(said), {"label": "other"}, format="json")
    assert api.get(f"/api/predictions/{said.pk}/").json()["feedback"] == "other"
    assert api.get(f"/api/predictions/{silent.pk}/").json()["feedback"] is None
    results = api.get("/api/predictions/").json()["results"]
    assert {row["id"]: row["feedback"] for row in results} == {said.pk: "other", silent.pk: None, pending.pk: None}


def test_the_lists_queries_do_not_grow_with_its_feedback(api, answered):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/predictions/").status_code == 200
        return len(queries)

    first = answered()
    api.post(_url(first), {"label": "dog"}, format="json")
    one = count()
    for _ in range(3):
        api.post(_url(answered()), {"label": "bird"}, format="json")
    assert count() == one


def test_deleting_a_prediction_deletes_its_feedback(api, answered):
    prediction = answered()
    api.post(_url(prediction), {"label": "dog"}, format="json")
    assert api.delete(f"/api/predictions/{prediction.pk}/").status_code == 204
    assert not Feedback.objects.exists()
