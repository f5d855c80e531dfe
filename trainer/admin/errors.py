"""A version's error analysis: each cell of its confusion matrix links to the test photos in it, and its
worst mistakes (the most confident wrong answers) have a page of their own. Each photo is shown with every
class's probability, the verdict and the heatmap laid over it (trainer/heatmap_images.py, drawn on request
from the grid stored with the row). Staff who may see model versions only; every page only reads."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..error_analysis import (
    IMAGE_SIDE,
    PER_PAGE,
    answered_photos,
    cell_counts,
    cell_results,
    image_size,
    kept_photos,
    mistakes,
    own_test_results,
    upright_size,
)
from ..files import serve_file
from ..heatmap_images import HeatmapError, overlay_png
from ..images import content_type_of_name
from ..models import ModelVersion, TestPhotoResult


def serve_kept_photo(image, name: str):
    """A kept photo's thumbnail if it has one, else the photo's own file, named `name` for a download."""
    if image.thumbnail:
        return serve_file(image.thumbnail, content_type="image/jpeg", download_name=f"{name} (thumbnail).jpg")
    return serve_file(image.file, content_type=content_type_of_name(image.file.name), download_name=name)


class ErrorAnalysisMixin:
    """The error-analysis pages of ModelVersionAdmin (trainer/admin/versions.py)."""

    def error_analysis_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:version_id>/test-photos/<str:true_label>/<str:predicted_label>/", view(self.cell_view),
                 name="trainer_modelversion_cell"),
            path("<int:version_id>/mistakes/", view(self.mistakes_view), name="trainer_modelversion_mistakes"),
            # A row's photo and heatmap never change: the browser may keep them (private, for an hour).
            path("<int:version_id>/test-photo/<int:result_id>/photo/", view(self.result_photo_view, cacheable=True),
                 name="trainer_modelversion_result_photo"),
            path("<int:version_id>/test-photo/<int:result_id>/heatmap.png",
                 view(self.result_heatmap_view, cacheable=True), name="trainer_modelversion_result_heatmap"),
        ]  # fmt: skip

    def error_analysis_context(self, version: ModelVersion, confusion: list[dict] | None) -> dict:
        """The confusion matrix with a link in each cell that has photos, and the link to the worst mistakes;
        a version measured before its test photos were recorded has neither, and its page says so."""
        counts = cell_counts(version)
        if confusion:
            confusion = [
                {**row, "cells": [self._linked(version, row["name"], name, cell, counts)
                                  for name, cell in zip(version.class_names, row["cells"], strict=True)]}
                for row in confusion
            ]  # fmt: skip
        wrong = sum(n for (true, predicted), n in counts.items() if true != predicted)
        return {
            "confusion": confusion,
            "has_test_photos": bool(counts),
            "mistake_count": wrong,
            "mistakes_url": reverse("admin:trainer_modelversion_mistakes", args=[version.pk]),
        }

    @staticmethod
    def _linked(version, true_label, predicted_label, cell, counts) -> dict:
        if not counts.get((true_label, predicted_label)):
            return cell
        url = reverse("admin:trainer_modelversion_cell", args=[version.pk, true_label, predicted_label])
        return {**cell, "url": url, "predicted": predicted_label}

    def cell_view(self, request, version_id, true_label, predicted_label):
        """The test photos of one true class given one answer, the most confident first."""
        version = self._version(request, version_id)
        if true_label not in version.class_names or predicted_label not in version.class_names:
            raise Http404(f"{version} has no class named {true_label!r} or {predicted_label!r}.")
        answered = "answered correctly" if true_label == predicted_label else f"answered {predicted_label}"
        title = f"{true_label.capitalize()} photos {answered}"
        results = cell_results(version, true_label, predicted_label)
        return self._photos_page(request, version, results, title, current=(true_label, predicted_label))

    def mistakes_view(self, request, version_id):
        """Every wrong answer of the version, the most confident first."""
        version = self._version(request, version_id)
        return self._photos_page(request, version, mistakes(version), "Worst mistakes")

    def _photos_page(self, request, version, results, title: str, current: tuple[str, str] | None = None):
        page = Paginator(results, PER_PAGE).get_page(request.GET.get("page"))
        photos = answered_photos(version, page.object_list)
        counts = cell_counts(version)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{title} — {version}",
            "heading": title,
            "version": version,
            "page": page,
            "photos": photos,
            "any_not_kept": any(photo.photo is None for photo in photos),
            "has_test_photos": bool(counts),
            "cells": self._cells(version, counts, current),
            "mistakes_url": reverse("admin:trainer_modelversion_mistakes", args=[version.pk]),
            "on_mistakes": current is None,
        }
        return TemplateResponse(request, "admin/trainer/modelversion/test_photos.html", context)

    @staticmethod
    def _cells(version, counts, current) -> list[dict]:
        """Every cell of the matrix by its recorded photos, to go from one to another: rows are true classes."""
        return [
            {"name": true, "cells": [
                {"count": counts.get((true, predicted), 0), "current": (true, predicted) == current,
                 "correct": true == predicted,
                 "url": reverse("admin:trainer_modelversion_cell", args=[version.pk, true, predicted])}
                for predicted in version.class_names
            ]}
            for true in version.class_names
        ]  # fmt: skip

    def result_photo_view(self, request, version_id, result_id):
        """A test photo as catdog keeps it: the thumbnail if it has one, else the photo's own file."""
        version, result = self._result(request, version_id, result_id)
        image = kept_photos(version, [result.sha256]).get(result.sha256)
        if image is None:
            raise Http404("catdog does not keep this test photo.")
        return serve_kept_photo(image, result.name)

    def result_heatmap_view(self, request, version_id, result_id):
        """The row's heatmap drawn over the photo's upright shape (a square when the photo is not kept), as
        a coloured, partly transparent PNG to lay over it."""
        version, result = self._result(request, version_id, result_id)
        image = kept_photos(version, [result.sha256]).get(result.sha256)
        width, height = image_size(*upright_size(image)) if image else (IMAGE_SIDE, IMAGE_SIDE)
        try:
            png = overlay_png(result.heatmap, width, height)
        except HeatmapError as error:
            raise Http404(f"This test photo's heatmap cannot be drawn: {error}") from None
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def _version(self, request, version_id) -> ModelVersion:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ModelVersion, pk=version_id)

    def _result(self, request, version_id, result_id) -> tuple[ModelVersion, TestPhotoResult]:
        version = self._version(request, version_id)
        return version, get_object_or_404(own_test_results(version), pk=result_id)
