import io
import os
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# The shared photos (README "Tests"): the folder beside the checkout, or CATDOG_SHARED_DIR. A newcomer's checkout
# has nothing beside it: the tests that read these photos then skip, saying why; CI (.ci/run) requires them.
SHARED_DIR = Path(os.environ.get("CATDOG_SHARED_DIR") or Path(__file__).resolve().parent.parent.parent / "shared")
SHARED_DATA = SHARED_DIR / "data" / "catsdogs"
_NO_SHARED_PHOTOS = (
    f"needs the shared cat and dog photos in {SHARED_DATA} (set CATDOG_SHARED_DIR to the folder holding data/catsdogs)"
)
# For a whole test module that reads them.
needs_shared_photos = pytest.mark.skipif(
    not SHARED_DATA.is_dir() and not os.environ.get("CATDOG_REQUIRE_SHARED_DATA"), reason=_NO_SHARED_PHOTOS
)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Each test gets its own storage folder, so a test can check exactly which files exist.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="correct horse battery")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="mallory", password="correct horse battery")


def image_bytes(fmt: str = "PNG", size=(64, 48), mode: str = "RGB", color=(200, 30, 30), **save_args) -> bytes:
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    image.save(out, format=fmt, **save_args)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def shared_photo(kind: str, number: int) -> Path:
    """One of the shared Kaggle photos, read in place (never copied into the project); the test skips without
    them (it fails under CATDOG_REQUIRE_SHARED_DATA=1, as in CI)."""
    path = SHARED_DATA / "test" / kind / f"{kind}.{number}.jpg"
    if not path.is_file():
        if os.environ.get("CATDOG_REQUIRE_SHARED_DATA"):
            pytest.fail(f"{path} is missing: the test {_NO_SHARED_PHOTOS[0].lower()}{_NO_SHARED_PHOTOS[1:]}")
        # Named at a test module's import, it skips that module; inside a test, that test.
        pytest.skip(_NO_SHARED_PHOTOS, allow_module_level=True)
    return path


class ModelDouble:
    """In place of classifier.inference's LoadedModel: `classify(version, source)` answers each photo as the task
    decodes it (so it may raise what decoding raises); `operating_points` records what the task asked for."""

    def __init__(self, version, classify):
        self.version, self.classify, self.operating_points = version, classify, []

    def decode(self, source):
        return self.classify(self.version, source)

    def answer(self, decoded: list, operating_point: str) -> list:
        self.operating_points.append(operating_point)
        return decoded


def use_model_double(monkeypatch, classify) -> list[ModelDouble]:
    """The prediction task's model becomes a double: `classify(version, source)` answers each photo. Returns the
    doubles made, one per load."""
    doubles = []

    def load_model(version):
        doubles.append(ModelDouble(version, classify))
        return doubles[-1]

    monkeypatch.setattr("classifier.inference.load_model", load_model)
    return doubles


def answer(
    probabilities: dict[str, float],
    verdict: str | None = None,
    inference_ms: float = 7.0,
    upright_size: tuple[int, int] | None = None,
):
    """A model's answer as the prediction task receives it: the top class, `verdict` (the top class unless
    given), a heatmap lit on its left three columns, and the photo's `upright_size` if given."""
    from classifier.inference import Classification

    label = max(probabilities, key=probabilities.get)
    heatmap = np.zeros((7, 7), dtype=np.float32)
    heatmap[:, :3] = 1.0
    return Classification(
        label=label,
        confidence=probabilities[label],
        probabilities=probabilities,
        inference_ms=inference_ms,
        verdict=verdict or label,
        heatmap=heatmap,
        upright_size=upright_size,
    )


@pytest.fixture
def make_prediction(user):
    """A stored prediction row with a real little image, for pages and API tests."""
    from classifier.actions import do_create_predictions
    from classifier.validation import check_image_upload

    def make(owner=None, **fields):
        checked = check_image_upload(upload("photo.png", image_bytes()))
        [prediction] = do_create_predictions(owner or user, [checked])
        if fields:
            type(prediction).objects.filter(pk=prediction.pk).update(**fields)
            prediction.refresh_from_db()
        return prediction

    return make


# The page tests' people and model version (tests/test_pages_*.py)
@pytest.fixture
def alice(user):
    return user  # the user above, by the name these tests read best with


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def model_version():
    from trainer.models import ModelVersion

    return ModelVersion.objects.create(
        name="mobilenet_v2-catsdogs", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"]
    )


def pytest_sessionfinish(session, exitstatus):
    """Remove what this run left on the shared Redis: every key under the run's own prefix."""
    from django.conf import settings

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix")
    if not prefix:
        return
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # Redis is gone: nothing to clean up


@pytest.fixture
def signed_in_api(user):
    """A REST client signed in as `user` (the API's authentication itself is tested in test_api.py)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
