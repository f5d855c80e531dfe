"""The shapes of the API's answers that no serializer of the code produces, for its OpenAPI schema
(/api/schema/): DRF's own errors and the per-field messages of a refused request. tests/test_api_schema.py
checks every answer against the schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers


def _messages():
    return serializers.ListField(child=serializers.CharField(), required=False)


def field_errors(name: str, fields: list[str], description: str) -> OpenApiResponse:
    """A 400 whose body names the refused fields, each with its messages (DRF's ValidationError)."""
    body = inline_serializer(name, {field: _messages() for field in fields})
    return OpenApiResponse(body, description)


# DRF's errors other than a refused field: 401, 404, 405, 429...
DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
UNAUTHORIZED = OpenApiResponse(DETAIL, "No credentials, or a token that is not (or no longer) valid.")
NOT_FOUND = OpenApiResponse(DETAIL, "No such prediction among the caller's: another user's id answers the same.")
THROTTLED = OpenApiResponse(DETAIL, "Too many calls: the Retry-After header says how many seconds to wait.")

# Every call that needs a token.
SIGNED_IN = {401: UNAUTHORIZED, 429: THROTTLED}
ONE_PREDICTION = {**SIGNED_IN, 404: NOT_FOUND}

PREDICTION_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The prediction's id.")
