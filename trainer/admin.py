from django.contrib import admin, messages

from .actions import do_activate_model_version
from .models import Dataset, ModelVersion


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "path", "created_at"]
    search_fields = ["name"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "architecture", "status", "is_active", "test_accuracy", "image_size", "trained_at"]
    list_filter = ["status", "architecture", "is_active"]
    search_fields = ["name"]
    readonly_fields = [
        "status", "file", "file_sha256", "class_names", "image_size", "params", "metrics",
        "test_accuracy", "summary", "is_active", "error", "created_by", "created_at", "trained_at",
    ]  # fmt: skip
    actions = ["activate"]

    @admin.action(description="Activate the selected version (workers answer with it from the next photo)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        if version.status != ModelVersion.Status.READY:
            self.message_user(
                request, f"{version} is {version.get_status_display().lower()}, not ready.", messages.ERROR
            )
            return
        do_activate_model_version(version)
        self.message_user(request, f"{version} is now the active model.", messages.SUCCESS)
