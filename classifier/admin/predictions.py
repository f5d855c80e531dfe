from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from ..answers import VERDICT_CHOICE_NAMES
from ..models import Feedback, Prediction
from ..views import serve_image, serve_thumbnail
from .dashboard import dashboard_urls


class VerdictFilter(admin.SimpleListFilter):
    """By verdict; an answer from before verdicts counts as its label, the top class it was shown."""

    title = "verdict"
    parameter_name = "verdict"

    def lookups(self, request, model_admin):
        labels = Prediction.objects.exclude(label="").order_by("label").values_list("label", flat=True).distinct()
        classes = [(label, label) for label in labels if label not in VERDICT_CHOICE_NAMES]
        return [*classes, *VERDICT_CHOICE_NAMES.items()]

    def queryset(self, request, queryset):
        return queryset.with_verdict(self.value()) if self.value() else queryset


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    """Predictions come from uploads and workers: the admin reads and deletes them, never edits them.

    The photo is served by admin-only views of its own, under its original name: storage names
    (uploads/<owner>/<random>.jpg) are never shown.
    """

    list_display = [
        "id",
        "original_name",
        "owner",
        "status",
        "verdict_shown",
        "label",
        "confidence_shown",
        "model_version",
        "created_at",
    ]
    list_filter = ["status", VerdictFilter, "label", "model_version"]
    search_fields = ["original_name", "owner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "model_version"]
    fields = [
        "photo", "original_name", "owner", "status", "answer_shown", "label", "confidence_shown", "probabilities_shown",
        "model_version", "error", "image_format", "width", "height", "size_bytes", "inference_ms", "attempts",
        "queued_at", "created_at", "finished_at",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # predictions come from uploads, not from the admin

    def has_change_permission(self, request, obj=None):
        return False  # a read-only page: no Save buttons on a record nothing here may edit

    @admin.display(description="Verdict", ordering="verdict")
    def verdict_shown(self, prediction):
        return prediction.final_verdict or "-"

    @admin.display(description="Answer")
    def answer_shown(self, prediction):
        return prediction.answer.sentence if prediction.answer else "-"

    @admin.display(description="Confidence", ordering="confidence")
    def confidence_shown(self, prediction):
        return _percent(prediction.confidence)

    @admin.display(description="Probabilities")
    def probabilities_shown(self, prediction):
        return ", ".join(f"{label} {_percent(p)}" for label, p in prediction.sorted_probabilities()) or "-"

    @admin.display(description="Photo")
    def photo(self, prediction):
        if not prediction.pk:
            return "-"
        image_url = reverse("admin:classifier_prediction_image", args=[prediction.pk])
        thumbnail_url = reverse("admin:classifier_prediction_thumbnail", args=[prediction.pk])
        return format_html(
            '<a href="{}"><img src="{}" alt="" style="max-width: 320px"><br>{}</a>',
            image_url,
            thumbnail_url,
            prediction.original_name,
        )

    def get_urls(self):
        views = [("image", serve_image), ("thumbnail", serve_thumbnail)]
        files = file_urls(self, "classifier_prediction", views, self.has_view_permission)
        return files + dashboard_urls(self) + super().get_urls()


def file_urls(model_admin, prefix: str, views, may_see, shown=None) -> list:
    """Admin-only URLs serving a prediction's files (`<pk>/<name>/`, named `<prefix>_<name>`), through the
    user pages' own serving views, for staff whom `may_see(request)` allows, of the predictions `shown` (a
    queryset: the pages' own, every prediction by default); any other is not found."""

    def guarded(serve):
        def view(request, pk):
            if not may_see(request):
                raise PermissionDenied  # staff without the right to see these predictions
            return serve(request, get_object_or_404(Prediction.objects.all() if shown is None else shown, pk=pk))

        return view

    return [
        path(f"<int:pk>/{name}/", model_admin.admin_site.admin_view(guarded(serve)), name=f"{prefix}_{name}")
        for name, serve in views
    ]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """What owners said their photos show. Theirs to give and change (on their pages and the API): read here,
    and deleted if need be, never edited; the review queue is where an admin acts on it."""

    list_display = ["id", "prediction_link", "label", "answered", "given_by", "updated_at"]
    list_filter = ["label", "prediction__model_version"]
    search_fields = ["label", "given_by__username", "prediction__original_name"]
    list_select_related = ["prediction", "given_by"]
    date_hierarchy = "updated_at"
    fields = ["prediction_link", "label", "answered", "given_by", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # feedback is its owner's word

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Prediction", ordering="prediction")
    def prediction_link(self, feedback):
        url = reverse("admin:classifier_prediction_change", args=[feedback.prediction_id])
        return format_html('<a href="{}">{}</a>', url, feedback.prediction.original_name)

    @admin.display(description="Answered")
    def answered(self, feedback):
        return feedback.prediction.final_verdict or "-"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
