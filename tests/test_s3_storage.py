"""Photos in an S3-compatible object store (moto's server on loopback): stored private, shown to their owner
through a short-lived signed URL, gone from the bucket when deleted."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.models import Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.s3"]


@pytest.fixture
def client(client, user):
    client.force_login(user)
    return client


def _upload_on_the_page(client, color=(200, 30, 30)) -> Prediction:
    r = client.post(reverse("classifier:upload"), {"images": [upload("cat.png", image_bytes(color=color))]})
    assert r.status_code == 302
    return Prediction.objects.latest("id")


def test_a_photo_uploaded_on_the_page_is_a_private_object_in_the_bucket(client, s3_storage, settings):
    prediction = _upload_on_the_page(client)

    assert s3_storage.keys() == {prediction.image.name, prediction.thumbnail.name}
    assert prediction.image.name.startswith(f"uploads/{prediction.owner_id}/")
    assert s3_storage.read(prediction.image.name) == image_bytes()
    for key in s3_storage.keys():
        assert requests.get(s3_storage.unsigned_url(key), timeout=10).status_code == 403
    assert not settings.MEDIA_ROOT.exists()  # nothing went to local disk


def test_a_photo_uploaded_through_the_api_is_in_the_bucket(s3_storage, user):
    api = APIClient()
    api.force_authenticate(user)
    r = api.post("/api/predictions/", {"image": upload("dog.jpg", image_bytes("JPEG"))}, format="multipart")
    assert r.status_code == 202
    prediction = Prediction.objects.get(pk=r.json()["id"])
    assert s3_storage.keys() == {prediction.image.name, prediction.thumbnail.name}


@pytest.mark.parametrize("name", ["classifier:image", "classifier:thumbnail"])
def test_the_owner_is_sent_to_a_signed_url_that_works_and_expires_soon(client, s3_storage, name):
    prediction = _upload_on_the_page(client)
    field = prediction.image if name == "classifier:image" else prediction.thumbnail

    r = client.get(reverse(name, args=[prediction.pk]))

    assert r.status_code == 302
    url = urlsplit(r.url)
    assert f"{url.scheme}://{url.netloc}" == s3_storage.endpoint_url
    assert url.path == f"/{s3_storage.bucket}/{field.name}"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == [str(s3_storage.url_expire_seconds)]
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert abs(signed_at - time.time()) < 60
    answer = requests.get(r.url, timeout=10)
    assert answer.status_code == 200
    assert answer.content == s3_storage.read(field.name)
    # The same headers as from local storage: the detected type, the photo's own name, never the key's.
    assert answer.headers["Content-Type"] == ("image/png" if name == "classifier:image" else "image/jpeg")
    expected_name = "cat.png" if name == "classifier:image" else "cat (thumbnail).jpg"
    assert answer.headers["Content-Disposition"] == f'inline; filename="{expected_name}"'


@pytest.mark.parametrize("name", ["classifier:image", "classifier:thumbnail"])
def test_another_user_gets_no_signed_url(client, s3_storage, other_user, name):
    prediction = _upload_on_the_page(client)
    client.force_login(other_user)
    r = client.get(reverse(name, args=[prediction.pk]))
    assert r.status_code == 404
    assert "Location" not in r


def test_deleting_a_prediction_deletes_its_objects(client, s3_storage, django_capture_on_commit_callbacks):
    prediction = _upload_on_the_page(client)
    kept = _upload_on_the_page(client, color=(1, 2, 3))

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("classifier:delete", args=[prediction.pk]))

    assert r.status_code == 302
    assert s3_storage.keys() == {kept.image.name, kept.thumbnail.name}


def test_deleting_through_the_api_deletes_its_objects(s3_storage, user, django_capture_on_commit_callbacks):
    api = APIClient()
    api.force_authenticate(user)
    created = api.post("/api/predictions/", {"image": upload("a.png", image_bytes())}, format="multipart").json()
    assert len(s3_storage.keys()) == 2

    with django_capture_on_commit_callbacks(execute=True):
        r = api.delete(f"/api/predictions/{created['id']}/")

    assert r.status_code == 204
    assert s3_storage.keys() == set()
