"""The heatmap is its owner's only, like the photo: `GET /api/predictions/{id}/heatmap.png` and the pages'
own address (grayscale, or coloured for the overlay); 404 for anyone else and until it is stored."""

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.models import Prediction

from .dataset_helpers import media_files
from .heatmap_helpers import png_pixels, stored_heatmap

pytest_plugins = ["tests.heatmap_fixtures"]
pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _api_url(prediction) -> str:
    return f"/api/predictions/{prediction.pk}/heatmap.png"


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_owner_gets_the_grayscale_png_from_the_api(answered, user):
    prediction = answered()
    r = _api(user).get(_api_url(prediction))
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert np.array_equal(png_pixels(_body(r)), stored_heatmap(prediction))


def test_the_api_detail_and_list_link_to_the_heatmap_once_it_is_stored(answered, make_prediction, user):
    prediction, pending = answered(), make_prediction()
    api = _api(user)
    assert (
        api.get(f"/api/predictions/{prediction.pk}/").json()["heatmap_url"]
        == f"http://testserver{_api_url(prediction)}"
    )
    listed = {row["id"]: row["heatmap_url"] for row in api.get("/api/predictions/").json()["results"]}
    assert listed == {prediction.pk: f"http://testserver{_api_url(prediction)}", pending.pk: None}


def test_another_user_gets_404_from_the_api(answered, user, other_user):
    prediction = answered()
    assert _api(user).get(_api_url(prediction)).status_code == 200
    r = _api(other_user).get(_api_url(prediction))
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert set(r.json()) == {"detail"}


def test_without_credentials_the_api_answers_401(answered):
    r = APIClient().get(_api_url(answered()))
    assert r.status_code == 401
    assert set(r.json()) == {"detail"}


@pytest.mark.parametrize("status", [Prediction.Status.PENDING, Prediction.Status.DONE, Prediction.Status.FAILED])
def test_a_prediction_without_a_heatmap_yet_answers_404_with_a_reason(make_prediction, user, status):
    prediction = make_prediction(status=status)
    r = _api(user).get(_api_url(prediction))
    assert r.status_code == 404
    assert r.json() == {"detail": "This prediction has no heatmap yet."}


def test_an_unknown_prediction_answers_404(user):
    r = _api(user).get("/api/predictions/999999/heatmap.png")
    assert r.status_code == 404
    assert set(r.json()) == {"detail"}


def test_the_owner_gets_the_grayscale_heatmap_on_the_site(answered, client, user):
    prediction = answered()
    client.force_login(user)
    r = client.get(reverse("classifier:heatmap", args=[prediction.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert np.array_equal(png_pixels(_body(r)), stored_heatmap(prediction))
    download = client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"download": "1"})
    assert download["Content-Disposition"].startswith('attachment; filename="photo (heatmap).png"')


def test_the_overlay_is_the_stored_heatmap_in_colour_and_writes_nothing(answered, client, user, settings):
    prediction = answered()
    client.force_login(user)
    files = media_files(settings)
    r = client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"overlay": "1"})
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    overlay, gray = png_pixels(r.content, "RGBA"), stored_heatmap(prediction)
    assert overlay.shape == (*gray.shape, 4)  # RGBA, over the same photo
    # Where the model looked is brighter and less see-through than where it did not.
    hot, cold = np.unravel_index(gray.argmax(), gray.shape), np.unravel_index(gray.argmin(), gray.shape)
    assert overlay[hot][:3].astype(int).sum() > overlay[cold][:3].astype(int).sum() + 300
    assert overlay[hot][3] > overlay[cold][3] + 100
    assert media_files(settings) == files


@pytest.mark.parametrize("query", [{}, {"overlay": "1"}])
def test_only_the_owner_gets_it_on_the_site(answered, client, user, other_user, query):
    url = reverse("classifier:heatmap", args=[answered().pk])
    client.force_login(user)
    assert client.get(url, query).status_code == 200
    client.force_login(other_user)
    assert client.get(url, query).status_code == 404


@pytest.mark.parametrize("query", [{}, {"overlay": "1"}])
def test_the_site_answers_404_until_the_heatmap_is_stored(answered, client, user, query):
    prediction = answered()
    heatmap = prediction.heatmap.name
    Prediction.objects.filter(pk=prediction.pk).update(heatmap="")
    client.force_login(user)
    url = reverse("classifier:heatmap", args=[prediction.pk])
    assert client.get(url, query).status_code == 404
    Prediction.objects.filter(pk=prediction.pk).update(heatmap=heatmap)
    assert client.get(url, query).status_code == 200


def test_a_heatmap_missing_from_storage_answers_404(answered, client, user):
    prediction = answered()
    client.force_login(user)
    assert client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"overlay": "1"}).status_code == 200
    prediction.heatmap.storage.delete(prediction.heatmap.name)
    assert client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"overlay": "1"}).status_code == 404
    assert client.get(reverse("classifier:heatmap", args=[prediction.pk])).status_code == 404


def test_a_signed_out_person_is_sent_to_log_in(answered, client):
    r = client.get(reverse("classifier:heatmap", args=[answered().pk]))
    assert r.status_code == 302 and "/login" in r["Location"]
