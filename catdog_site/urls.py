from django.contrib import admin
from django.urls import include, path

from accounts.ratelimits import limit_log_ins

admin.site.site_header = "catdog administration"
admin.site.site_title = "catdog admin"

# No route serves MEDIA_ROOT, in any settings: photos go only through views that check the owner.
urlpatterns = [
    # The admin's log-in is a log-in form too: the same limits as the site's.
    path("admin/login/", limit_log_ins(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/", include("classifier.api_urls")),
    path("", include("classifier.urls")),
]
