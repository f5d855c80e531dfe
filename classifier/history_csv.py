"""A person's history as CSV, written row by row as the database hands them over, so that a long history
never sits in memory; a cell a spreadsheet would take for a formula is defused."""

import csv
from collections.abc import Iterable, Iterator

from django.db.models import F

from trainer.models import ModelVersion

from .models import Prediction

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection"); a leading
# apostrophe makes it text. Tab and carriage return too: some spreadsheets skip them before reading.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 1000


def safe_cell(value) -> str:
    """A cell's text: empty for None, a number as Python writes it, text that could start a formula quoted."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def class_columns(predictions) -> list[str]:
    """The classes of the versions that answered `predictions`, each once, in the order of their versions."""
    version_ids = predictions.exclude(model_version=None).order_by().values_list("model_version", flat=True)
    names: list[str] = []
    for classes in (
        ModelVersion.objects.filter(pk__in=version_ids.distinct()).order_by("pk").values_list("class_names", flat=True)
    ):
        names.extend(name for name in classes or [] if name not in names)
    return names


class _Line:
    """csv.writer writes into this, and gets back the line it wrote."""

    def write(self, line: str) -> str:
        return line


def history_csv(predictions) -> Iterator[str]:
    """The CSV lines: a header, then one line per prediction of `predictions`, in its order."""
    classes = class_columns(predictions)
    writer = csv.writer(_Line())
    header = ["id", "file_name", "status", "verdict", "label", "confidence"]
    header += [f"p({name})" for name in classes]
    header += ["model_version", "created_at", "finished_at", "error"]
    yield writer.writerow([safe_cell(name) for name in header])
    # The version's name only: its row holds kilobytes of summary and metrics that a line does not need.
    named = predictions.annotate(version_name=F("model_version__name"))
    rows: Iterable[Prediction] = named.iterator(chunk_size=_CHUNK)
    for prediction in rows:
        probabilities = prediction.probabilities or {}
        cells = [
            prediction.pk,
            prediction.original_name,
            prediction.status,
            prediction.final_verdict,
            prediction.label,
            prediction.confidence,
            *(probabilities.get(name) for name in classes),
            prediction.version_name,
            prediction.created_at,
            prediction.finished_at,
            prediction.error,
        ]
        yield writer.writerow([safe_cell(cell) for cell in cells])
