"""The detail page lays the heatmap over the photo with a switch that needs no script; the heatmap comes with
the answer, so the poll that brings the answer brings it too, and nothing is waited for once it is answered."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from classifier.models import Prediction

from .heatmap_helpers import as_answered_before_grids
from .page_helpers import _Elements

pytest_plugins = ["tests.heatmap_fixtures"]
pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
STOP_POLLING = 286


def _detail(client, prediction) -> str:
    r = client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 200
    return r.content.decode()


def _figure(html: str, prediction) -> tuple[str, _Elements]:
    """The photo's figure: its markup, and its start tags to look things up in."""
    match = re.search(rf'<figure [^>]*id="photo-{prediction.pk}".*?</figure>', html, re.DOTALL)
    assert match, f"no photo figure in {html!r}"
    return match.group(0), _Elements(match.group(0))


def _poll(client, prediction, state):
    return client.get(reverse("classifier:detail-updates"), {"watch": f"{prediction.pk}:{state}"}, **HTMX)


def _without_heatmap(prediction, **fields) -> Prediction:
    Prediction.objects.filter(pk=prediction.pk).update(heatmap_grid=[], **fields)
    prediction.refresh_from_db()
    return prediction


def test_the_heatmap_lies_over_the_photo_with_a_labelled_switch(answered, client, user):
    prediction = answered()
    client.force_login(user)
    html = _detail(client, prediction)
    figure, tags = _figure(html, prediction)
    [overlay] = tags.find("img", data_heatmap=True)
    assert overlay["src"] == reverse("classifier:heatmap", args=[prediction.pk]) + "?overlay=1"
    assert overlay["alt"] == ""  # laid over the photo; the caption says what it means
    [switch] = tags.find("input", data_heatmap_toggle=True, type="checkbox", checked=True)
    [label] = tags.find("label", **{"for": switch["id"]})
    assert re.search(rf'for="{switch["id"]}">.*?Show where the model looked\s*</label>', figure, re.DOTALL)
    # The switch's CSS sibling rules (static/css/app.css) need it before the photo and its label, and the
    # overlay in the photo's own box.
    order = [
        figure.index(part)
        for part in (
            "data-heatmap-toggle",
            'class="photo-frame"',
            'class="photo-stack"',
            "data-photo",
            "data-heatmap>",
            'class="heatmap-bar"',
        )
    ]
    assert order == sorted(order)
    [caption] = tags.find("p", id=switch["aria-describedby"])
    assert "Brighter areas weighed most in the answer “cat”." in figure
    assert not _Elements(html).find("p", data_poll=True), "nothing left to wait for"


def test_an_answer_and_its_heatmap_arriving_together_come_in_one_poll(answered, client, user):
    prediction = answered()
    client.force_login(user)
    r = _poll(client, prediction, "pending")
    assert r.status_code == STOP_POLLING
    answer = _Elements(r.content.decode())
    assert answer.find("section", id=f"result-{prediction.pk}", hx_swap_oob="true")
    assert answer.find("figure", id=f"photo-{prediction.pk}", hx_swap_oob="true")
    assert answer.find("img", data_heatmap=True)


def test_an_answer_is_not_waited_on_for_a_heatmap(answered, client, user):
    prediction = answered()
    client.force_login(user)
    page = _Elements(_detail(client, prediction))
    assert not page.find("p", data_poll=True) and not page.find("input", name="watch")
    assert page.find("img", data_heatmap=True)


def test_an_answer_without_a_heatmap_shows_no_switch_and_is_not_waited_on(answered, client, user):
    prediction = _without_heatmap(answered(), finished_at=timezone.now())
    client.force_login(user)
    html = _detail(client, prediction)
    _, photo = _figure(html, prediction)
    assert not photo.find("img", data_heatmap=True) and not photo.find("input", data_heatmap_toggle=True)
    page = _Elements(html)
    assert not page.find("p", data_poll=True) and not page.find("input", name="watch")
    r = _poll(client, prediction, "done")  # a page left open by the code before this change
    assert r.status_code == STOP_POLLING


def test_an_older_answers_heatmap_file_lies_over_the_photo(answered, client, user):
    prediction = as_answered_before_grids(answered())
    client.force_login(user)
    _, photo = _figure(_detail(client, prediction), prediction)
    [overlay] = photo.find("img", data_heatmap=True)
    assert overlay["src"] == reverse("classifier:heatmap", args=[prediction.pk]) + "?overlay=1"


def test_the_history_does_not_wait_for_heatmaps(answered, client, user):
    prediction = _without_heatmap(answered(), finished_at=timezone.now())
    client.force_login(user)
    r = client.get(reverse("classifier:history-updates"), {"watch": f"{prediction.pk}:pending"}, **HTMX)
    assert r.status_code == STOP_POLLING
    assert f'id="prediction-{prediction.pk}"' in r.content.decode()
    assert 'name="watch"' not in r.content.decode()
