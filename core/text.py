"""Text PostgreSQL can store: no NUL character, no lone UTF-16 surrogate.

A NUL in a ``text`` parameter is a ``DataError`` and a lone surrogate (``"\\ud800"`` in JSON) cannot
be encoded to UTF-8, both after validation has passed: a 500, whatever the field (a title, a slug
looked up in the database, a choice echoed in an error message). Input is checked here before any
field parses it. Django forms already refuse NUL (``ProhibitNullCharactersValidator``) and form
encodings cannot carry surrogates; JSON can carry both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

NUL_MESSAGE = _("不能包含空字符。")
SURROGATE_MESSAGE = _("包含无法保存的字符（孤立的代理码位）。")


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def unstorable_text_message(value: Any) -> str | None:
    """Why ``value`` (a string, or lists and mappings of them, at any depth) cannot be stored, or
    None when it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return str(NUL_MESSAGE)
        if any(_is_surrogate(ch) for ch in value):
            return str(SURROGATE_MESSAGE)
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            message = unstorable_text_message(key) or unstorable_text_message(item)
            if message:
                return message
        return None
    if isinstance(value, list | tuple):
        for item in value:
            message = unstorable_text_message(item)
            if message:
                return message
    return None


def unstorable_fields(data: Mapping) -> dict[str, list[str]]:
    """``{key: [message]}`` for each top-level key of ``data`` (a dict, or a ``QueryDict`` with all
    its values) whose value cannot be stored; a key that cannot be stored itself is reported under
    ``non_field_errors``."""
    errors: dict[str, list[str]] = {}
    items = data.lists() if hasattr(data, "lists") else data.items()
    for key, value in items:
        key_message = unstorable_text_message(key)
        if key_message:
            errors.setdefault("non_field_errors", [key_message])
            continue
        message = unstorable_text_message(value)
        if message:
            errors[key] = [message]
    return errors
