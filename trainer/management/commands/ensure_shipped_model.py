import json
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trainer.actions import do_activate_model_version, do_register_model_version
from trainer.files import file_sha256
from trainer.models import ModelVersion

# The model the repository ships and its metadata, written by `train_model --output .../catdog.keras`.
SHIPPED_SIDECAR = "catdog.json"


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

        version = ModelVersion.objects.filter(file_sha256=sha256).order_by("pk").first()
        if version is not None:
            self.stdout.write(f"The shipped model is already registered as version {version}.")
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
            )
            self.stdout.write(
                f"Registered the shipped model as version {version} "
                f"(test accuracy {shipped['metrics']['accuracy']:.4f})."
            )

        active = ModelVersion.objects.filter(is_active=True).first()
        if active is None:
            do_activate_model_version(version)
            self.stdout.write(f"Activated version {version}: no version was active.")
        else:
            self.stdout.write(f"Version {active} is active; left as it is.")
