"""The shipped model comes with its serving files (trainer/shipped/catdog.serving.onnx, …, written by
`manage.py ship_exports`): a newcomer has no test photos to verify them on, so ensure_shipped_model registers them
with the figures recorded when they were made, after checking that they are the files recorded for this .keras."""

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from trainer.actions import serving_refusal
from trainer.files import file_sha256
from trainer.models import ModelExport, ModelVersion

pytestmark = pytest.mark.django_db


def _ensure() -> str:
    out = StringIO()
    call_command("ensure_shipped_model", stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def shipped(settings, tmp_path) -> Path:
    """A copy of trainer/shipped/ the test may change."""
    folder = tmp_path / "shipped"
    shutil.copytree(settings.CATDOG_SHIPPED_MODEL_DIR, folder)
    settings.CATDOG_SHIPPED_MODEL_DIR = folder
    return folder


def test_the_shipped_model_is_registered_with_its_verified_serving_files_and_activated(settings):
    _ensure()
    version = ModelVersion.objects.get()
    recorded = json.loads((Path(settings.CATDOG_SHIPPED_MODEL_DIR) / "catdog.exports.json").read_text())["exports"]
    assert {export.kind for export in version.exports.all()} == {"serving_onnx", "serving_tflite", "serving_head"}
    for entry in recorded:
        export = version.exports.get(kind=entry["kind"])
        assert export.status == ModelExport.Status.VERIFIED
        assert (export.photos_checked, export.max_difference) == (entry["photos_checked"], entry["max_difference"])
        assert export.sha256 == entry["sha256"] == file_sha256(Path(export.file.path))
    assert serving_refusal(version) == ""
    assert version.is_active


def test_an_install_registered_before_exports_gets_the_shipped_serving_files(shipped):
    exports = shipped / "catdog.exports.json"
    kept = exports.read_text()
    exports.unlink()
    out = _ensure()
    version = ModelVersion.objects.get()
    assert not version.exports.exists() and not version.is_active
    assert "No version is active" in out and "not servable" in out

    exports.write_text(kept)
    out = _ensure()
    version.refresh_from_db()
    assert "Gave version" in out and version.exports.count() == 3 and version.is_active


def test_serving_files_made_from_another_keras_are_refused(shipped):
    sidecar = shipped / "catdog.exports.json"
    recorded = json.loads(sidecar.read_text())
    recorded["keras_sha256"] = "0" * 64  # the lead shipped a new catdog.keras and forgot ship_exports
    sidecar.write_text(json.dumps(recorded))
    with pytest.raises(CommandError, match="serving files of another catdog.keras"):
        _ensure()
    assert not ModelVersion.objects.exists()


def test_a_serving_file_that_is_not_the_recorded_one_is_refused(shipped):
    onnx = shipped / "catdog.serving.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-1])
    with pytest.raises(CommandError, match="catdog.serving.onnx is missing or is not the file"):
        _ensure()
    assert not ModelVersion.objects.exists()


def test_ship_exports_refuses_a_keras_file_its_sidecar_does_not_describe(shipped):
    (shipped / "catdog.keras").write_bytes(b"another model")
    with pytest.raises(CommandError, match="SHA-256 differs"):
        call_command("ship_exports", str(shipped))
