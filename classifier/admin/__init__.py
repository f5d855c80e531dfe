"""The classifier's admin: predictions and their owners' feedback, read-only (predictions.py), and the review
queue, where an admin decides which corrected photos become training data (review.py)."""

from . import predictions, review  # noqa: F401 (each registers its admin)
