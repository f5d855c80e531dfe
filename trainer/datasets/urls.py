"""A dataset from a list of image URLs: the list an admin pastes or uploads as CSV, and downloading
each URL (through fetching.py) into the collection, with one line a URL saying what became of it."""

import csv
from urllib.parse import urlsplit

from ..models import Dataset
from . import fetching
from .collection import Collection, label_problem


def parse_url_list(text: str) -> list[tuple[str, str]]:
    """(url, label) pairs from pasted lines or a CSV file: "url,label" or "url label" a line, an optional
    "url,label" header, blank lines and # comments ignored. Raises ValueError naming the bad lines."""
    pairs, problems = [], []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row if cell.strip()]
        if len(cells) == 1:
            cells = cells[0].split()
        if not cells or cells[0].startswith("#") or [cell.lower() for cell in cells] == ["url", "label"]:
            continue
        if len(cells) != 2:
            problems.append(f"line {number}: expected a URL and a class, found {len(cells)} values")
            continue
        url, label = cells
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"line {number}: {url} is not an http or https URL")
        elif problem := label_problem(label):
            problems.append(f"line {number}: {problem}")
        else:
            pairs.append((url, label))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"Some lines cannot be used: {shown}.")
    if not pairs:
        raise ValueError("No URL was given.")
    return pairs


def collect_urls(dataset: Dataset, collection: Collection) -> None:
    for url, label in dataset.urls:
        try:
            data = fetching.fetch(url)
        except fetching.FetchError as error:
            outcome, detail = collection.skip(url, str(error))
        else:
            outcome, detail = collection.add(url, label, data)
        collection.url_results.append({"url": url, "label": label, "outcome": outcome, "detail": detail})
