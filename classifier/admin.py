from django.contrib import admin

from .models import Prediction


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "owner", "status", "label", "confidence", "model_version", "created_at"]
    list_filter = ["status", "label", "model_version"]
    search_fields = ["original_name", "owner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "model_version"]
    readonly_fields = [f.name for f in Prediction._meta.fields]

    def has_add_permission(self, request):
        return False  # predictions come from uploads, not from the admin
