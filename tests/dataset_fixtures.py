"""The make_dataset fixture, loaded with `pytest_plugins = ["tests.dataset_fixtures"]` by the dataset tests."""

from pathlib import Path

import pytest

from trainer.actions import do_create_dataset
from trainer.models import Dataset

from .conftest import upload


@pytest.fixture
def make_dataset(django_capture_on_commit_callbacks, user):
    """Create a dataset the way the admin does and let the (eager) task check it after commit."""

    def make(name: str = "pets", *, archive: bytes | None = None, folder: Path | None = None, urls=None) -> Dataset:
        if archive is not None:
            source = Dataset.Source.ZIP
        elif folder is not None:
            source = Dataset.Source.FOLDER
        else:
            source = Dataset.Source.URLS
        dataset = Dataset(
            name=name, source=source, path=str(folder or ""), urls=[list(p) for p in urls or []], created_by=user
        )
        with django_capture_on_commit_callbacks(execute=True):
            do_create_dataset(dataset, archive=upload("pets.zip", archive) if archive is not None else None)
        dataset.refresh_from_db()
        return dataset

    return make
