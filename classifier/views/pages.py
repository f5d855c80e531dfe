"""The upload page, a prediction's page and what it does (retry, feedback, delete), and the pages' polls."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from accounts.ratelimits import rate_limit

from ..actions import (
    FeedbackError,
    do_create_predictions,
    do_delete_prediction,
    do_give_feedback,
    do_retry_prediction,
)
from ..forms import UploadForm
from ..models import Prediction, verdict_choices
from .access import get_prediction_for_user, is_history_page
from .history_page import HISTORY_PAGE_SIZE, filter_context, history_filters

_STOP_POLLING = HttpResponseStopPolling.status_code  # 286: htmx stops the polling


@require_http_methods(["GET", "POST"])
@rate_limit("upload-form", key="user", rate_setting="CATDOG_RATELIMIT_UPLOAD_FORM")
def upload(request):
    if request.method == "GET":
        return _render_upload(request, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(request, form, status=400)
    predictions = do_create_predictions(request.user, form.checked_images())
    if len(predictions) == 1:
        return redirect("classifier:detail", predictions[0].pk)
    messages.success(request, f"{len(predictions)} photos uploaded; their answers appear here as they come.")
    return redirect("classifier:history")


def render_too_many_files(request):
    """The upload page with the too-many-photos error (see classifier/middleware.py); nothing was stored."""
    return _render_upload(request, UploadForm.refusing_too_many_files(), status=400)


def _render_upload(request, form, status=200):
    limits = {"max_upload_bytes": settings.CATDOG_MAX_UPLOAD_BYTES, "max_files": settings.CATDOG_MAX_FILES_PER_UPLOAD}
    return render(request, "classifier/upload.html", {"form": form, **limits}, status=status)


@require_GET
def detail(request, pk: int):
    return render(request, "classifier/detail.html", {"prediction": get_prediction_for_user(request, pk)})


# The pages' polls (htmx, static/vendor/htmx): one request a page, naming each pending prediction on it with
# the state it shows ("12:pending"); the answer holds, rendered by the page's own includes, those whose state
# changed, and stops the polling (HTTP 286) once none is pending. Open to the signed-out, to tell them so.
@login_not_required
@require_GET
def history_updates(request):
    return _updates(request, item_template="classifier/_history_item.html", in_list=True)


@login_not_required
@require_GET
def detail_updates(request):
    return _updates(request, item_template="classifier/_result.html", in_list=False)


def _updates(request, **context):
    if not request.user.is_authenticated:
        page = request.htmx.current_url_abs_path or reverse("classifier:history")
        login_url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': page})}"
        return render(request, "classifier/_signed_out.html", {"login_url": login_url}, status=_STOP_POLLING)
    shown = _shown_states(request)
    found = Prediction.objects.filter(owner=request.user, pk__in=shown).select_related("model_version", "feedback")
    changed = [prediction for prediction in found if prediction.page_state != shown[prediction.pk]]
    # A history card's feedback form brings its person back to the page they were on.
    if context["in_list"]:
        context["return_to"] = request.htmx.current_url_abs_path or reverse("classifier:history")
    context |= {"changed": changed, "gone": sorted(set(shown) - {prediction.pk for prediction in found})}
    if context["in_list"] and any(prediction.is_finished for prediction in changed):
        choices = verdict_choices(request.user)
        filters = history_filters(request, choices)[0]
        context |= {"filters_changed": True, **filter_context(request.user, filters, choices)}
    still_pending = any(not prediction.is_finished for prediction in found)
    return render(request, "classifier/_updates.html", context, status=200 if still_pending else _STOP_POLLING)


def _shown_states(request) -> dict[int, str]:
    """The `watch` parameters ("<id>:<state>"), a page's worth at most; malformed ones are ignored."""
    shown = {}
    for value in request.GET.getlist("watch")[:HISTORY_PAGE_SIZE]:
        pk, _, state = value.partition(":")
        if pk.isdigit():
            shown[int(pk)] = state
    return shown


@require_POST
def retry(request, pk: int):
    prediction = get_prediction_for_user(request, pk)
    if do_retry_prediction(prediction):
        messages.info(request, "Sent again to the model.")
    return redirect("classifier:detail", prediction.pk)


@require_POST
def feedback(request, pk: int):
    """The owner says what the photo really shows: back to the page they came from, saying thank you; a label
    the version does not know, or a photo without an answer, shows the photo's page saying why (nothing stored)."""
    prediction = get_prediction_for_user(request, pk)
    try:
        do_give_feedback(prediction, request.user, request.POST.get("label", ""))
    except FeedbackError as error:
        return _render_feedback(request, prediction, {"feedback_error": str(error)}, status=400)
    if request.htmx:
        return _render_feedback(request, prediction, {"thanks": True})
    messages.success(request, f"Thank you: you said {prediction.feedback_words}.")
    return redirect(_back_to(request, prediction))


def _render_feedback(request, prediction: Prediction, context: dict, status: int = 200):
    """The photo's page; for htmx, only the form's fragment, as on the page the form is on (a history card's
    form says where it is, `next`)."""
    if not request.htmx:
        return render(request, "classifier/detail.html", {"prediction": prediction, **context}, status=status)
    back = request.POST.get("next", "")
    context |= {"prediction": prediction, "compact": bool(back), "return_to": back}
    return render(request, "classifier/_feedback.html", context, status=status)


def _back_to(request, prediction: Prediction) -> str:
    """The history page the form was on (`next`: a path under the history's, so never another site), at the
    photo's card; else the photo's page."""
    back = request.POST.get("next", "")
    if is_history_page(back):
        return f"{back.split('#')[0]}#prediction-{prediction.pk}"
    return reverse("classifier:detail", args=[prediction.pk])


@require_POST
def delete(request, pk: int):
    prediction = get_prediction_for_user(request, pk)
    do_delete_prediction(prediction)
    messages.success(request, f"Deleted {prediction.original_name}.")
    return redirect("classifier:history")
