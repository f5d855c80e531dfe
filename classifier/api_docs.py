"""The shapes of the API's answers that no serializer of the code produces, for its OpenAPI schema
(/api/schema/): DRF's own errors and the per-field messages of a refused request. tests/test_api_schema.py
checks every answer against the schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers


def field_errors(name: str, fields: list[str], description: str, *, detail: bool = False) -> OpenApiResponse:
    """A 400 whose body names the refused fields, each with its messages (DRF's ValidationError); with `detail`, or
    a message about the request as a whole (a body that cannot be parsed, say)."""
    body = {field: serializers.ListField(child=serializers.CharField(), required=False) for field in fields}
    if detail:
        body["detail"] = serializers.CharField(required=False)
    return OpenApiResponse(inline_serializer(name, body), description)


# DRF's errors other than a refused field: 401, 404, 405, 429...
DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
UNAUTHORIZED = OpenApiResponse(DETAIL, "No credentials, or a token that is not (or no longer) valid.")
NOT_FOUND = OpenApiResponse(DETAIL, "No such prediction among the caller's: another user's id answers the same.")
UNSUPPORTED = OpenApiResponse(DETAIL, "A body in a content type (Content-Type) the call does not take.")
THROTTLED = OpenApiResponse(DETAIL, "Too many calls: the Retry-After header says how many seconds to wait.")

# Every call that needs a token, and those of them that take a body.
SIGNED_IN = {401: UNAUTHORIZED, 429: THROTTLED}
SIGNED_IN_WITH_BODY = {**SIGNED_IN, 415: UNSUPPORTED}
ONE_PREDICTION = {**SIGNED_IN, 404: NOT_FOUND}

PREDICTION_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The prediction's id.")
