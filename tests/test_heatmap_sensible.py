"""The heatmap points somewhere sensible, with the shipped model and the real prediction task: on a wide
canvas with a cat on one half and plain noise on the other, most of the heatmap stored with the answer lies on
the cat."""

import io

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from classifier import tasks
from classifier.actions import do_create_predictions
from classifier.heatmaps import render_grayscale
from classifier.models import Prediction
from classifier.validation import check_image_upload
from trainer.models import ModelVersion

from .conftest import shared_photo, upload

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

HALF = 224  # each half of the canvas; the model squashes the 448x224 canvas to its 224x224 input


@pytest.fixture
def shipped_version():
    call_command("ensure_shipped_model", stdout=io.StringIO())
    return ModelVersion.objects.get(is_active=True)


def _canvas(cat_number: int, cat_side: str) -> bytes:
    """A cat photo squeezed into one half, the other half uniform noise (the same noise on every run)."""
    noise = np.random.default_rng(cat_number).integers(0, 256, (HALF, 2 * HALF, 3), dtype=np.uint8)
    canvas = Image.fromarray(noise)
    with Image.open(shared_photo("cat", cat_number)) as photo:
        canvas.paste(photo.convert("RGB").resize((HALF, HALF)), (0 if cat_side == "left" else HALF, 0))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def _answered(user, data: bytes) -> Prediction:
    [prediction] = do_create_predictions(user, [check_image_upload(upload("canvas.png", data))])
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    return prediction


@pytest.mark.parametrize("cat_side", ["left", "right"])
@pytest.mark.parametrize("cat_number", [4001, 4009, 4014])
def test_most_of_the_heatmap_lies_on_the_cats_half(user, shipped_version, cat_number, cat_side):
    prediction = _answered(user, _canvas(cat_number, cat_side))
    # The heatmap is the top class's: it is the cat's only when the answer is cat.
    assert prediction.label == "cat"
    png = render_grayscale(prediction.heatmap_grid, prediction.upright_size)  # as the pages draw it
    with Image.open(io.BytesIO(png)) as heatmap:
        assert heatmap.size == (2 * HALF, HALF)  # over the whole canvas, at its own size
        weights = np.asarray(heatmap, dtype=np.float64)
    left_share = weights[:, : weights.shape[1] // 2].sum() / weights.sum()
    cats_share = left_share if cat_side == "left" else 1.0 - left_share
    assert cats_share > 0.7, f"only {cats_share:.0%} of the heatmap lies on the cat"
