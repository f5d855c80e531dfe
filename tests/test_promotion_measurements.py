"""Measuring versions on a test set neither was trained on (trainer/actions/promotion.py, the task
measure_model_version): the photos each version trained on are recorded, a test set that overlaps them is
refused, the answers are stored under the test set's hash, and the error analysis still reads only the
version's own test photos. The tasks run in this process, on tiny trainings."""

import pytest
from django.urls import reverse

from trainer.actions import MeasurementRefused, check_activation, do_activate_model_version, do_request_measurements
from trainer.error_analysis import cell_counts, mistakes
from trainer.models import Measurement, TestPhotoResult, TrainedPhoto
from trainer.tasks import measure_model_version, train_model_version

from .dataset_helpers import CLASS_COLOURS, class_folders, coloured_photo, zip_bytes
from .training_helpers import request_tiny_training, saved_version, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
# transaction=True: the training's heartbeat thread writes through a connection of its own.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]


def coloured_zip(per_class: int, prefix: str) -> bytes:
    return zip_bytes(
        {
            f"{label}/{prefix}{n}.png": coloured_photo(label, f"{prefix}{n}")
            for label in CLASS_COLOURS
            for n in range(per_class)
        }
    )


def trained(dataset, test_dataset, name="tiny"):
    version = request_tiny_training(
        dataset, test_dataset=test_dataset, name=name, params={"test_split": None, "epochs": 4}
    )
    train_model_version.apply(args=(version.pk,))
    version.refresh_from_db()
    assert version.status == "ready", version.error
    return version


@pytest.fixture
def datasets(make_dataset):
    return {
        "train": make_dataset("train", archive=coloured_zip(6, "train-")),
        "test": make_dataset("test", archive=coloured_zip(4, "test-")),
        "fresh": make_dataset("fresh", archive=coloured_zip(3, "fresh-")),
    }


def test_a_training_records_the_photos_it_trained_on(datasets):
    version = trained(datasets["train"], datasets["test"])
    recorded = set(TrainedPhoto.objects.filter(version=version).values_list("sha256", flat=True))
    assert recorded == set(datasets["train"].images.values_list("sha256", flat=True)) and len(recorded) == 12
    # Its own test answers name their photo set (the version's test_sha256), so the comparison finds them.
    assert set(version.test_results.values_list("test_sha256", flat=True)) == {datasets["test"].content_sha256}


def test_a_measurement_stores_the_answers_under_the_test_sets_hash_and_leaves_the_error_analysis(datasets):
    version = trained(datasets["train"], datasets["test"])
    counts, wrong = cell_counts(version), mistakes(version).count()

    (measurement,) = do_request_measurements([version], datasets["fresh"])  # eager: measured at commit
    measurement.refresh_from_db()

    assert measurement.status == Measurement.Status.READY, measurement.error
    assert measurement.test_sha256 == datasets["fresh"].content_sha256 and measurement.finished_at
    measured = TestPhotoResult.objects.filter(version=version, test_sha256=measurement.test_sha256)
    assert measured.count() == 6
    assert set(measured.values_list("sha256", flat=True)) == set(
        datasets["fresh"].images.values_list("sha256", flat=True)
    )
    added_as = dict(datasets["fresh"].images.values_list("sha256", "origin"))  # "cat/3.png": named as added
    assert all(row.name == added_as[row.sha256].split("/")[-1] for row in measured)
    right = sum(row.true_label == row.predicted_label for row in measured)
    assert measurement.accuracy == right / 6
    # The error analysis reads the 8 own test photos only, as before the measurement.
    assert cell_counts(version) == counts and sum(counts.values()) == 8
    assert mistakes(version).count() == wrong


def test_two_versions_of_different_lineages_are_compared_on_the_measured_test_set(datasets, make_dataset, admin_client):
    other_train = make_dataset("other", archive=coloured_zip(6, "other-"))
    active = trained(other_train, None, name="active")  # its own held-out photos: nothing shared
    do_activate_model_version(active)
    candidate = trained(datasets["train"], datasets["test"], name="candidate")
    assert check_activation(candidate).comparison is None

    url = reverse("admin:trainer_modelversion_measure", args=[candidate.pk])
    r = admin_client.post(url, {"dataset": datasets["fresh"].pk})
    assert r.status_code == 302
    assert set(Measurement.objects.values_list("version__name", "status")) == {
        ("active", "ready"),
        ("candidate", "ready"),
    }

    comparison = check_activation(candidate).comparison
    assert comparison is not None and comparison.test_sha256 == datasets["fresh"].content_sha256
    assert comparison.photos == 6
    page = admin_client.get(reverse("admin:trainer_modelversion_activate", args=[candidate.pk])).content.decode()
    assert "on the same 6 photos" in page and 'data-activation="none"' not in page
    kept = datasets["fresh"].images.first()  # a photo the candidate answered, kept in the dataset: shown
    r = admin_client.get(reverse("admin:trainer_modelversion_compared_photo", args=[candidate.pk, kept.sha256]))
    assert r.status_code == 200 and r["Content-Type"].startswith("image/")


def test_a_test_set_a_version_was_trained_on_is_refused_with_the_overlap(datasets, admin_client):
    version = trained(datasets["train"], datasets["test"])
    with pytest.raises(MeasurementRefused, match="was trained on 12 of the 12 photos of train"):
        do_request_measurements([version], datasets["train"])

    r = admin_client.post(
        reverse("admin:trainer_modelversion_measure", args=[version.pk]), {"dataset": datasets["train"].pk}
    )
    assert r.status_code == 400
    assert "was trained on 12 of the 12 photos of train" in r.content.decode()
    assert not Measurement.objects.exists()


def test_a_test_set_of_other_classes_is_refused(make_dataset):
    version = saved_version(name="v", file="models/v.keras")
    birds = make_dataset("birds", archive=zip_bytes(class_folders({"owl": 2, "tit": 2})))
    with pytest.raises(MeasurementRefused, match="Choose a dataset with the same classes"):
        do_request_measurements([version], birds)


def test_a_version_whose_training_photos_are_unknown_is_refused(datasets):
    version = saved_version(name="old", file="models/old.keras")
    with pytest.raises(MeasurementRefused, match="does not know which photos"):
        do_request_measurements([version], datasets["fresh"])


def test_a_measurement_whose_dataset_was_deleted_fails_with_the_reason():
    version = saved_version(name="v", file="models/v.keras")
    measurement = Measurement.objects.create(version=version, dataset=None, test_sha256="f" * 64)
    measure_model_version.apply(args=(measurement.pk,))
    measurement.refresh_from_db()
    assert measurement.status == Measurement.Status.FAILED
    assert measurement.error == "The dataset to measure on was deleted."
