"""A version's exports on its admin page (trainer/admin/versions.py): the serving files prediction workers load and
the files users download, each with how it answered the test photos against Keras, and the view that streams one
to a person allowed to see the version (templates/admin/trainer/modelversion/_exports.html)."""

from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from ..actions import serving_refusal
from ..files import serve_file
from ..ml.agreement import TOLERANCE
from ..models import ModelExport, ModelVersion


class ExportsMixin:
    """The "Serving and downloads" section of ModelVersionAdmin and its download view."""

    def exports_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:version_id>/exports/<str:kind>/", view(self.export_download_view),
                 name="trainer_modelversion_export"),
        ]  # fmt: skip

    def exports_context(self, version: ModelVersion) -> dict:
        """What the section shows; nothing for a version that is not ready."""
        if version.status != ModelVersion.Status.READY:
            return {}
        exports = list(version.exports.all())
        return {
            "exports": [
                {
                    "export": export,
                    "name": PurePosixPath(export.file.name).name,
                    "url": reverse("admin:trainer_modelversion_export", args=[version.pk, export.kind])
                    if export.file
                    else "",
                }
                for export in exports
            ],
            "not_servable": serving_refusal(version),
            "engine": settings.CATDOG_ENGINE,
            "tolerance": TOLERANCE,
        }

    def export_download_view(self, request, version_id: int, kind: str):
        """One export's file, to a person who may see model versions; 404 when there is no such file."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        export = get_object_or_404(ModelExport, version_id=version_id, kind=kind)
        if not export.file:
            raise Http404("This export has no file.")
        name = PurePosixPath(export.file.name).name
        kind_of_file = "application/zip" if name.endswith(".zip") else "application/octet-stream"
        return serve_file(export.file, content_type=kind_of_file, download_name=name, as_attachment=True)
