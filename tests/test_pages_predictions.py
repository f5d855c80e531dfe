"""The prediction pages render, for their owner only: a prediction's detail in each state, and the history."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from classifier.models import Prediction

from .page_helpers import _done, _page, _prediction

pytestmark = pytest.mark.django_db


# --- Detail ------------------------------------------------------------------------------------------------------


def test_a_pending_prediction_polls_for_its_answer(alice_client, alice):
    prediction = _prediction(alice)
    r = alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 200
    html, page = _page(r)
    [result] = page.find("section", data_prediction_id=str(prediction.pk))
    assert result["data-status"] == "pending"
    assert page.find("input", name="watch", value=f"{prediction.pk}:pending")
    assert page.find("p", data_poll=True, hx_get=reverse("classifier:detail-updates"))
    assert page.find("img", src=reverse("classifier:image", args=[prediction.pk]))
    assert "Classifying" in html
    assert not page.find("form", action=reverse("classifier:retry", args=[prediction.pk]))


def test_a_done_prediction_shows_label_confidence_and_a_bar_per_class(alice_client, alice, model_version):
    prediction = _done(alice, model_version, label="dog", confidence=0.861)
    r = alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 200
    html, page = _page(r)
    assert page.find("section", data_prediction_id=str(prediction.pk), data_status="done")
    label = html.split('data-field="verdict"', 1)[1].split("<", 1)[0]
    assert label == ">dog"
    assert "86.1%" in html
    rows = page.find("li", data_class=True)
    assert [row["data-class"] for row in rows] == ["dog", "cat"], "bars from the most to the least likely class"
    assert "13.9%" in html
    assert 'style="width: 86.1%"' in html
    assert "mobilenet_v2-catsdogs" in html
    assert "42 ms" in html
    assert page.find("a", href=reverse("classifier:image", args=[prediction.pk]) + "?download=1")
    [delete] = page.find("form", action=reverse("classifier:delete", args=[prediction.pk]))
    assert delete["method"] == "post"
    assert "data-confirm" in delete


def test_a_failed_prediction_shows_the_reason_and_a_retry_button(alice_client, alice):
    prediction = _prediction(alice, status=Prediction.Status.FAILED, error="The model file is missing.")
    r = alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    html, page = _page(r)
    assert page.find("section", data_status="failed")
    assert "The model file is missing." in html
    [retry] = page.find("form", action=reverse("classifier:retry", args=[prediction.pk]))
    assert retry["method"] == "post"
    retry_form = html.split(reverse("classifier:retry", args=[prediction.pk]), 1)[1].split("</form>", 1)[0]
    assert "csrfmiddlewaretoken" in retry_form


def test_a_prediction_pending_for_long_offers_to_send_it_again(alice_client, alice):
    prediction = _prediction(alice)
    Prediction.objects.filter(pk=prediction.pk).update(created_at=timezone.now() - timedelta(hours=1))
    html, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    assert page.find("section", data_status="pending")
    assert page.find("div", data_stale=True)
    [retry] = page.find("form", action=reverse("classifier:retry", args=[prediction.pk]))
    assert retry["method"] == "post"


def test_someone_elses_prediction_is_a_404_page_in_the_app_look(client, alice, django_user_model):
    prediction = _prediction(alice)
    client.force_login(django_user_model.objects.create_user(username="mallory", password="x"))
    r = client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 404
    html, page = _page(r)
    assert "Page not found" in html
    assert page.find("link", rel="stylesheet")
    assert "kitty.png" not in html


# --- History -----------------------------------------------------------------------------------------------------


def test_history_lists_predictions_with_thumbnails_newest_first(alice_client, alice, model_version):
    first = _done(alice, model_version, label="cat", name="first.png")
    second = _done(alice, model_version, label="dog", confidence=0.5, name="second.png")
    pending = _prediction(alice, name="third.png")
    r = alice_client.get(reverse("classifier:history"))
    assert r.status_code == 200
    html, page = _page(r)
    rows = page.find("li", data_prediction=True)
    assert [row["data-prediction-id"] for row in rows] == [str(pending.pk), str(second.pk), str(first.pk)]
    assert [row["data-status"] for row in rows] == ["pending", "done", "done"]
    assert [watch["value"] for watch in page.find("input", name="watch")] == [f"{pending.pk}:pending"]
    [thumb] = page.find("img", src=reverse("classifier:thumbnail", args=[first.pk]))
    assert thumb["loading"] == "lazy"
    assert page.find("a", href=reverse("classifier:detail", args=[second.pk]))
    assert "97.3%" in html and "50.0%" in html
    assert page.find("p", data_poll=True, hx_get=reverse("classifier:history-updates"))


def test_history_keeps_filtering_by_label_for_earlier_links(alice_client, alice, model_version):
    _done(alice, model_version, label="cat")
    _done(alice, model_version, label="dog")
    html, page = _page(alice_client.get(reverse("classifier:history"), {"label": "dog"}))
    assert [row["data-status"] for row in page.find("li", data_prediction=True)] == ["done"]
    assert "labelled “dog”" in html


def test_history_pagination_keeps_the_filter(alice_client, alice, model_version):
    from classifier.views import HISTORY_PAGE_SIZE

    for _ in range(HISTORY_PAGE_SIZE + 1):
        _done(alice, model_version, label="cat")
    html, page = _page(alice_client.get(reverse("classifier:history"), {"label": "cat"}))
    assert len(page.find("li", data_prediction=True)) == HISTORY_PAGE_SIZE
    assert page.find("a", href="?label=cat&page=2", rel="next")
    html, page = _page(alice_client.get(reverse("classifier:history"), {"label": "cat", "page": 2}))
    assert len(page.find("li", data_prediction=True)) == 1
    assert page.find("a", href="?label=cat&page=1", rel="prev")


def test_history_without_photos_invites_an_upload(alice_client):
    r = alice_client.get(reverse("classifier:history"))
    html, page = _page(r)
    assert page.find("div", data_empty=True)
    assert len(page.find("a", href=reverse("classifier:upload"))) >= 2, "the nav and the empty state"
    assert "No photos yet" in html


def test_history_shows_only_the_owners_predictions(alice_client, django_user_model, model_version):
    mallory = django_user_model.objects.create_user(username="mallory", password="x")
    _done(mallory, model_version, name="secret.png")
    html, page = _page(alice_client.get(reverse("classifier:history")))
    assert "secret.png" not in html
    assert not page.find("li", data_prediction=True)
