"""The trainer's records, one module per subject: datasets (datasets.py), model versions and what was made from
them (versions.py), and the evidence a version is promoted on (promotion.py).

The functions that name uploaded files stay here: the migrations refer to them as trainer.models.<name>.
"""


def _dataset_archive_upload_to(dataset, filename: str) -> str:
    return f"datasets/{dataset.pk}/archive.zip"


def _model_upload_to(version, filename: str) -> str:
    return f"models/{filename}"


from .datasets import Dataset, DatasetImage  # noqa: E402
from .promotion import Activation, Measurement  # noqa: E402
from .versions import ModelExport, ModelVersion, TestPhotoResult, TrainedPhoto  # noqa: E402

__all__ = [
    "Activation",
    "Dataset",
    "DatasetImage",
    "Measurement",
    "ModelExport",
    "ModelVersion",
    "TestPhotoResult",
    "TrainedPhoto",
]
