"""The trainer's admin: one module per model. Datasets are added and checked (datasets.py); model
versions are trained, watched, activated and rolled back (versions.py), and their test photos looked at
cell by cell of the confusion matrix (errors.py, a part of the versions' admin). What the pages say is worked
out in trainer/presenters.py (and trainer/error_analysis.py) and written in templates/admin/trainer/."""

from . import datasets, versions  # noqa: F401 (each registers its admin)
