import hashlib
from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from .models import Dataset, ModelVersion


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@transaction.atomic
def do_register_model_version(
    *,
    name: str,
    model_path: Path,
    architecture: str,
    class_names: list[str],
    image_size: int,
    params: dict,
    metrics: dict,
    summary: str,
    dataset: Dataset | None = None,
    activate: bool = False,
) -> ModelVersion:
    """Store a trained `.keras` file through the storage API and record it as a ready version."""
    version = ModelVersion(
        name=name,
        status=ModelVersion.Status.READY,
        architecture=architecture,
        class_names=list(class_names),
        image_size=image_size,
        params=params,
        metrics=metrics,
        test_accuracy=metrics.get("accuracy"),
        summary=summary,
        dataset=dataset,
        file_sha256=file_sha256(model_path),
        trained_at=timezone.now(),
    )
    with open(model_path, "rb") as f:
        version.file.save(f"{name}-{version.file_sha256[:12]}.keras", File(f), save=False)
    version.save()
    if activate:
        do_activate_model_version(version)
    return version


@transaction.atomic
def do_activate_model_version(version: ModelVersion) -> None:
    """Make `version` the one every worker answers with; the database keeps it the only active one."""
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.save(update_fields=["is_active"])
