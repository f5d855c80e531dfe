"""Model versions: made by a training (started on a dataset's page) or `manage.py train_model`, then
watched, cancelled, compared, activated and rolled back here."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from ..actions import check_activation, do_cancel_training
from ..models import ModelVersion
from ..presenters import progress_summary, settings_rows, training_progress, version_report
from .calibration import calibration_context, operating_point_view
from .errors import ErrorAnalysisMixin
from .exports import ExportsMixin
from .polling import poll_answer, poll_view
from .promotion import PromotionMixin


@admin.register(ModelVersion)
class ModelVersionAdmin(ErrorAnalysisMixin, PromotionMixin, ExportsMixin, admin.ModelAdmin):
    """Versions come from trainings (started on a dataset's page) or `manage.py train_model`; here they
    are watched, cancelled, compared, activated and rolled back. Nothing about a version is edited."""

    # As few columns as fit beside the admin's menu and filters: the status says how far a training is.
    list_display = ["name", "state", "test_accuracy", "dataset", "created_at"]
    list_filter = ["status", "architecture", "is_active"]
    search_fields = ["name"]
    list_select_related = ["dataset"]
    actions = ["activate"]
    change_form_template = "admin/trainer/modelversion/change_form.html"
    fieldsets = [
        # The status, times, worker and error change during a training: in the live panel above them
        # (templates/admin/trainer/modelversion/_training.html), not here.
        (None, {"fields": ["name", "is_active"]}),
        ("Model", {"fields": ["architecture", "class_names", "image_size", "model_file", "file_sha256"]}),
        ("Data", {"fields": ["dataset", "dataset_sha256", "test_dataset", "test_sha256", "outlier_dataset"]}),
        ("Settings", {"fields": ["settings_table"]}),
        ("History", {"fields": ["created_by", "created_at"]}),
        ("Network", {"fields": ["summary"], "classes": ["collapse"]}),
    ]
    readonly_fields = ["settings_table", "model_file"]

    def has_add_permission(self, request):
        return False  # a version is made by training it

    def has_change_permission(self, request, obj=None):
        return False  # the page shows the version; its buttons act on it

    def has_delete_permission(self, request, obj=None):
        # The active version answers every prediction; past predictions keep theirs (PROTECT); a training
        # in progress is cancelled first, so that its worker is not left writing to a missing row.
        busy = obj is not None and (obj.is_active or obj.in_progress)
        return super().has_delete_permission(request, obj) and not busy

    def has_activate_permission(self, request, obj=None):
        return request.user.has_perm("trainer.activate_modelversion")

    def has_train_permission(self, request, obj=None):
        return request.user.has_perm("trainer.train_modelversion")

    @admin.display(description="status", ordering="status")
    def state(self, version):
        return Truncator(progress_summary(version)).chars(80)

    @admin.display(description="file")
    def model_file(self, version):
        return version.file.name or "—"  # no link: model files are never served

    @admin.display(description="settings")
    def settings_table(self, version):
        rows = settings_rows(version.params)
        return render_to_string("admin/trainer/modelversion/_settings.html", {"rows": rows}) if rows else "—"

    @admin.action(description="Activate the selected version (workers answer with it from the next photo)",
                  permissions=["activate"])  # fmt: skip
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return None
        # The activation page shows the evidence, and asks for a confirmation when it is not enough.
        return redirect("admin:trainer_modelversion_activate", queryset.get().pk)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            *self.error_analysis_urls(),  # first: their class names could end like the paths below
            *self.promotion_urls(),
            *self.exports_urls(),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="trainer_modelversion_cancel"),
            path("<path:object_id>/updates/", poll_view(self, self.updates_view), name="trainer_modelversion_updates"),
            # The calibration section's form (trainer/admin/calibration.py).
            path(
                "<path:object_id>/operating-point/",
                view(operating_point_view(self)),
                name="trainer_modelversion_operating_point",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def cancel_view(self, request, object_id):
        if not self.has_train_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        if do_cancel_training(version):
            self.message_user(request, f"Cancelling the training of {version}; it stops within seconds.")
        else:
            self.message_user(request, f"The training of {version} had already ended.", messages.WARNING)
        return redirect("admin:trainer_modelversion_change", version.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}), **(self._version_context(request, version) if version else {})}
        return super().change_view(request, object_id, form_url, context)

    def updates_view(self, request, object_id):
        """The training's live panel while the version is queued or running (the page's poll)."""
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        context = self._training_context(version)
        return poll_answer(request, "admin/trainer/modelversion/_training.html", context, going_on=version.in_progress)

    def _training_context(self, version: ModelVersion) -> dict:
        """What the live panel shows: the same for the full page and for its poll."""
        return {
            "version": version,
            "progress": training_progress(version),
            "updates_url": reverse("admin:trainer_modelversion_updates", args=[version.pk]),
            **version_report(version),
        }

    def _version_context(self, request, version: ModelVersion) -> dict:
        check = check_activation(version) if version.status == ModelVersion.Status.READY else None
        training = self._training_context(version)
        promotion = version.metrics.get("promotion") if isinstance(version.metrics, dict) else None
        exports = self.exports_context(request, version)
        return {
            **training,
            **self.error_analysis_context(version, training["confusion"]),
            "can_cancel": version.in_progress and self.has_train_permission(request),
            "can_activate": (
                version.status == ModelVersion.Status.READY
                and not version.is_active
                and not exports.get("not_servable")
                and self.has_activate_permission(request)
            ),
            "activation_needs_confirmation": bool(check and check.needs_confirmation),
            "against_active": check if check and check.active and not version.is_active else None,
            "activations": version.activations.select_related("previous", "activated_by"),
            "promotion": promotion,
            "activate_url": reverse("admin:trainer_modelversion_activate", args=[version.pk]),
            "cancel_url": reverse("admin:trainer_modelversion_cancel", args=[version.pk]),
            **calibration_context(request, version),
            **exports,
        }
