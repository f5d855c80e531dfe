"""The REST API's authentication by the keys people make on their settings page (accounts/apikeys.py).

`Authorization: Api-Key <key>` or `Authorization: Bearer <key>`. A header in either form that carries no valid key
is refused (401) with a message that says why: unknown, revoked, expired. Other credentials (a token from
/api/token/, the session) are left to the other authentication classes.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import apikeys
from .models import ApiKey

KEYWORDS = ("Api-Key", "Bearer")
# last_used_at is written when it is older than this: at most one write a minute per key, not one per call.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in {k.lower() for k in KEYWORDS}:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the API key after the word: `Authorization: Api-Key <key>`.")
        key = parts[1].decode(errors="replace")
        api_key = self._find(key)
        now = timezone.now()
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked: make a new one on your settings page.")
        if api_key.is_expired:
            raise exceptions.AuthenticationFailed("This API key has expired: make a new one on your settings page.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("This API key's account is disabled.")
        _note_use(api_key, now)
        return api_key.user, api_key

    def _find(self, key: str) -> ApiKey:
        prefix = apikeys.prefix_of(key)
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        if api_key is None or not apikeys.matches(key, api_key.digest):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        return api_key

    def authenticate_header(self, request):
        return KEYWORDS[0]


def _note_use(api_key: ApiKey, now) -> None:
    """Record the use unless it was recorded within the last minute; a conditional write, so that many calls at
    once still write once."""
    if api_key.last_used_at is not None and api_key.last_used_at > now - LAST_USED_PRECISION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION)
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The keys in the API's schema (/api/schema/), as the standard bearer scheme; `Api-Key <key>` works alike."""

    target_class = ApiKeyAuthentication
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made on the settings page (/accounts/keys/): `Authorization: Bearer <key>`, "
            "or `Authorization: Api-Key <key>`.",
        }
