"""Promotion on evidence, a part of the versions' admin (trainer/admin/versions.py): the activation page
compares a version with the active one on the same photos, measures both on a test set the admin chooses
when they share none, and activates only a significantly better version without a confirmation that names
the numbers. State changes go through trainer/actions/promotion.py."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from ..actions import (
    ActivationRefused,
    MeasurementRefused,
    NotServable,
    active_other_than,
    check_activation,
    do_activate_checked,
    do_request_measurements,
)
from ..error_analysis import kept_photos
from ..forms import MeasurementForm
from ..models import Measurement, ModelVersion
from ..promotion import percent
from .errors import serve_kept_photo
from .polling import poll_answer, poll_view

# The photos of each side of the disagreement the page shows; the count says how many there are in all.
DISAGREEMENTS_SHOWN = 24


def _right(correct: int, total: int) -> str:
    """ "493 right (98.6%)" """
    return f"{correct:,} right ({percent(correct / total)})" if total else "—"


class PromotionMixin:
    """The activation page, the measurement form and the thumbnails of the photos two versions disagree on."""

    def promotion_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/activate/", view(self.activate_view), name="trainer_modelversion_activate"),
            path("<path:object_id>/measure/", view(self.measure_view), name="trainer_modelversion_measure"),
            path("<path:object_id>/measurements/", poll_view(self, self.measurements_view),
                 name="trainer_modelversion_measurements"),
            path("<int:version_id>/photo/<str:sha256>/", view(self.compared_photo_view, cacheable=True),
                 name="trainer_modelversion_compared_photo"),
        ]  # fmt: skip

    def _activatable(self, request, object_id) -> ModelVersion | None:
        """The version to activate, or None (with a message) when it is not ready or already active."""
        if not self.has_activate_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        if version.status != ModelVersion.Status.READY or version.is_active:
            state = "already active" if version.is_active else f"{version.get_status_display().lower()}, not ready"
            self.message_user(request, f"The version {version} is {state}.", messages.WARNING)
            return None
        return version

    def activate_view(self, request, object_id):
        """GET shows the comparison. POST activates a significantly better version, or any version when the
        post carries the confirmation the page asks for; without it, the page again, saying what is missing."""
        version = self._activatable(request, object_id)
        if version is None:
            return redirect("admin:trainer_modelversion_change", object_id)
        status, refusal = 200, ""
        if request.method == "POST":
            try:
                do_activate_checked(
                    version,
                    by=request.user,
                    confirmed=request.POST.get("confirm") == "yes",
                    confirmed_over=request.POST.get("over"),
                )
            except (ActivationRefused, NotServable) as error:
                status, refusal = 400, str(error)
            else:
                self.message_user(
                    request, f"Activated {version}: workers answer with it from the next photo.", messages.SUCCESS
                )
                return redirect("admin:trainer_modelversion_change", version.pk)
        return self._activation_page(request, version, MeasurementForm(version=version), status, refusal)

    @method_decorator(require_POST)
    def measure_view(self, request, object_id):
        """Measure the version and the active one on the chosen dataset (trainer/tasks.py measure_model_version)."""
        version = self._activatable(request, object_id)
        if version is None:
            return redirect("admin:trainer_modelversion_change", object_id)
        form = MeasurementForm(request.POST, version=version)
        active = active_other_than(version)
        if form.is_valid():
            versions = [version] if active is None else [version, active]
            try:
                do_request_measurements(versions, form.cleaned_data["dataset"], by=request.user)
            except MeasurementRefused as refusal:
                form.add_error("dataset", str(refusal))
            else:
                names = " and ".join(str(v) for v in versions)
                self.message_user(request, f"Measuring {names} on {form.cleaned_data['dataset']}.", messages.SUCCESS)
                return redirect("admin:trainer_modelversion_activate", version.pk)
        return self._activation_page(request, version, form, status=400)

    def measurements_view(self, request, object_id):
        """The measurements panel while one is queued or running (the page's poll); the page reloads after."""
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        # Polled every 2 s: the measurements only, not the comparison (all of both versions' answers).
        context = self._measurements_context(version, active_other_than(version))
        going_on = any(
            m.status in (Measurement.Status.QUEUED, Measurement.Status.RUNNING) for m in context["measurements"]
        )
        return poll_answer(request, "admin/trainer/modelversion/_measurements.html", context, going_on=going_on)

    def _measurements_context(self, version: ModelVersion, active: ModelVersion | None) -> dict:
        versions = [version] if active is None else [version, active]
        measurements = list(Measurement.objects.filter(version__in=versions).select_related("version", "dataset")[:20])
        return {
            "version": version,
            "measurements": measurements,
            "measuring": any(m.status in (Measurement.Status.QUEUED, Measurement.Status.RUNNING) for m in measurements),
            "measurements_url": reverse("admin:trainer_modelversion_measurements", args=[version.pk]),
        }

    def _activation_page(self, request, version, form, status: int = 200, refusal: str = ""):
        check = check_activation(version)
        comparison = check.comparison
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Activate {version}?",
            "version": version,
            "active": check.active,
            "check": check,
            "comparison": comparison,
            "refusal": refusal,
            "form": form,
            "version_own": percent(version.test_accuracy),
            "active_own": percent(check.active.test_accuracy) if check.active else "",
            "measure_url": reverse("admin:trainer_modelversion_measure", args=[version.pk]),
            **self._measurements_context(version, check.active),
        }
        if comparison is not None:
            context["per_class"] = [
                (name, _right(mine["correct"], total), _right(theirs["correct"], total), total)
                for name, mine in comparison.candidate.per_class.items()
                for theirs, total in [(comparison.other.per_class[name], mine["total"])]
            ]
            context["candidate_right"] = _right(comparison.candidate.correct, comparison.candidate.total)
            context["active_right"] = _right(comparison.other.correct, comparison.other.total)
            context["photo_set"] = self._photo_set(version, check.active, comparison.test_sha256)
            context["disagreement_groups"] = self._disagreement_groups(version, check.active, comparison)
        return TemplateResponse(request, "admin/trainer/modelversion/activate_confirm.html", context, status=status)

    @staticmethod
    def _photo_set(version, active, test_sha256: str) -> str:
        """Which photos the two were compared on, in words."""
        if test_sha256 == version.test_sha256:
            return f"{version}'s test photos" + (
                ", the lineage's frozen split" if version.dataset and version.dataset.has_frozen_split else ""
            )
        if test_sha256 == active.test_sha256:
            return f"{active}'s test photos"
        measured = (
            Measurement.objects.filter(test_sha256=test_sha256, dataset__isnull=False).select_related("dataset").first()
        )
        return f"the test set {measured.dataset}" if measured else "a test set measured earlier"

    @staticmethod
    def _disagreement_groups(version, active, comparison) -> list[dict]:
        """The photos only the candidate answered right, then those only the active version did: the photos
        catdog keeps first (they have a thumbnail), DISAGREEMENTS_SHOWN of each at most."""
        kept = {image.sha256 for image in kept_photos(version, [d.sha256 for d in comparison.disagreements]).values()}
        groups = []
        for right, wrong, candidate_right in ((version, active, True), (active, version, False)):
            photos = [d for d in comparison.disagreements if d.candidate_right == candidate_right]
            photos.sort(key=lambda d: d.sha256 not in kept)
            groups.append({
                "title": f"Only {right} answered right",
                "wrong": wrong,
                "count": len(photos),
                "photos": [(d, d.sha256 in kept) for d in photos[:DISAGREEMENTS_SHOWN]],
                "side": "candidate" if candidate_right else "active",
            })  # fmt: skip
        return groups

    def compared_photo_view(self, request, version_id, sha256):
        """A photo a version answered (on any of its photo sets), as catdog keeps it, by its content."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=version_id)
        result = version.test_results.filter(sha256=sha256).first()
        image = kept_photos(version, [sha256]).get(sha256) if result else None
        if image is None:
            raise Http404("catdog does not keep this photo.")
        return serve_kept_photo(image, result.name)
