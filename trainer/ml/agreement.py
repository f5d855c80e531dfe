"""How an exported file answered a version's test photos against Keras, and whether that is close enough.

NumPy only: the training worker measures it (trainer/ml/export.py), the web process shows it and stores it
(trainer/actions/exports.py), and the shipped model's figures are read from a sidecar without TensorFlow.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The largest difference from Keras's probabilities an exported file may give on any test photo; and its top
# answer must be Keras's on every one. The engines measured here stay under 1e-5 on the shipped model.
TOLERANCE = 1e-4


@dataclass
class ExportedFile:
    """One file an export made, or tried to make, and how it answered the test photos against Keras."""

    kind: str  # a trainer.models.ModelExport kind
    path: Path | None  # None when nothing was written: `error` says why
    photos_checked: int | None = None
    max_difference: float | None = None  # the largest |probability - Keras's| over every photo, class and engine
    top1_disagreements: int | None = None  # photos whose top class differs from Keras's, with the worst engine
    error: str = ""  # why it failed, in words an administrator understands; "" when it passed

    @property
    def passed(self) -> bool:
        return not self.error

    def summary(self) -> str:
        """One line for a command's output."""
        if self.error:
            return f"{self.kind}: FAILED. {self.error}"
        return (
            f"{self.kind}: verified on {self.photos_checked:,} photos, probabilities within {self.max_difference:.1e} "
            f"of Keras's, {self.top1_disagreements} top-1 disagreements"
        )


@dataclass
class Tally:
    """One engine's answers on the photos so far, against Keras's."""

    photos: int = 0
    max_difference: float = 0.0
    disagreements: int = 0
    error: str = ""  # it could not load or run the file

    def add(self, reference: np.ndarray, probabilities: np.ndarray) -> None:
        probabilities = np.asarray(probabilities, dtype=np.float32)
        if probabilities.shape != reference.shape:
            raise ValueError(f"it gives probabilities of shape {probabilities.shape}, Keras {reference.shape}")
        if len(reference):
            difference = float(np.abs(probabilities - reference).max())
            self.max_difference = max(self.max_difference, difference if np.isfinite(difference) else float("inf"))
        self.disagreements += int((probabilities.argmax(axis=1) != reference.argmax(axis=1)).sum())
        self.photos += len(reference)


def agreement(kind: str, path: Path, photos: int, tallies: dict[str, Tally]) -> ExportedFile:
    """The file `path` of `kind`, checked on `photos` photos by each engine named in `tallies`: it passes when
    every engine ran it and none gave another top class or a probability more than TOLERANCE away."""
    errors = [tally.error for tally in tallies.values() if tally.error]
    if not photos:
        errors.append("There were no test photos to check it on.")
    for name, tally in tallies.items():
        if tally.error:
            continue
        if tally.disagreements:
            errors.append(
                f"With {name}, its top answer differs from Keras's on {tally.disagreements} of {photos} test photos."
            )
        if tally.max_difference > TOLERANCE:
            errors.append(
                f"With {name}, its probabilities differ from Keras's by up to {tally.max_difference:.2g} "
                f"(at most {TOLERANCE:g} is accepted)."
            )
    return ExportedFile(
        kind,
        path,
        photos_checked=photos,
        max_difference=max((t.max_difference for t in tallies.values()), default=0.0),
        top1_disagreements=max((t.disagreements for t in tallies.values()), default=0),
        error=" ".join(errors),
    )
