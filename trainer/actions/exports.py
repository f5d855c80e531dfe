"""A version's exports: the files made from its `.keras` and checked against it (trainer/ml/export.py), stored
beside it, and whether the version can be served by the engine the prediction workers run (CATDOG_ENGINE).

Only a version whose serving file for that engine, and whose head file, passed verification may become the
active one: `serving_refusal` says why not, in words, for every path that activates (versions.py).
"""

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils.text import slugify

from ..engines import KINDS
from ..files import file_sha256
from ..ml import SERVING_FILES
from ..ml.agreement import ExportedFile
from ..models import ModelExport, ModelVersion

# Beside the engine's file, every served version needs its head's weights (the heatmap).
HEAD = ModelExport.Kind.SERVING_HEAD


class NotServable(ValueError):
    """The version has no verified serving file for the configured engine; the message says why."""


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
