"""Stored training settings name the augmentation levels as the form and the README do: "flip" becomes
"light" and "full" becomes "strong" (the same levels under their new names)."""

from django.db import migrations

FORWARD = {"flip": "light", "full": "strong"}
BACKWARD = {new: old for old, new in FORWARD.items()}


def _rename(apps, names: dict[str, str]) -> None:
    ModelVersion = apps.get_model("trainer", "ModelVersion")
    for version in ModelVersion.objects.filter(params__augmentation__in=list(names)).only("params"):
        version.params["augmentation"] = names[version.params["augmentation"]]
        version.save(update_fields=["params"])


def forward(apps, schema_editor):
    _rename(apps, FORWARD)


def backward(apps, schema_editor):
    _rename(apps, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("trainer", "0003_training_runs")]
    operations = [migrations.RunPython(forward, backward)]
