"""Stored training settings as the pages show them: the augmentation levels under the names the form and
the README use ("flip" is "light", "full" is "strong"), and no folders of the machine that trained
(train_dir, test_dir; the weights by their file's name)."""

from pathlib import PurePath

from django.db import migrations

RENAMED = {"flip": "light", "full": "strong"}
PATHS = ("train_dir", "test_dir")


def forward(apps, schema_editor):
    ModelVersion = apps.get_model("trainer", "ModelVersion")
    for version in ModelVersion.objects.only("params").iterator():
        params = dict(version.params)
        if params.get("augmentation") in RENAMED:
            params["augmentation"] = RENAMED[params["augmentation"]]
        for key in PATHS:
            params.pop(key, None)
        if "/" in str(params.get("weights") or ""):
            params["weights"] = PurePath(params["weights"]).name
        if params != version.params:
            version.params = params
            version.save(update_fields=["params"])


def backward(apps, schema_editor):
    """The former augmentation names; the folders are not known any more."""
    ModelVersion = apps.get_model("trainer", "ModelVersion")
    former = {new: old for old, new in RENAMED.items()}
    for version in ModelVersion.objects.filter(params__augmentation__in=list(former)).only("params"):
        version.params["augmentation"] = former[version.params["augmentation"]]
        version.save(update_fields=["params"])


class Migration(migrations.Migration):
    dependencies = [("trainer", "0003_training_runs")]
    operations = [migrations.RunPython(forward, backward)]
