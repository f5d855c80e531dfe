"""The pages' one way to update in place: one poll a page (htmx), answered with the changed predictions rendered
by the page's own includes, HTTP 286 once nothing is pending, a note for the deleted and the signed-out."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from classifier.models import Prediction
from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
STOP_POLLING = 286


@pytest.fixture
def version():
    return ModelVersion.objects.create(
        name="catdog-mobilenet_v2-2026-11-29", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"]
    )


def _finish(prediction, version, label="cat"):
    Prediction.objects.filter(pk=prediction.pk).update(
        status="done", label=label, confidence=0.9, probabilities={label: 0.9}, model_version=version
    )


def _poll(client, name, *watched, **params):
    query = [("watch", f"{prediction.pk}:{state}") for prediction, state in watched] + list(params.items())
    return client.get(reverse(name), query, **HTMX)


def _element(html: str, element_id: str) -> str:
    """The start tag and content of the element with this id, without htmx's out-of-band marker; the CSRF
    token of its forms (masked afresh on every render) blanked."""
    match = re.search(rf'<(\w+) [^>]*id="{element_id}".*?</\1>', html, re.DOTALL)
    assert match, f"no #{element_id} in {html!r}"
    element = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]*"', r'\1"', match.group(0))
    return re.sub(r"\s+", " ", element.replace(' hx-swap-oob="true"', ""))


def test_nothing_changed_answers_nothing_and_the_polling_goes_on(client, user, make_prediction):
    client.force_login(user)
    prediction = make_prediction()
    r = _poll(client, "classifier:detail-updates", (prediction, "pending"))
    assert r.status_code == 200
    assert r.content.decode().strip() == ""


def test_an_answer_is_swapped_in_with_the_detail_pages_own_markup_and_stops_the_polling(
    client, user, make_prediction, version
):
    client.force_login(user)
    prediction = make_prediction()
    _finish(prediction, version, "dog")
    r = _poll(client, "classifier:detail-updates", (prediction, "pending"))
    assert r.status_code == STOP_POLLING
    html = r.content.decode()
    assert f'id="result-{prediction.pk}"' in html and 'hx-swap-oob="true"' in html
    page = client.get(reverse("classifier:detail", args=[prediction.pk])).content.decode()
    assert _element(html, f"result-{prediction.pk}") == _element(page, f"result-{prediction.pk}")
    assert "<title>Dog · photo.png · catdog</title>" in html and "<title>Dog · photo.png · catdog</title>" in page


def test_one_request_brings_every_changed_row_of_the_history_and_the_filters_with_their_counts(
    client, user, make_prediction, version
):
    client.force_login(user)
    first, second, third = make_prediction(), make_prediction(), make_prediction()
    _finish(first, version, "cat")
    _finish(second, version, "cat")
    r = _poll(client, "classifier:history-updates", (first, "pending"), (second, "pending"), (third, "pending"))
    assert r.status_code == 200, "the third is still pending: the polling goes on"
    html = r.content.decode()
    assert f'id="prediction-{first.pk}"' in html and f'id="prediction-{second.pk}"' in html
    assert f'id="prediction-{third.pk}"' not in html
    assert re.search(r'data-verdict="cat">cat <span class="chip-count" data-count>2</span>', html)
    page = client.get(reverse("classifier:history")).content.decode()
    assert _element(html, f"prediction-{first.pk}") == _element(page, f"prediction-{first.pk}")

    _finish(third, version, "dog")
    assert _poll(client, "classifier:history-updates", (third, "pending")).status_code == STOP_POLLING


def test_a_slow_prediction_is_sent_again_once_to_say_so(client, user, make_prediction):
    client.force_login(user)
    prediction = make_prediction(created_at=timezone.now() - timedelta(seconds=30))
    r = _poll(client, "classifier:history-updates", (prediction, "pending"))
    assert r.status_code == 200
    assert "Taking longer than usual" in r.content.decode()
    assert f'value="{prediction.pk}:slow"' in r.content.decode()
    assert _poll(client, "classifier:history-updates", (prediction, "slow")).content.decode().strip() == ""
    detail = _poll(client, "classifier:detail-updates", (prediction, "pending")).content.decode()
    assert "result is-slow" in detail and "taking longer than usual" in detail


def test_a_deleted_prediction_says_so(client, user, make_prediction):
    client.force_login(user)
    prediction = make_prediction()
    pk = prediction.pk
    prediction.delete()
    for name, element in [("classifier:history-updates", "prediction"), ("classifier:detail-updates", "result")]:
        r = client.get(reverse(name), {"watch": f"{pk}:pending"}, **HTMX)
        assert r.status_code == STOP_POLLING
        assert f'id="{element}-{pk}"' in r.content.decode()
        assert "This photo is no longer here: it was deleted." in r.content.decode()


def test_someone_elses_prediction_is_gone_too_and_shows_nothing_of_it(client, other_user, make_prediction):
    prediction = make_prediction(original_name="secret.png")
    client.force_login(other_user)
    r = _poll(client, "classifier:history-updates", (prediction, "pending"))
    assert r.status_code == STOP_POLLING
    assert "no longer here" in r.content.decode() and "secret.png" not in r.content.decode()


def test_a_signed_out_person_is_told_and_the_polling_stops(client, make_prediction):
    prediction = make_prediction()
    page = reverse("classifier:detail", args=[prediction.pk])
    r = client.get(
        reverse("classifier:detail-updates"),
        {"watch": f"{prediction.pk}:pending"},
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
        **HTMX,
    )
    assert r.status_code == STOP_POLLING
    html = r.content.decode()
    assert "You are signed out." in html and 'id="poll"' in html
    assert f'href="{reverse("login")}?next={page.replace("/", "%2F")}"' in html


def test_malformed_watch_values_are_ignored(client, user):
    client.force_login(user)
    r = client.get(reverse("classifier:history-updates"), {"watch": ["x:pending", "", ":"]}, **HTMX)
    assert r.status_code == STOP_POLLING
    assert r.content.decode().strip() == ""


def test_no_page_and_no_poll_writes_to_the_database(client, user, make_prediction, version):
    client.force_login(user)
    pending, done = make_prediction(created_at=timezone.now() - timedelta(hours=1)), make_prediction()
    _finish(done, version)
    with CaptureQueriesContext(connection) as queries:
        for url in [
            reverse("classifier:history"),
            reverse("classifier:detail", args=[pending.pk]),
            f"{reverse('classifier:history-updates')}?watch={pending.pk}:pending&watch={done.pk}:pending",
            f"{reverse('classifier:detail-updates')}?watch={pending.pk}:pending",
        ]:
            assert client.get(url, **HTMX).status_code in (200, STOP_POLLING)
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []


def test_pages_with_nothing_pending_do_not_poll(client, user, make_prediction, version):
    client.force_login(user)
    prediction = make_prediction()
    _finish(prediction, version)
    for url in [reverse("classifier:history"), reverse("classifier:detail", args=[prediction.pk])]:
        html = client.get(url).content.decode()
        assert "data-poll" not in html and 'name="watch"' not in html


# --- Pages of the history ------------------------------------------------------------------------------------


def test_a_page_past_the_last_leads_to_the_last_under_its_own_address(client, user, make_prediction, version):
    from classifier.views import HISTORY_PAGE_SIZE

    client.force_login(user)
    for _ in range(HISTORY_PAGE_SIZE + 1):
        _finish(make_prediction(), version, "cat")
    r = client.get(reverse("classifier:history"), {"page": "99", "label": "cat"})
    assert r.status_code == 302
    assert r["Location"] == f"{reverse('classifier:history')}?label=cat&page=2"
    assert "Page 2 of 2" in client.get(r["Location"]).content.decode()


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5"])
def test_a_page_that_is_not_a_number_answers_404(client, user, page):
    client.force_login(user)
    assert client.get(reverse("classifier:history"), {"page": page}).status_code == 404
