import dataclasses
import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trainer.actions import do_attach_calibration
from trainer.files import copy_verified, file_sha256
from trainer.ml import DEFAULT_SEED
from trainer.models import ModelVersion

SHIPPED_SIDECAR = "catdog.json"
# Beside the shipped model: its calibration, and a sidecar with the figures and the test answers.
SHIPPED_CALIBRATION = "catdog.calibration.npz"
SHIPPED_CALIBRATION_SIDECAR = "catdog.calibration.json"


class Command(BaseCommand):
    help = (
        'Fit the "none of these" and "not sure" rule of a model version trained before versions had one, on '
        "the photos it was trained on, and measure it on its test photos (and on photos of none of its classes). "
        "With --shipped, write it beside the shipped model instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("train", type=Path, help="The photos the version was trained on: one sub-folder per class.")
        parser.add_argument("test", type=Path, help="Its test photos, same classes: measured, never fitted on.")
        parser.add_argument("--outliers", type=Path, help="Photos of none of its classes, in any folders.")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--version-id", type=int, help="The id of the model version to calibrate.")
        which.add_argument("--shipped", action="store_true", help="Calibrate the model in trainer/shipped/.")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)

    def handle(self, *args, **options):
        # TensorFlow loads here, never when Django merely lists the commands.
        import keras

        from trainer.ml.calibrate import calibrate
        from trainer.ml.data import DatasetError

        with tempfile.TemporaryDirectory() as scratch:
            model_path, class_names, image_size, version = self._model(options, Path(scratch))
            try:
                photos = _photos(options, class_names, image_size)
            except DatasetError as error:
                raise CommandError(str(error)) from error
            model = keras.saving.load_model(model_path, compile=False)
            calibrated = calibrate(model, class_names, photos, batch_size=32, seed=options["seed"])
            if calibrated.calibration is None:
                raise CommandError(f"No calibration could be fitted: {calibrated.report['error']}")
            self._print(calibrated.report)
            if version is None:
                self._write_shipped(calibrated, options)
                return
            calibration_path = Path(scratch) / "calibration.npz"
            calibrated.calibration.save(calibration_path)
            do_attach_calibration(version, calibration_path, calibrated.report, calibrated.answers)
            self.stdout.write(self.style.SUCCESS(f"Calibrated version {version}."))

    def _model(self, options, scratch: Path) -> tuple[Path, list[str], int, ModelVersion | None]:
        """The model file to calibrate, its classes and image size, and its version (None: the shipped model)."""
        if options["shipped"]:
            folder = Path(settings.CATDOG_SHIPPED_MODEL_DIR)
            sidecar = json.loads((folder / SHIPPED_SIDECAR).read_text())
            return folder / sidecar["file"], sidecar["class_names"], sidecar["image_size"], None
        version = ModelVersion.objects.filter(pk=options["version_id"], status=ModelVersion.Status.READY).first()
        if version is None:
            raise CommandError(f"There is no ready model version with id {options['version_id']}.")
        path = copy_verified(version.file.storage, version.file.name, scratch / "model.keras", version.file_sha256)
        return path, list(version.class_names), version.image_size, version

    def _write_shipped(self, calibrated, options) -> None:
        folder = Path(settings.CATDOG_SHIPPED_MODEL_DIR)
        calibrated.calibration.save(folder / SHIPPED_CALIBRATION)
        sidecar = {
            "file": SHIPPED_CALIBRATION,
            "file_sha256": file_sha256(folder / SHIPPED_CALIBRATION),
            "report": calibrated.report,
            "command": f"manage.py calibrate_version TRAIN TEST --shipped --seed {options['seed']}"
            + (" --outliers OUTLIERS" if options["outliers"] else ""),
            "test_answers": [dataclasses.asdict(answer) for answer in calibrated.answers],
        }
        (folder / SHIPPED_CALIBRATION_SIDECAR).write_text(json.dumps(sidecar, separators=(",", ":")) + "\n")
        self.stdout.write(self.style.SUCCESS(f"Wrote {SHIPPED_CALIBRATION} and {SHIPPED_CALIBRATION_SIDECAR}."))

    def _print(self, report: dict) -> None:
        self.stdout.write(report["method"])
        for name, figures in report["operating_points"].items():
            accuracy = "-" if figures["accuracy"] is None else f"{figures['accuracy']:.2%}"
            outliers = "-" if figures["outliers_other"] is None else f"{figures['outliers_other']:.1%}"
            self.stdout.write(
                f"{name:>9}: kept {figures['kept']:.1%}, unsure {figures['unsure']:.1%}, other {figures['other']:.1%}, "
                f"accuracy of the kept {accuracy}; outliers answered other {outliers}"
            )


def _photos(options, class_names: list[str], image_size: int):
    from trainer.ml.calibrate import Photos
    from trainer.ml.data import list_class_folder, readable_images

    train_paths, y_train, _ = list_class_folder(options["train"], class_names)
    test_paths, y_test, _ = list_class_folder(options["test"], class_names)
    outliers = [] if options["outliers"] is None else readable_images(options["outliers"], image_size)
    return Photos(train_paths, y_train, test_paths, y_test, outliers)
