"""The prediction admin: read-only, photo links that work for staff, the photo's own name (never its
storage name), a rounded confidence."""

import re

import pytest
from django.urls import reverse

from classifier.models import Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(make_prediction):
    return make_prediction(
        original_name="Rex in the garden.png",
        status=Prediction.Status.DONE,
        label="dog",
        confidence=0.9876543210123456,
        probabilities={"cat": 0.0123456789876543, "dog": 0.9876543210123456},
    )


def _storage_names(prediction):
    return [prediction.image.name, prediction.thumbnail.name] + [
        name.rsplit("/", 1)[1].split(".")[0] for name in (prediction.image.name, prediction.thumbnail.name)
    ]


def test_the_list_and_the_page_show_the_photos_name_never_its_storage_name(admin_client, prediction):
    for url in (
        reverse("admin:classifier_prediction_changelist"),
        reverse("admin:classifier_prediction_change", args=[prediction.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert "Rex in the garden.png" in page
        for name in _storage_names(prediction):
            assert name not in page


def test_the_confidence_is_rounded(admin_client, prediction):
    listing = admin_client.get(reverse("admin:classifier_prediction_changelist")).content.decode()
    page = admin_client.get(reverse("admin:classifier_prediction_change", args=[prediction.pk])).content.decode()
    assert "98.8%" in listing
    assert "98.8%" in page and "1.2%" in page
    assert "0.98765" not in listing + page


def test_the_page_is_read_only(admin_client, prediction):
    url = reverse("admin:classifier_prediction_change", args=[prediction.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert admin_client.post(url, {"label": "cat"}).status_code == 403
    prediction.refresh_from_db()
    assert prediction.label == "dog"


def test_the_photo_links_on_the_page_answer_for_staff(admin_client, prediction):
    page = admin_client.get(reverse("admin:classifier_prediction_change", args=[prediction.pk])).content.decode()
    links = re.findall(r'(?:href|src)="(/admin/classifier/prediction/\d+/(?:image|thumbnail)/)"', page)
    assert len(set(links)) == 2
    for link in links:
        r = admin_client.get(link)
        assert r.status_code == 200
        assert r["Content-Type"] in ("image/png", "image/jpeg")
        assert "Rex in the garden" in r["Content-Disposition"]


def test_the_photo_links_are_for_staff_only(client, user, prediction):
    client.force_login(user)  # the owner, but not staff: the owner's own views serve it, not the admin's
    r = client.get(reverse("admin:classifier_prediction_image", args=[prediction.pk]))
    assert r.status_code == 302
    assert "/admin/login/" in r.url


def test_a_prediction_can_still_be_deleted_from_the_admin(admin_client, prediction):
    r = admin_client.post(reverse("admin:classifier_prediction_delete", args=[prediction.pk]), {"post": "yes"})
    assert r.status_code == 302
    assert not Prediction.objects.exists()
