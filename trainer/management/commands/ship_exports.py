import dataclasses
import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trainer.files import file_sha256
from trainer.ml import SERVING_FILES

from .calibrate_version import SHIPPED_SIDECAR

# Beside the shipped model: its serving files (catdog.serving.onnx, …) and their figures, for newcomers, who have
# no test photos to export and verify them on.
SHIPPED_EXPORTS_SIDECAR = "catdog.exports.json"


def shipped_export_name(kind: str) -> str:
    return f"catdog.{SERVING_FILES[kind]}"


class Command(BaseCommand):
    help = (
        "Export the shipped model's serving files into trainer/shipped/ and verify them against Keras on TEST "
        f"(one sub-folder per class, as train_model read it), with their figures in {SHIPPED_EXPORTS_SIDECAR}; "
        "ensure_shipped_model registers them. Run it again whenever catdog.keras is shipped anew."
    )

    def add_arguments(self, parser):
        parser.add_argument("test", type=Path, help="The shipped model's test photos: one sub-folder per class.")

    def handle(self, *args, **options):
        from trainer.ml.data import DatasetError, list_class_folder
        from trainer.ml.export import export_verified  # TensorFlow loads here, not when the commands are listed

        folder = Path(settings.CATDOG_SHIPPED_MODEL_DIR)
        shipped = json.loads((folder / SHIPPED_SIDECAR).read_text())
        model_path = folder / shipped["file"]
        keras_sha256 = file_sha256(model_path)
        if keras_sha256 != shipped["file_sha256"]:
            raise CommandError(f"{model_path} is not the file {SHIPPED_SIDECAR} describes (SHA-256 differs).")
        try:
            photos, _, _ = list_class_folder(options["test"], shipped["class_names"])
        except DatasetError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Exporting {model_path.name} and checking it on {len(photos):,} test photos…")
        with tempfile.TemporaryDirectory(dir=folder, prefix=".exports-") as scratch:  # then renamed in place
            exports = export_verified(model_path, photos, Path(scratch))
            for export in exports:
                self.stdout.write(f"  {export.summary()}")
            failed = sum(not export.passed for export in exports)
            if failed:
                raise CommandError(f"{failed} serving files failed verification: nothing was shipped.")
            entries = []
            for export in exports:
                target = folder / shipped_export_name(export.kind)
                export.path.replace(target)
                entry = {**dataclasses.asdict(export), "path": target.name}
                entries.append({**entry, "sha256": file_sha256(target), "size": target.stat().st_size})
        sidecar = {"keras_sha256": keras_sha256, "command": "manage.py ship_exports TEST", "exports": entries}
        (folder / SHIPPED_EXPORTS_SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(entries)} serving files and {SHIPPED_EXPORTS_SIDECAR}."))
