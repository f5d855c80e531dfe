"""The heatmap comes with the answer: the prediction task stores the model's coarse grid and the upright photo's
size in the same conditional write as the answer (no file, no picture made in the worker), and an answer
stands when its map cannot be stored."""

import io
import logging

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from classifier import tasks
from classifier.heatmaps import render_grayscale, stored_grid
from classifier.models import Prediction

from .conftest import answer, use_model_double
from .dataset_helpers import media_files
from .heatmap_helpers import png_pixels

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


def test_the_answer_comes_with_its_heatmap_grid_and_no_file(answered, settings):
    prediction = answered()
    assert prediction.status == Prediction.Status.DONE and prediction.label == "cat"
    grid = np.array(prediction.heatmap_grid)
    # The double lit the left three of seven columns: stored as whole numbers 0..255, row by row.
    assert grid.shape == (7, 7)
    assert (grid[:, :3] == 255).all() and (grid[:, 3:] == 0).all()
    assert (prediction.upright_width, prediction.upright_height) == (64, 48)
    assert not prediction.heatmap
    assert not any(name.startswith("heatmaps/") for name in media_files(settings))


def test_the_answer_and_its_heatmap_are_one_write(answered):
    with CaptureQueriesContext(connection) as queries:
        prediction = answered()
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    writes = [sql for sql in updates if "heatmap_grid" in sql]
    assert len(writes) == 1 and '"status" = ' in writes[0], "the answer and its grid in one UPDATE"
    assert prediction.heatmap_grid


@pytest.mark.parametrize(
    ("stored_size", "orientation", "upright_size", "drawn_size"),
    [
        ((1200, 300), None, (1200, 300), (512, 128)),  # wide: the long side shrinks to 512, the proportions stay
        ((300, 1200), None, (300, 1200), (128, 512)),  # tall
        ((800, 400), 6, (400, 800), (256, 512)),  # stored wide, shown tall: a phone held upright
        ((800, 400), 8, (400, 800), (256, 512)),
        ((800, 400), 3, (800, 400), (512, 256)),  # upside down: a half turn keeps the proportions
    ],
)
def test_the_heatmap_is_drawn_to_the_upright_photos_proportions(
    answered, client, user, stored_size, orientation, upright_size, drawn_size
):
    prediction = answered(_jpeg(stored_size, orientation), name="photo.jpg")
    assert (prediction.width, prediction.height) == stored_size  # the stored file's own, before any turn
    assert prediction.upright_size == upright_size
    client.force_login(user)
    heatmap = png_pixels(client.get(f"/predictions/{prediction.pk}/heatmap.png").content)
    assert (heatmap.shape[1], heatmap.shape[0]) == drawn_size
    # The double lit the left three of seven columns of what the model saw, the upright photo: the
    # heatmap is bright on its left and dark on its right, however the file was stored.
    width = heatmap.shape[1]
    assert heatmap[:, : width * 2 // 7].min() > 200
    assert heatmap[:, width * 4 // 7 :].max() < 30


def test_the_answer_stands_when_its_map_cannot_be_stored(user, active_version, monkeypatch, make_prediction, caplog):
    def classify(version, source):
        result = answer({"cat": 0.9, "dog": 0.1})
        result.heatmap = np.ones((2, 7, 7))  # not a 2-D grid
        return result

    use_model_double(monkeypatch, classify)
    prediction = make_prediction()
    with caplog.at_level(logging.ERROR, logger="classifier.actions.predictions"):
        tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert (prediction.label, prediction.confidence) == ("cat", 0.9)
    assert prediction.heatmap_grid == [] and not prediction.has_heatmap
    assert "its heatmap cannot be stored; the answer stands" in caplog.text


def test_an_answer_without_a_map_has_no_heatmap(user, active_version, monkeypatch, make_prediction):
    def classify(version, source):
        result = answer({"cat": 0.9, "dog": 0.1})
        result.heatmap = None  # a version or an engine that makes none
        return result

    use_model_double(monkeypatch, classify)
    prediction = make_prediction()
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE and not prediction.has_heatmap


def test_a_grid_that_is_not_a_2d_map_is_refused():
    with pytest.raises(ValueError, match="non-empty 2-D grid"):
        stored_grid(np.ones((2, 7, 7)))
    with pytest.raises(ValueError, match="non-empty 2-D grid"):
        stored_grid(np.ones((0, 7)))


def test_a_grid_is_drawn_with_the_photos_proportions_and_its_own_size_when_smaller():
    grid = stored_grid(np.eye(7))
    assert png_pixels(render_grayscale(grid, (64, 48))).shape == (48, 64)
    assert png_pixels(render_grayscale(grid, (4000, 3000))).shape == (384, 512)
