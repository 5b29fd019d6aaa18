"""The API's error responses in its OpenAPI schema: every operation lists what it may answer.

One error shape (``core.api.exception_handler``): ``{"detail": "…", "code": "…"}``, and for invalid
input (400) field messages ``{"<field>": ["…"]}`` (``non_field_errors`` for the body as a whole;
nested lists and objects for nested fields). Which codes an operation documents follows from the
view itself, so a new endpoint is documented without a decorator:

- 400 when it takes a body, query or path parameters, or writes (invalid input, a malformed id, or a
  service refusing it);
- 401 and 403 when it needs authentication (no or a bad token; not allowed for this caller);
- 404 always: an object its path names is unknown or hidden, a cursor is unknown or expired, or
  ``?format=`` names no format (DRF's format override, on every operation);
- 409 on writes (not allowed in the object's current state: ``core.api.Conflict``);
- 415 when it takes a body (a content type it does not parse);
- 429 when it is throttled (``Retry-After`` says when to try again).

A response an operation documents itself (``extend_schema(responses=…)``) is kept; a documented
error without a body gets the error shape.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import permissions, serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("错误说明（按请求的语言）。"))
    code = serializers.CharField(
        help_text=_(
            "机器可读的错误代码，如 not_authenticated、permission_denied、not_found、conflict、"
            "throttled、parse_error。"
        )
    )


ERROR_DESCRIPTIONS = {
    "400": _("输入无效：各字段的错误信息（整体错误为 non_field_errors），或 detail 与 code。"),
    "401": _("未认证：缺少令牌，或令牌无效、已吊销。"),
    "403": _("无权执行此操作。"),
    "404": _("对象不存在或调用者无权知道它；或游标无效、已过期；或 format 参数无效。"),
    "409": _("对象当前的状态不允许此操作，没有任何改动。"),
    "415": _("不支持的请求内容类型。"),
    "429": _("请求过于频繁；Retry-After 头给出需等待的秒数。"),
}

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses each operation can give."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            documented = responses.get(code)
            if documented is None:
                responses[code] = self._error_response(code)
            elif not documented.get("content"):
                responses[code] = {**self._error_response(code), **documented}
                responses[code]["content"] = self._error_response(code)["content"]
            elif code == "400":
                # An operation's own 400 (e.g. a bulk import's row report), or the common shapes.
                for media in documented["content"].values():
                    media["schema"] = {
                        "anyOf": [media["schema"], *self._error_schemas(code)["anyOf"]]
                    }
        return dict(sorted(responses.items()))

    # --- which codes ---------------------------------------------------------------------------

    def _error_codes(self) -> list[str]:
        view = self.view
        codes = []
        takes_body = self.method in {"POST", "PUT", "PATCH"} and self._get_request_body()
        if (
            takes_body
            or self.method in _UNSAFE
            or self._has_query_parameters()
            or self._has_path_parameters()
        ):
            codes.append("400")
        if not self._is_public():
            codes += ["401", "403"]
        codes.append("404")
        if self.method in _UNSAFE:
            codes.append("409")
        if takes_body:
            codes.append("415")
        if view.get_throttles():
            codes.append("429")
        return codes

    def _is_public(self) -> bool:
        return (
            all(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
            and not self.get_auth()
        )

    def _has_path_parameters(self) -> bool:
        return "{" in self.path

    def _has_query_parameters(self) -> bool:
        return any(p.get("in") == "query" for p in self._get_parameters())

    def _get_parameters(self):
        """An optional query parameter sent empty (``?organization=``) is as if left out: filters,
        ordering, ``format`` and paging all ignore it."""
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """A decimal is answered as a string, but taken as a string or a JSON number."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.DecimalField):
            number = {"type": "number"}
            for key in ("minimum", "maximum"):
                if key in schema:
                    number[key] = schema.pop(key)
            nullable = schema.pop("nullable", None)
            schema = {"anyOf": [schema, number]}
            if nullable:
                schema["nullable"] = True
        return schema

    def map_parsers(self):
        """Request bodies are documented as JSON, the API's format (forms parse too, for the
        browsable API, but a client generated from the schema speaks JSON)."""
        return [
            m for m in super().map_parsers() if m == "application/json"
        ] or super().map_parsers()

    # --- which shapes --------------------------------------------------------------------------

    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_ref(self) -> dict:
        return self.resolve_serializer(ErrorSerializer, "response").ref

    def _field_errors_ref(self) -> dict:
        messages = {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}}
        return self._component(
            "FieldErrors",
            {
                "type": "object",
                "description": str(
                    _(
                        "各字段的错误信息：字段名对应错误列表；嵌套字段为嵌套的对象或列表；"
                        "整体错误为 non_field_errors。"
                    )
                ),
                "additionalProperties": {"anyOf": [messages, {"type": "object"}]},
            },
        )

    def _error_schemas(self, code: str) -> dict:
        if code == "400":
            return {"anyOf": [self._field_errors_ref(), self._error_ref()]}
        return self._error_ref()

    def _error_response(self, code: str) -> dict:
        response = {
            "description": str(ERROR_DESCRIPTIONS[code]),
            "content": {"application/json": {"schema": self._error_schemas(code)}},
        }
        if code == "429":
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": str(_("再次请求前需等待的秒数。")),
                }
            }
        return response


def by_visibility(component_name: str, *, summary, full, many: bool = False):
    """An item a viewer sees either by its summary or in full: one of the two shapes, told apart by
    its ``visibility`` field (each serializer declares it as a one-value enum, so a full item does
    not also validate as a summary)."""
    return PolymorphicProxySerializer(
        component_name=component_name,
        serializers={"summary": summary, "full": full},
        resource_type_field_name="visibility",
        many=many,
    )
