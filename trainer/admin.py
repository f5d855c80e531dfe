import zipfile

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from .actions import (
    TrainingRefused,
    check_activation,
    do_activate_model_version,
    do_cancel_training,
    do_create_dataset,
    do_recheck_dataset,
    do_request_training,
)
from .charts import confusion_rows, line_chart
from .datasets import DatasetRefused, check_server_folder, parse_url_list
from .forms import TrainingForm
from .models import Dataset, DatasetImage, ModelVersion

_URL_CSV_MAX_BYTES = 5 * 1024 * 1024


class DatasetAddForm(forms.ModelForm):
    """A name and exactly one source: a zip upload, a folder on the server, or image URLs with their class."""

    archive = forms.FileField(
        required=False,
        label="Zip archive",
        help_text="One folder per class (cat/1.jpg, dog/2.jpg), or Kaggle-style files named like cat.0.jpg.",
    )
    folder = forms.CharField(
        required=False,
        max_length=500,
        label="Folder on the server",
        help_text="An absolute path, laid out like the archive.",
    )
    url_lines = forms.CharField(
        required=False,
        label="Image URLs",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "placeholder": "https://example.com/cat1.jpg,cat"}),
        help_text="One image a line: its URL and its class, separated by a comma or a space.",
    )
    url_csv = forms.FileField(required=False, label="…or a CSV file", help_text="Rows of url,label.")

    class Meta:
        model = Dataset
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limits the check applies, stated where the admin chooses what to send.
        self.fields["archive"].help_text += f" Up to {filesizeformat(settings.CATDOG_DATASET_MAX_ZIP_BYTES)}."
        roots = ", ".join(settings.CATDOG_DATASET_FOLDER_ROOTS) or "none (CATDOG_DATASET_FOLDER_ROOTS)"
        self.fields["folder"].help_text += f" Folders under: {roots}."
        self.fields["url_lines"].help_text += f" Up to {settings.CATDOG_DATASET_MAX_URLS} URLs."

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if archive is None:
            return None
        limit = settings.CATDOG_DATASET_MAX_ZIP_BYTES
        if archive.size > limit:
            raise forms.ValidationError(
                f"The archive is {filesizeformat(archive.size)}; the limit is {filesizeformat(limit)}."
            )
        if not zipfile.is_zipfile(archive):
            raise forms.ValidationError("This file is not a zip archive.")
        archive.seek(0)
        return archive

    def clean_folder(self):
        folder = self.cleaned_data["folder"].strip()
        if folder:
            try:
                check_server_folder(folder)
            except DatasetRefused as refusal:
                raise forms.ValidationError(str(refusal)) from None
        return folder

    def clean_url_csv(self):
        csv_file = self.cleaned_data["url_csv"]
        if csv_file is None:
            return ""
        if csv_file.size > _URL_CSV_MAX_BYTES:
            raise forms.ValidationError(f"The CSV file is larger than {filesizeformat(_URL_CSV_MAX_BYTES)}.")
        try:
            return csv_file.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The CSV file is not UTF-8 text.") from None

    def clean(self):
        cleaned = super().clean()
        # Which sources were filled in, valid or not: one error for "two sources", not one per field.
        filled = {
            Dataset.Source.ZIP: bool(self["archive"].data),
            Dataset.Source.FOLDER: bool((self["folder"].data or "").strip()),
            Dataset.Source.URLS: bool((self["url_lines"].data or "").strip() or self["url_csv"].data),
        }
        given = [source for source, present in filled.items() if present]
        if len(given) != 1:
            raise forms.ValidationError("Give exactly one source: a zip archive, a folder on the server, or URLs.")
        self.instance.source = given[0]
        self.instance.path = cleaned.get("folder") or ""
        if given[0] == Dataset.Source.URLS:
            self.instance.urls = self._url_pairs(cleaned)
        return cleaned

    def _url_pairs(self, cleaned) -> list[list[str]]:
        pairs = []
        for field in ("url_lines", "url_csv"):  # each on its own, so that line numbers mean that field's lines
            if cleaned.get(field):
                try:
                    pairs += parse_url_list(cleaned[field])
                except ValueError as error:
                    self.add_error(field, str(error))
        if len(pairs) > settings.CATDOG_DATASET_MAX_URLS:
            self.add_error(None, f"{len(pairs)} URLs were given; the limit is {settings.CATDOG_DATASET_MAX_URLS}.")
        return [list(pair) for pair in pairs]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    """Datasets are added here and then only looked at: a worker fills them in, nothing is edited by hand."""

    list_display = ["name", "source", "status", "image_total", "classes", "created_by", "created_at"]
    list_filter = ["status", "source"]
    search_fields = ["name"]
    list_select_related = ["created_by"]
    actions = ["recheck", "train"]
    change_form_template = "admin/trainer/dataset/change_form.html"
    add_fieldsets = [
        (None, {"fields": ["name"]}),
        ("Zip archive", {"fields": ["archive"]}),
        ("Folder on the server", {"fields": ["folder"]}),
        ("Image URLs", {"fields": ["url_lines", "url_csv"]}),
    ]
    fieldsets = [
        (None, {"fields": ["name", "source", "status", "error"]}),
        ("Content", {"fields": ["classes", "image_total", "content_sha256"]}),
        ("Source", {"fields": ["path", "archive_name", "url_count"]}),
        ("History", {"fields": ["created_by", "created_at", "started_at", "finished_at", "attempts"]}),
    ]
    readonly_fields = ["classes", "image_total", "archive_name", "url_count"]

    @admin.display(description="classes")
    def classes(self, dataset):
        return ", ".join(dataset.class_names) or "—"

    @admin.display(description="images")
    def image_total(self, dataset):
        return dataset.report.get("total", "—") if dataset.status == Dataset.Status.READY else "—"

    @admin.display(description="archive")
    def archive_name(self, dataset):
        return dataset.archive.name or "—"  # no link: archives are never served

    @admin.display(description="URLs")
    def url_count(self, dataset):
        return len(dataset.urls) or "—"

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            # Only the name is bound to the row. Bound too, the archive field (a model field of the same
            # name) was saved by the row's first save, under datasets/None/, moving an upload kept on disk
            # (over FILE_UPLOAD_MAX_MEMORY_SIZE) away before do_create_dataset could store it: HTTP 500.
            kwargs.update(form=DatasetAddForm, fields=["name"])
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False  # the change page only shows what the worker found

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        do_create_dataset(obj, archive=form.cleaned_data.get("archive"))

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"{obj} is being checked; this page shows the result when it is done.")
        return redirect("admin:trainer_dataset_change", obj.pk)

    @admin.action(description="Check the selected datasets again", permissions=["add"])
    def recheck(self, request, queryset):
        busy = [str(dataset) for dataset in queryset if not do_recheck_dataset(dataset)]
        if busy:
            self.message_user(request, f"Being checked right now: {', '.join(busy)}.", messages.WARNING)
        else:
            self.message_user(request, "Sent to a worker to be checked again.", messages.SUCCESS)

    @admin.action(description="Train a model on the selected dataset", permissions=["train"])
    def train(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one dataset to train on.", messages.ERROR)
            return None
        return redirect("admin:trainer_dataset_train", queryset.get().pk)

    def has_train_permission(self, request, obj=None):
        return request.user.has_perm("trainer.train_modelversion")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/train/", view(self.train_view), name="trainer_dataset_train"),
            path("<path:object_id>/recheck/", view(self.recheck_view), name="trainer_dataset_recheck"),
            path(
                "<path:object_id>/images/<int:image_id>/thumbnail/",
                view(self.thumbnail_view, cacheable=True),  # named by content: it never changes
                name="trainer_dataset_thumbnail",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def recheck_view(self, request, object_id):
        if not self.has_add_permission(request):
            raise PermissionDenied
        dataset = get_object_or_404(Dataset, pk=unquote(object_id))
        if do_recheck_dataset(dataset):
            self.message_user(request, f"{dataset} is being checked again.", messages.SUCCESS)
        else:
            self.message_user(request, f"{dataset} is being checked right now.", messages.WARNING)
        return redirect("admin:trainer_dataset_change", dataset.pk)

    def train_view(self, request, object_id):
        """The training form for one ready dataset; a valid post queues the training and shows its version."""
        if not self.has_train_permission(request):
            raise PermissionDenied
        dataset = get_object_or_404(Dataset, pk=unquote(object_id))
        if dataset.status != Dataset.Status.READY:
            self.message_user(
                request, f"{dataset} is {dataset.get_status_display().lower()}: only a ready dataset can train.",
                messages.ERROR,
            )  # fmt: skip
            return redirect("admin:trainer_dataset_change", dataset.pk)
        form = TrainingForm(request.POST or None, dataset=dataset)
        if request.method == "POST" and form.is_valid():
            try:
                version, created = do_request_training(
                    dataset,
                    name=form.version_name(),
                    params=form.params(),
                    user=request.user,
                    test_dataset=form.cleaned_data["test_dataset"],
                    request_key=form.cleaned_data["request_key"],
                )
            except TrainingRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                if created:
                    self.message_user(request, f"Queued the training of {version}.", messages.SUCCESS)
                else:
                    self.message_user(
                        request, f"That training is already {version.get_status_display().lower()}: {version}.",
                        messages.WARNING,
                    )  # fmt: skip
                return redirect("admin:trainer_modelversion_change", version.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Train a model on {dataset}",
            "dataset": dataset,
            "form": form,
            "in_progress": ModelVersion.objects.filter(
                dataset=dataset, status__in=[ModelVersion.Status.QUEUED, ModelVersion.Status.RUNNING]
            ),
        }
        return TemplateResponse(
            request, "admin/trainer/dataset/train.html", context, status=400 if form.errors else 200
        )

    def thumbnail_view(self, request, object_id, image_id):
        """A sample's thumbnail, for staff who may see datasets; never served as public media."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        image = get_object_or_404(DatasetImage, pk=image_id, dataset_id=unquote(object_id))
        if not image.thumbnail:
            raise Http404("This image has no thumbnail.")
        try:
            f = image.thumbnail.storage.open(image.thumbnail.name, "rb")
        except FileNotFoundError:
            raise Http404("The thumbnail is no longer in storage.") from None
        response = FileResponse(f, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}), **(self._report_context(request, dataset) if dataset else {})}
        return super().change_view(request, object_id, form_url, context)

    def _report_context(self, request, dataset: Dataset) -> dict:
        report = dataset.report or {}
        total = report.get("total") or 0
        samples: dict[str, list[DatasetImage]] = {}
        for image in dataset.images.exclude(thumbnail=""):
            samples.setdefault(image.label, []).append(image)
        rows = [
            {"label": label, "count": count, "percent": 100 * count / total, "samples": samples.get(label, [])}
            for label, count in report.get("counts", {}).items()
        ]
        return {
            "dataset": dataset,
            "report": report,
            "class_rows": rows,
            "checking": dataset.status in (Dataset.Status.PENDING, Dataset.Status.PROCESSING),
            "can_recheck": self.has_add_permission(request),
            "can_train": self.has_train_permission(request) and dataset.status == Dataset.Status.READY,
            "train_url": reverse("admin:trainer_dataset_train", args=[dataset.pk]),
            "recheck_url": reverse("admin:trainer_dataset_recheck", args=[dataset.pk]),
        }


PHASES = {
    "starting": "Starting",
    "copying": "Copying the dataset from storage",
    "loading": "Reading and resizing the photos",
    "features": "Computing the frozen network's features",
    "training": "Training",
    "saving": "Measuring and saving the model",
}


def training_progress(version: ModelVersion) -> dict:
    """What the version page says about a training: phase, epoch i of N, scores, elapsed, time left."""
    progress = version.progress or {}
    now = timezone.now()
    end = now if version.in_progress else (version.heartbeat_at or version.trained_at or now)
    elapsed = (end - version.started_at).total_seconds() if version.started_at else None
    phase = progress.get("phase") or ("starting" if version.status == ModelVersion.Status.RUNNING else None)
    epoch, epochs = progress.get("epoch") or 0, progress.get("epochs") or version.params.get("epochs")
    done, total = progress.get("done") or 0, progress.get("total") or 0
    remaining = None
    phase_started = progress.get("phase_started")
    if version.status == ModelVersion.Status.RUNNING and phase_started:
        in_phase = (now - timezone.datetime.fromisoformat(phase_started)).total_seconds()
        if phase == "training" and epoch and epochs:
            remaining = in_phase / epoch * (epochs - epoch)
        elif phase == "features" and done and total:
            remaining = in_phase / done * (total - done)
    if phase == "features" and total:
        percent = 100 * done / total
    elif phase == "training" and epochs:
        percent = 100 * epoch / epochs
    else:
        percent = None
    return {
        "phase": PHASES.get(phase, phase or ""),
        "in_features": phase == "features",
        "epoch": epoch,
        "epochs": epochs,
        "done": done,
        "total": total,
        "percent": percent,
        "loss": progress.get("loss"),
        "accuracy": progress.get("accuracy"),
        "test_loss": progress.get("test_loss"),
        "test_accuracy": progress.get("test_accuracy"),
        "elapsed": _duration(elapsed),
        "remaining": _duration(remaining),
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Versions come from trainings (started on a dataset's page) or `manage.py train_model`; here they
    are watched, cancelled, compared, activated and rolled back. Nothing about a version is edited."""

    list_display = ["name", "status", "state", "is_active", "architecture", "test_accuracy", "dataset", "created_at"]
    list_filter = ["status", "architecture", "is_active"]
    search_fields = ["name"]
    list_select_related = ["dataset"]
    actions = ["activate"]
    change_form_template = "admin/trainer/modelversion/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "status", "is_active"]}),  # the error: once, in the training panel
        ("Model", {"fields": ["architecture", "class_names", "image_size", "model_file", "file_sha256"]}),
        ("Data", {"fields": ["dataset", "dataset_sha256", "test_dataset", "test_sha256"]}),
        ("Settings", {"fields": ["settings_table"]}),
        ("History", {"fields": ["created_by", "created_at", "started_at", "trained_at", "worker"]}),
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

    @admin.display(description="progress")
    def state(self, version):
        if version.status == ModelVersion.Status.RUNNING:
            progress = training_progress(version)
            step = f"epoch {progress['epoch']} of {progress['epochs']}" if progress["epoch"] else progress["phase"]
            return f"{step}, {progress['remaining']} left" if progress["remaining"] else step
        if version.status in (ModelVersion.Status.FAILED, ModelVersion.Status.CANCELLED):
            return Truncator(version.error).chars(80)
        return "—"

    @admin.display(description="file")
    def model_file(self, version):
        return version.file.name or "—"  # no link: model files are never served

    @admin.display(description="settings")
    def settings_table(self, version):
        rows = "".join(
            f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>" for key, value in sorted(version.params.items())
        )
        return mark_safe(f"<table>{rows}</table>") if rows else "—"  # noqa: S308 (every value escaped)

    @admin.action(description="Activate the selected version (workers answer with it from the next photo)",
                  permissions=["activate"])  # fmt: skip
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return None
        version = queryset.get()
        if version.status == ModelVersion.Status.READY and not check_activation(version).lower_score:
            return self._activate(request, version)
        return redirect("admin:trainer_modelversion_activate", version.pk)  # it explains, or asks first

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/activate/", view(self.activate_view), name="trainer_modelversion_activate"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="trainer_modelversion_cancel"),
            *super().get_urls(),
        ]

    def activate_view(self, request, object_id):
        """POST activates, unless the active version did better on the same test photos: then the post
        must carry the confirmation this page asks for. GET only shows the page."""
        if not self.has_activate_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        if version.status != ModelVersion.Status.READY or version.is_active:
            state = "already active" if version.is_active else f"{version.get_status_display().lower()}, not ready"
            self.message_user(request, f"{version} is {state}.", messages.WARNING)
            return redirect("admin:trainer_modelversion_change", version.pk)
        check = check_activation(version)
        if request.method == "POST" and (request.POST.get("confirm") == "yes" or not check.lower_score):
            return self._activate(request, version)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Activate {version}?",
            "version": version,
            "active": check.active,
            "lower_score": check.lower_score,
        }
        return TemplateResponse(request, "admin/trainer/modelversion/activate_confirm.html", context)

    def _activate(self, request, version: ModelVersion):
        do_activate_model_version(version)
        self.message_user(
            request, f"Activated {version}: workers answer with it from the next photo.", messages.SUCCESS
        )
        return redirect("admin:trainer_modelversion_change", version.pk)

    @method_decorator(require_POST)
    def cancel_view(self, request, object_id):
        if not self.has_train_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        if do_cancel_training(version):
            self.message_user(request, f"Cancelling the training of {version}; it stops within seconds.")
        else:
            self.message_user(request, f"{version} had already ended.", messages.WARNING)
        return redirect("admin:trainer_modelversion_change", version.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}), **(self._version_context(request, version) if version else {})}
        return super().change_view(request, object_id, form_url, context)

    def _version_context(self, request, version: ModelVersion) -> dict:
        metrics = version.metrics or {}
        history = metrics.get("history") or (version.progress or {}).get("history") or {}
        per_class = metrics.get("per_class") or {}
        matrix = metrics.get("confusion_matrix")
        check = check_activation(version) if version.status == ModelVersion.Status.READY else None
        return {
            "version": version,
            "progress": training_progress(version),
            "loss_chart": line_chart({key: history.get(key, []) for key in ("loss", "test_loss")}, y_min=0),
            "accuracy_chart": line_chart({key: history.get(key, []) for key in ("accuracy", "test_accuracy")}, y_max=1),
            "per_class": per_class,
            "confusion": confusion_rows(matrix, version.class_names) if matrix else None,
            "can_cancel": version.in_progress and self.has_train_permission(request),
            "can_activate": (
                version.status == ModelVersion.Status.READY
                and not version.is_active
                and self.has_activate_permission(request)
            ),
            "lower_than_active": check.active if check and check.lower_score else None,
            "activate_url": reverse("admin:trainer_modelversion_activate", args=[version.pk]),
            "cancel_url": reverse("admin:trainer_modelversion_cancel", args=[version.pk]),
        }
