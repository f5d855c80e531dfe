"""classifier.inference with the shipped model's serving files: real photos, every kind of image file, bad files,
storage, the engines against Keras, and every reason a version cannot be served."""

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.core.management import call_command
from PIL import Image, UnidentifiedImageError

from classifier import inference
from tests.conftest import SHARED_DATA, needs_shared_photos
from trainer.engines import engine_class
from trainer.models import ModelExport, ModelVersion

pytestmark = [
    needs_shared_photos,
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

PHOTOS = SHARED_DATA / "test"
CAT, DOG = PHOTOS / "cat" / "cat.4001.jpg", PHOTOS / "dog" / "dog.4001.jpg"


class RemoteStorage(Storage):
    """Like S3: the files are elsewhere (here, in a dict) and have no path on this machine."""

    files: dict[str, bytes] = {}

    def _save(self, name, content):
        self.files[name] = content.read()
        return name

    def _open(self, name, mode="rb"):
        return ContentFile(self.files[name], name=name)

    def exists(self, name):
        return name in self.files

    def delete(self, name):
        self.files.pop(name, None)

    def size(self, name):
        return len(self.files[name])


@pytest.fixture
def remote_storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.test_inference.RemoteStorage"}}
    settings.CATDOG_MODEL_CACHE_DIR = tmp_path / "cache"
    yield tmp_path / "cache"
    RemoteStorage.files.clear()


@pytest.fixture
def version():
    call_command("ensure_shipped_model", stdout=io.StringIO())
    return ModelVersion.objects.get(is_active=True)


@pytest.fixture
def no_loaded_models():
    """A worker process that has not loaded any model yet."""
    inference._loaded.clear()
    yield
    inference._loaded.clear()


def encoded(image: Image.Image, fmt: str, **save_args) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, format=fmt, **save_args)
    out.seek(0)
    return out


def assert_is_a_distribution(result):
    assert set(result.probabilities) == {"cat", "dog"}
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.confidence == max(result.probabilities.values()) == result.probabilities[result.label]
    assert result.inference_ms > 0


@pytest.mark.parametrize(("path", "label"), [(CAT, "cat"), (DOG, "dog")])
def test_it_tells_a_cat_from_a_dog(version, path, label):
    result = inference.classify(version, path)
    assert result.label == label and result.confidence > 0.9
    assert_is_a_distribution(result)


def test_it_reads_a_file_opened_from_storage(version):
    name = default_storage.save("uploads/dog.jpg", ContentFile(DOG.read_bytes()))
    with default_storage.open(name, "rb") as f:
        result = inference.classify(version, f)
    assert result.label == "dog"


def _grayscale_16_bit(photo: Image.Image) -> Image.Image:
    return Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)


def _transparent_border(photo: Image.Image) -> Image.Image:
    rgba = photo.convert("RGBA")
    alpha = Image.new("L", photo.size, 0)
    alpha.paste(255, (10, 10, photo.width - 10, photo.height - 10))
    rgba.putalpha(alpha)
    return rgba


@pytest.mark.parametrize(
    ("make", "fmt", "mode"),
    [
        (lambda photo: photo.convert("L"), "JPEG", "L"),
        (_grayscale_16_bit, "PNG", "I;16"),
        (_transparent_border, "PNG", "RGBA"),
        (lambda photo: photo.convert("CMYK"), "JPEG", "CMYK"),
        (lambda photo: photo.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", "P"),
        (lambda photo: photo.convert("P", palette=Image.Palette.ADAPTIVE), "GIF", "P"),
        (lambda photo: photo, "WEBP", "RGB"),
    ],
)
def test_it_classifies_every_kind_of_image_a_user_may_send(version, make, fmt, mode):
    with Image.open(CAT) as photo:
        data = encoded(make(photo.convert("RGB")), fmt)
    assert Image.open(data).mode == mode  # the file really is of that kind
    data.seek(0)
    result = inference.classify(version, data)
    assert result.label == "cat"
    assert_is_a_distribution(result)


def test_it_classifies_a_tiny_image(version):
    result = inference.classify(version, encoded(Image.new("RGB", (3, 2), (90, 60, 30)), "PNG"))
    assert_is_a_distribution(result)


def test_a_file_that_is_not_an_image_raises(version):
    with pytest.raises(UnidentifiedImageError):
        inference.classify(version, io.BytesIO(b"just some text, not a photo"))


def test_a_truncated_photo_raises_os_error(version):
    with pytest.raises(OSError, match="truncated"):
        inference.classify(version, io.BytesIO(CAT.read_bytes()[:5000]))


def test_a_batch_gives_the_same_answers_in_order(version):
    paths = [CAT, DOG, PHOTOS / "cat" / "cat.4002.jpg", PHOTOS / "dog" / "dog.4002.jpg"]
    batch = inference.load_model(version).classify_batch(paths)
    assert [r.label for r in batch] == ["cat", "dog", "cat", "dog"]
    for result, path in zip(batch, paths, strict=True):
        alone = inference.classify(version, path)
        assert result.probabilities == pytest.approx(alone.probabilities, abs=1e-5)
        assert result.inference_ms > 0


def test_a_worker_loads_a_version_once(version, no_loaded_models, monkeypatch):
    loads = []
    real_load = inference._load
    monkeypatch.setattr(inference, "_load", lambda version: loads.append(version) or real_load(version))
    for _ in range(3):
        inference.classify(version, CAT)
    inference.load_model(version).classify_batch([DOG])
    assert len(loads) == 1


def _serving_export(version, kind: str | None = None) -> ModelExport:
    """The version's serving file of `kind`; by default the one the configured engine reads."""
    from django.conf import settings

    return version.exports.get(kind=kind or engine_class(settings.CATDOG_ENGINE).kind)


def test_a_model_in_remote_storage_is_fetched_once_into_the_cache(remote_storage, no_loaded_models):
    call_command("ensure_shipped_model", stdout=io.StringIO())
    version = ModelVersion.objects.get()
    served, head = _serving_export(version), _serving_export(version, "serving_head")
    with pytest.raises(NotImplementedError):
        served.file.path  # noqa: B018

    assert inference.classify(version, DOG).label == "dog"
    cached = sorted(p.name for p in remote_storage.iterdir())
    suffix = Path(served.file.name).suffix
    assert cached == sorted([f"{served.sha256}{suffix}", f"{head.sha256}.npz", f"{version.calibration_sha256}.npz"])
    inference._loaded.clear()  # another worker process on the same machine: the cached copies serve it
    for export in (served, head):
        export.file.storage.delete(export.file.name)
    assert inference.classify(version, CAT).label == "cat"


def test_a_remote_serving_file_that_is_not_the_registered_one_is_refused(remote_storage, no_loaded_models, settings):
    settings.CATDOG_ENGINE = "onnxruntime"
    call_command("ensure_shipped_model", stdout=io.StringIO())
    version = ModelVersion.objects.get()
    ModelExport.objects.filter(version=version, kind="serving_onnx").update(sha256="0" * 64)
    with pytest.raises(inference.ModelFileError, match="ONNX serving file of model version .* does not match"):
        inference.classify(version, DOG)
    assert not any(p.suffix == ".onnx" for p in remote_storage.iterdir())  # no wrong file left to be trusted


def test_a_model_file_that_does_not_fit_its_version_is_refused(version, no_loaded_models):
    version.class_names = ["cat", "dog", "fox"]
    with pytest.raises(inference.ModelFileError, match="3 classes"):
        inference.classify(version, CAT)


def test_preloading_loads_the_active_version_so_the_first_photo_does_not(version, no_loaded_models, settings):
    inference.preload_active_model()
    assert list(inference._loaded) == [
        (version.pk, version.file_sha256, version.calibration_sha256, settings.CATDOG_ENGINE)
    ]


def test_preloading_without_an_active_version_loads_nothing(version, no_loaded_models):
    ModelVersion.objects.update(is_active=False)
    inference.preload_active_model()
    assert not inference._loaded


def test_a_pool_process_preloads_only_when_the_setting_is_on(settings, monkeypatch):
    from celery.signals import worker_process_init

    import classifier.tasks  # noqa: F401 (the worker imports it, connecting the handler)

    started = []
    monkeypatch.setattr(inference, "start_preloading", lambda: started.append("preload"))
    settings.CATDOG_PRELOAD_MODEL = False
    worker_process_init.send(sender=None)
    assert started == []
    settings.CATDOG_PRELOAD_MODEL = True
    worker_process_init.send(sender=None)
    assert started == ["preload"]


def drawn_log_in_form() -> io.BytesIO:
    """A screenshot-like picture: a bar, a card, two fields and a button, as a log-in page draws them."""
    from PIL import ImageDraw

    image = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 640, 50], fill=(79, 70, 229))
    draw.rectangle([200, 120, 440, 400], outline=(200, 200, 200), width=2)
    for top in (170, 240):
        draw.rectangle([220, top, 420, top + 36], outline=(120, 120, 120), width=2)
    draw.rectangle([220, 320, 420, 360], fill=(79, 70, 229))
    draw.text((230, 130), "Log in", fill="black")
    return encoded(image, "PNG")


def test_the_shipped_calibration_says_none_of_these_to_a_screenshot_and_names_a_cat(version, no_loaded_models):
    assert version.calibration.name  # the shipped model comes with its calibration
    screenshot = inference.classify(version, drawn_log_in_form())
    assert screenshot.verdict == "other" and screenshot.label in ("cat", "dog")  # the top class stays
    assert_is_a_distribution(screenshot)
    assert inference.classify(version, CAT).verdict == "cat"
    assert inference.classify(version, DOG).verdict == "dog"


def test_a_version_without_calibration_answers_every_photo_with_its_class(version, no_loaded_models):
    ModelVersion.objects.filter(pk=version.pk).update(calibration="", calibration_sha256="")
    version.refresh_from_db()
    screenshot = inference.classify(version, drawn_log_in_form())
    assert screenshot.verdict == screenshot.label


def test_the_heatmap_comes_from_the_same_call_and_covers_the_photo(version, no_loaded_models):
    result = inference.classify(version, CAT)
    assert result.heatmap.shape == (7, 7) and result.heatmap.max() == pytest.approx(1.0)
    assert result.heatmap.min() >= 0.0


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino", "litert"])
def test_each_engine_answers_as_keras_does(version, no_loaded_models, settings, engine):
    import keras

    from trainer.images import load_for_model

    settings.CATDOG_ENGINE = engine
    photos = [CAT, DOG, PHOTOS / "cat" / "cat.4008.jpg", PHOTOS / "dog" / "dog.4468.jpg"]
    served = inference.load_model(version).classify_batch(photos)
    keras_model = keras.saving.load_model(version.file.path, compile=False)
    size = (version.image_size, version.image_size)
    expected = keras_model.predict(np.stack([load_for_model(p, size) for p in photos]), verbose=0)
    got = np.array([[r.probabilities[name] for name in version.class_names] for r in served])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert [r.label for r in served] == [version.class_names[i] for i in expected.argmax(axis=1)]


def test_a_version_without_a_serving_file_for_the_engine_says_how_to_make_one(version, no_loaded_models, settings):
    settings.CATDOG_ENGINE = "onnxruntime"
    _serving_export(version).delete()
    message = f"Version {version} has no verified ONNX serving file; run manage.py export_version {version.pk}"
    with pytest.raises(inference.ModelFileError, match=re.escape(message)):
        inference.classify(version, CAT)


def test_a_serving_file_that_failed_its_check_says_why(version, no_loaded_models, settings):
    reason = "With litert, its top answer differs from Keras's on 3 of 1000 test photos."
    ModelExport.objects.filter(version=version, kind="serving_tflite").update(status="failed", error=reason)
    settings.CATDOG_ENGINE = "litert"
    with pytest.raises(inference.ModelFileError) as refused:
        inference.classify(version, CAT)
    assert "TFLite serving file" in str(refused.value) and "failed its check against Keras" in str(refused.value)
    assert reason in str(refused.value)


def test_a_missing_head_file_is_refused_too(version, no_loaded_models):
    _serving_export(version, "serving_head").delete()
    with pytest.raises(inference.ModelFileError, match="no verified heatmap head serving file"):
        inference.classify(version, CAT)


def test_an_engine_whose_runtime_is_not_installed_is_named(version, no_loaded_models, settings, monkeypatch):
    settings.CATDOG_ENGINE = "openvino"
    monkeypatch.setitem(sys.modules, "openvino", None)  # as on a host without the package: importing it fails
    monkeypatch.delitem(sys.modules, "trainer.engines.openvino", raising=False)
    with pytest.raises(inference.ModelUnavailable, match="openvino engine's runtime is not installed") as refused:
        inference.classify(version, CAT)
    assert not refused.value.transient  # an installation to fix, not a moment to wait


def test_an_engine_setting_that_names_no_engine_is_refused(version, no_loaded_models, settings):
    settings.CATDOG_ENGINE = "tensorrt"
    with pytest.raises(inference.ModelUnavailable, match="No engine is called 'tensorrt'"):
        inference.classify(version, CAT)


def test_a_damaged_serving_file_is_refused_as_the_files_fault(version, no_loaded_models, settings):
    settings.CATDOG_ENGINE = "onnxruntime"
    path = Path(_serving_export(version).file.path)
    path.write_bytes(path.read_bytes()[:1000])  # cut short, as a failed copy would leave it
    with pytest.raises(inference.ModelFileError, match="cannot be loaded by onnxruntime"):
        inference.classify(version, CAT)
