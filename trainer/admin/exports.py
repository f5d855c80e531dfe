"""A version's exports on its admin page (trainer/admin/versions.py): the serving files prediction workers load and
the files users download, each with how it answered the test photos against Keras; the button that has the
training worker make the downloads, the section's poll while it does, and the view that streams one file to a
person allowed to see the version (templates/admin/trainer/modelversion/_exports.html)."""

from pathlib import PurePosixPath

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from ..actions import DownloadsRefused, do_request_downloads, serving_refusal
from ..files import serve_file
from ..ml.agreement import TOLERANCE
from ..models import ModelExport, ModelVersion
from .polling import poll_answer, poll_view


class ExportsMixin:
    """The "Serving and downloads" section of ModelVersionAdmin, its button, its poll and its download view."""

    def exports_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:version_id>/exports/<str:kind>/", view(self.export_download_view),
                 name="trainer_modelversion_export"),
            path("<path:object_id>/downloads/", view(self.make_downloads_view), name="trainer_modelversion_downloads"),
            path("<path:object_id>/exports/", poll_view(self, self.exports_updates_view),
                 name="trainer_modelversion_exports"),
        ]  # fmt: skip

    def exports_context(self, request, version: ModelVersion) -> dict:
        """What the section shows; nothing for a version that is not ready."""
        if version.status != ModelVersion.Status.READY:
            return {}
        exports = list(version.exports.all())
        return {
            "version": version,
            "exports": [
                {
                    "export": export,
                    "url": reverse("admin:trainer_modelversion_export", args=[version.pk, export.kind])
                    if export.file
                    else "",
                }
                for export in exports
            ],
            "not_servable": serving_refusal(version),
            "engine": settings.CATDOG_ENGINE,
            "tolerance": TOLERANCE,
            "making_downloads": any(export.status == ModelExport.Status.PENDING for export in exports),
            "has_downloads": any(export.kind in ModelExport.DOWNLOADS for export in exports),
            "can_make_downloads": bool(version.file) and self.has_train_permission(request),
            "downloads_url": reverse("admin:trainer_modelversion_downloads", args=[version.pk]),
            "exports_url": reverse("admin:trainer_modelversion_exports", args=[version.pk]),
        }

    @method_decorator(require_POST)
    def make_downloads_view(self, request, object_id):
        """Have the training worker make the version's downloads; they replace any made before."""
        if not self.has_train_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        try:
            do_request_downloads(version)
        except DownloadsRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        else:
            self.message_user(
                request,
                f"The training worker is making the downloads of {version} and checking each on its test photos.",
                messages.SUCCESS,
            )
        return redirect(reverse("admin:trainer_modelversion_change", args=[version.pk]) + "#exports")

    def exports_updates_view(self, request, object_id):
        """The section while downloads are being made (the page's poll)."""
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        context = self.exports_context(request, version)
        going_on = context.get("making_downloads", False)
        return poll_answer(request, "admin/trainer/modelversion/_exports.html", context, going_on=going_on)

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
