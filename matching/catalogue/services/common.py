"""What the catalogue services share: editable fields, input parsing, indicator and patent rows,
scheduling the matcher."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Organization
from matching import tasks
from matching.catalogue.validators import (
    normalize_patent_number,
    validate_patent_number,
    validate_software_copyright_number,
)
from matching.models import (
    CoopMode,
    Need,
    NeedIndicator,
    Patent,
    Result,
)
from taxonomy.models import Field, Region

NEED_EDITABLE = (
    "title",
    "summary",
    "description",
    "scenario",
    "field",
    "industry_chain",
    "region",
    "budget_min",
    "budget_max",
    "funding_mode",
    "coop_modes",
    "trl_min",
    "deadline",
    "contact_name",
    "contact_phone",
    "contact_email",
    "confidentiality",
    "terms",
    "external_ref",
    "valid_until",
    "answer_days",
)
RESULT_EDITABLE = (
    "title",
    "abstract",
    "keywords",
    "field",
    "industry_chain",
    "trl",
    "is_service_invention",
    "transfer_modes",
    "price_min",
    "price_max",
    "team",
    "application_fields",
    "external_ref",
    "valid_until",
)
CAPABILITY_EDITABLE = ("title", "description", "team", "equipment", "past_projects", "is_published")

# Allowed status changes; ``need_set_status`` is the only place that changes ``Need.status`` on an
# owner's request (the validity sweep and renewal in ``freshness`` move published <-> expired).
# in_challenge -> published: a challenge was cancelled and the need is open again.
NEED_TRANSITIONS: dict[str, frozenset[str]] = {
    Need.Status.DRAFT: frozenset({Need.Status.PUBLISHED, Need.Status.WITHDRAWN}),
    Need.Status.PUBLISHED: frozenset(
        {Need.Status.IN_CHALLENGE, Need.Status.MATCHED, Need.Status.CLOSED, Need.Status.WITHDRAWN}
    ),
    Need.Status.IN_CHALLENGE: frozenset(
        {Need.Status.PUBLISHED, Need.Status.MATCHED, Need.Status.CLOSED, Need.Status.WITHDRAWN}
    ),
    Need.Status.MATCHED: frozenset({Need.Status.CLOSED, Need.Status.WITHDRAWN}),
    Need.Status.CLOSED: frozenset(),
    Need.Status.WITHDRAWN: frozenset(),
    Need.Status.EXPIRED: frozenset({Need.Status.CLOSED, Need.Status.WITHDRAWN}),
}
RESULT_TRANSITIONS: dict[str, frozenset[str]] = {
    Result.Status.DRAFT: frozenset({Result.Status.PUBLISHED, Result.Status.WITHDRAWN}),
    Result.Status.PUBLISHED: frozenset({Result.Status.WITHDRAWN}),
    Result.Status.WITHDRAWN: frozenset(),
    Result.Status.EXPIRED: frozenset({Result.Status.WITHDRAWN}),
}
NEED_FROZEN_STATUSES = (Need.Status.CLOSED, Need.Status.WITHDRAWN)

ALLOWED_UPLOADS = {
    # sniffed MIME type -> file name extensions it may carry
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
}
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_LIST_SPLIT = re.compile(r"[,，;；、|\n]+")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

Errors = dict[str, list[str]]


# --- shared helpers -------------------------------------------------------------------------------


def _schedule_matching(kind: str, object_id: int) -> None:
    transaction.on_commit(partial(tasks.index_and_match.delay, kind, object_id))


def _add(errors: Errors, field: str, message: str | Iterable[str]) -> None:
    messages = [message] if isinstance(message, str) else list(message)
    errors.setdefault(field, []).extend(str(m) for m in messages)


def _row_error(row: int, message: str) -> str:
    return _("第%(row)d行：%(message)s") % {"row": row, "message": message}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _split_list(value: Any) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, str):
        items = _LIST_SPLIT.split(value)
    else:
        items = list(value)
    return [str(item).strip() for item in items if not _blank(item)]


def _choice_lookup(choices) -> dict[str, str]:
    """Map both codes and (translated and source) labels to codes."""
    lookup: dict[str, str] = {}
    for value, label in choices:
        lookup[str(value)] = value
        lookup[str(value).lower()] = value
        lookup[str(label)] = value
    return lookup


def _resolve_choice_list(value: Any, choices, field: str, errors: Errors) -> list[str]:
    lookup = _choice_lookup(choices)
    codes: list[str] = []
    for item in _split_list(value):
        code = lookup.get(item) or lookup.get(item.lower())
        if code is None:
            _add(errors, field, _("未知的选项“%(value)s”。") % {"value": item})
        elif code not in codes:
            codes.append(code)
    return codes


def _resolve_field(value: Any, errors: Errors, key: str = "field") -> Field | None:
    if isinstance(value, Field):
        return value
    if _blank(value):
        return None
    field = Field.objects.filter(code=str(value).strip()).first()
    if field is None and str(value).strip().isdigit():
        field = Field.objects.filter(pk=int(value)).first()
    if field is None:
        field = Field.objects.filter(name=str(value).strip()).first()
    if field is None:
        _add(errors, key, _("未知的技术领域“%(value)s”。") % {"value": value})
    return field


def _resolve_region(value: Any, errors: Errors) -> Region | None:
    if isinstance(value, Region):
        return value
    if _blank(value):
        return None
    name = str(value).strip()
    region = Region.objects.filter(name=name).first()
    if region is None:
        # "江苏" for "江苏省", "上海" for "上海市"
        region = Region.objects.filter(name__startswith=name).order_by("position").first()
    if region is None:
        _add(errors, "region", _("未知的地区“%(value)s”。") % {"value": value})
    return region


def _nullable(value: Any) -> Any:
    return None if _blank(value) else value


def _to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return int(number) if number == number.to_integral_value() else None


def _apply(obj, data: dict, editable: tuple[str, ...], errors: Errors) -> list[str]:
    """Set ``data`` on ``obj`` after resolving references; return the names of changed fields."""
    unknown = set(data) - set(editable)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    changed = []
    for name, raw in data.items():
        if raw is None:
            # Empty cells of an import: the column's default (or "") rather than NULL in a
            # NOT NULL column.
            model_field = obj._meta.get_field(name)
            if not model_field.null:
                raw = model_field.get_default() if model_field.has_default() else ""
        if name == "field":
            value = _resolve_field(raw, errors)
        elif name == "region":
            value = _resolve_region(raw, errors)
        elif name in ("coop_modes", "transfer_modes"):
            value = _resolve_choice_list(raw, CoopMode.choices, name, errors)
        elif name in ("keywords", "application_fields"):
            value = _split_list(raw)
        elif name in (
            "budget_min",
            "budget_max",
            "price_min",
            "price_max",
            "trl_min",
            "deadline",
            "valid_until",
            "answer_days",
        ):
            value = _nullable(raw.strip() if isinstance(raw, str) else raw)
        elif name == "trl":
            value = raw.strip() if isinstance(raw, str) else raw
        elif isinstance(raw, str):
            value = raw.strip()
        else:
            value = raw
        if name in ("field", "region"):
            if getattr(obj, f"{name}_id") != (value.pk if value else None):
                changed.append(name)
            setattr(obj, name, value)
            continue
        if getattr(obj, name, None) != value:
            changed.append(name)
        setattr(obj, name, value)
    return changed


def _full_clean(obj, errors: Errors) -> None:
    """Model validation, merged under errors found earlier (those win for their field)."""
    try:
        obj.full_clean(validate_constraints=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field not in errors:
                _add(errors, field, messages)


def _check_trl(obj, name: str, errors: Errors) -> None:
    value = getattr(obj, name)
    if value is None:
        return
    number = _to_int(value)
    # Replaces Django's generic range/int messages with one that names the scale.
    if (number is None and name not in errors) or (number is not None and not 1 <= number <= 9):
        errors[name] = [_("成熟度（TRL）应为1到9之间的整数。")]


def _check_range(obj, low: str, high: str, errors: Errors, what: str) -> None:
    lo = _to_decimal(getattr(obj, low)) if low not in errors else None
    hi = _to_decimal(getattr(obj, high)) if high not in errors else None
    for name, value in ((low, lo), (high, hi)):
        if value is not None and value < 0:
            errors[name] = [_("%(what)s不能为负数。") % {"what": what}]
    if lo is not None and hi is not None and lo > hi and high not in errors:
        errors[high] = [_("%(what)s上限不能低于下限。") % {"what": what}]


def _check_external_ref(obj, errors: Errors) -> None:
    if not obj.external_ref or "external_ref" in errors:
        return
    clash = type(obj).objects.filter(
        organization_id=obj.organization_id, external_ref=obj.external_ref
    )
    if obj.pk:
        clash = clash.exclude(pk=obj.pk)
    if clash.exists():
        errors["external_ref"] = [
            _("外部编号“%(ref)s”在本机构已被使用。") % {"ref": obj.external_ref}
        ]


def _check_kind(organization: Organization, kind: str, errors: Errors, message: str) -> None:
    if organization.kind != kind:
        _add(errors, "organization", message)


# --- indicator and patent rows ----------------------------------------------------------------------

_OPERATOR_ALIASES = {
    "≥": NeedIndicator.Operator.GE,
    "≤": NeedIndicator.Operator.LE,
    "=>": NeedIndicator.Operator.GE,
    "=<": NeedIndicator.Operator.LE,
    "==": NeedIndicator.Operator.EQ,
    "~": NeedIndicator.Operator.RANGE,
    "-": NeedIndicator.Operator.RANGE,
    "–": NeedIndicator.Operator.RANGE,
}


def _row_value(row: dict, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _is_number(value: str) -> bool:
    return bool(_NUMBER.match(value.replace(",", "")))


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def _clean_indicator_rows(rows: Iterable[dict]) -> tuple[list[NeedIndicator], list[str]]:
    """Indicator rows as unsaved ``NeedIndicator``s (each with ``requested_id``: the ``id`` the
    row names, if any) and the row errors."""
    operators = _choice_lookup(NeedIndicator.Operator.choices) | _OPERATOR_ALIASES
    name_max = _max_length(NeedIndicator, "name")
    target_max_length = _max_length(NeedIndicator, "target")
    unit_max = _max_length(NeedIndicator, "unit")
    cleaned: list[NeedIndicator] = []
    errors: list[str] = []
    for number, row in enumerate(rows, start=1):
        values = {
            k: _row_value(row, k) for k in ("name", "operator", "target", "target_max", "unit")
        }
        if not any(values.values()):
            continue  # an empty row in a form or a spreadsheet
        row_errors: list[str] = []
        operator = operators.get(values["operator"] or NeedIndicator.Operator.GE)
        if not values["name"]:
            row_errors.append(_("请填写指标名称。"))
        elif len(values["name"]) > name_max:
            row_errors.append(_("指标名称不能超过%(max)d个字符。") % {"max": name_max})
        if operator is None:
            row_errors.append(
                _("关系“%(value)s”无效，应为 ≥、≤、>、<、= 或 区间。")
                % {"value": values["operator"]}
            )
        numeric = operator not in (None, NeedIndicator.Operator.EQ)
        if not values["target"]:
            row_errors.append(_("请填写目标值。"))
        elif len(values["target"]) > target_max_length:
            row_errors.append(_("目标值不能超过%(max)d个字符。") % {"max": target_max_length})
        elif numeric and not _is_number(values["target"]):
            row_errors.append(_("目标值应为数字。"))
        if operator == NeedIndicator.Operator.RANGE:
            if not values["target_max"]:
                row_errors.append(_("区间指标须填写上限。"))
            elif not _is_number(values["target_max"]):
                row_errors.append(_("上限应为数字。"))
            elif _is_number(values["target"]) and Decimal(
                values["target_max"].replace(",", "")
            ) < Decimal(values["target"].replace(",", "")):
                row_errors.append(_("上限不能小于目标值。"))
        elif values["target_max"] and operator is not None:
            row_errors.append(_("只有区间指标才填写上限。"))
        if len(values["target_max"]) > target_max_length:
            row_errors.append(_("上限不能超过%(max)d个字符。") % {"max": target_max_length})
        if len(values["unit"]) > unit_max:
            row_errors.append(_("单位不能超过%(max)d个字符。") % {"max": unit_max})
        if row_errors:
            errors.extend(_row_error(number, message) for message in row_errors)
            continue
        indicator = NeedIndicator(
            name=values["name"],
            operator=operator,
            target=values["target"],
            target_max=values["target_max"],
            unit=values["unit"],
            position=len(cleaned),
        )
        indicator.requested_id = _to_int(row.get("id"))
        cleaned.append(indicator)
    return cleaned, errors


def validate_indicator_rows(rows: Iterable[dict]) -> list[str]:
    """Errors of indicator rows ``{name, operator, target, target_max, unit}``, each prefixed with
    its 1-based row number; empty rows are skipped. An empty list means all rows are valid."""
    return _clean_indicator_rows(rows)[1]


def _clean_patent_rows(rows: Iterable[dict]) -> tuple[list[Patent], list[str]]:
    kinds = _choice_lookup(Patent.Kind.choices)
    statuses = _choice_lookup(Patent.Status.choices)
    title_max = _max_length(Patent, "title")
    cleaned: list[Patent] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        values = {k: _row_value(row, k) for k in ("number", "kind", "status", "title")}
        if not any(values.values()):
            continue
        row_errors: list[str] = []
        kind = kinds.get(values["kind"] or Patent.Kind.INVENTION)
        status = statuses.get(values["status"] or Patent.Status.PENDING)
        if kind is None:
            row_errors.append(_("类型“%(value)s”无效。") % {"value": values["kind"]})
        if status is None:
            row_errors.append(_("法律状态“%(value)s”无效。") % {"value": values["status"]})
        patent_number = values["number"]
        if not patent_number:
            row_errors.append(_("请填写申请号或登记号。"))
        elif kind is not None:
            try:
                if kind == Patent.Kind.SOFTWARE:
                    validate_software_copyright_number(patent_number)
                    patent_number = patent_number.upper().replace(" ", "")
                else:
                    validate_patent_number(patent_number)
                    patent_number = normalize_patent_number(patent_number)
            except ValidationError as exc:
                row_errors.extend(exc.messages)
            else:
                if patent_number in seen:
                    row_errors.append(_("申请号“%(value)s”重复。") % {"value": patent_number})
                seen.add(patent_number)
        if len(values["title"]) > title_max:
            row_errors.append(_("名称不能超过%(max)d个字符。") % {"max": title_max})
        if row_errors:
            errors.extend(_row_error(number, message) for message in row_errors)
            continue
        cleaned.append(
            Patent(number=patent_number, kind=kind, status=status, title=values["title"])
        )
    return cleaned, errors


def validate_patent_rows(rows: Iterable[dict]) -> list[str]:
    """Errors of patent rows ``{number, kind, status, title}`` (patent numbers with their check
    character, software copyright numbers), each prefixed with its 1-based row number."""
    return _clean_patent_rows(rows)[1]
