"""Fixtures for the heatmap tests, loaded with `pytest_plugins = ["tests.heatmap_fixtures"]`: predictions
answered by the real prediction task with a model double, whose heatmap is lit on its left three columns
(tests/conftest.py `answer`)."""

import pytest

from classifier import tasks
from classifier.actions import do_create_predictions
from classifier.models import Prediction
from classifier.validation import check_image_upload
from trainer.images import upright_size
from trainer.models import ModelVersion

from .conftest import answer, image_bytes, upload, use_model_double


@pytest.fixture
def active_version():
    return ModelVersion.objects.create(
        name="double", architecture="mobilenet_v2", class_names=["cat", "dog"], status="ready", is_active=True
    )


@pytest.fixture
def answered(user, active_version, monkeypatch):
    """`answered(data=…, owner=…)`: a photo uploaded and answered "cat" by the prediction task, with the upright
    size the real model's decoding reads (trainer/images.py `decode_for_model`)."""
    use_model_double(
        monkeypatch, lambda version, source: answer({"cat": 0.9, "dog": 0.1}, upright_size=upright_size(source))
    )

    def make(data: bytes | None = None, owner=None, name: str = "photo.png") -> Prediction:
        checked = check_image_upload(upload(name, data or image_bytes()))
        [prediction] = do_create_predictions(owner or user, [checked])
        tasks.predict_image(prediction.pk)
        prediction.refresh_from_db()
        return prediction

    return make
