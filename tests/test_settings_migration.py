"""Migration 0004: stored training settings read as the pages name them, without the trainer's folders."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE, AFTER = ("trainer", "0003_training_runs"), ("trainer", "0004_settings_as_shown")


@pytest.fixture
def _latest_schema_afterwards():
    """The test leaves the database at 0004; the tests after it need every later migration back."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_stored_settings_get_the_form_s_names_and_lose_the_developer_s_paths(_latest_schema_afterwards):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps.get_model("trainer", "ModelVersion")
    stored = {
        "strong": {"augmentation": "full", "train_dir": "/home/dev/cats/train", "test_dir": "/home/dev/cats/test",
                   "weights": "/home/dev/weights/mobilenet.weights.h5", "epochs": 3},
        "light": {"augmentation": "flip", "weights": "imagenet"},
        "none": {"augmentation": "none"},
    }  # fmt: skip
    for name, params in stored.items():
        old.objects.create(name=name, architecture="simple_cnn", class_names=["a", "b"], params=params)

    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])
    new = executor.loader.project_state([AFTER]).apps.get_model("trainer", "ModelVersion")
    params = {version.name: version.params for version in new.objects.all()}
    assert params["strong"] == {"augmentation": "strong", "weights": "mobilenet.weights.h5", "epochs": 3}
    assert params["light"] == {"augmentation": "light", "weights": "imagenet"}
    assert params["none"] == {"augmentation": "none"}
