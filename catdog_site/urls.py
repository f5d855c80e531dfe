from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "catdog administration"
admin.site.site_title = "catdog admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/", include("classifier.api_urls")),
    path("", include("classifier.urls")),
]
