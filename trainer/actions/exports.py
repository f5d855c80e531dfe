"""A version's exports: the files made from its `.keras` and checked against it (trainer/ml/export.py), stored
beside it, and whether the version can be served by the engine the prediction workers run (CATDOG_ENGINE).

Only a version whose serving file for that engine, and whose head file, passed verification may become the
active one: `serving_refusal` says why not, in words, for every path that activates (versions.py).
"""

from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ..engines import KINDS
from ..files import delete_files, file_sha256
from ..ml import SERVING_FILES
from ..ml.agreement import ExportedFile
from ..models import ModelExport, ModelVersion
from .enqueue import enqueue

# Beside the engine's file, every served version needs its head's weights (the heatmap).
HEAD = ModelExport.Kind.SERVING_HEAD


class NotServable(ValueError):
    """The version has no verified serving file for the configured engine; the message says why."""


class DownloadsRefused(ValueError):
    """The downloads cannot be made now; the message says why."""


def store_export_files(version: ModelVersion, exported: list[ExportedFile]) -> list[ModelExport]:
    """Save each written file through the storage API beside the version's `.keras`
    (models/<name>-<SHA-256 prefix>.<kind's ending>); the rows, not saved yet."""
    rows = []
    for export in exported:
        row = ModelExport(
            version=version,
            kind=export.kind,
            status=ModelExport.Status.FAILED if export.error else ModelExport.Status.VERIFIED,
            photos_checked=export.photos_checked,
            max_difference=export.max_difference,
            top1_disagreements=export.top1_disagreements,
            error=export.error,
        )
        if export.path is not None:
            row.sha256, row.size = file_sha256(export.path), export.path.stat().st_size
            ending = SERVING_FILES.get(export.kind) or export.path.name
            name = f"{slugify(version.name) or 'model'}-{row.sha256[:12]}.{ending}"
            with open(export.path, "rb") as f:
                row.file.save(name, File(f), save=False)
        rows.append(row)
    return rows


@transaction.atomic
def do_record_exports(version: ModelVersion, exported: list[ExportedFile]) -> list[ModelExport]:
    """Give `version` these exports, replacing any of the same kinds (their files go once this commits)."""
    rows = store_export_files(version, exported)
    version.exports.filter(kind__in=[row.kind for row in rows]).delete()
    return ModelExport.objects.bulk_create(rows)


def serving_refusal(version: ModelVersion, engine: str | None = None) -> str:
    """Why `version` cannot be served by `engine` (CATDOG_ENGINE unless told), in words; "" when it can."""
    engine = engine or settings.CATDOG_ENGINE
    kind = KINDS.get(engine)
    if kind is None:
        return f"CATDOG_ENGINE is {engine!r}, which names no engine; the engines are {', '.join(KINDS)}."
    exports = {export.kind: export for export in version.exports.all()}  # prefetched by the pages that list them
    for needed in (kind, HEAD):
        export = exports.get(needed)
        what = ModelExport.Kind(needed).label
        if export is None:
            return (
                f"it has no {what}, which the {engine} engine (CATDOG_ENGINE) needs: versions trained before "
                f"exports existed get theirs with `manage.py export_version {version.pk}`."
            )
        if export.status != ModelExport.Status.VERIFIED:
            return f"its {what} failed verification against Keras. {export.error}"
    return ""


def check_servable(version: ModelVersion) -> None:
    """Raise NotServable, saying why, unless the configured engine can serve `version`."""
    refusal = serving_refusal(version)
    if refusal:
        raise NotServable(f"{version} is not servable: {refusal}")


# --- Downloads, made when asked -----------------------------------------------------------------------------


def _stuck_before():
    """Downloads still being made since before this were left by a worker that stopped: they may be asked again."""
    return timezone.now() - timedelta(seconds=settings.CATDOG_TRAINING_TIME_LIMIT + 120)


def do_request_downloads(version: ModelVersion) -> list[ModelExport]:
    """Ask the training worker to make the version's downloads (trainer/tasks.py make_downloads): they replace any
    made before. Refused for a version without a model file and while they are being made."""
    if version.status != ModelVersion.Status.READY or not version.file:
        raise DownloadsRefused(f"{version} is not a ready version with a model file: there is nothing to export.")
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(pk=version.pk).first()  # one request at a time
        downloads = version.exports.filter(kind__in=ModelExport.DOWNLOADS)
        if downloads.filter(status=ModelExport.Status.PENDING, created_at__gte=_stuck_before()).exists():
            raise DownloadsRefused(f"The downloads of {version} are being made: they appear here when checked.")
        downloads.delete()  # their files go once this commits
        pending = ModelExport.objects.bulk_create(
            ModelExport(version=version, kind=kind, status=ModelExport.Status.PENDING) for kind in ModelExport.DOWNLOADS
        )
        transaction.on_commit(lambda: enqueue("make_downloads", version.pk))
    return pending


def do_finish_downloads(version: ModelVersion, exported: list[ExportedFile]) -> bool:
    """Store the downloads made for `version` in place of its pending ones; False, and nothing kept, when they are
    pending no more (deleted with the version, or asked again after this run was given up)."""
    rows = store_export_files(version, exported)
    with transaction.atomic():
        pending = version.exports.select_for_update().filter(
            kind__in=[row.kind for row in rows], status=ModelExport.Status.PENDING
        )
        if len(pending) != len(rows):
            transaction.on_commit(lambda: delete_files(row.file.name for row in rows))
            return False
        pending.delete()
        ModelExport.objects.bulk_create(rows)
    return True


def do_fail_downloads(version_id: int, error: str) -> int:
    """End the version's pending downloads as failed, with the reason."""
    pending = ModelExport.objects.filter(version_id=version_id, status=ModelExport.Status.PENDING)
    return pending.update(status=ModelExport.Status.FAILED, error=error)
