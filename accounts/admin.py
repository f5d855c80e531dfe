from django.contrib import admin

from .models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """People's settings, read here: whether their corrected photos may be used is theirs alone to decide, on
    their settings page, so no admin can turn it on (or back off) for them."""

    list_display = ["user", "corrections_may_be_used", "corrections_changed_at"]
    list_filter = ["corrections_may_be_used"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    fields = ["user", "corrections_may_be_used", "corrections_changed_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made the first time its person saves a setting

    def has_change_permission(self, request, obj=None):
        return False
