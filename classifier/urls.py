from django.urls import path

from . import views

app_name = "classifier"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("predictions/", views.history, name="history"),
    path("predictions/updates/", views.history_updates, name="history-updates"),
    path("predictions/export.csv", views.history_export, name="history-export"),
    path("predictions/delete/", views.bulk_delete, name="bulk-delete"),
    path("predictions/<int:pk>/", views.detail, name="detail"),
    path("predictions/updates/detail/", views.detail_updates, name="detail-updates"),
    path("predictions/<int:pk>/image/", views.image, name="image"),
    path("predictions/<int:pk>/thumbnail/", views.thumbnail, name="thumbnail"),
    path("predictions/<int:pk>/heatmap.png", views.heatmap, name="heatmap"),
    path("predictions/<int:pk>/retry/", views.retry, name="retry"),
    path("predictions/<int:pk>/feedback/", views.feedback, name="feedback"),
    path("predictions/<int:pk>/delete/", views.delete, name="delete"),
]
