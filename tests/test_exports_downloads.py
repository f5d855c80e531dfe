"""The downloads an administrator asks for on a version's page (trainer/tasks.py make_downloads): Keras, SavedModel,
TFLite and ONNX, each taking RGB uint8 images of any size, zipped with labels.txt and a README whose script answers
a photo exactly as the server does, and each verified on the version's kept test photos."""

import io
import json
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from PIL import Image

from trainer.actions import DownloadsRefused, do_request_downloads
from trainer.models import ModelExport, ModelVersion
from trainer.tasks import train_model_version

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import request_tiny_training, saved_version, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]

DOWNLOADS = {"keras", "savedmodel", "tflite", "onnx"}


@pytest.fixture
def version(make_dataset) -> ModelVersion:
    dataset = make_dataset("pets", archive=zip_bytes(class_folders({"cat": 6, "dog": 6})))
    version = request_tiny_training(dataset)
    train_model_version.apply(args=(version.pk,))
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY, version.error
    return version


def _made(admin_client, version) -> dict[str, ModelExport]:
    """Press the button (the task runs eagerly, on commit) and return the downloads."""
    r = admin_client.post(reverse("admin:trainer_modelversion_downloads", args=[version.pk]))
    assert r.status_code == 302
    return {export.kind: export for export in version.exports.filter(kind__in=DOWNLOADS)}


def _unzipped(export: ModelExport, folder):
    with export.file.open("rb") as f, zipfile.ZipFile(io.BytesIO(f.read())) as archive:
        archive.extractall(folder)
    return folder


def test_the_button_makes_four_verified_downloads_each_with_its_labels_and_readme(admin_client, version, tmp_path):
    downloads = _made(admin_client, version)
    assert set(downloads) == DOWNLOADS
    inside = {"keras": "model.keras", "savedmodel": "saved_model/saved_model.pb", "tflite": "model.tflite",
              "onnx": "model.onnx"}  # fmt: skip
    for kind, export in downloads.items():
        assert export.status == ModelExport.Status.VERIFIED, export.error
        assert export.photos_checked == version.metrics["num_test"] and export.top1_disagreements == 0
        folder = _unzipped(export, tmp_path / kind)
        assert (folder / inside[kind]).is_file()
        assert (folder / "labels.txt").read_text() == "cat\ndog\n"
        readme = (folder / "README.md").read_text()
        assert f"on {export.photos_checked} of the version's test photos" in readme
        assert f"within {export.max_difference:.1e} of the server's" in readme
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert 'data-export="onnx" data-status="verified"' in page and "Make the downloads again" in page


@pytest.mark.parametrize("kind", ["onnx", "tflite"])
def test_the_readme_script_answers_a_photo_exactly_as_the_server(admin_client, version, tmp_path, kind):
    from classifier.inference import classify

    folder = _unzipped(_made(admin_client, version)[kind], tmp_path)
    photo = Image.fromarray(np.random.default_rng(3).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    photo.save(folder / "photo.jpg", quality=90)
    script = re.search(r"```python\n(.*?)```", (folder / "README.md").read_text(), re.DOTALL).group(1)
    script = script.replace("probabilities.round(4).tolist()", "probabilities.tolist()")
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    label, _, probabilities = done.stdout.strip().splitlines()[-1].partition(" ")
    answered = json.loads(probabilities.replace("'", '"'))
    server = classify(version, folder / "photo.jpg")
    assert label == server.label
    for name, probability in server.probabilities.items():
        assert answered[name] == pytest.approx(probability, abs=1e-5)


def test_a_download_takes_images_of_any_size(admin_client, version, tmp_path):
    import onnxruntime

    folder = _unzipped(_made(admin_client, version)["onnx"], tmp_path)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    for height, width in [(32, 32), (50, 70), (480, 17)]:
        [probabilities] = session.run(["probabilities"], {"image": np.full((2, height, width, 3), 128, np.uint8)})
        assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_the_keras_download_resizes_an_image_of_its_size_to_itself_and_answers_the_same_every_time(version):
    import keras

    from trainer.ml.downloads import download_model

    trained = keras.saving.load_model(version.file.path, compile=False)
    download = download_model(trained)
    image = np.random.default_rng(5).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(download.get_layer("resize")(image.astype("float32"))), image)
    first, again = (np.asarray(download(image)["probabilities"]) for _ in range(2))
    assert np.array_equal(first, again)  # its dropout stays off, called as a user would
    assert np.allclose(first, np.asarray(trained(image.astype("float32"), training=False)), atol=1e-6)


def test_without_kept_test_photos_the_downloads_fail_and_say_so(admin_client, version):
    version.test_results.update(sha256="f" * 64)  # photos no dataset keeps
    for export in _made(admin_client, version).values():
        assert export.status == ModelExport.Status.FAILED
        assert "no test photos" in export.error


def test_a_download_run_that_breaks_fails_its_downloads_and_says_why(admin_client, version, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("trainer.ml.downloads.export_downloads", broken)
    for export in _made(admin_client, version).values():
        assert export.status == ModelExport.Status.FAILED
        assert "RuntimeError: the disk is full" in export.error


def test_downloads_are_refused_for_a_version_without_a_model_file():
    with pytest.raises(DownloadsRefused, match="not a ready version with a model file"):
        do_request_downloads(saved_version())
    with pytest.raises(DownloadsRefused):
        do_request_downloads(saved_version(status="failed", file="models/x.keras"))
    assert not ModelExport.objects.filter(kind__in=DOWNLOADS).exists()


def test_downloads_being_made_are_not_asked_for_twice(admin_client):
    version = saved_version(file="models/x.keras")
    ModelExport.objects.create(version=version, kind="onnx", status=ModelExport.Status.PENDING)
    with pytest.raises(DownloadsRefused, match="are being made"):
        do_request_downloads(version)
    r = admin_client.post(reverse("admin:trainer_modelversion_downloads", args=[version.pk]), follow=True)
    assert "are being made" in r.content.decode()
    assert version.exports.filter(kind__in=DOWNLOADS).count() == 1


def test_while_they_are_made_the_section_polls_and_stops_once_they_are_done(admin_client):
    version = saved_version(file="models/x.keras")
    pending = ModelExport.objects.create(version=version, kind="onnx", status=ModelExport.Status.PENDING)
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "data-making-downloads" in page and "data-poll" in page and "make-downloads" not in page
    url = reverse("admin:trainer_modelversion_exports", args=[version.pk])
    assert admin_client.get(url).status_code == 200
    pending.delete()
    assert admin_client.get(url).status_code == 286


def test_making_downloads_needs_the_right_to_train_and_a_post(client, django_user_model):
    version = saved_version(file="models/x.keras")
    url = reverse("admin:trainer_modelversion_downloads", args=[version.pk])
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(staff)
    assert client.post(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="train_modelversion"))
    assert client.get(url).status_code == 405
    assert not ModelExport.objects.filter(kind__in=DOWNLOADS).exists()
