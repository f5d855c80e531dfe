from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.reverse import reverse

from .models import Feedback, Prediction
from .validation import check_image_upload, check_zip_upload


class PredictionCreateSerializer(serializers.Serializer):
    """One photo (`image`), or a zip of photos (`archive`): one of the two."""

    image = serializers.FileField(required=False, help_text="A JPEG, PNG, WebP, BMP or GIF photo.")
    archive = serializers.FileField(
        required=False,
        help_text="A zip of photos, in place of `image`: as many photos, as large each, as the upload page takes.",
    )

    def validate_image(self, upload):
        try:
            return check_image_upload(upload)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None

    def validate_archive(self, upload):
        try:
            return check_zip_upload(upload)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None

    def validate(self, data):
        if "image" in data and "archive" in data:
            raise serializers.ValidationError(
                {"archive": ["Send a photo (image) or a zip of photos (archive), not both."]}
            )
        if not data:
            raise serializers.ValidationError({"image": ["Send a photo (image), or a zip of photos (archive)."]})
        return data


class PredictionCreatedSerializer(serializers.Serializer):
    """The answer to an upload: the new prediction, still pending, and where to read it."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Prediction.Status.choices)
    url = serializers.URLField()


class RejectedEntrySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The entry's name in the archive.")
    reason = serializers.CharField()


class BatchCreatedSerializer(serializers.Serializer):
    """The answer to a zip of photos: a prediction for each photo that passed the checks, and why the others did not."""

    predictions = PredictionCreatedSerializer(many=True)
    rejected = RejectedEntrySerializer(many=True)


class PredictionSerializer(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField()
    heatmap_url = serializers.SerializerMethodField()
    # Each class of the answering version with its probability; empty until answered.
    probabilities = serializers.DictField(child=serializers.FloatField(), read_only=True)
    # A class name, "unsure" or "other"; the label for an answer from before verdicts; null until answered.
    verdict = serializers.CharField(source="final_verdict", read_only=True, allow_null=True)
    # What the owner said the photo shows: a class of the answering version or "other"; null if nothing.
    feedback = serializers.CharField(source="feedback_label", read_only=True, allow_null=True)

    class Meta:
        model = Prediction
        fields = [
            "id",
            "status",
            "label",
            "verdict",
            "confidence",
            "probabilities",
            "model_version",
            "inference_ms",
            "created_at",
            "error",
            "heatmap_url",
            "feedback",
        ]
        read_only_fields = fields

    def get_model_version(self, prediction) -> str | None:
        version = prediction.model_version
        return str(version.name) if version else None

    def get_heatmap_url(self, prediction) -> str | None:
        """Where the heatmap is: it comes with the answer (none for a version that makes none)."""
        if not prediction.has_heatmap:
            return None
        return reverse("api:prediction-heatmap", args=[prediction.pk], request=self.context.get("request"))


class FeedbackInputSerializer(serializers.Serializer):
    """`{"label": ...}`; whether the label fits the prediction is the action's to say (check_feedback_label)."""

    label = serializers.CharField(
        max_length=100, error_messages={"required": "Say what the photo shows: a class name, or “other”."}
    )


class FeedbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feedback
        fields = ["label", "created_at", "updated_at"]
