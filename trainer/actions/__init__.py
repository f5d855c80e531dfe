"""Every change of the trainer's state: `do_*` performs one, `check_*` says whether one may be done.

The admin, the commands and the tasks (trainer/tasks.py, trainer/heartbeat.py) call these. An action
never imports a task: it sends one by name (enqueue.py). One module per subject: model versions,
trainings, datasets, promotion.
"""

from .datasets import (
    NewImage,
    do_claim_ingestion,
    do_create_dataset,
    do_derive_dataset_version,
    do_drop_ingestion,
    do_fail_ingestion,
    do_fail_stuck_datasets,
    do_finish_ingestion,
    do_recheck_dataset,
    do_set_auto_promote,
)
from .exports import NotServable, do_record_exports, serving_refusal
from .promotion import (
    ActivationCheck,
    ActivationRefused,
    MeasurementRefused,
    check_activation,
    do_activate_checked,
    do_claim_measurement,
    do_consider_promotion,
    do_fail_measurement,
    do_fail_stuck_measurements,
    do_finish_measurement,
    do_request_measurements,
)
from .trainings import (
    TrainingRefused,
    do_beat_training,
    do_cancel_training,
    do_claim_training,
    do_end_training,
    do_fail_stale_trainings,
    do_fail_trainings_of_worker,
    do_finish_training,
    do_request_training,
    frozen_split_refusal,
)
from .versions import (
    do_activate_model_version,
    do_attach_calibration,
    do_register_model_version,
    do_set_operating_point,
    record_trained_photos,
)

__all__ = [
    "NotServable",
    "do_record_exports",
    "serving_refusal",
    "ActivationCheck",
    "ActivationRefused",
    "MeasurementRefused",
    "do_activate_checked",
    "do_claim_measurement",
    "do_consider_promotion",
    "do_fail_measurement",
    "do_fail_stuck_measurements",
    "do_finish_measurement",
    "do_request_measurements",
    "NewImage",
    "TrainingRefused",
    "check_activation",
    "do_activate_model_version",
    "do_attach_calibration",
    "do_beat_training",
    "do_cancel_training",
    "do_claim_ingestion",
    "do_claim_training",
    "do_create_dataset",
    "do_derive_dataset_version",
    "do_drop_ingestion",
    "do_end_training",
    "do_fail_ingestion",
    "do_fail_stale_trainings",
    "do_fail_stuck_datasets",
    "do_fail_trainings_of_worker",
    "do_finish_ingestion",
    "do_finish_training",
    "do_recheck_dataset",
    "do_register_model_version",
    "do_request_training",
    "do_set_auto_promote",
    "do_set_operating_point",
    "frozen_split_refusal",
    "record_trained_photos",
]
