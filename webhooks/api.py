"""/api/webhooks/: the caller's webhooks, as on the site (README "Webhooks"). The secret is in the answer to the
POST that registers one, and nowhere else; anyone else's webhook answers 404."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from classifier.api import SettingsScopedRateThrottle
from classifier.api_docs import DETAIL, SIGNED_IN, SIGNED_IN_WITH_BODY, UNSUPPORTED, field_errors

from .actions import WebhookRefused, check_webhook_url, do_change_webhook_url, do_create_webhook, do_delete_webhook
from .models import LOG_LENGTH, Delivery, Webhook


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, url: str) -> str:
        try:
            check_webhook_url(url)
        except WebhookRefused as error:
            raise serializers.ValidationError(str(error)) from None
        return url


class WebhookCreatedSerializer(WebhookSerializer):
    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookSerializer.Meta.read_only_fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    retries = serializers.IntegerField(read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "prediction_id",
            "status",
            "response_code",
            "error",
            "retries",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
        ]


WEBHOOK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The webhook's id.")
NOT_FOUND = OpenApiResponse(DETAIL, "No such webhook among the caller's: another user's id answers the same.")
ONE_WEBHOOK = {**SIGNED_IN, 404: NOT_FOUND}
URL_REFUSED = field_errors(
    "WebhookRefused",
    ["url"],
    "A URL deliveries may not go to: not http or https, a host that cannot be found, a private, loopback or "
    "reserved address; or a body that cannot be parsed (`detail`).",
    detail=True,
)

# PUT and PATCH: a webhook has one field to change.
CHANGE_URL = extend_schema(
    summary="Change a webhook's URL",
    parameters=[WEBHOOK_ID],
    responses={200: WebhookSerializer, 400: URL_REFUSED, 415: UNSUPPORTED, **ONE_WEBHOOK},
)


@extend_schema_view(
    list=extend_schema(summary="The caller's webhooks", responses={200: WebhookSerializer(many=True), **SIGNED_IN}),
    create=extend_schema(
        summary="Register a webhook",
        description="The answer holds the signing secret, shown this once.",
        responses={201: WebhookCreatedSerializer, 400: URL_REFUSED, **SIGNED_IN_WITH_BODY},
    ),
    retrieve=extend_schema(
        summary="One webhook", parameters=[WEBHOOK_ID], responses={200: WebhookSerializer, **ONE_WEBHOOK}
    ),
    update=CHANGE_URL,
    partial_update=CHANGE_URL,
    destroy=extend_schema(
        summary="Delete a webhook and its log",
        parameters=[WEBHOOK_ID],
        responses={204: OpenApiResponse(description="Deleted."), **ONE_WEBHOOK},
    ),
)
class WebhookViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookSerializer
    lookup_value_regex = r"\d+"
    throttle_classes = [SettingsScopedRateThrottle]
    throttle_scope = "api"
    pagination_class = None  # a handful per person

    def get_queryset(self):
        return Webhook.objects.filter(owner=self.request.user)

    def create(self, request):
        serializer = WebhookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = do_create_webhook(request.user, serializer.validated_data["url"])
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        do_change_webhook_url(serializer.instance, serializer.validated_data.get("url", serializer.instance.url))

    def perform_destroy(self, webhook):
        do_delete_webhook(webhook)

    @extend_schema(
        summary="The webhook's latest deliveries, newest first",
        parameters=[WEBHOOK_ID],
        responses={200: DeliverySerializer(many=True), **ONE_WEBHOOK},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        webhook = self.get_object()
        return Response(DeliverySerializer(webhook.deliveries.all()[:LOG_LENGTH], many=True).data)
