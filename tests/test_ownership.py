"""A user sees, downloads and deletes only their own predictions; anything else answers 404."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.models import Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def mallorys_client(client, other_user):
    client.force_login(other_user)
    return client


@pytest.mark.parametrize("name", ["classifier:detail", "classifier:image", "classifier:thumbnail"])
def test_another_users_pages_and_files_answer_404(mallorys_client, make_prediction, name):
    prediction = make_prediction()
    assert mallorys_client.get(reverse(name, args=[prediction.pk])).status_code == 404


@pytest.mark.parametrize("name", ["classifier:delete", "classifier:retry"])
def test_another_user_cannot_delete_or_retry(mallorys_client, make_prediction, name):
    prediction = make_prediction(status=Prediction.Status.FAILED, error="boom")
    assert mallorys_client.post(reverse(name, args=[prediction.pk])).status_code == 404
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.image.storage.exists(prediction.image.name)


def test_another_users_prediction_is_not_in_history(mallorys_client, make_prediction, other_user):
    make_prediction(label="cat")
    mine = make_prediction(owner=other_user)
    page = mallorys_client.get(reverse("classifier:history")).context["page"]
    assert [p.pk for p in page] == [mine.pk]


def test_the_owner_gets_the_image(client, user, make_prediction):
    prediction = make_prediction()
    client.force_login(user)
    r = client.get(reverse("classifier:image", args=[prediction.pk]))
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    with prediction.image.open("rb") as f:
        assert b"".join(r.streaming_content) == f.read()
    r = client.get(reverse("classifier:image", args=[prediction.pk]) + "?download=1")
    assert r["Content-Disposition"].startswith('attachment; filename="photo.png"')


def test_uploads_are_not_reachable_as_static_or_media_files(client, user, make_prediction):
    prediction = make_prediction()
    client.force_login(user)
    for url in (f"/media/{prediction.image.name}", f"/static/{prediction.image.name}", f"/{prediction.image.name}"):
        assert client.get(url).status_code == 404


def test_the_api_hides_another_users_prediction(make_prediction, other_user):
    prediction = make_prediction()
    api = APIClient()
    api.force_authenticate(other_user)
    url = reverse("api:prediction-detail", args=[prediction.pk])
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(reverse("api:prediction-list")).json()["results"] == []
    assert Prediction.objects.filter(pk=prediction.pk).exists()
