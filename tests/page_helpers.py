"""What the page tests share: stored predictions and a small HTML reader (their fixtures: tests/conftest.py)."""

import io
from html.parser import HTMLParser

from django.core.files.base import ContentFile
from PIL import Image

from classifier.models import Prediction


def _png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _prediction(owner, *, name="kitty.png", **fields) -> Prediction:
    data = _png()
    prediction = Prediction(
        owner=owner, original_name=name, image_format="PNG", width=40, height=30, size_bytes=len(data), **fields
    )
    prediction.image.save("photo.png", ContentFile(data), save=False)
    prediction.thumbnail.save("thumbnail.jpg", ContentFile(_png((16, 12))), save=False)
    prediction.save()
    return prediction


def _done(owner, model_version, label="cat", confidence=0.9731, **fields) -> Prediction:
    other = "dog" if label == "cat" else "cat"
    return _prediction(
        owner,
        status=Prediction.Status.DONE,
        label=label,
        confidence=confidence,
        probabilities={other: round(1 - confidence, 4), label: confidence},
        model_version=model_version,
        inference_ms=42.4,
        **fields,
    )


class _Elements(HTMLParser):
    """The start tags of a page, as (tag, attributes) pairs: enough to assert on markup without a browser."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        wanted = {key.replace("_", "-"): value for key, value in attrs.items()}

        def matches(found: dict) -> bool:
            # True means "has the attribute", whatever its value.
            return all(key in found if value is True else found.get(key) == value for key, value in wanted.items())

        return [found for name, found in self.tags if name == tag and matches(found)]


def _page(response) -> tuple[str, _Elements]:
    html = response.content.decode()
    return html, _Elements(html)


# The history's filters that make no sense, each with the reason the page and the export give (a 400).
BAD_LIST_FILTERS = [
    ({"since": "2026-02-30"}, "“From” must be a date: YYYY-MM-DD."),
    ({"until": "soon"}, "“To” must be a date: YYYY-MM-DD."),
    ({"since": "2026-05-02", "until": "2026-05-01"}, "“From” must not be after “To”."),
    ({"status": "DONE"}, "Status must be pending, done or failed."),
    ({"sort": "random"}, "Sort by newest, oldest or confidence."),
]
