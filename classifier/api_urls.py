from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from .api import PredictionViewSet, TokenView

app_name = "api"
router = SimpleRouter()
router.register("predictions", PredictionViewSet, basename="prediction")

urlpatterns = [
    path("token/", login_not_required(csrf_exempt(TokenView.as_view())), name="token"),
    path(
        "predictions/<int:pk>/heatmap.png",
        PredictionViewSet.as_view({"get": "heatmap"}),
        name="prediction-heatmap",
    ),
    *router.urls,
]
