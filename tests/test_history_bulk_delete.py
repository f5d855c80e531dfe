"""Deleting photos selected on a history page: a page lists them first (nothing deleted), then, once
confirmed there, they and their files are deleted; only the person's own; each refusal says why."""

import pytest
from django.test import Client
from django.urls import reverse

from classifier.forms import BULK_DELETE_MAX
from classifier.models import Prediction

from .dataset_helpers import media_files
from .page_helpers import _page, _prediction

pytestmark = pytest.mark.django_db

BULK_DELETE = "/predictions/delete/"


def _files(prediction) -> set[str]:
    return {prediction.image.name, prediction.thumbnail.name}


def test_the_history_offers_a_checkbox_per_photo_for_the_bulk_form(alice_client, alice):
    assert reverse("classifier:bulk-delete") == BULK_DELETE
    prediction = _prediction(alice)
    html, page = _page(alice_client.get("/predictions/?sort=oldest"))
    [form] = page.find("form", data_bulk_delete=True)
    assert form["action"] == BULK_DELETE and form["method"] == "post"
    assert page.find("input", type="checkbox", name="ids", value=str(prediction.pk), form=form["id"])
    assert page.find("input", name="next", value="/predictions/?sort=oldest")


def test_selected_photos_are_listed_first_and_nothing_is_deleted(alice_client, alice):
    chosen = [_prediction(alice, name="a.png"), _prediction(alice, name="b.png")]
    r = alice_client.post(BULK_DELETE, {"ids": [p.pk for p in chosen]})
    assert r.status_code == 200
    html, page = _page(r)
    assert [int(item["data-prediction-id"]) for item in page.find("li", data_prediction_id=True)] == sorted(
        (p.pk for p in chosen), reverse=True
    )
    assert page.find("input", type="hidden", name="confirmed", value="on")
    assert Prediction.objects.count() == 2


def test_confirmed_deletes_the_photos_and_their_files_and_goes_back(
    alice_client, alice, settings, django_capture_on_commit_callbacks
):
    chosen = [_prediction(alice), _prediction(alice)]
    kept = _prediction(alice)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(
            BULK_DELETE, {"ids": [p.pk for p in chosen], "confirmed": "on", "next": "/predictions/?status=pending"}
        )
    assert r.status_code == 302
    assert r["Location"] == "/predictions/?status=pending"
    assert list(Prediction.objects.values_list("pk", flat=True)) == [kept.pk]
    assert media_files(settings) == _files(kept)
    assert "Deleted 2 photos." in alice_client.get(r["Location"]).content.decode()


def test_another_persons_photos_are_never_deleted(alice_client, alice, other_user):
    mine = _prediction(alice)
    theirs = _prediction(other_user)
    r = alice_client.post(BULK_DELETE, {"ids": [mine.pk, theirs.pk], "confirmed": "on"})
    assert r.status_code == 302
    assert list(Prediction.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_only_another_persons_photos_is_as_if_none_existed(alice_client, alice, other_user):
    theirs = _prediction(other_user, name="secret.png")
    r = alice_client.post(BULK_DELETE, {"ids": [theirs.pk]})
    assert r.status_code == 404
    assert "secret.png" not in r.content.decode()
    assert "None of the selected photos exists any more." in r.content.decode()
    assert Prediction.objects.filter(pk=theirs.pk).exists()


def test_a_next_that_leaves_the_history_goes_to_the_history(alice_client, alice):
    r = alice_client.post(BULK_DELETE, {"ids": [_prediction(alice).pk], "confirmed": "on", "next": "//evil.example/"})
    assert r["Location"] == "/predictions/"


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "Select the photos to delete."),
        ({"ids": ["abc"]}, "A selected photo is not one of yours: reload the page and select again."),
        ({"ids": ["-3"]}, "A selected photo is not one of yours: reload the page and select again."),
        ({"ids": list(range(1, BULK_DELETE_MAX + 2))}, f"Delete at most {BULK_DELETE_MAX} photos at once."),
    ],
)
def test_a_bad_selection_is_refused_saying_why(alice_client, alice, data, message):
    _prediction(alice)
    r = alice_client.post(BULK_DELETE, {**data, "confirmed": "on"})
    assert r.status_code == 400
    html, page = _page(r)
    assert page.find("div", data_bulk_errors=True)
    assert message in html
    assert Prediction.objects.count() == 1


def test_bulk_delete_needs_a_post_and_a_csrf_token(client, alice):
    prediction = _prediction(alice)
    client.force_login(alice)
    assert client.get(BULK_DELETE).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(BULK_DELETE, {"ids": [prediction.pk], "confirmed": "on"}).status_code == 403
    assert Prediction.objects.filter(pk=prediction.pk).exists()
