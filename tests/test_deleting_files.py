"""Every way a row is deleted deletes its files, once the deletion commits, on local disk and in an
S3-compatible object store (moto's server): a user with their photos, predictions from the admin (one, or
many with the bulk action), a model version, a dataset. Dataset images share files by content: a file
goes only when no row uses it any more."""

import pytest
from django.db import transaction
from django.urls import reverse

from classifier.actions import do_delete_prediction
from classifier.models import Prediction
from trainer.actions import do_recheck_dataset, do_register_model_version
from trainer.models import Dataset, ModelVersion

from .dataset_helpers import class_folders, photo, write_tree, zip_bytes
from .heatmap_helpers import as_answered_before_grids

pytest_plugins = ["tests.s3", "tests.dataset_fixtures", "tests.heatmap_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def deleting(django_capture_on_commit_callbacks):
    """Run a deletion in a transaction of its own and what waits for its commit, as a request does."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _files(prediction: Prediction) -> set[str]:
    return {prediction.image.name, prediction.thumbnail.name}


def test_deleting_a_user_from_the_admin_deletes_their_photos(
    admin_client, stored, deleting, user, other_user, make_prediction
):
    theirs = [make_prediction(), make_prediction()]
    kept = make_prediction(owner=other_user)
    assert stored() == set().union(*map(_files, [*theirs, kept]))

    with deleting():
        r = admin_client.post(reverse("admin:auth_user_delete", args=[user.pk]), {"post": "yes"})

    assert r.status_code == 302
    assert not Prediction.objects.filter(owner_id=user.pk).exists()
    assert stored() == _files(kept)


def test_an_answer_stores_no_heatmap_file(stored, answered):
    prediction = answered()
    assert prediction.has_heatmap and not prediction.heatmap  # its grid is on the row
    assert stored() == _files(prediction)


@pytest.mark.parametrize("how", ["the prediction", "its owner"])
def test_deleting_an_older_answer_or_its_owner_deletes_its_heatmap_file(
    stored, deleting, answered, user, other_user, how
):
    """An answer from before the grid was stored has its heatmap as a file."""
    prediction, kept = as_answered_before_grids(answered()), as_answered_before_grids(answered(owner=other_user))
    assert prediction.heatmap and kept.heatmap
    assert stored() == {*_files(prediction), prediction.heatmap.name, *_files(kept), kept.heatmap.name}

    with deleting():
        if how == "the prediction":
            do_delete_prediction(prediction)
        else:
            user.delete()

    assert stored() == {*_files(kept), kept.heatmap.name}


def test_a_deletion_that_rolls_back_keeps_the_files(stored, user, make_prediction):
    prediction = make_prediction()
    with pytest.raises(RuntimeError), transaction.atomic():
        user.delete()
        assert stored() == _files(prediction)  # not before the commit
        raise RuntimeError("rolled back")
    assert stored() == _files(prediction)


def test_deleting_a_prediction_from_the_admin_deletes_its_files(admin_client, stored, deleting, make_prediction):
    prediction, kept = make_prediction(), make_prediction()

    with deleting():
        r = admin_client.post(reverse("admin:classifier_prediction_delete", args=[prediction.pk]), {"post": "yes"})

    assert r.status_code == 302
    assert stored() == _files(kept)


def test_the_admin_bulk_delete_deletes_every_selected_predictions_files(
    admin_client, stored, deleting, make_prediction
):
    selected, kept = [make_prediction(), make_prediction(), make_prediction()], make_prediction()
    form = {"action": "delete_selected", "_selected_action": [p.pk for p in selected], "post": "yes"}

    with deleting():
        r = admin_client.post(reverse("admin:classifier_prediction_changelist"), form)

    assert r.status_code == 302
    assert list(Prediction.objects.all()) == [kept]
    assert stored() == _files(kept)


def _version(tmp_path, name: str) -> ModelVersion:
    model_path = tmp_path / f"{name}.keras"
    model_path.write_bytes(f"not really a model: {name}".encode())
    return do_register_model_version(
        name=name,
        model_path=model_path,
        architecture=ModelVersion.Architecture.SIMPLE_CNN,
        class_names=["cat", "dog"],
        image_size=32,
        params={},
        metrics={},
        summary="",
    )


@pytest.mark.parametrize("how", ["page", "bulk action"])
def test_deleting_a_model_version_from_the_admin_deletes_its_keras_file(admin_client, stored, deleting, tmp_path, how):
    version, kept = _version(tmp_path, "old"), _version(tmp_path, "kept")
    assert stored() == {version.file.name, kept.file.name}

    with deleting():
        if how == "page":
            r = admin_client.post(reverse("admin:trainer_modelversion_delete", args=[version.pk]), {"post": "yes"})
        else:
            form = {"action": "delete_selected", "_selected_action": [version.pk], "post": "yes"}
            r = admin_client.post(reverse("admin:trainer_modelversion_changelist"), form)

    assert r.status_code == 302
    assert list(ModelVersion.objects.all()) == [kept]
    assert stored() == {kept.file.name}


def test_the_admin_bulk_delete_deletes_every_selected_datasets_files(admin_client, stored, deleting, make_dataset):
    selected = [
        make_dataset("one", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}))),
        make_dataset("two", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}, start=10))),
    ]
    kept = make_dataset("kept", archive=zip_bytes(class_folders({"cat": 1, "dog": 1}, start=20)))
    form = {"action": "delete_selected", "_selected_action": [d.pk for d in selected], "post": "yes"}

    with deleting():
        r = admin_client.post(reverse("admin:trainer_dataset_changelist"), form)

    assert r.status_code == 302
    assert list(Dataset.objects.all()) == [kept]
    assert stored() and all(name.startswith(f"datasets/{kept.pk}/") for name in stored())


def test_checking_a_dataset_again_keeps_the_files_its_new_images_share_with_the_old_ones(
    make_dataset, stored, deleting, settings, tmp_path
):
    """The new rows take over the files of the same content; only the files no row uses go."""
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    folder = write_tree(tmp_path / "pets", class_folders({"cat": 2, "dog": 2}))
    dataset = make_dataset(folder=folder)
    gone = dataset.images.get(origin="cat/0.png")
    (folder / "cat" / "0.png").unlink()
    write_tree(folder, {"dog/new.png": photo(80)})

    with deleting():
        assert do_recheck_dataset(dataset)

    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY, dataset.error
    used = {name for pair in dataset.images.values_list("file", "thumbnail") for name in pair if name}
    assert len(used) == 8  # 4 images, each a sample with its thumbnail
    assert stored() == used
    assert gone.file.name not in used
