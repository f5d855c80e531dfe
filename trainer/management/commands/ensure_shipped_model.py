import json
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trainer.actions import (
    NotServable,
    do_activate_model_version,
    do_attach_calibration,
    do_record_exports,
    do_register_model_version,
    record_trained_photos,
)
from trainer.files import file_sha256
from trainer.ml.agreement import ExportedFile
from trainer.ml.evaluate import TestAnswer
from trainer.models import ModelVersion

# The model the repository ships and its metadata, written by `train_model --output .../catdog.keras`.
from .calibrate_version import SHIPPED_CALIBRATION_SIDECAR, SHIPPED_SIDECAR
from .ship_exports import SHIPPED_EXPORTS_SIDECAR
from .ship_trained_photos import SHIPPED_TRAINED_PHOTOS


class Command(BaseCommand):
    help = (
        "Register the model shipped in trainer/shipped/ as a model version unless it already is, and make it "
        "the active one if no version is active. Safe to run at every start."
    )

    def handle(self, *args, **options):
        sidecar = Path(settings.CATDOG_SHIPPED_MODEL_DIR) / SHIPPED_SIDECAR
        try:
            shipped = json.loads(sidecar.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read the shipped model's metadata {sidecar}: {error}") from error
        model_path = sidecar.parent / shipped["file"]
        if not model_path.is_file():
            raise CommandError(f"The shipped model file {model_path} is missing.")
        sha256 = file_sha256(model_path)
        if sha256 != shipped["file_sha256"]:
            # The metrics and class names in the sidecar would describe another model.
            raise CommandError(f"{model_path} is not the file {sidecar.name} describes (SHA-256 differs).")
        exports = self._exports(sidecar.parent, sha256)

        version = ModelVersion.objects.filter(file_sha256=sha256).order_by("pk").first()
        if version is not None:
            self.stdout.write(f"The shipped model is already registered as version {version}.")
            calibration = self._calibration(sidecar.parent)
            if calibration and not version.calibration.name:  # registered before the model shipped with one
                do_attach_calibration(
                    version,
                    calibration["calibration_path"],
                    calibration["calibration_report"],
                    calibration["test_answers"],
                )
                self.stdout.write(f"Gave version {version} the shipped calibration.")
            trained = self._trained_photos(sidecar.parent)
            if trained and not version.trained_photos.exists():  # registered before they were shipped
                record_trained_photos(version, trained)
                self.stdout.write(f"Recorded the {len(trained):,} photos version {version} was trained on.")
            if exports and not version.exports.exists():  # registered before the model shipped with them
                do_record_exports(version, exports)
                self.stdout.write(f"Gave version {version} the shipped serving files.")
        else:
            version = do_register_model_version(
                name=shipped["name"],
                model_path=model_path,
                architecture=shipped["architecture"],
                class_names=shipped["class_names"],
                image_size=shipped["image_size"],
                params=shipped["params"],
                metrics=shipped["metrics"],
                summary=shipped["summary"],
                test_sha256=shipped.get("test_sha256", ""),
                trained_at=datetime.fromisoformat(shipped["trained_at"]),  # not when this install registered it
                trained_sha256s=self._trained_photos(sidecar.parent),
                exports=exports,
                **self._calibration(sidecar.parent),
            )
            self.stdout.write(
                f"Registered the shipped model as version {version} "
                f"(test accuracy {shipped['metrics']['accuracy']:.4f})."
            )

        self._activate_if_none_is(version)

    def _calibration(self, folder: Path) -> dict:
        """The shipped model's calibration, figures and test answers (calibrate_version --shipped), if shipped."""
        sidecar = folder / SHIPPED_CALIBRATION_SIDECAR
        if not sidecar.is_file():
            return {}
        try:
            shipped = json.loads(sidecar.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read the shipped calibration's metadata {sidecar}: {error}") from error
        path = folder / shipped["file"]
        if not path.is_file() or file_sha256(path) != shipped["file_sha256"]:
            raise CommandError(f"{path} is missing or is not the file {sidecar.name} describes (SHA-256 differs).")
        return {
            "calibration_path": path,
            "calibration_report": shipped["report"],
            "test_answers": [TestAnswer(**answer) for answer in shipped["test_answers"]],
        }

    def _exports(self, folder: Path, keras_sha256: str) -> list[ExportedFile]:
        """The shipped model's serving files with the figures of their verification (ship_exports), if shipped;
        refused when they were made from another catdog.keras or are not the files their sidecar describes."""
        sidecar = folder / SHIPPED_EXPORTS_SIDECAR
        if not sidecar.is_file():
            return []
        try:
            shipped = json.loads(sidecar.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read the shipped serving files' metadata {sidecar}: {error}") from error
        if shipped["keras_sha256"] != keras_sha256:
            raise CommandError(
                f"{sidecar.name} describes the serving files of another catdog.keras (its SHA-256 differs): they "
                "would answer unlike the shipped model. Run `manage.py ship_exports TEST` after shipping a model."
            )
        exports = []
        for entry in shipped["exports"]:
            path = folder / entry["path"]
            if not path.is_file() or file_sha256(path) != entry["sha256"]:
                raise CommandError(f"{path} is missing or is not the file {sidecar.name} describes (SHA-256 differs).")
            fields = ("kind", "photos_checked", "max_difference", "top1_disagreements", "error")
            exports.append(ExportedFile(path=path, **{name: entry[name] for name in fields}))
        return exports

    def _trained_photos(self, folder: Path) -> list[str]:
        """The SHA-256 of each photo the shipped model was trained on (ship_trained_photos), if shipped."""
        path = folder / SHIPPED_TRAINED_PHOTOS
        if not path.is_file():
            return []
        sha256s = path.read_text().split()
        if any(len(sha256) != 64 for sha256 in sha256s):
            raise CommandError(f"{path} should hold one SHA-256 (64 hex digits) a line.")
        return sha256s

    def _activate_if_none_is(self, version: ModelVersion) -> None:
        active = ModelVersion.objects.filter(is_active=True).first()
        if active is None:
            try:
                do_activate_model_version(version, reason="No version was active (ensure_shipped_model).")
            except NotServable as refusal:
                self.stderr.write(self.style.WARNING(f"No version is active: {refusal}"))
                return
            self.stdout.write(f"Activated version {version}: no version was active.")
        else:
            self.stdout.write(f"Version {active} is active; left as it is.")
