"""The detail page lays the heatmap over the photo with a switch that needs no script, and its poll brings
the heatmap when it follows the answer; a page whose answer has no heatmap coming does not wait for one."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from classifier.models import Prediction

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
    Prediction.objects.filter(pk=prediction.pk).update(heatmap="", **fields)
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


def test_a_photo_waiting_for_its_heatmap_is_watched_until_it_comes(answered, client, user):
    prediction = answered()
    heatmap = prediction.heatmap.name
    _without_heatmap(prediction, finished_at=timezone.now())
    client.force_login(user)
    html = _detail(client, prediction)
    _, photo = _figure(html, prediction)
    assert not photo.find("img", data_heatmap=True) and not photo.find("input", data_heatmap_toggle=True)
    page = _Elements(html)
    assert page.find("p", data_poll=True)
    assert [watch["value"] for watch in page.find("input", name="watch")] == [f"{prediction.pk}:done-without-heatmap"]

    r = _poll(client, prediction, "done-without-heatmap")
    assert (r.status_code, r.content.decode().strip()) == (200, ""), "nothing new yet: the polling goes on"

    Prediction.objects.filter(pk=prediction.pk).update(heatmap=heatmap)
    r = _poll(client, prediction, "done-without-heatmap")
    assert r.status_code == STOP_POLLING
    _, photo = _figure(r.content.decode(), prediction)
    assert photo.find("figure", hx_swap_oob="true")
    assert photo.find("img", data_heatmap=True) and photo.find("input", data_heatmap_toggle=True)


def test_an_answer_and_its_heatmap_arriving_together_come_in_one_poll(answered, client, user):
    prediction = answered()
    client.force_login(user)
    r = _poll(client, prediction, "pending")
    assert r.status_code == STOP_POLLING
    answer = _Elements(r.content.decode())
    assert answer.find("section", id=f"result-{prediction.pk}", hx_swap_oob="true")
    assert answer.find("figure", id=f"photo-{prediction.pk}", hx_swap_oob="true")
    assert answer.find("img", data_heatmap=True)


@pytest.mark.parametrize("finished_ago", [timedelta(minutes=2), None])
def test_an_answer_with_no_heatmap_coming_is_not_waited_for(answered, client, user, finished_ago):
    """An answer older than a minute (its heatmap could not be stored), or from before heatmaps."""
    finished_at = None if finished_ago is None else timezone.now() - finished_ago
    prediction = _without_heatmap(answered(), finished_at=finished_at)
    client.force_login(user)
    page = _Elements(_detail(client, prediction))
    assert not page.find("p", data_poll=True) and not page.find("input", name="watch")
    r = _poll(client, prediction, "done-without-heatmap")  # a page opened while it was still awaited
    assert r.status_code == STOP_POLLING
    assert not _Elements(r.content.decode()).find("img", data_heatmap=True)


def test_the_history_does_not_wait_for_heatmaps(answered, client, user):
    prediction = _without_heatmap(answered(), finished_at=timezone.now())
    client.force_login(user)
    r = client.get(reverse("classifier:history-updates"), {"watch": f"{prediction.pk}:pending"}, **HTMX)
    assert r.status_code == STOP_POLLING
    assert f'id="prediction-{prediction.pk}"' in r.content.decode()
    assert 'name="watch"' not in r.content.decode()
