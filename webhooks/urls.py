from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [
    path("", views.webhooks, name="list"),
    path("<int:pk>/", views.webhook_detail, name="detail"),
    path("<int:pk>/delete/", views.delete_webhook, name="delete"),
    path("<int:pk>/deliveries/<int:delivery_pk>/send-again/", views.send_again, name="send-again"),
]
