from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

from core.text import unstorable_fields, unstorable_text_message


def exception_handler(exc, context):
    """DRF's handler in the one documented error shape (``core.schema``): ``{"detail", "code"}``, or
    for invalid input field messages ``{"<field>": ["…"]}``. A Django ``ValidationError`` from a
    service becomes a 400 with field messages; a list of messages, ``non_field_errors``."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            detail = exc.message_dict
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(response.data, list):
            response.data = {"non_field_errors": _messages(response.data)}
    elif isinstance(response.data, dict) and set(response.data) == {"detail"}:
        code = exc.get_codes()
        response.data["code"] = code if isinstance(code, str) else exc.default_code
    return response


def _messages(detail) -> list[str]:
    """Every message of a nested error detail, flat."""
    if isinstance(detail, Mapping):
        return [
            f"{key}: {message}" for key, value in detail.items() for message in _messages(value)
        ]
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item)]
    return [str(detail)]


class StrictCharField(serializers.CharField):
    """Text input that must be JSON text: DRF's ``CharField`` turns ``0`` or ``1.5`` into ``"0"`` and
    ``"1.5"``, so a client that sends a number where the schema says string would never learn of its
    mistake. Form and multipart bodies carry only text, so they are unaffected."""

    default_error_messages = {"invalid": _("请填写文本，而不是数字或其他类型。")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true``/``false``: DRF's ``BooleanField`` also reads the numbers ``0`` and ``1``, which the
    schema does not allow. Form and multipart bodies (text only) keep DRF's ``"true"``/``"on"``."""

    def to_internal_value(self, data):
        if not isinstance(data, (bool, str)):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A uuid as JSON text: DRF's ``UUIDField`` also reads an integer (``false`` included, as
    ``UUID(int=0)``), which the schema does not allow."""

    def to_internal_value(self, data):
        if not isinstance(data, (str, uuid.UUID)):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class RowSerializer(serializers.Serializer):
    """One row of a list that replaces the stored rows (indicators, milestones, consortium members):
    complete in a ``PATCH`` too. DRF lets a partial request skip every missing required field, a
    nested row's included, which would hand the service half a row."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and getattr(self.root, "partial", False):
            missing = {
                name: [field.error_messages["required"]]
                for name, field in self.fields.items()
                if field.required and not field.read_only and field.field_name not in data
            }
            if missing:
                raise exceptions.ValidationError(missing)
        return super().to_internal_value(data)


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


@csrf_exempt
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any path under ``/api/v1/`` that names no operation (or names one with a malformed id, which
    its converter refuses) answers like the API does, not with the site's HTML page."""
    return JsonResponse(
        {"detail": str(exceptions.NotFound.default_detail), "code": "not_found"}, status=404
    )


class Representer:
    """Many objects through a few serializer classes, each built once.

    ``Serializer(obj).data`` per row builds the serializer's fields again for every row (for a
    ``ModelSerializer``, from the model's fields: most of a list's time). A list whose rows use
    one of several serializers (by what the viewer may see) builds one instance per class and
    calls its ``to_representation`` per row."""

    def __init__(self, context: Mapping | None = None):
        self._context = dict(context or {})
        self._instances: dict[type, object] = {}

    def __call__(self, serializer_class, obj) -> dict:
        serializer = self._instances.get(serializer_class)
        if serializer is None:
            serializer = self._instances[serializer_class] = serializer_class(context=self._context)
        return serializer.to_representation(obj)
