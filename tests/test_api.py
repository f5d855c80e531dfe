"""The REST API contract: token, create (202), detail, list, and the 400s and 404s."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.models import Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    client = APIClient()
    token = client.post(reverse("api:token"), {"username": "alice", "password": "correct horse battery"}).json()[
        "token"
    ]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_it_issues_a_token_for_good_credentials(user):
    r = APIClient().post("/api/token/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 200
    assert set(r.json()) == {"token"}
    assert len(r.json()["token"]) == 40


def test_it_refuses_a_token_for_bad_credentials(user):
    r = APIClient().post("/api/token/", {"username": "alice", "password": "nope"})
    assert r.status_code == 400
    assert "token" not in r.json()


def test_it_refuses_a_token_request_whose_json_is_not_an_object(user):
    r = APIClient().post("/api/token/", [{"username": "alice"}], format="json")
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_the_token_call_ignores_a_stale_token_it_carries(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    r = client.post("/api/token/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 200


def test_it_refuses_calls_without_credentials(make_prediction):
    client = APIClient()
    assert client.get("/api/predictions/").status_code == 401
    assert client.post("/api/predictions/", {"image": upload("a.png", image_bytes())}).status_code == 401
    assert client.get(f"/api/predictions/{make_prediction().pk}/").status_code == 401


def test_it_refuses_a_wrong_token():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/predictions/").status_code == 401


def test_create_answers_202_with_id_status_and_url(api, user):
    r = api.post("/api/predictions/", {"image": upload("a.png", image_bytes())}, format="multipart")
    assert r.status_code == 202
    body = r.json()
    prediction = Prediction.objects.get()
    assert body == {
        "id": prediction.pk,
        "status": "pending",
        "url": f"http://testserver/api/predictions/{prediction.pk}/",
    }
    assert r["Location"] == body["url"]
    assert prediction.owner == user


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"plain text, not a picture", "is not an image we can read"),
        (image_bytes("JPEG", size=(300, 200))[:1200], "damaged or incomplete"),
        (image_bytes("TIFF"), "is a TIFF image"),
    ],
    ids=["text", "truncated", "tiff"],
)
def test_create_refuses_a_bad_image_with_400(api, settings, data, fragment):
    r = api.post("/api/predictions/", {"image": upload("x.jpg", data)}, format="multipart")
    assert r.status_code == 400
    body = r.json()
    assert list(body) == ["image"]
    assert len(body["image"]) == 1 and fragment in body["image"][0]
    assert Prediction.objects.count() == 0


def test_create_refuses_an_image_over_the_limits(api, settings):
    settings.CATDOG_MAX_IMAGE_PIXELS = 100
    r = api.post("/api/predictions/", {"image": upload("x.png", image_bytes())}, format="multipart")
    assert r.status_code == 400
    assert "megapixels" in r.json()["image"][0]
    settings.CATDOG_MAX_UPLOAD_BYTES = 10
    r = api.post("/api/predictions/", {"image": upload("x.png", image_bytes())}, format="multipart")
    assert r.status_code == 400
    assert "the limit is 10" in r.json()["image"][0]
    assert Prediction.objects.count() == 0


def test_create_refuses_a_request_without_image(api):
    r = api.post("/api/predictions/", {}, format="multipart")
    assert r.status_code == 400
    assert list(r.json()) == ["image"]


def test_detail_has_exactly_the_contract_fields(api, make_prediction):
    from trainer.models import ModelVersion

    version = ModelVersion.objects.create(name="v-test", architecture="mobilenet_v2", class_names=["cat", "dog"])
    prediction = make_prediction(
        status="done", label="dog", confidence=0.93, probabilities={"cat": 0.07, "dog": 0.93},
        model_version=version, inference_ms=12.5,
    )  # fmt: skip
    body = api.get(f"/api/predictions/{prediction.pk}/").json()
    assert set(body) == {
        "id", "status", "label", "verdict", "confidence", "probabilities", "model_version", "inference_ms",
        "created_at", "error", "heatmap_url", "feedback",
    }  # fmt: skip
    assert body["status"] == "done"
    assert body["label"] == "dog"
    assert body["confidence"] == 0.93
    assert body["probabilities"] == {"cat": 0.07, "dog": 0.93}
    assert body["model_version"] == "v-test"
    assert body["inference_ms"] == 12.5
    assert body["error"] == ""
    assert body["heatmap_url"] is None  # no heatmap came with this answer (tests/test_heatmap_serving.py)


def test_list_is_own_newest_first_and_paginated(api, make_prediction, other_user, settings):
    mine = [make_prediction() for _ in range(25)]
    make_prediction(owner=other_user)
    first = api.get("/api/predictions/").json()
    assert first["count"] == 25
    assert [p["id"] for p in first["results"]] == [p.pk for p in reversed(mine)][:20]
    second = api.get(first["next"]).json()
    assert [p["id"] for p in second["results"]] == [p.pk for p in reversed(mine)][20:]


def test_delete_removes_the_row_and_its_files(api, make_prediction, django_capture_on_commit_callbacks):
    prediction = make_prediction()
    storage, names = prediction.image.storage, [prediction.image.name, prediction.thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/predictions/{prediction.pk}/").status_code == 204
    assert not Prediction.objects.exists()
    assert not any(storage.exists(name) for name in names)
