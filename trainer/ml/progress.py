"""What a training tells its caller as it runs, and how the caller stops it: the progress of each epoch and of
the phases that are not epochs. Plain data, no TensorFlow: the training task reads it."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class EpochProgress:
    epoch: int  # 1-based
    epochs: int
    loss: float
    accuracy: float
    test_loss: float | None
    test_accuracy: float | None


@dataclass
class StepProgress:
    """Progress through a phase that is not an epoch: "loading" (checking that every photo decodes,
    `done` of `total` photos), or computing the frozen encoder's "features" (mobilenet_v2, batches)."""

    phase: str
    done: int
    total: int


class TrainingCancelled(Exception):
    """`should_cancel` said stop; nothing was saved."""


ProgressCallback = Callable[[EpochProgress | StepProgress], None]
CancelCheck = Callable[[], bool]
