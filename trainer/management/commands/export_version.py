import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trainer.actions import do_record_exports
from trainer.datasets import materialize_test_photos
from trainer.files import ChecksumMismatch, copy_verified
from trainer.models import ModelExport, ModelVersion


class Command(BaseCommand):
    help = (
        "Export a ready model version's serving files from its .keras and verify them against Keras on its test "
        "photos that catdog still keeps, as a training does; for versions trained before exports existed, or "
        "to export one again. --all: every ready version that has no serving files yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("version_ids", nargs="*", type=int, metavar="id", help="Model versions to export.")
        parser.add_argument("--all", action="store_true", help="Every ready version without serving files.")

    def handle(self, *args, **options):
        if bool(options["version_ids"]) == options["all"]:
            raise CommandError("Name the versions to export, or give --all (not both).")
        ready = ModelVersion.objects.filter(status=ModelVersion.Status.READY).exclude(file="")
        if options["all"]:
            versions = list(ready.exclude(exports__kind=ModelExport.Kind.SERVING_HEAD).order_by("pk"))
        else:
            versions = list(ready.filter(pk__in=options["version_ids"]).order_by("pk"))
            missing = set(options["version_ids"]) - {version.pk for version in versions}
            if missing:
                raise CommandError(f"No ready model version with a file has the id {', '.join(map(str, missing))}.")
        if not versions:
            self.stdout.write("Every ready version has its serving files.")
        failed = 0
        for version in versions:
            failed += not self._export(version)
        if failed:
            raise CommandError(f"{failed} of {len(versions)} versions are not servable; see above.")

    def _export(self, version: ModelVersion) -> bool:
        from trainer.ml.export import export_verified  # TensorFlow loads here, not when the commands are listed

        with tempfile.TemporaryDirectory(prefix="catdog-export-") as scratch:
            folder = Path(scratch)
            file = version.file
            try:
                model = copy_verified(file.storage, file.name, folder / "model.keras", version.file_sha256)
            except (OSError, ChecksumMismatch) as error:
                self.stderr.write(self.style.ERROR(f"Version {version}: its model file cannot be read: {error}"))
                return False
            photos, recorded = materialize_test_photos(version, folder / "photos")
            self.stdout.write(
                f"Version {version}: checking on {len(photos):,} of its {recorded:,} test photos "
                "(the others are no longer kept by any dataset)."
                if len(photos) < recorded
                else f"Version {version}: checking on its {recorded:,} test photos."
            )
            exports = export_verified(model, photos, folder / "exports")
            do_record_exports(version, exports)
        for export in exports:
            self.stdout.write(f"  {export.summary()}")
        return all(export.passed for export in exports)
