"""Datasets: added here from a zip, a server folder or URLs, then checked by a worker and only looked at."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from ..actions import (
    TrainingRefused,
    do_create_dataset,
    do_recheck_dataset,
    do_request_training,
    do_set_auto_promote,
)
from ..datasets import DatasetRefused
from ..files import serve_file
from ..forms import AutoPromoteForm, DatasetAddForm, TrainingForm
from ..models import Dataset, DatasetImage, ModelVersion
from ..presenters import dataset_report, is_being_checked, lineage_report
from .near_duplicates import NearDuplicatesMixin
from .polling import poll_answer, poll_view


@admin.register(Dataset)
class DatasetAdmin(NearDuplicatesMixin, admin.ModelAdmin):
    """Datasets are added here and then only looked at: a worker fills them in, nothing is edited by hand but a
    lineage's automatic promotion, on its root. Dataset versions are made from the review queue, frozen."""

    list_display = [
        "name",
        "source",
        "status",
        "image_total",
        "classes",
        "parent_link",
        "lineage",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["name"]
    list_select_related = ["created_by", "parent"]
    actions = ["recheck", "train"]
    change_form_template = "admin/trainer/dataset/change_form.html"
    add_fieldsets = [
        (None, {"fields": ["name", "auto_promote"]}),
        ("Zip archive", {"fields": ["archive"]}),
        ("Folder on the server", {"fields": ["folder"]}),
        ("Image URLs", {"fields": ["url_lines", "url_csv"]}),
    ]
    fieldsets = [
        # The status, the check's times and error: in the live panel above (templates/admin/trainer/dataset/).
        (None, {"fields": ["name", "source"]}),
        ("Content", {"fields": ["classes", "image_total", "content_sha256"]}),
        ("Source", {"fields": ["path", "archive_name", "url_count"]}),
        ("History", {"fields": ["created_by", "created_at"]}),
    ]
    # A version has no source to read: its parent, and what it added (the page's lineage sections).
    version_fieldsets = [
        (None, {"fields": ["name", "source"]}),
        ("Content", {"fields": ["classes", "image_total", "content_sha256"]}),
        ("Made from", {"fields": ["parent_link", "root_auto_promote"]}),
        ("History", {"fields": ["created_by", "created_at"]}),
    ]
    readonly_fields = [
        "classes",
        "image_total",
        "archive_name",
        "url_count",
        "parent_link",
        "root_auto_promote",
    ]

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

    @admin.display(description="parent", ordering="parent__name")
    def parent_link(self, dataset):
        return _link(dataset.parent) if dataset.parent_id else "—"

    @admin.display(description="lineage")
    def lineage(self, dataset):
        """A version: its lineage's root and its generation; a root: how many versions were made from it."""
        if dataset.parent_id is not None:
            chain = dataset.lineage
            return format_html("version {} of {}", len(chain), _link(chain[0]))
        count = getattr(dataset, "version_count", None)
        if count is None:
            count = dataset.children.count()
        return f"root of {count} version{'s' if count != 1 else ''}" if count else "—"

    @admin.display(description="promote automatically")
    def root_auto_promote(self, dataset):
        root = dataset.root
        return format_html("{}: read on the lineage's root, {}", "on" if root.auto_promote else "off", _link(root))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(version_count=Count("children"))

    def _add_fields(self, request) -> list[str]:
        """The add form's fields bound to the row: the name, and automatic promotion for who may activate
        versions (it activates them on its own), as on the root's page."""
        return ["name", "auto_promote"] if self.has_auto_promote_permission(request) else ["name"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": self._add_fields(request)}), *self.add_fieldsets[1:]]
        return self.version_fieldsets if obj.source == Dataset.Source.VERSION else self.fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            # Only the name and the setting are bound to the row. Bound too, the archive field (a model field of
            # the same name) was saved by the row's first save, under datasets/None/, moving an upload kept on
            # disk (over FILE_UPLOAD_MAX_MEMORY_SIZE) away before do_create_dataset could store it: HTTP 500.
            kwargs.update(form=DatasetAddForm, fields=self._add_fields(request))
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False  # the change page only shows what the worker found

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        do_create_dataset(obj, archive=form.cleaned_data.get("archive"))

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"The dataset {obj} is being checked; this page shows the result when it is done.")
        return redirect("admin:trainer_dataset_change", obj.pk)

    @admin.action(description="Check the selected datasets again", permissions=["add"])
    def recheck(self, request, queryset):
        versions = [str(dataset) for dataset in queryset if dataset.source == Dataset.Source.VERSION]
        if versions:
            self.message_user(
                request,
                f"Not checked again: {', '.join(versions)} "
                f"{'is a frozen dataset version' if len(versions) == 1 else 'are frozen dataset versions'}, "
                "whose images never change. Nothing was sent.",
                messages.ERROR,
            )
            return
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
            path("<path:object_id>/auto-promote/", view(self.auto_promote_view), name="trainer_dataset_auto_promote"),
            path(
                "<path:object_id>/images/<int:image_id>/thumbnail/",
                view(self.thumbnail_view, cacheable=True),  # named by content: it never changes
                name="trainer_dataset_thumbnail",
            ),
            path("<path:object_id>/updates/", poll_view(self, self.updates_view), name="trainer_dataset_updates"),
            *self.near_duplicate_urls(),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def recheck_view(self, request, object_id):
        if not self.has_add_permission(request):
            raise PermissionDenied
        dataset = get_object_or_404(Dataset, pk=unquote(object_id))
        try:
            sent = do_recheck_dataset(dataset)
        except DatasetRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            if sent:
                self.message_user(request, f"The dataset {dataset} is being checked again.", messages.SUCCESS)
            else:
                self.message_user(request, f"The dataset {dataset} is being checked right now.", messages.WARNING)
        return redirect("admin:trainer_dataset_change", dataset.pk)

    def has_auto_promote_permission(self, request) -> bool:
        return request.user.has_perm("trainer.activate_modelversion")  # it activates versions on its own

    @method_decorator(require_POST)
    def auto_promote_view(self, request, object_id):
        if not self.has_auto_promote_permission(request):
            raise PermissionDenied
        dataset = get_object_or_404(Dataset, pk=unquote(object_id))
        form = AutoPromoteForm(request.POST)
        form.is_valid()  # one checkbox: unticked is a valid answer too
        try:
            do_set_auto_promote(dataset, form.cleaned_data["auto_promote"])
        except DatasetRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            state = "on" if dataset.auto_promote else "off"
            message = f"Automatic promotion is {state} for the lineage of {dataset}."
            self.message_user(request, message, messages.SUCCESS)
        return redirect("admin:trainer_dataset_change", dataset.pk)

    def train_view(self, request, object_id):
        """The training form for one ready dataset; a valid post queues the training and shows its version."""
        if not self.has_train_permission(request):
            raise PermissionDenied
        dataset = get_object_or_404(Dataset, pk=unquote(object_id))
        if dataset.status != Dataset.Status.READY:
            state = dataset.get_status_display().lower()
            message = f"The dataset {dataset} is {state}: only a ready dataset can train."
            self.message_user(request, message, messages.ERROR)
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
                    outlier_dataset=form.cleaned_data["outlier_dataset"],
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
            "frozen_test_count": dataset.images.filter(split="test").count(),
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
        return serve_file(image.thumbnail, content_type="image/jpeg", download_name=f"{image.label} sample.jpg")

    def updates_view(self, request, object_id):
        """The check's live panel while a worker checks the dataset (the page's poll)."""
        dataset = get_object_or_404(Dataset, pk=unquote(object_id))
        context = self._check_context(dataset)
        return poll_answer(request, "admin/trainer/dataset/_check.html", context, going_on=context["checking"])

    def delete_view(self, request, object_id, extra_context=None):
        dataset = self.get_object(request, unquote(object_id))
        versions = list(dataset.children.all()) if dataset is not None else []
        if versions:  # PROTECT: Django's page lists them; this says why and what to do
            names = ", ".join(str(version) for version in versions)
            self.message_user(
                request,
                f"The dataset {dataset} cannot be deleted while versions made from it exist ({names}): their "
                "photos are its photos. Delete those versions first, the newest first, if you no longer need them.",
                messages.WARNING,
            )
        return super().delete_view(request, object_id, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}), **(self._report_context(request, dataset) if dataset else {})}
        return super().change_view(request, object_id, form_url, context)

    def _report_context(self, request, dataset: Dataset) -> dict:
        lineage = lineage_report(dataset)
        return {
            **self._check_context(dataset),
            **dataset_report(dataset),
            **lineage,
            **self.near_duplicate_context(request, dataset),
            "can_recheck": self.has_add_permission(request) and not lineage["is_version"],
            "can_auto_promote": self.has_auto_promote_permission(request) and not lineage["is_version"],
            "auto_promote_form": AutoPromoteForm(initial={"auto_promote": dataset.auto_promote}),
            "auto_promote_url": reverse("admin:trainer_dataset_auto_promote", args=[dataset.pk]),
            "can_train": self.has_train_permission(request) and dataset.status == Dataset.Status.READY,
            "train_url": reverse("admin:trainer_dataset_train", args=[dataset.pk]),
            "recheck_url": reverse("admin:trainer_dataset_recheck", args=[dataset.pk]),
        }

    def _check_context(self, dataset: Dataset) -> dict:
        return {
            "dataset": dataset,
            "checking": is_being_checked(dataset),
            "updates_url": reverse("admin:trainer_dataset_updates", args=[dataset.pk]),
        }


def _link(dataset: Dataset):
    return format_html('<a href="{}">{}</a>', reverse("admin:trainer_dataset_change", args=[dataset.pk]), dataset)
