"""Who may see a prediction, and where a form may send its person back to."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from ..models import Prediction


def get_prediction_for_user(request, pk: int) -> Prediction:
    """The one place that decides who may see a prediction: its owner, and nobody else (404)."""
    return get_object_or_404(Prediction.objects.select_related("model_version", "feedback"), pk=pk, owner=request.user)


def is_history_page(url: str) -> bool:
    """A path under the history's, so never another site, and no line breaks into a header."""
    return url.startswith(reverse("classifier:history")) and url.isprintable()
