from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from accounts.ratelimits import check_log_in, count_failed_log_in

from .actions import (
    NOT_ANSWERED,
    FeedbackError,
    do_create_predictions,
    do_delete_prediction,
    do_give_feedback,
    do_withdraw_feedback,
)
from .models import FEEDBACK_FILTERS, Prediction, verdict_choices
from .serializers import FeedbackInputSerializer, FeedbackSerializer, PredictionCreateSerializer, PredictionSerializer
from .views import serve_heatmap


class _ScopedRateThrottle(ScopedRateThrottle):
    def get_rate(self):
        # DRF copies the rates into the class when it is imported; read them per request instead, so
        # that the settings in force (and a test's) apply.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


class PredictionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's own predictions; anyone else's id answers 404."""

    serializer_class = PredictionSerializer
    throttle_classes = [_ScopedRateThrottle]

    def get_throttles(self):
        # Uploads cost storage and a worker's time: their own, tighter rate per user. Reading (the pages
        # poll each pending prediction) has a generous one.
        self.throttle_scope = "uploads" if self.action == "create" else "api"
        return super().get_throttles()

    def get_queryset(self):
        predictions = Prediction.objects.filter(owner=self.request.user).select_related("model_version", "feedback")
        verdict = self.request.query_params.get("verdict")
        if self.action == "list" and verdict is not None:
            choices = verdict_choices(self.request.user)
            if verdict not in choices:
                listed = f"{', '.join(choices[:-1])} or {choices[-1]}"
                message = f"{verdict!r} is not a verdict these answers can have: use one of {listed}."
                raise exceptions.ValidationError({"verdict": [message]})
            predictions = predictions.with_verdict(verdict)
        feedback = self.request.query_params.get("feedback")
        if self.action == "list" and feedback is not None:
            if feedback not in FEEDBACK_FILTERS:
                message = (
                    f"{feedback!r} is no feedback filter: use any (with feedback) or disagrees (the feedback "
                    "differs from the answer)."
                )
                raise exceptions.ValidationError({"feedback": [message]})
            predictions = predictions.with_feedback(feedback)
        return predictions

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

    @action(detail=True, methods=["post", "delete"])
    def feedback(self, request, pk=None):
        """`POST {"label": ...}`: what the photo really shows (201, or 200 when it replaces earlier feedback);
        `DELETE`: withdraw it (204; 404 if there was none). The answer itself never changes."""
        prediction = self.get_object()
        if request.method == "DELETE":
            if not do_withdraw_feedback(prediction):
                raise exceptions.NotFound("There is no feedback on this photo.")
            return Response(status=status.HTTP_204_NO_CONTENT)
        if prediction.status != Prediction.Status.DONE:
            raise exceptions.ValidationError({"detail": NOT_ANSWERED})
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            feedback, created = do_give_feedback(prediction, request.user, serializer.validated_data["label"])
        except FeedbackError as error:
            raise exceptions.ValidationError({"label": [str(error)]}) from None
        return Response(
            FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def heatmap(self, request, pk=None):
        """`GET predictions/{id}/heatmap.png`: where the model looked, grayscale over the upright photo; 404
        until it is answered, as for anyone else's prediction."""
        return serve_heatmap(request, self.get_object())

    def perform_destroy(self, prediction):
        do_delete_prediction(prediction)


class TokenView(ObtainAuthToken):
    """`POST username, password`: the caller's token, under the same log-in limits as the log-in page."""

    def post(self, request, *args, **kwargs):
        username = str(request.data.get("username", ""))
        wait = check_log_in(request, username)
        if wait:
            raise exceptions.Throttled(wait=wait)
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.ValidationError:
            count_failed_log_in(request, username)
            raise
