from pathlib import PurePath

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.ratelimits import rate_limit
from trainer.images import content_type_of

from .actions import do_create_predictions, do_delete_prediction, do_retry_prediction
from .forms import UploadForm
from .models import Prediction

HISTORY_PAGE_SIZE = 24


def _get_prediction_for_user(request, pk: int) -> Prediction:
    """The one place that decides who may see a prediction: its owner, and nobody else (404)."""
    return get_object_or_404(Prediction.objects.select_related("model_version"), pk=pk, owner=request.user)


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
    predictions = Prediction.objects.filter(owner=request.user).select_related("model_version")
    label = request.GET.get("label", "")
    if label:
        predictions = predictions.filter(label=label)
    labels = (
        Prediction.objects.filter(owner=request.user)
        .exclude(label="")
        .order_by("label")
        .values_list("label", flat=True)
        .distinct()
    )
    page = Paginator(predictions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "labels": labels, "label": label}
    return render(request, "classifier/history.html", context)


@require_GET
def detail(request, pk: int):
    return render(request, "classifier/detail.html", {"prediction": _get_prediction_for_user(request, pk)})


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


@require_POST
def retry(request, pk: int):
    prediction = _get_prediction_for_user(request, pk)
    if do_retry_prediction(prediction):
        messages.info(request, "Sent again to the model.")
    return redirect("classifier:detail", prediction.pk)


@require_POST
def delete(request, pk: int):
    prediction = _get_prediction_for_user(request, pk)
    do_delete_prediction(prediction)
    messages.success(request, f"Deleted {prediction.original_name}.")
    return redirect("classifier:history")


def _serve_file(field, request, *, content_type: str, download_name: str):
    if not field.name:
        raise Http404("No such file.")
    storage = field.storage
    as_attachment = request.GET.get("download") == "1"
    try:
        storage.path(field.name)
    except NotImplementedError:  # remote storage (S3): a short-lived signed URL, made for the owner only
        # The bucket answers with the same headers as a local file would (S3's response-content-* overrides).
        headers = {
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition_header(as_attachment, download_name),
        }
        return HttpResponseRedirect(storage.url(field.name, parameters=headers))
    try:
        f = storage.open(field.name, "rb")
    except FileNotFoundError:
        raise Http404("The file is no longer in storage.") from None
    response = FileResponse(f, as_attachment=as_attachment, filename=download_name, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
