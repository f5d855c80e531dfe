from django.core.management.base import BaseCommand, CommandError

from trainer.actions.fingerprints import do_fingerprint_dataset_images
from trainer.models import Dataset


class Command(BaseCommand):
    help = (
        "Fingerprint the dataset images stored before catdog took near-duplicate fingerprints at ingestion, so "
        "that the dataset pages can report their near-duplicates. Images that have one are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset_ids", nargs="*", type=int, help="Only these datasets (default: every one).")

    def handle(self, *args, **options):
        datasets = None
        if options["dataset_ids"]:
            datasets = list(Dataset.objects.filter(pk__in=options["dataset_ids"]))
            unknown = set(options["dataset_ids"]) - {dataset.pk for dataset in datasets}
            if unknown:
                raise CommandError(f"No dataset has the id {', '.join(map(str, sorted(unknown)))}.")

        def progress(done: int, total: int) -> None:
            if done % 500 == 0 or done == total:
                self.stdout.write(f"{done} of {total} files")

        done, unreadable = do_fingerprint_dataset_images(datasets, progress)
        for name in unreadable:
            self.stderr.write(f"Could not read {name}: check its dataset again.")
        self.stdout.write(self.style.SUCCESS(f"Fingerprinted {done} image file{'s' if done != 1 else ''}."))
