from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from .api import PredictionViewSet, TokenView, api_not_found

app_name = "api"
router = SimpleRouter()
router.register("predictions", PredictionViewSet, basename="prediction")

urlpatterns = [
    # Public, like any API reference (README "REST API"). The page's script is a file of its own (the split
    # view), so the Content-Security-Policy needs no inline script for it.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("token/", login_not_required(csrf_exempt(TokenView.as_view())), name="token"),
    path(
        "predictions/<int:pk>/heatmap.png",
        PredictionViewSet.as_view({"get": "heatmap"}),
        name="prediction-heatmap",
    ),
    *router.urls,
    # Any other path under /api/ answers as the API does, in JSON: never the site's HTML page.
    re_path(r"", api_not_found),
]
