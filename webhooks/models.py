from django.conf import settings
from django.db import models


class Webhook(models.Model):
    """A URL its owner registered to be told, by a signed POST, when a prediction of theirs is answered or fails."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    # Signs every delivery (webhooks/signing.py). Kept as it is, since signing needs it; shown to its owner once.
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.url


# The deliveries a webhook's log shows, newest first (its page and /api/webhooks/{id}/deliveries/).
LOG_LENGTH = 50


class Delivery(models.Model):
    """One event sent to one webhook: its body, fixed when the event happened, and how the sending went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    class Event(models.TextChoices):
        DONE = "prediction.done", "Prediction answered"
        FAILED = "prediction.failed", "Prediction failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=30, choices=Event.choices)
    # Not a foreign key: the log outlives a deleted prediction.
    prediction_id = models.PositiveBigIntegerField()
    body = models.TextField()  # the exact JSON sent, so that every attempt sends (and signs) the same bytes
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)  # why the last attempt failed, for its owner
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.event} #{self.prediction_id} to {self.webhook}"

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)
