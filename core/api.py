from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, parsers, status
from rest_framework.views import exception_handler as drf_exception_handler

from core.text import unstorable_fields, unstorable_text_message


def exception_handler(exc, context):
    """DRF's handler, plus Django ``ValidationError`` from services turned into a 400 with field messages."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            detail = exc.message_dict
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This action is not allowed in the object's current state."
    default_code = "conflict"


# --- request bodies: only text the database can store -----------------------------------------------


def check_storable(data) -> None:
    """400 with a message per top-level field when a parsed body holds text PostgreSQL cannot store
    (``core.text``); a list body (bulk imports) reports per item, as a list serializer does."""
    if isinstance(data, Mapping):
        errors = unstorable_fields(data)
        if errors:
            raise exceptions.ValidationError(errors)
    elif isinstance(data, list) and unstorable_text_message(data):
        raise exceptions.ValidationError(
            [unstorable_fields(item) if isinstance(item, Mapping) else {} for item in data]
        )


class _StorableTextParserMixin:
    """Checked when parsed, so no field, serializer or view ever sees such text: one check for
    every API body, before a slug lookup or an error message echoing the value can fail with 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        check_storable(parsed.data if isinstance(parsed, parsers.DataAndFiles) else parsed)
        return parsed


class JSONParser(_StorableTextParserMixin, parsers.JSONParser):
    pass


class FormParser(_StorableTextParserMixin, parsers.FormParser):
    pass


class MultiPartParser(_StorableTextParserMixin, parsers.MultiPartParser):
    pass
