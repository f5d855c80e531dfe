from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from accounts.ratelimits import limit_log_ins
from classifier.metrics import metrics

admin.site.site_header = "catdog administration"
admin.site.site_title = "catdog admin"


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico on every page without a <link rel="icon"> (the admin's)."""
    return redirect(static("img/favicon.svg"), permanent=True)


# No route serves MEDIA_ROOT, in any settings: photos go only through views that check the owner.
urlpatterns = [
    # The admin's log-in is a log-in form too: the same limits as the site's.
    path("admin/login/", limit_log_ins(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("metrics", metrics, name="metrics"),
    path("accounts/webhooks/", include("webhooks.urls")),
    path("accounts/", include("accounts.urls")),
    # Before classifier's, which answers any other path under /api/ with a 404.
    path("api/", include("webhooks.api_urls")),
    path("api/", include("classifier.api_urls")),
    path("", include("classifier.urls")),
]
