import hashlib
import json
from datetime import date, datetime, time, timedelta
from pathlib import PurePath

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from accounts.ratelimits import rate_limit
from trainer.files import serve_file
from trainer.heatmap_images import HeatmapError
from trainer.images import content_type_of

from .actions import (
    FeedbackError,
    do_create_predictions,
    do_delete_prediction,
    do_delete_predictions,
    do_give_feedback,
    do_retry_prediction,
)
from .answers import VERDICT_CHOICE_NAMES
from .forms import HISTORY_SORTS, BulkDeleteForm, HistoryFilterForm, UploadForm
from .heatmaps import render_grayscale, render_overlay, render_overlay_of_file
from .history_csv import history_csv
from .models import FEEDBACK_FILTERS, Prediction, verdict_choices

HISTORY_PAGE_SIZE = 24
_STOP_POLLING = HttpResponseStopPolling.status_code  # 286: htmx stops the polling


def _get_prediction_for_user(request, pk: int) -> Prediction:
    """The one place that decides who may see a prediction: its owner, and nobody else (404)."""
    return get_object_or_404(Prediction.objects.select_related("model_version", "feedback"), pk=pk, owner=request.user)


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
def history(request):
    choices = verdict_choices(request.user)
    filters, unknown_verdict = _history_filters(request, choices)
    list_form = HistoryFilterForm(request.GET)
    filters |= list_form.query()
    predictions = _history_predictions(request.user, filters).select_related("model_version", "feedback")
    paginator = Paginator(predictions, HISTORY_PAGE_SIZE)
    number = request.GET.get("page", "1")
    if not number.isdigit() or int(number) < 1:
        raise Http404("No such page of the history.")
    if int(number) > paginator.num_pages:  # e.g. photos were deleted since: the last page, under its own URL
        return redirect(_with_query(reverse("classifier:history"), {**filters, "page": paginator.num_pages}))
    page = paginator.page(number)
    pending = any(not prediction.is_finished for prediction in page.object_list)
    poll_url = _with_query(reverse("classifier:history-updates"), filters) if pending else None
    context = {
        "page": page,
        "poll_url": poll_url,
        "filter_query": urlencode(filters),
        "export_url": _with_query(reverse("classifier:history-export"), filters),
        "return_to": request.get_full_path(),
        "unknown_verdict": unknown_verdict,
        "list_form": list_form,
        "narrowed": any(name != "sort" for name in filters),
        "list_errors": _errors_of(list_form),
        "sort_name": HISTORY_SORTS[filters.get("sort", "newest")],
        **_filter_context(request.user, filters, choices),
    }
    # A filter that makes no sense is refused (400) with its reason; the list shows the photos without it.
    return render(request, "classifier/history.html", context, status=400 if context["list_errors"] else 200)


@require_GET
def history_export(request):
    """The history as CSV, with the page's filters and order: streamed, so any length fits in little memory."""
    filters = _history_filters(request, verdict_choices(request.user))[0]
    list_form = HistoryFilterForm(request.GET)
    if not list_form.is_valid():
        return HttpResponseBadRequest("\n".join(_errors_of(list_form)), content_type="text/plain; charset=utf-8")
    predictions = _history_predictions(request.user, filters | list_form.query())
    response = StreamingHttpResponse(history_csv(predictions), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="catdog-history-{stamp}.csv"'
    return response


def _errors_of(form) -> list[str]:
    return [message for messages_ in form.errors.values() for message in messages_] if not form.is_valid() else []


def _history_predictions(user, filters: dict[str, str]):
    """`user`'s predictions that pass the history's `filters` (checked already), in the order asked for."""
    predictions = Prediction.objects.filter(owner=user)
    if "label" in filters:
        predictions = predictions.filter(label=filters["label"])
    if "verdict" in filters:
        predictions = predictions.with_verdict(filters["verdict"])
    if "feedback" in filters:
        predictions = predictions.with_feedback(filters["feedback"])
    if "status" in filters:
        predictions = predictions.filter(status=filters["status"])
    if "since" in filters:
        predictions = predictions.filter(created_at__gte=_start_of(date.fromisoformat(filters["since"])))
    if "until" in filters:
        predictions = predictions.filter(created_at__lt=_start_of(date.fromisoformat(filters["until"]) + timedelta(1)))
    sort = filters.get("sort", "newest")
    if sort == "oldest":
        return predictions.order_by("created_at", "id")
    if sort == "confidence":
        return predictions.order_by(F("confidence").desc(nulls_last=True), "-created_at", "-id")
    return predictions


def _start_of(day: date) -> datetime:
    """Midnight at the start of `day` in the site's time zone (a comparison the created_at index serves)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _with_query(url: str, query: dict) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def _history_filters(request, choices: list[str]) -> tuple[dict[str, str], str]:
    """The history's filters from its URL (`label`, the top class; `verdict`; `feedback`, "any" or "disagrees"),
    and a verdict no answer of this person can have, if one was asked for: the page then shows everything and
    says so (no 404 for a filter that an old link or a retired model version left behind). An unknown
    `feedback` is ignored."""
    filters = {name: request.GET[name] for name in ("label", "verdict", "feedback") if request.GET.get(name)}
    if filters.get("feedback") not in (None, *FEEDBACK_FILTERS):
        del filters["feedback"]
    if "verdict" in filters and filters["verdict"] not in choices:
        return {key: value for key, value in filters.items() if key != "verdict"}, filters["verdict"]
    return filters, ""


def _filter_context(user, filters: dict[str, str], choices: list[str]) -> dict:
    """What the history's filter chips show (classifier/_history_filters.html): each verdict with its count."""
    counts = Prediction.objects.filter(owner=user).verdict_counts()
    chips = [
        {
            "value": value,
            "name": VERDICT_CHOICE_NAMES.get(value, value),
            "kind": value if value in VERDICT_CHOICE_NAMES else "class",
            "count": counts.get(value, 0),
        }
        for value in choices
    ]
    owned = Prediction.objects.filter(owner=user)
    feedback_chips = [
        {"value": value, "name": name, "count": owned.with_feedback(value).count()}
        for value, name in FEEDBACK_FILTERS.items()
    ]
    return {
        "chips": chips if counts or "verdict" in filters or "feedback" in filters else [],
        "feedback_chips": feedback_chips if feedback_chips[0]["count"] or "feedback" in filters else [],
        "label": filters.get("label", ""),
        "verdict": filters.get("verdict", ""),
        "feedback": filters.get("feedback", ""),
        "feedback_name": FEEDBACK_FILTERS.get(filters.get("feedback", ""), ""),
    }


@require_GET
def detail(request, pk: int):
    return render(request, "classifier/detail.html", {"prediction": _get_prediction_for_user(request, pk)})


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
        filters = _history_filters(request, choices)[0]
        context |= {"filters_changed": True, **_filter_context(request.user, filters, choices)}
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


@require_GET
def image(request, pk: int):
    return serve_image(request, _get_prediction_for_user(request, pk))


@require_GET
def thumbnail(request, pk: int):
    return serve_thumbnail(request, _get_prediction_for_user(request, pk))


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
    return serve_heatmap(request, _get_prediction_for_user(request, pk))


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


@require_POST
def retry(request, pk: int):
    prediction = _get_prediction_for_user(request, pk)
    if do_retry_prediction(prediction):
        messages.info(request, "Sent again to the model.")
    return redirect("classifier:detail", prediction.pk)


@require_POST
def feedback(request, pk: int):
    """The owner says what the photo really shows: back to the page they came from, saying thank you; a label
    the version does not know, or a photo without an answer, shows the photo's page saying why (nothing stored)."""
    prediction = _get_prediction_for_user(request, pk)
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
    if _is_history_page(back):
        return f"{back.split('#')[0]}#prediction-{prediction.pk}"
    return reverse("classifier:detail", args=[prediction.pk])


@require_POST
def delete(request, pk: int):
    prediction = _get_prediction_for_user(request, pk)
    do_delete_prediction(prediction)
    messages.success(request, f"Deleted {prediction.original_name}.")
    return redirect("classifier:history")


@require_POST
def bulk_delete(request):
    """Delete the photos selected on a history page: first a page listing them (nothing deleted), then, once
    confirmed there, the photos and their files. Only the person's own: another's id counts as missing."""
    form = BulkDeleteForm(request.POST)
    back = request.POST.get("next", "")
    back = back if _is_history_page(back) else reverse("classifier:history")
    if not form.is_valid():
        context = {"errors": _errors_of(form), "back": back}
        return render(request, "classifier/bulk_delete.html", context, status=400)
    chosen = Prediction.objects.filter(owner=request.user, pk__in=form.cleaned_data["ids"])
    if not form.cleaned_data["confirmed"]:
        if not chosen.exists():
            context = {"errors": ["None of the selected photos exists any more."], "back": back}
            return render(request, "classifier/bulk_delete.html", context, status=404)
        return render(request, "classifier/bulk_delete.html", {"chosen": chosen, "back": back})
    deleted = do_delete_predictions(request.user, form.cleaned_data["ids"])
    messages.success(request, f"Deleted {deleted} photo{'s' if deleted != 1 else ''}.")
    return redirect(back)


def _is_history_page(url: str) -> bool:
    """A path under the history's, so never another site, and no line breaks into a header."""
    return url.startswith(reverse("classifier:history")) and url.isprintable()


def _serve_file(field, request, *, content_type: str, download_name: str):
    as_attachment = request.GET.get("download") == "1"
    return serve_file(field, content_type=content_type, download_name=download_name, as_attachment=as_attachment)
