"""A training records its version's calibration ("none of these", "not sure") and every test photo's answer with
its heatmap; `calibrate_version` gives them to a version trained before they existed."""

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from trainer.files import file_sha256
from trainer.ml import OPERATING_POINTS
from trainer.models import DatasetImage, ModelVersion, TestPhotoResult
from trainer.tasks import train_model_version

from .dataset_helpers import class_folders, write_tree, zip_bytes
from .training_helpers import request_tiny_training, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
# transaction=True: the training's heartbeat thread writes through a connection of its own.
# Each test runs the training task itself, when it chooses (trainings_not_sent).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]


@pytest.fixture
def trained(make_dataset):
    pets = make_dataset("pets", archive=zip_bytes(class_folders({"cat": 16, "dog": 16})))
    others = make_dataset("things", archive=zip_bytes(class_folders({"car": 5, "tree": 4}, start=500)))
    version = request_tiny_training(pets, outlier_dataset=others)
    train_model_version.apply(args=(version.pk,))
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY, version.error
    return version


def test_a_training_stores_its_calibration_and_what_it_measured(trained):
    assert trained.calibration.name.startswith("models/tiny-") and trained.calibration.name.endswith(".npz")
    assert trained.calibration_sha256 == file_sha256(default_storage.path(trained.calibration.name))
    report = trained.calibration_report
    assert set(report["operating_points"]) == set(OPERATING_POINTS)
    assert report["held_out"] == trained.metrics["num_test"] == 8
    assert report["outliers"] == 9  # every photo of the outlier dataset, whatever its folders
    for figures in report["operating_points"].values():
        assert figures["kept"] + figures["unsure"] + figures["other"] == pytest.approx(1.0)
        assert 0.0 <= figures["outliers_other"] <= 1.0


def test_every_test_photo_is_recorded_with_its_answer_and_heatmap(trained):
    rows = list(TestPhotoResult.objects.filter(version=trained))
    assert len(rows) == trained.metrics["num_test"]
    kept = set(DatasetImage.objects.filter(dataset=trained.dataset).values_list("sha256", flat=True))
    assert {row.sha256 for row in rows} <= kept  # found again among the dataset's photos
    # Named as they came into the dataset ("cat/3.png" in the archive), not by the copy's content hash.
    added_as = dict(DatasetImage.objects.filter(dataset=trained.dataset).values_list("sha256", "origin"))
    assert all(row.name == added_as[row.sha256].split("/")[-1] for row in rows)
    confusion = trained.metrics["confusion_matrix"]
    names = trained.class_names
    for i, true in enumerate(names):
        for j, predicted in enumerate(names):
            cell = [row for row in rows if (row.true_label, row.predicted_label) == (true, predicted)]
            assert len(cell) == confusion[i][j]
    for row in rows:
        assert row.confidence == max(row.probabilities.values())
        assert row.verdict in (*names, "unsure", "other")
        cells = [value for line in row.heatmap for value in line]
        assert len(row.heatmap) == len(row.heatmap[0]) and cells and max(cells) <= 255 and min(cells) >= 0


def test_calibrate_version_gives_an_older_version_its_calibration(trained, tmp_path):
    name = trained.calibration.name
    ModelVersion.objects.filter(pk=trained.pk).update(calibration="", calibration_sha256="", calibration_report={})
    TestPhotoResult.objects.filter(version=trained).delete()
    photos = class_folders({"cat": 8, "dog": 8}, start=900)
    train = write_tree(tmp_path / "train", dict(list(photos.items())[:4] + list(photos.items())[8:12]))
    test = write_tree(tmp_path / "test", dict(list(photos.items())[4:8] + list(photos.items())[12:]))

    call_command("calibrate_version", str(train), str(test), version_id=trained.pk)

    trained.refresh_from_db()
    assert trained.calibration.name and trained.calibration.name != name
    assert trained.calibration_report["held_out"] == 8
    assert TestPhotoResult.objects.filter(version=trained).count() == 8


def test_calibrate_version_refuses_test_photos_of_other_classes(trained, tmp_path):
    from django.core.management.base import CommandError

    train = write_tree(tmp_path / "train", class_folders({"cat": 4, "dog": 4}))
    test = write_tree(tmp_path / "test", class_folders({"cat": 2, "fox": 2}))
    with pytest.raises(CommandError, match="fox"):
        call_command("calibrate_version", str(train), str(test), version_id=trained.pk)
