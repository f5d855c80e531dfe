"""A version's calibration on its admin page: what "none of these" and "can't tell" cost and gain at each
operating point, measured on held-out photos when it was trained (ModelVersion.calibration_report), and the
form that chooses the operating point (templates/admin/trainer/modelversion/calibration.html)."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..actions import do_set_operating_point
from ..ml import OPERATING_POINTS
from ..models import ModelVersion

# What each level means to the person choosing it; the measured shares are beside it in the table.
_POINT_HINTS = {
    "strict": "answers “none of these” most readily: the fewest wrong answers, more photos left unanswered",
    "balanced": "the default",
    "lenient": "answers with a class most readily: more photos answered, more of them wrong",
}


def calibration_context(request, version: ModelVersion) -> dict:
    """What the page's Calibration section shows of `version`; nothing for a version still training."""
    if version.status != ModelVersion.Status.READY:
        return {}
    report = version.calibration_report or {}
    measured = report.get("operating_points") or {}
    return {
        "calibration": {
            "calibrated": bool(version.calibration),
            "points": [_point_row(name, measured.get(name), version.operating_point) for name in OPERATING_POINTS],
            "measured": bool(measured),
            "method": report.get("method", ""),
            "held_out": report.get("held_out"),
            "outliers": report.get("outliers") or 0,
            "can_choose": bool(version.calibration) and can_choose(request),
            "url": reverse("admin:trainer_modelversion_operating_point", args=[version.pk]),
            "set_by": version.operating_point_set_by,
            "set_at": version.operating_point_set_at,
        }
    }


def _point_row(name: str, shares: dict | None, current: str) -> dict:
    shares = shares or {}
    return {
        "name": name,
        "hint": _POINT_HINTS.get(name, ""),
        "current": name == current,
        "kept": shares.get("kept"),
        "unsure": shares.get("unsure"),
        "other": shares.get("other"),
        "accuracy": shares.get("accuracy"),
        "outliers_other": shares.get("outliers_other"),
    }


def can_choose(request) -> bool:
    # Choosing how cautious the served model is changes every answer, as activating a version does.
    return request.user.has_perm("trainer.activate_modelversion")


def operating_point_view(model_admin):
    """The view behind the section's form: POST `operating_point`, and the version answers at it from the
    next photo. 403 without the right to choose; an unknown name changes nothing and says why."""

    @require_POST
    def view(request, object_id):
        if not can_choose(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        name = request.POST.get("operating_point", "")
        previous = version.operating_point
        try:
            changed = do_set_operating_point(version, name, request.user)
        except ValueError as error:
            model_admin.message_user(request, f"Nothing was changed: {error}", messages.ERROR)
        else:
            if changed:
                model_admin.message_user(
                    request,
                    f"Changed the operating point of {version} from {previous} to {name}: "
                    "workers answer at it from the next photo.",
                    messages.SUCCESS,
                )
            else:
                model_admin.message_user(request, f"{version} already answers at {name}.", messages.INFO)
        return redirect("admin:trainer_modelversion_change", version.pk)

    return view
