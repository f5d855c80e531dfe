"""What other apps may listen to without classifier importing them (the webhooks app does)."""

from django.dispatch import Signal

# Sent by classifier.actions when a prediction is answered or failed, inside the transaction that records it;
# arguments: prediction_id, status. A receiver that sends work elsewhere does so on commit.
prediction_ended = Signal()
