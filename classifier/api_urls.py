from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import SimpleRouter

from .api import PredictionViewSet

app_name = "api"
router = SimpleRouter()
router.register("predictions", PredictionViewSet, basename="prediction")

urlpatterns = [
    path("token/", login_not_required(csrf_exempt(obtain_auth_token)), name="token"),
    *router.urls,
]
