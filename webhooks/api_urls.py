from rest_framework.routers import SimpleRouter

from .api import WebhookViewSet

app_name = "webhooks-api"
router = SimpleRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
urlpatterns = router.urls
