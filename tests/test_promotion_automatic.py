"""Automatic promotion per lineage (trainer/actions/promotion.py do_consider_promotion, run as a training
finishes): on, a training significantly better than the active version on the same photos is activated and
the activation says why; off (the default), or not significantly better, it is not, and the version says why."""

import pytest
from django.urls import reverse

from trainer.actions import do_activate_model_version
from trainer.models import Activation, ModelVersion, TestPhotoResult

from .test_promotion_measurements import coloured_zip, trained
from .training_helpers import saved_version, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]


def active_on(test_dataset, *, right: bool) -> ModelVersion:
    """The active version, with an answer on each photo of `test_dataset`: every one right, or every one wrong."""
    version = saved_version(name="active", test_sha256=test_dataset.content_sha256)
    do_activate_model_version(version)
    TestPhotoResult.objects.bulk_create(
        TestPhotoResult(
            version=version,
            test_sha256=test_dataset.content_sha256,
            sha256=image.sha256,
            name=image.file.name,
            true_label=image.label,
            predicted_label=image.label if right else ({"cat": "dog", "dog": "cat"}[image.label]),
            confidence=0.9,
        )
        for image in test_dataset.images.all()
    )
    return version


@pytest.fixture
def lineage(make_dataset):
    return make_dataset("train", archive=coloured_zip(6, "train-")), make_dataset(
        "test", archive=coloured_zip(4, "test-")
    )


def test_a_significantly_better_training_is_activated_when_the_lineage_promotes_automatically(lineage, admin_client):
    train, test = lineage
    train.auto_promote = True
    train.save(update_fields=["auto_promote"])
    active = active_on(test, right=False)

    version = trained(train, test)

    version.refresh_from_db()
    assert version.is_active, version.metrics["promotion"]
    activation = Activation.objects.get(version=version)
    assert activation.automatic and activation.previous == active and activation.activated_by is None
    assert activation.evidence["verdict"] == "better" and activation.evidence["photos"] == 8
    assert activation.reason.startswith("Activated automatically: significantly better than active")
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert 'data-promotion="activated"' in page and "automatically" in page


def test_off_by_default_the_training_is_not_activated_and_says_why(lineage, admin_client):
    train, test = lineage
    active = active_on(test, right=False)

    version = trained(train, test)

    version.refresh_from_db()
    active.refresh_from_db()
    assert active.is_active and not version.is_active
    assert not Activation.objects.filter(version=version).exists()
    assert version.metrics["promotion"] == {
        "activated": False,
        "reason": "Automatic promotion is off for this lineage (train).",
    }
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert 'data-promotion="not-activated"' in page


def test_a_training_that_is_not_significantly_better_is_not_activated(lineage):
    train, test = lineage
    train.auto_promote = True
    train.save(update_fields=["auto_promote"])
    active = active_on(test, right=True)  # the tiny model cannot do better than every photo right

    version = trained(train, test)

    version.refresh_from_db()
    active.refresh_from_db()
    assert active.is_active and not version.is_active
    reason = version.metrics["promotion"]["reason"]
    assert reason.startswith(f"Not activated: not significantly different than {active}"), reason
