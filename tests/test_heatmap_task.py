"""The heatmap follows the answer: stored by the prediction task once the answer is, aligned with the upright
photo, never at the answer's expense, and never left behind by a prediction deleted meanwhile."""

import io
import logging

import numpy as np
import pytest
from django.core.files.storage import FileSystemStorage
from PIL import Image

from classifier import tasks
from classifier.actions import do_attach_heatmap, do_delete_prediction
from classifier.heatmaps import render_grayscale
from classifier.models import Prediction

from .dataset_helpers import media_files
from .heatmap_helpers import stored_heatmap

pytest_plugins = ["tests.heatmap_fixtures"]
pytestmark = pytest.mark.django_db

ORIENTATION = 0x0112


def _jpeg(size, orientation: int | None = None) -> bytes:
    """A JPEG of `size` as stored, turned by its EXIF orientation when shown; its left half red, right blue."""
    image = Image.new("RGB", size, (40, 40, 200))
    image.paste((200, 40, 40), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_the_answer_comes_with_a_stored_grayscale_heatmap(answered):
    prediction = answered()
    assert prediction.status == Prediction.Status.DONE and prediction.label == "cat"
    assert prediction.heatmap.name.startswith(f"heatmaps/{prediction.owner_id}/")
    assert stored_heatmap(prediction).shape == (48, 64)  # the 64x48 photo's own size: smaller than 512


@pytest.mark.parametrize(
    ("stored_size", "orientation", "upright_size"),
    [
        ((1200, 300), None, (512, 128)),  # wide: the long side shrinks to 512, the proportions stay
        ((300, 1200), None, (128, 512)),  # tall
        ((800, 400), 6, (256, 512)),  # stored wide, shown tall: a phone held upright
        ((800, 400), 8, (256, 512)),
        ((800, 400), 3, (512, 256)),  # upside down: a half turn keeps the proportions
    ],
)
def test_the_heatmap_has_the_upright_photos_proportions(answered, stored_size, orientation, upright_size):
    prediction = answered(_jpeg(stored_size, orientation), name="photo.jpg")
    assert (prediction.width, prediction.height) == stored_size  # the stored file's own, before any turn
    heatmap = stored_heatmap(prediction)
    assert (heatmap.shape[1], heatmap.shape[0]) == upright_size
    # The double lit the left three of seven columns of what the model saw, the upright photo: the
    # heatmap is bright on its left and dark on its right, however the file was stored.
    width = heatmap.shape[1]
    assert heatmap[:, : width * 2 // 7].min() > 200
    assert heatmap[:, width * 4 // 7 :].max() < 30


def test_the_answer_is_stored_when_storing_the_heatmap_fails(answered, monkeypatch, caplog, settings):
    real_save = FileSystemStorage._save

    def save(storage, name, content):
        if name.startswith("heatmaps/"):
            raise OSError("No space left on device")
        return real_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", save)
    with caplog.at_level(logging.ERROR, logger="classifier.tasks"):
        prediction = answered()
    assert prediction.status == Prediction.Status.DONE
    assert (prediction.label, prediction.confidence) == ("cat", 0.9)
    assert not prediction.heatmap
    assert "its heatmap could not be stored; the answer stands" in caplog.text
    assert not any(name.startswith("heatmaps/") for name in media_files(settings))


def test_the_answer_is_stored_before_the_heatmap_is_made(answered, monkeypatch):
    seen = []

    def render(heatmap, size):
        seen.append(Prediction.objects.values_list("status", "label").get())
        return render_grayscale(heatmap, size)

    monkeypatch.setattr(tasks, "render_grayscale", render)
    prediction = answered()
    assert seen == [("done", "cat")]
    assert prediction.heatmap


def test_a_heatmap_for_a_prediction_deleted_meanwhile_leaves_no_file(answered, monkeypatch, settings):
    prediction = answered()
    heatmap_name = prediction.heatmap.name
    Prediction.objects.filter(pk=prediction.pk).update(heatmap="")
    real_save = FileSystemStorage._save

    def save_while_deleted(storage, name, content):
        Prediction.objects.filter(pk=prediction.pk).delete()  # deleted between reading the row and writing
        return real_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", save_while_deleted)
    assert do_attach_heatmap(prediction.pk, render_grayscale(np.ones((7, 7)), (64, 48))) is False
    assert {name for name in media_files(settings) if name.startswith("heatmaps/")} == {heatmap_name}


def test_a_second_heatmap_for_the_same_answer_is_not_kept(answered, settings):
    prediction = answered()
    assert do_attach_heatmap(prediction.pk, render_grayscale(np.ones((7, 7)), (64, 48))) is False
    assert Prediction.objects.get(pk=prediction.pk).heatmap.name == prediction.heatmap.name
    assert {name for name in media_files(settings) if name.startswith("heatmaps/")} == {prediction.heatmap.name}


def test_a_heatmap_for_a_deleted_prediction_is_not_stored(answered, settings, django_capture_on_commit_callbacks):
    prediction = answered()
    with django_capture_on_commit_callbacks(execute=True):
        do_delete_prediction(prediction)
    assert do_attach_heatmap(prediction.pk, render_grayscale(np.ones((7, 7)), (64, 48))) is False
    assert media_files(settings) == set()


def test_a_failed_prediction_gets_no_heatmap(make_prediction, settings):
    prediction = make_prediction(status=Prediction.Status.FAILED, error="The photo could not be decoded.")
    assert do_attach_heatmap(prediction.pk, render_grayscale(np.ones((7, 7)), (64, 48))) is False
    assert not any(name.startswith("heatmaps/") for name in media_files(settings))


def test_a_grid_that_is_not_a_2d_map_is_refused():
    with pytest.raises(ValueError, match="non-empty 2-D grid"):
        render_grayscale(np.ones((2, 7, 7)), (64, 48))
    with pytest.raises(ValueError, match="non-empty 2-D grid"):
        render_grayscale(np.ones((0, 7)), (64, 48))
