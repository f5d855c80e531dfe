"""The review queue tests' model version and consenting owner, loaded with
`pytest_plugins = ["tests.review_fixtures"]` by tests/test_review_*.py."""

import pytest

from trainer.models import ModelVersion

from .review_helpers import allow


@pytest.fixture
def pets():
    return ModelVersion.objects.create(
        name="pets", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"], is_active=True
    )


@pytest.fixture
def owner(alice):
    """Alice, who allowed her corrected photos to be used."""
    allow(alice)
    return alice
