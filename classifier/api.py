import hashlib
import json
from collections.abc import Mapping

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
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
    IdempotencyKeyReused,
    do_answer_once,
    do_create_predictions,
    do_delete_prediction,
    do_give_feedback,
    do_withdraw_feedback,
)
from .api_docs import (
    DETAIL,
    ONE_PREDICTION,
    PREDICTION_ID,
    SIGNED_IN,
    SIGNED_IN_WITH_BODY,
    THROTTLED,
    UNSUPPORTED,
    field_errors,
)
from .models import FEEDBACK_FILTERS, IdempotencyKey, Prediction, verdict_choices
from .serializers import (
    BatchCreatedSerializer,
    FeedbackInputSerializer,
    FeedbackSerializer,
    PredictionCreatedSerializer,
    PredictionCreateSerializer,
    PredictionSerializer,
)
from .views import serve_heatmap

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = IdempotencyKey._meta.get_field("key").max_length
# Says that the answer is the stored one of an earlier request with the same key (as Stripe's API does).
REPLAYED_HEADER = "Idempotent-Replayed"


class SettingsScopedRateThrottle(ScopedRateThrottle):
    def get_rate(self):
        # DRF copies the rates into the class when it is imported; read them per request instead, so
        # that the settings in force (and a test's) apply.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


@extend_schema_view(
    list=extend_schema(
        summary="The caller's predictions, newest first",
        parameters=[
            OpenApiParameter(
                "verdict",
                OpenApiTypes.STR,
                description="Only the answers with this verdict: a class name, `unsure` or `other` (any other "
                "value: 400 naming the choices).",
            ),
            OpenApiParameter(
                "feedback",
                OpenApiTypes.STR,
                enum=list(FEEDBACK_FILTERS),
                description="`any`: those with feedback; `disagrees`: those whose feedback differs from the answer.",
            ),
        ],
        responses={
            200: PredictionSerializer(many=True),
            400: field_errors("ListRefused", ["verdict", "feedback"], "An unknown filter value."),
            404: OpenApiResponse(DETAIL, "No such page."),
            **SIGNED_IN,
        },
    ),
    retrieve=extend_schema(
        summary="One prediction", parameters=[PREDICTION_ID], responses={200: PredictionSerializer, **ONE_PREDICTION}
    ),
    destroy=extend_schema(
        summary="Delete a prediction and its files",
        parameters=[PREDICTION_ID],
        responses={204: OpenApiResponse(description="Deleted."), **ONE_PREDICTION},
    ),
)
class PredictionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's own predictions; anyone else's id answers 404."""

    serializer_class = PredictionSerializer
    lookup_value_regex = r"\d+"  # any other id is no path of the API's (api_not_found)
    throttle_classes = [SettingsScopedRateThrottle]

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

    @extend_schema(
        summary="Upload a photo, or a zip of photos",
        description="Send the photo as `image`, or a zip of photos as `archive` (at most as many photos, as large "
        "each, as the upload page takes; a zip bomb, or an entry leading out of the archive, is refused as for "
        "datasets). With an `Idempotency-Key` header, a retry (same key, same request) within 24 hours gets the "
        "first answer again, marked `Idempotent-Replayed: true`, instead of a second prediction.",
        request={"multipart/form-data": PredictionCreateSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
                OpenApiParameter.HEADER,
                description="A key of the caller's choosing (a UUID, say), unique per upload; kept 24 hours.",
            ),
        ],
        responses={
            202: OpenApiResponse(
                PolymorphicProxySerializer(
                    "UploadAccepted",
                    [PredictionCreatedSerializer, BatchCreatedSerializer],
                    resource_type_field_name=None,
                ),
                "Stored and queued. A photo: the prediction, and its URL in the Location header too. A zip: a "
                "prediction for each photo that passed the checks, and the entries rejected, each with its reason.",
            ),
            400: field_errors(
                "UploadRefused",
                ["image", "archive", "non_field_errors"],
                "The photo was refused (`image`: the messages say why); the zip was refused whole, or nothing in it "
                "could be used (`archive`: why, then each entry's reason); or the Idempotency-Key header is empty or "
                "too long, or the body cannot be parsed (`detail`). Nothing is stored: the key may be sent again.",
                detail=True,
            ),
            422: OpenApiResponse(DETAIL, "The Idempotency-Key was sent before with another request."),
            **SIGNED_IN_WITH_BODY,
        },
    )
    def create(self, request):
        key = _idempotency_key(request)
        if key is None:
            status_code, body, replayed = *self._upload(request), False
        else:
            try:
                status_code, body, replayed = do_answer_once(
                    request.user, key, _fingerprint(request.data), lambda: self._upload(request)
                )
            except IdempotencyKeyReused as error:
                return Response({"detail": str(error)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        headers = {"Location": body["url"]} if "url" in body else {}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(body, status=status_code, headers=headers)

    def _upload(self, request) -> tuple[int, dict]:
        serializer = PredictionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "image" in serializer.validated_data:
            [prediction] = do_create_predictions(request.user, [serializer.validated_data["image"]])
            return status.HTTP_202_ACCEPTED, _created(prediction, request)
        checked = serializer.validated_data["archive"]
        predictions = do_create_predictions(request.user, checked.images)
        rejected = [{"name": name, "reason": reason} for name, reason in checked.rejected]
        body = {"predictions": [_created(prediction, request) for prediction in predictions], "rejected": rejected}
        return status.HTTP_202_ACCEPTED, body

    @extend_schema(
        methods=["POST"],
        summary="Say what the photo really shows",
        parameters=[PREDICTION_ID],
        request=FeedbackInputSerializer,
        responses={
            200: OpenApiResponse(FeedbackSerializer, "Replaced the earlier feedback."),
            201: OpenApiResponse(FeedbackSerializer, "Stored."),
            400: field_errors(
                "FeedbackRefused",
                ["label"],
                "A label the answering version does not know (`label`); a photo without an answer yet, or a body "
                "that cannot be parsed (`detail`).",
                detail=True,
            ),
            415: UNSUPPORTED,
            **ONE_PREDICTION,
        },
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Withdraw the feedback",
        parameters=[PREDICTION_ID],
        responses={204: OpenApiResponse(description="Withdrawn."), **ONE_PREDICTION},
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

    @extend_schema(
        summary="Where the model looked",
        operation_id="predictions_heatmap_retrieve",
        parameters=[
            PREDICTION_ID,
            OpenApiParameter("overlay", OpenApiTypes.STR, enum=["1"], description="`1`: coloured, see-through."),
            OpenApiParameter("download", OpenApiTypes.STR, enum=["1"], description="`1`: as an attachment."),
        ],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, "The PNG."),
            (302, "text/html"): OpenApiResponse(
                description="With S3 storage: to a signed URL of the PNG that expires (Location header)."
            ),
            **ONE_PREDICTION,
        },
    )
    def heatmap(self, request, pk=None):
        """`GET predictions/{id}/heatmap.png`: where the model looked, grayscale over the upright photo; 404
        until it is answered, as for anyone else's prediction."""
        return serve_heatmap(request, self.get_object())

    def perform_destroy(self, prediction):
        do_delete_prediction(prediction)


def _created(prediction: Prediction, request) -> dict:
    url = reverse("api:prediction-detail", args=[prediction.pk], request=request)
    return {"id": prediction.pk, "status": prediction.status, "url": url}


def _idempotency_key(request) -> str | None:
    """The request's Idempotency-Key, None without one; 400 for an empty or overlong one."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key.strip():
        raise exceptions.ValidationError({"detail": f"The {IDEMPOTENCY_HEADER} header is empty: send a unique key."})
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise exceptions.ValidationError(
            {
                "detail": f"The {IDEMPOTENCY_HEADER} header is {len(key)} characters long; at most "
                f"{IDEMPOTENCY_KEY_MAX_LENGTH} are kept (a UUID is 36)."
            }
        )
    return key


def _fingerprint(data) -> str:
    """A digest of a request's fields and files (their names and contents), whatever order and multipart boundary
    a retry sends them in."""
    digest = hashlib.sha256()
    if not isinstance(data, Mapping):  # a JSON body may be any value; the serializer refuses it
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
        return digest.hexdigest()
    items = data.lists() if hasattr(data, "lists") else ((name, [value]) for name, value in data.items())
    for name, values in sorted(items, key=lambda item: item[0]):
        for value in values:
            digest.update(json.dumps(name).encode())
            if hasattr(value, "chunks"):
                digest.update(json.dumps(value.name).encode())
                for chunk in value.chunks():
                    digest.update(chunk)
                value.seek(0)
            else:
                digest.update(json.dumps(value, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class TokenView(ObtainAuthToken):
    """`POST username, password`: the caller's token, under the same log-in limits as the log-in page."""

    authentication_classes = ()  # a log-in: whatever credentials the request carries play no part

    @extend_schema(
        summary="Get the caller's token",
        request=AuthTokenSerializer,
        auth=[],
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: field_errors(
                "TokenRefused",
                ["username", "password", "non_field_errors"],
                "Wrong or missing credentials; a body that cannot be parsed (`detail`).",
                detail=True,
            ),
            415: UNSUPPORTED,
            429: THROTTLED,
        },
    )
    def post(self, request, *args, **kwargs):
        # A JSON body may be any value, a list say: the serializer refuses it (400), the count needs a name.
        username = str(request.data.get("username", "")) if isinstance(request.data, Mapping) else ""
        wait = check_log_in(request, username)
        if wait:
            raise exceptions.Throttled(wait=wait)
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.ValidationError:
            count_failed_log_in(request, username)
            raise


@login_not_required
@csrf_exempt
def api_not_found(request):
    """No such path under /api/: DRF's 404, in JSON, for any method (the site's own 404 page is HTML)."""
    return JsonResponse({"detail": exceptions.NotFound.default_detail}, status=status.HTTP_404_NOT_FOUND)
