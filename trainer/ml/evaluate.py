"""Test-set metrics from predicted probabilities, as plain JSON-ready numbers (NumPy only)."""

from dataclasses import dataclass

import numpy as np


@dataclass
class TestAnswer:
    """How a trained version answered one of its test photos (stored as a trainer.models.TestPhotoResult)."""

    name: str  # the photo's file name
    sha256: str  # its content's, to find it again among the datasets catdog keeps
    true_label: str
    probabilities: dict[str, float]
    verdict: str  # a class name, "unsure" or "other" (trainer/ml/verdicts.py)
    heatmap: list[list[int]]  # the top class's activation map, 0..255 (trainer/ml/heatmaps.py `to_bytes`)


def evaluate(y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, loss, per-class precision/recall/F1 and the confusion matrix (rows: true, columns: predicted)."""
    y_true = np.asarray(y_true)
    num_classes = len(class_names)
    y_pred = probabilities.argmax(axis=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)

    per_class = {}
    for i, name in enumerate(class_names):
        true_positives = confusion[i, i]
        predicted, actual = confusion[:, i].sum(), confusion[i, :].sum()
        precision = true_positives / predicted if predicted else 0.0
        recall = true_positives / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(actual),
        }

    # The same categorical cross-entropy training minimises, clipped as Keras clips it.
    picked = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    return {
        "accuracy": float(np.trace(confusion) / len(y_true)),
        "loss": float(-np.log(picked).mean()),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "num_test": len(y_true),
    }
