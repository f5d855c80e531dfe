"""Tiny trainings for the tests/test_training_*.py files: a few small photos, one or two epochs."""

import pytest

from trainer.actions import do_request_training
from trainer.models import ModelExport, ModelVersion

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


def saved_version(*, servable: bool = True, **fields) -> ModelVersion:
    """A model version row as the admin lists it (ready, two classes unless told), with no file; a ready one
    has verified serving exports (rows, no files) unless `servable` is False, so that it may be activated."""
    defaults = {"name": "v", "architecture": "mobilenet_v2", "status": "ready", "class_names": ["cat", "dog"]}
    version = ModelVersion.objects.create(**{**defaults, **fields})
    if servable and version.status == ModelVersion.Status.READY:
        give_verified_exports(version)
    return version


def give_verified_exports(version: ModelVersion) -> None:
    """Serving export rows (no files) that passed verification on 10 photos: the version can be activated."""
    ModelExport.objects.bulk_create(
        ModelExport(
            version=version,
            kind=kind,
            status=ModelExport.Status.VERIFIED,
            photos_checked=10,
            max_difference=1e-6,
            top1_disagreements=0,
        )
        for kind in ("serving_onnx", "serving_tflite", "serving_head")
    )


@pytest.fixture
def trainings_not_sent(monkeypatch):
    """Each test runs the training task itself, when it chooses (eager mode would run it on request)."""
    monkeypatch.setattr("trainer.actions.trainings._enqueue_training", lambda version_id: None)
