"""The heatmap is its owner's only, like the photo: `GET /api/predictions/{id}/heatmap.png` and the pages'
own address (grayscale, or coloured for the overlay), drawn on request from the grid stored with the answer and
cached by the browser; 404 for anyone else and for a prediction without one. An answer from before grids were
stored keeps its heatmap file, served as before."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.models import Prediction

from .dataset_helpers import media_files
from .heatmap_helpers import as_answered_before_grids, png_pixels, stored_heatmap

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


def _lit_on_the_left(gray: np.ndarray) -> bool:
    """The model double lit the left three of seven columns (tests/conftest.py `answer`)."""
    width = gray.shape[1]
    return gray[:, : width * 2 // 7].min() > 200 and gray[:, width * 4 // 7 :].max() < 30


def test_the_owner_gets_the_grayscale_png_from_the_api(answered, user):
    prediction = answered()
    r = _api(user).get(_api_url(prediction))
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Cache-Control"] == "private, max-age=3600"
    gray = png_pixels(_body(r))
    assert gray.shape == (48, 64)  # drawn over the 64x48 photo, at its own size (smaller than 512)
    assert _lit_on_the_left(gray)


def test_the_api_detail_and_list_link_to_the_heatmap_once_answered(answered, make_prediction, user):
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
def test_a_prediction_without_a_heatmap_answers_404_with_a_reason(make_prediction, user, status):
    prediction = make_prediction(status=status)
    r = _api(user).get(_api_url(prediction))
    assert r.status_code == 404
    assert r.json() == {"detail": "This prediction has no heatmap."}
    assert _api(user).get(f"/api/predictions/{prediction.pk}/").json()["heatmap_url"] is None


def test_an_unknown_prediction_answers_404(user):
    r = _api(user).get("/api/predictions/999999/heatmap.png")
    assert r.status_code == 404
    assert set(r.json()) == {"detail"}


def test_the_owner_gets_the_grayscale_heatmap_on_the_site(answered, client, user):
    prediction = answered()
    client.force_login(user)
    r = client.get(reverse("classifier:heatmap", args=[prediction.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert r["Content-Disposition"] == 'inline; filename="photo (heatmap).png"'
    assert np.array_equal(png_pixels(_body(r)), png_pixels(_body(_api(user).get(_api_url(prediction)))))
    download = client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"download": "1"})
    assert download["Content-Disposition"] == 'attachment; filename="photo (heatmap).png"'


def test_the_overlay_is_the_heatmap_in_colour_and_writes_nothing(answered, client, user, settings):
    prediction = answered()
    client.force_login(user)
    url = reverse("classifier:heatmap", args=[prediction.pk])
    gray = png_pixels(client.get(url).content)
    files = media_files(settings)
    with CaptureQueriesContext(connection) as queries:
        r = client.get(url, {"overlay": "1"})
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert r["Cache-Control"] == "private, max-age=3600" and r["X-Content-Type-Options"] == "nosniff"
    overlay = png_pixels(r.content, "RGBA")
    assert overlay.shape == (*gray.shape, 4)  # RGBA, over the same photo
    # Where the model looked is brighter and less see-through than where it did not.
    hot, cold = np.unravel_index(gray.argmax(), gray.shape), np.unravel_index(gray.argmin(), gray.shape)
    assert overlay[hot][:3].astype(int).sum() > overlay[cold][:3].astype(int).sum() + 300
    assert overlay[hot][3] > overlay[cold][3] + 100
    assert media_files(settings) == files
    assert [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")] == []


@pytest.mark.parametrize("query", [{}, {"overlay": "1"}])
def test_a_browser_that_has_it_gets_304_by_etag_or_date(answered, client, user, query):
    prediction = answered()
    client.force_login(user)
    url = reverse("classifier:heatmap", args=[prediction.pk])
    first = client.get(url, query)
    assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
    again = client.get(url, query, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"] and again["Cache-Control"] == "private, max-age=3600"
    assert client.get(url, query, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    assert client.get(url, query, HTTP_IF_NONE_MATCH='"another"').status_code == 200


def test_the_grayscale_and_the_overlay_have_their_own_etags(answered, client, user):
    client.force_login(user)
    url = reverse("classifier:heatmap", args=[answered().pk])
    assert client.get(url)["ETag"] != client.get(url, {"overlay": "1"})["ETag"]


@pytest.mark.parametrize("query", [{}, {"overlay": "1"}])
def test_only_the_owner_gets_it_on_the_site(answered, client, user, other_user, query):
    url = reverse("classifier:heatmap", args=[answered().pk])
    client.force_login(user)
    assert client.get(url, query).status_code == 200
    client.force_login(other_user)
    assert client.get(url, query).status_code == 404


def test_a_stored_grid_that_cannot_be_drawn_answers_404(answered, client, user):
    prediction = answered()
    Prediction.objects.filter(pk=prediction.pk).update(heatmap_grid=[[1, 2], [3]])
    client.force_login(user)
    r = client.get(reverse("classifier:heatmap", args=[prediction.pk]))
    assert r.status_code == 404


# --- Answers from before the grid was stored: their heatmap file, served as before ----------------------------


def test_an_older_answers_heatmap_file_is_served_as_stored(answered, client, user):
    prediction = as_answered_before_grids(answered())
    client.force_login(user)
    url = reverse("classifier:heatmap", args=[prediction.pk])
    r = client.get(url)
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert np.array_equal(png_pixels(_body(r)), stored_heatmap(prediction))
    assert np.array_equal(png_pixels(_body(_api(user).get(_api_url(prediction)))), stored_heatmap(prediction))
    download = client.get(url, {"download": "1"})["Content-Disposition"]
    assert download.startswith('attachment; filename="photo (heatmap).png"')
    overlay = client.get(url, {"overlay": "1"})
    assert overlay.status_code == 200 and overlay["Cache-Control"] == "private, max-age=3600"
    assert png_pixels(overlay.content, "RGBA").shape == (*stored_heatmap(prediction).shape, 4)


def test_an_older_answers_heatmap_missing_from_storage_answers_404(answered, client, user):
    prediction = as_answered_before_grids(answered())
    client.force_login(user)
    assert client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"overlay": "1"}).status_code == 200
    prediction.heatmap.storage.delete(prediction.heatmap.name)
    assert client.get(reverse("classifier:heatmap", args=[prediction.pk]), {"overlay": "1"}).status_code == 404
    assert client.get(reverse("classifier:heatmap", args=[prediction.pk])).status_code == 404


def test_a_signed_out_person_is_sent_to_log_in(answered, client):
    r = client.get(reverse("classifier:heatmap", args=[answered().pk]))
    assert r.status_code == 302 and "/login" in r["Location"]
