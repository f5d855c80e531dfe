"""The signature of a delivery: `Catdog-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed by
the webhook's secret. The time is signed with the body, so a receiver can refuse an old delivery replayed; the
README's verification snippet is the receiver's side (tests/test_webhooks_end_to_end.py runs it)."""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Catdog-Signature"
SECRET_START = "whsec_"  # noqa: S105 (how every secret starts, not a secret)


def new_secret() -> str:
    return SECRET_START + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
