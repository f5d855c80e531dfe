"""Every change of the classifier's state: `do_*` performs one, `check_*` says whether one may be done.

The views, the API, the admin and the tasks (classifier/tasks.py) call these. An action never imports a task:
it sends one by name (predictions.PREDICT_IMAGE). One module per subject: predictions (and the prediction
task's state changes), feedback, the review queue, Idempotency-Keys.
"""

from .feedback import NOT_ANSWERED, FeedbackError, do_give_feedback, do_withdraw_feedback
from .idempotency import IdempotencyKeyReused, do_answer_once, do_forget_idempotency_keys
from .predictions import (
    PREDICT_IMAGE,
    do_claim_prediction,
    do_claim_waiting,
    do_create_predictions,
    do_delete_prediction,
    do_delete_predictions,
    do_fail_prediction,
    do_finish_prediction,
    do_release_predictions,
    do_resend_predictions,
    do_retry_prediction,
    do_uncount_delivery,
)
from .review import ReviewRefused, do_bulk_accept, do_derive_version_from_reviews, do_review, do_undo_review

__all__ = [
    "NOT_ANSWERED",
    "PREDICT_IMAGE",
    "FeedbackError",
    "IdempotencyKeyReused",
    "ReviewRefused",
    "do_answer_once",
    "do_bulk_accept",
    "do_claim_prediction",
    "do_claim_waiting",
    "do_create_predictions",
    "do_delete_prediction",
    "do_delete_predictions",
    "do_derive_version_from_reviews",
    "do_fail_prediction",
    "do_finish_prediction",
    "do_forget_idempotency_keys",
    "do_give_feedback",
    "do_release_predictions",
    "do_resend_predictions",
    "do_retry_prediction",
    "do_review",
    "do_uncount_delivery",
    "do_undo_review",
    "do_withdraw_feedback",
]
