"""Numbers written into CSS and SVG stay dot decimals under a comma-decimal locale (German here): a width of
"33,3%" or an alpha of "0,20" is not CSS, and the browser drops it."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from classifier.models import Prediction
from trainer.models import ModelVersion

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import request_tiny_training

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db

# A number with a comma decimal inside a style attribute, or as an SVG coordinate.
COMMA_IN_STYLE = re.compile(r'style="[^"]*\d,\d[^"]*"')
COMMA_IN_COORDINATE = re.compile(r'\s(?:x|y|x1|x2|y1|y2|width|height)="-?\d+,\d+"')


@pytest.fixture
def german(settings):
    settings.LANGUAGE_CODE = "de"
    settings.USE_THOUSAND_SEPARATOR = True
    with translation.override("de"):
        yield


def _assert_dot_decimals(html: str) -> None:
    assert COMMA_IN_STYLE.findall(html) == []
    assert COMMA_IN_COORDINATE.findall(html) == []


def test_the_german_locale_writes_comma_decimals_in_text(german, admin_client):
    """The premise: the same template engine writes 0,9000 where a number is text."""
    version = ModelVersion.objects.create(
        name="v", architecture="mobilenet_v2", status="ready", class_names=["cat", "dog"], test_accuracy=0.9
    )
    html = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "0,9000" in html


def test_the_training_progress_bar_and_curves_of_a_running_version(german, admin_client, make_dataset):
    version = request_tiny_training(make_dataset("pets", archive=zip_bytes(class_folders({"cat": 4, "dog": 4}))))
    now = timezone.now()
    progress = {"phase": "training", "phase_started": now.isoformat(), "epoch": 1, "epochs": 3, "loss": 0.5,
                "accuracy": 0.75, "history": {"loss": [0.5, 0.25], "accuracy": [0.5, 0.75]}}  # fmt: skip
    ModelVersion.objects.filter(pk=version.pk).update(
        status="running", started_at=now - timedelta(seconds=5), heartbeat_at=now, progress=progress
    )
    html = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert 'style="width: 33.3%"' in html
    assert re.search(r'<text x="\d+" y="\d+\.\d"', html), "the y axis labels sit at dot-decimal coordinates"
    _assert_dot_decimals(html)


def test_the_confusion_matrix_shading(german, admin_client):
    metrics = {"history": {}, "confusion_matrix": [[5, 0], [1, 4]]}
    version = ModelVersion.objects.create(
        name="v", architecture="mobilenet_v2", status="ready", class_names=["cat", "dog"], metrics=metrics
    )
    html = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "rgba(235, 87, 87, 0.20)" in html
    _assert_dot_decimals(html)


def test_the_probability_bars_of_a_prediction(german, client, user, make_prediction):
    client.force_login(user)
    prediction = make_prediction(
        status=Prediction.Status.DONE, label="cat", confidence=0.8615, probabilities={"cat": 0.8615, "dog": 0.1385}
    )
    html = client.get(reverse("classifier:detail", args=[prediction.pk])).content.decode()
    assert 'style="width: 86.2%"' in html and 'style="width: 13.8%"' in html
    _assert_dot_decimals(html)
