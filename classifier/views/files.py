"""A prediction's files, served to its owner (and, through classifier/admin and classifier/api, to staff and
the API): the photo, its thumbnail and its heatmap, drawn on request."""

import hashlib
import json
from pathlib import PurePath

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.http import require_GET

from trainer.files import serve_file
from trainer.heatmap_images import HeatmapError
from trainer.images import content_type_of

from ..heatmaps import render_grayscale, render_overlay, render_overlay_of_file
from ..models import Prediction
from .access import get_prediction_for_user


@require_GET
def image(request, pk: int):
    return serve_image(request, get_prediction_for_user(request, pk))


@require_GET
def thumbnail(request, pk: int):
    return serve_thumbnail(request, get_prediction_for_user(request, pk))


def serve_image(request, prediction: Prediction):
    """The original photo, under its original name (the storage name is never shown)."""
    content_type = content_type_of(prediction.image_format)
    return _serve_file(prediction.image, request, content_type=content_type, download_name=prediction.original_name)


def serve_thumbnail(request, prediction: Prediction):
    stem = PurePath(prediction.original_name).stem or "photo"
    return _serve_file(
        prediction.thumbnail, request, content_type="image/jpeg", download_name=f"{stem} (thumbnail).jpg"
    )


@require_GET
def heatmap(request, pk: int):
    return serve_heatmap(request, get_prediction_for_user(request, pk))


def serve_heatmap(request, prediction: Prediction):
    """The heatmap as a grayscale PNG; with `overlay=1`, coloured and see-through for laying over the photo.
    Drawn on each request from the grid stored with the answer (nothing is written); an answer from before
    grids were stored keeps its grayscale file, served as it is, and coloured on request."""
    overlay = request.GET.get("overlay") == "1"
    if prediction.heatmap_grid:
        return _serve_drawn_heatmap(request, prediction, overlay)
    if not prediction.heatmap:
        raise Http404("This prediction has no heatmap.")
    if overlay:
        return _serve_overlay_of_file(prediction)
    return _serve_file(prediction.heatmap, request, content_type="image/png", download_name=_heatmap_name(prediction))


def _heatmap_name(prediction: Prediction) -> str:
    return f"{PurePath(prediction.original_name).stem or 'photo'} (heatmap).png"


def _serve_drawn_heatmap(request, prediction: Prediction, overlay: bool) -> HttpResponse:
    """The stored grid drawn over the upright photo's shape. It never changes once stored: a browser that has
    it asks with its ETag or date and gets 304, without anything being drawn."""
    drawn_as = json.dumps([prediction.heatmap_grid, prediction.upright_size, overlay])
    etag = f'"{hashlib.blake2b(drawn_as.encode(), digest_size=16).hexdigest()}"'
    last_modified = int(prediction.finished_at.timestamp()) if prediction.finished_at else None
    response = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if response is None:
        draw = render_overlay if overlay else render_grayscale
        try:
            response = _png_response(draw(prediction.heatmap_grid, prediction.upright_size))
        except HeatmapError as error:
            raise Http404(f"This prediction's heatmap cannot be drawn: {error}") from None
        if not overlay:
            as_attachment = request.GET.get("download") == "1"
            response["Content-Disposition"] = content_disposition_header(as_attachment, _heatmap_name(prediction))
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    return _privately_cached(response)


def _serve_overlay_of_file(prediction: Prediction) -> HttpResponse:
    try:
        with prediction.heatmap.open("rb") as f:
            return _png_response(render_overlay_of_file(f))
    except FileNotFoundError:
        raise Http404("The heatmap is no longer in storage.") from None


def _png_response(png: bytes) -> HttpResponse:
    return _privately_cached(HttpResponse(png, content_type="image/png"))


def _privately_cached(response: HttpResponse) -> HttpResponse:
    # The same private caching as the stored files (trainer/files.py): a heatmap never changes once stored.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _serve_file(field, request, *, content_type: str, download_name: str):
    as_attachment = request.GET.get("download") == "1"
    return serve_file(field, content_type=content_type, download_name=download_name, as_attachment=as_attachment)
