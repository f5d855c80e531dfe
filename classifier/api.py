from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.reverse import reverse

from .actions import do_create_predictions, do_delete_prediction
from .models import Prediction
from .serializers import PredictionCreateSerializer, PredictionSerializer


class PredictionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's own predictions; anyone else's id answers 404."""

    serializer_class = PredictionSerializer

    def get_queryset(self):
        return Prediction.objects.filter(owner=self.request.user).select_related("model_version")

    def create(self, request):
        serializer = PredictionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        [prediction] = do_create_predictions(request.user, [serializer.validated_data["image"]])
        url = reverse("api:prediction-detail", args=[prediction.pk], request=request)
        return Response(
            {"id": prediction.pk, "status": prediction.status, "url": url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )

    def perform_destroy(self, prediction):
        do_delete_prediction(prediction)
