"""A training exports its serving files, verifies them on all its test photos and stores them beside its .keras; an
export that fails keeps the trained version, ready but not servable (trainer/tasks.py). `manage.py export_version`
does the same for versions trained before, and the version's page lists the files and serves each download."""

import hashlib
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse

from trainer import engines
from trainer.actions import serving_refusal
from trainer.files import file_sha256
from trainer.ml.agreement import TOLERANCE
from trainer.models import ModelExport, ModelVersion
from trainer.tasks import train_model_version

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import request_tiny_training, trainings_not_sent  # noqa: F401 (a fixture)

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trainings_not_sent")]

SERVING = {"serving_onnx", "serving_tflite", "serving_head"}


@pytest.fixture
def dataset(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 6, "dog": 6})))


def _trained(dataset) -> ModelVersion:
    version = request_tiny_training(dataset)
    train_model_version.apply(args=(version.pk,))
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY, version.error
    return version


def test_a_training_stores_its_serving_files_verified_on_every_test_photo(dataset):
    version = _trained(dataset)
    exports = {export.kind: export for export in version.exports.all()}
    assert set(exports) == SERVING
    for export in exports.values():
        assert export.status == ModelExport.Status.VERIFIED, export.error
        assert export.photos_checked == version.metrics["num_test"] == 4
        assert export.top1_disagreements == 0 and 0 <= export.max_difference <= TOLERANCE
        assert export.file.name.startswith("models/tiny-")
        assert export.sha256 == file_sha256(default_storage.path(export.file.name))
        assert export.size == default_storage.size(export.file.name)
    assert serving_refusal(version) == ""


def test_a_serving_file_that_fails_verification_keeps_the_version_ready_but_not_servable(
    dataset, monkeypatch, settings
):
    # An engine the training worker cannot load: no engine file can be checked with every engine.
    monkeypatch.setitem(engines.ENGINES, "missing", "trainer.engines.nowhere:Engine")
    settings.CATDOG_ENGINE = "onnxruntime"  # the refusal names the file of the configured engine
    version = _trained(dataset)
    assert version.file and version.test_accuracy is not None
    failed = version.exports.get(kind="serving_onnx")
    assert failed.status == ModelExport.Status.FAILED
    assert "Not every engine could check it here" in failed.error
    assert failed.file  # kept, for a look at what went wrong
    assert version.exports.get(kind="serving_head").status == ModelExport.Status.VERIFIED
    assert serving_refusal(version).startswith("its ONNX model (serving) failed verification")


def test_an_export_that_breaks_keeps_the_trained_version_and_says_why(dataset, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the converter ran out of memory")

    monkeypatch.setattr("trainer.ml.export.export_serving", broken)
    version = _trained(dataset)
    assert version.file and not version.error
    exports = list(version.exports.all())
    assert {export.kind for export in exports} == SERVING
    for export in exports:
        assert export.status == ModelExport.Status.FAILED and not export.file
        assert "RuntimeError: the converter ran out of memory" in export.error
        assert "manage.py export_version" in export.error


def test_export_version_exports_a_version_trained_before_exports_on_its_kept_test_photos(dataset):
    version = _trained(dataset)
    version.exports.all().delete()
    out = io.StringIO()
    call_command("export_version", str(version.pk), stdout=out)
    assert f"Version {version}: checking on its 4 test photos." in out.getvalue()
    assert {export.kind for export in version.exports.filter(status="verified")} == SERVING
    assert serving_refusal(version) == ""


def test_export_version_all_skips_versions_that_have_their_files_and_says_what_it_could_check(dataset):
    version = _trained(dataset)
    out = io.StringIO()
    call_command("export_version", "--all", stdout=out)
    assert "Every ready version has its serving files." in out.getvalue()

    version.exports.all().delete()
    version.test_results.filter(pk=version.test_results.order_by("pk").first().pk).update(sha256="f" * 64)
    call_command("export_version", "--all", stdout=out)
    assert f"Version {version}: checking on 3 of its 4 test photos" in out.getvalue()
    assert version.exports.get(kind="serving_onnx").photos_checked == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "Name the versions to export, or give --all"), (["999"], "No ready model version with a file has the id")],
)
def test_export_version_refuses_what_it_cannot_do(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_version", *args)


def test_the_version_page_lists_its_exports_and_serves_each_file(dataset, admin_client):
    version = _trained(dataset)
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "Serving and downloads" in page and "data-servable" in page
    onnx = version.exports.get(kind="serving_onnx")
    assert onnx.sha256[:10] in page and 'data-export="serving_onnx" data-status="verified"' in page

    r = admin_client.get(reverse("admin:trainer_modelversion_export", args=[version.pk, "serving_onnx"]))
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment;")
    assert hashlib.sha256(b"".join(r.streaming_content)).hexdigest() == onnx.sha256


def test_a_download_needs_the_right_to_see_versions_and_an_existing_file(dataset, client, django_user_model):
    version = _trained(dataset)
    url = reverse("admin:trainer_modelversion_export", args=[version.pk, "serving_onnx"])
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    assert client.get(url).status_code == 200

    assert client.get(reverse("admin:trainer_modelversion_export", args=[version.pk, "onnx"])).status_code == 404
    version.exports.filter(kind="serving_onnx").update(file="")
    assert client.get(url).status_code == 404
