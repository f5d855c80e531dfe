"""Idempotency-Key: a retried upload gets the first answer, not a second prediction."""

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import IDEMPOTENCY_KEY_LIFETIME, IdempotencyKey


class IdempotencyKeyReused(ValueError):
    """The key already answered another request; the message says so, for the caller."""


def do_answer_once(user, key: str, fingerprint: str, answer: Callable[[], tuple[int, dict]]) -> tuple[int, dict, bool]:
    """`answer()` (a status code and a body) the first time `user` sends `key`; the stored answer, and True, for
    each retry within IDEMPOTENCY_KEY_LIFETIME. IdempotencyKeyReused when the key answered another request.

    The key's row is written before `answer()` runs, in its transaction: a retry arriving meanwhile waits on the
    unique constraint until the first commits, then reads its answer. An `answer()` that raises (a refused photo)
    stores nothing, so the key may be sent again with a corrected request.
    """
    with transaction.atomic():
        IdempotencyKey.objects.filter(
            owner=user, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_KEY_LIFETIME
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(owner=user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            earlier = IdempotencyKey.objects.get(owner=user, key=key)
            if earlier.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was sent with another request (other fields or files): a retry must repeat "
                    "the first request exactly; use a new key for a new request."
                ) from None
            return earlier.status_code, earlier.response, True
        record.status_code, record.response = answer()
        record.save(update_fields=["status_code", "response"])
    return record.status_code, record.response, False


def do_forget_idempotency_keys() -> int:
    """The sweep: forget the keys past their lifetime (a retry with one is then a new request). How many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEY_LIFETIME).delete()
    return deleted
