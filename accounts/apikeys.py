"""API keys: `cdk_<prefix>_<secret>`, made from 256 random bits, kept as a SHA-256 digest.

A fast hash is enough here, unlike for passwords: a slow hash (PBKDF2, Argon2) protects secrets people choose,
which are few enough to guess; a 256-bit random secret cannot be guessed at any speed, so a stolen table of
digests gives nothing, and checking a key costs a microsecond rather than the 100 ms of a password hash on every
API call. The prefix, random too and stored as it is, finds the row without a scan; the digest is compared in
constant time.
"""

import hashlib
import hmac
import secrets

KEY_START = "cdk_"
PREFIX_LENGTH = 8


def new_key() -> tuple[str, str, str]:
    """A new key: (the key, to show once; its prefix; its digest)."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    key = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str | None:
    """The prefix a well-formed key starts with; None for anything else."""
    if not key.startswith(KEY_START):
        return None
    prefix, separator, secret = key[len(KEY_START) :].partition("_")
    if not separator or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    return prefix


def matches(key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(key), stored_digest)
