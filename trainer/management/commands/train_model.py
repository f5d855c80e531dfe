import argparse
import json
import shlex
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trainer.actions import do_register_model_version
from trainer.datasets import folder_images_sha256
from trainer.files import file_sha256
from trainer.ml import AUGMENTATIONS, MOBILENET_V2, TUNABLE_SETTINGS
from trainer.ml.weights import IMAGENET
from trainer.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Train a classifier on a folder with one sub-folder per class, measure it on the test photos and "
        "register it as a model version. Unset settings take the architecture's defaults."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="Training photos: one sub-folder per class.")
        parser.add_argument(
            "--test", type=Path, help="Test photos, same classes. Without it, --test-split of the folder is held out."
        )
        parser.add_argument(
            "--outliers",
            type=Path,
            help='Photos of none of the classes, in any folders: "none of these" is measured on them.',
        )
        parser.add_argument("--arch", choices=ModelVersion.Architecture.values, default=MOBILENET_V2)
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--image-size", type=int, help="Photos are resized to this many pixels square.")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--test-split", type=float, help="Share of each class held out for testing (0 to 1).")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--dropout", type=float)
        parser.add_argument(
            "--augment-copies", type=int, help="mobilenet_v2: randomly augmented copies of the photos to learn from."
        )
        parser.add_argument(
            "--mirror",
            action=argparse.BooleanOptionalAction,
            help="mobilenet_v2: also learn from each photo's left-right mirror image.",
        )
        parser.add_argument(
            "--fine-tune-epochs",
            type=int,
            help="mobilenet_v2: epochs the backbone's last block learns with the head after it; 0: the head alone.",
        )
        parser.add_argument("--fine-tune-learning-rate", type=float)
        parser.add_argument(
            "--augmentation",
            choices=AUGMENTATIONS,
            help="Random changes to training photos (default: per architecture).",
        )
        parser.add_argument("--name", help="The model version's name (default: architecture and date).")
        parser.add_argument("--activate", action="store_true", help="Make the new version the one that answers.")
        parser.add_argument(
            "--output", type=Path, help="Also write the .keras file here, with its metadata in a .json beside it."
        )
        parser.add_argument("--no-register", action="store_true", help="Only write --output; record no version.")

    def handle(self, *args, **options):
        _check_options(options)
        output = options["output"]
        name = options["name"] or f"{options['arch']}-{timezone.now():%Y%m%d-%H%M%S}"

        # TensorFlow loads here, never when Django merely lists the commands.
        from trainer.ml.data import DatasetError
        from trainer.ml.train import TrainingConfig, run_training
        from trainer.ml.weights import WeightsUnavailable

        # Hashed before training: the weights may come from the very file --output replaces.
        weights = self._weights_source() if options["arch"] == MOBILENET_V2 else None

        given = {option: options[option] for option in TUNABLE_SETTINGS if options[option] is not None}
        with tempfile.TemporaryDirectory() as scratch:
            config = TrainingConfig(
                train_dir=options["folder"],
                test_dir=options["test"],
                output_path=output or Path(scratch) / "model.keras",
                architecture=options["arch"],
                weights=settings.CATDOG_MOBILENET_WEIGHTS,
                outlier_dir=options["outliers"],
                **given,
            )
            try:
                result = run_training(config, progress_callback=self._print_epoch)
            except (DatasetError, WeightsUnavailable) as error:
                raise CommandError(str(error)) from error

            self._print_result(result)
            test_sha256 = folder_images_sha256(result.test_paths)
            exports = [] if options["no_register"] else self._export(result, Path(scratch) / "exports")
            if output is not None:
                sidecar = output.with_suffix(".json")
                sidecar.write_text(
                    json.dumps(self._sidecar(name, result, test_sha256, weights, options), indent=2) + "\n"
                )
                self.stdout.write(f"Wrote {output} and {sidecar}.")
            if not options["no_register"]:
                version = do_register_model_version(
                    name=name,
                    model_path=result.model_path,
                    architecture=result.architecture,
                    class_names=result.class_names,
                    image_size=result.image_size,
                    params=result.params,
                    metrics=result.metrics,
                    summary=result.summary,
                    calibration_path=result.calibration_path,
                    calibration_report=result.calibration_report,
                    test_answers=result.test_answers,
                    test_sha256=test_sha256,
                    trained_sha256s=result.train_sha256s,
                    exports=exports,
                    activate=options["activate"],
                )
                state = "active" if version.is_active else "not active"
                self.stdout.write(self.style.SUCCESS(f"Registered model version {version} ({state})."))

    def _export(self, result, folder: Path) -> list:
        """The serving files, verified on every test photo, as the training worker makes them (trainer/tasks.py)."""
        from trainer.tasks import export_or_record_failure

        exports = export_or_record_failure(result, folder)
        self.stdout.write(
            f"Serving files exported and checked on the test photos in {result.metrics['export_seconds']:.0f} s:"
        )
        for export in exports:
            self.stdout.write(f"  {export.summary()}")
        return exports

    def _print_result(self, result) -> None:
        """The photos skipped, then how well the model scored on the test photos."""
        for skipped in result.skipped_files:
            self.stderr.write(self.style.WARNING(f"Skipped {skipped.path}: {skipped.reason}"))
        metrics = result.metrics
        for leaked in metrics["leakage"]:
            self.stderr.write(
                self.style.WARNING(
                    f"Left out {leaked['photo']}: a near-duplicate of the test photo {leaked['test_photo']} "
                    f"({leaked['distance']} bits apart)"
                )
            )
        self.stdout.write(
            f"Test accuracy {metrics['accuracy']:.4f} on {metrics['num_test']} photos "
            f"({metrics['num_train']} for training, {metrics['leakage_dropped']} left out as near-duplicates of test "
            f"photos, {metrics['training_seconds']:.0f} s)."
        )
        for class_name, scores in metrics["per_class"].items():
            self.stdout.write(
                f"  {class_name}: precision {scores['precision']:.4f}, recall {scores['recall']:.4f}, "
                f"F1 {scores['f1']:.4f} ({scores['support']} photos)"
            )
        self.stdout.write(f"  confusion matrix (rows: true, columns: predicted): {metrics['confusion_matrix']}")

    def _print_epoch(self, progress):
        if not hasattr(progress, "epoch"):
            return  # a phase (loading, features): the epochs are what this command reports
        line = f"epoch {progress.epoch}/{progress.epochs}: loss {progress.loss:.4f}, accuracy {progress.accuracy:.4f}"
        if progress.test_accuracy is not None:
            line += f", test loss {progress.test_loss:.4f}, test accuracy {progress.test_accuracy:.4f}"
        self.stdout.write(line)

    def _weights_source(self) -> dict:
        source = settings.CATDOG_MOBILENET_WEIGHTS
        is_file = source != IMAGENET and Path(source).is_file()
        return {"setting": source, "sha256": file_sha256(Path(source)) if is_file else None}

    def _sidecar(self, name: str, result, test_sha256: str, weights: dict | None, options) -> dict:
        """What the .keras file is, how well it scores and how to train it again."""
        return {
            "name": name,
            "file": result.model_path.name,
            "file_sha256": file_sha256(result.model_path),
            "architecture": result.architecture,
            "class_names": result.class_names,
            "image_size": result.image_size,
            "params": result.params,
            "metrics": result.metrics,
            "test_sha256": test_sha256,
            "summary": result.summary,
            "command": self._command_line(name, result, options),
            "weights": weights,
            "trained_at": timezone.now().isoformat(),
        }

    def _command_line(self, name: str, result, options) -> str:
        """This training as a command with every setting spelled out, so that defaults changing later
        cannot change what it does."""
        params = result.params
        words = ["python", "manage.py", "train_model", str(options["folder"])]
        if options["test"] is not None:
            words += ["--test", str(options["test"])]
        else:
            words += ["--test-split", str(params["test_split"])]
        words += ["--arch", result.architecture, "--epochs", str(params["epochs"])]
        words += ["--image-size", str(result.image_size), "--batch-size", str(params["batch_size"])]
        words += ["--learning-rate", str(params["learning_rate"]), "--seed", str(params["seed"])]
        words += ["--dropout", str(params["dropout"]), "--augmentation", params["augmentation"]]
        if result.architecture == MOBILENET_V2:
            words += ["--augment-copies", str(params["augment_copies"])]
            words += ["--mirror" if params["mirror"] else "--no-mirror"]
            words += ["--fine-tune-epochs", str(params["fine_tune_epochs"])]
            words += ["--fine-tune-learning-rate", str(params["fine_tune_learning_rate"])]
        words += ["--name", name, "--output", str(options["output"])]
        if options["no_register"]:
            words.append("--no-register")
        command = shlex.join(words)
        if result.architecture == MOBILENET_V2:
            command = f"CATDOG_MOBILENET_WEIGHTS={shlex.quote(settings.CATDOG_MOBILENET_WEIGHTS)} {command}"
        return command


def _check_options(options) -> None:
    """Refuse what cannot work before TensorFlow loads, naming the option to change."""
    output = options["output"]
    if options["no_register"] and (output is None or options["activate"]):
        raise CommandError("--no-register needs --output, and cannot --activate what it does not register.")
    if output is not None and output.suffix != ".keras":
        raise CommandError(f"--output must end in .keras, not {output.name!r}.")
    for option in ("epochs", "image_size", "batch_size"):
        if options[option] is not None and options[option] < 1:
            raise CommandError(f"--{option.replace('_', '-')} must be a positive number.")
    if options["image_size"] is not None and options["image_size"] < 32:
        raise CommandError("--image-size must be at least 32 pixels.")
    for option in ("augment_copies", "fine_tune_epochs"):
        if options[option] is not None and options[option] < 0:
            raise CommandError(f"--{option.replace('_', '-')} must not be negative.")
    for option in ("learning_rate", "fine_tune_learning_rate"):
        if options[option] is not None and options[option] <= 0:
            raise CommandError(f"--{option.replace('_', '-')} must be a positive number.")
    if options["test_split"] is not None and not 0 < options["test_split"] < 1:
        raise CommandError("--test-split must be between 0 and 1.")
