"""The trainer's admin: one module per model. Datasets are added and checked (datasets.py); model
versions are trained, watched, activated and rolled back (versions.py). What the pages say is worked out
in trainer/presenters.py and written in templates/admin/trainer/."""

from . import datasets, versions  # noqa: F401 (each registers its admin)
