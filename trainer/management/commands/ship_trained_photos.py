from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trainer.files import file_sha256

# Beside the shipped model: the SHA-256 of every photo it was trained on, one a line, sorted.
SHIPPED_TRAINED_PHOTOS = "catdog.trained.txt"


class Command(BaseCommand):
    help = (
        "Write the SHA-256 of every photo the shipped model was trained on (TRAIN: one sub-folder per class, as "
        f"train_model read it) to trainer/shipped/{SHIPPED_TRAINED_PHOTOS}; ensure_shipped_model records them, so "
        "that a test set can be checked to be new to the shipped model."
    )

    def add_arguments(self, parser):
        parser.add_argument("train", type=Path, help="The folder the shipped model was trained on.")

    def handle(self, *args, **options):
        folder = options["train"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        photos = [
            path
            for class_folder in sorted(folder.iterdir())
            if class_folder.is_dir() and not class_folder.name.startswith(".")
            for path in sorted(class_folder.iterdir())
            if path.is_file() and not path.name.startswith(".")
        ]
        if not photos:
            raise CommandError(f"{folder} has no photos in class sub-folders.")
        sha256s = sorted({file_sha256(path) for path in photos})
        target = Path(settings.CATDOG_SHIPPED_MODEL_DIR) / SHIPPED_TRAINED_PHOTOS
        target.write_text("".join(f"{sha256}\n" for sha256 in sha256s))
        self.stdout.write(self.style.SUCCESS(f"Wrote the SHA-256 of {len(sha256s):,} photos to {target}."))
