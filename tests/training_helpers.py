"""Tiny trainings for the tests/test_training_*.py files: a few small photos, one or two epochs."""

import pytest

from trainer.actions import do_request_training
from trainer.models import ModelVersion

# Settings as trainer.forms.TrainingForm.params() resolves them; small enough to train in seconds.
TINY = {
    "architecture": "simple_cnn",
    "image_size": 32,
    "epochs": 2,
    "batch_size": 4,
    "learning_rate": 0.001,
    "augmentation": "none",
    "dropout": 0.3,
    "test_split": 0.25,
    "seed": 7,
}


def request_tiny_training(dataset, **overrides):
    """Queue a tiny training of `dataset` (not run: the caller decides when its task runs)."""
    params = {**TINY, **overrides.pop("params", {})}
    version, _ = do_request_training(dataset, name=overrides.pop("name", "tiny"), params=params, **overrides)
    return version


def saved_version(**fields) -> ModelVersion:
    """A model version row as the admin lists it (ready, two classes unless told), with no file."""
    defaults = {"name": "v", "architecture": "mobilenet_v2", "status": "ready", "class_names": ["cat", "dog"]}
    return ModelVersion.objects.create(**{**defaults, **fields})


@pytest.fixture
def trainings_not_sent(monkeypatch):
    """Each test runs the training task itself, when it chooses (eager mode would run it on request)."""
    monkeypatch.setattr("trainer.actions.trainings._enqueue_training", lambda version_id: None)
