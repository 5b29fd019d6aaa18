"""Writes for needs, results, capability profiles, attachments and access to confidential needs.

Every service is keyword-only, validates everything before it writes (``ValidationError`` with a
field dict, nothing written), checks that the actor belongs to the owning organization
(``PermissionDenied`` otherwise; platform staff may act on any organization), writes and audits in one
transaction, and schedules matching with ``transaction.on_commit``.

``data`` keys are model field names. ``field`` may be a ``taxonomy.Field`` or its code, ``region`` a
``taxonomy.Region`` or its name; ``coop_modes``/``transfer_modes`` codes or labels (a list, or one
string separated by commas or 、); ``keywords``/``application_fields`` a list or such a string.
Row errors of indicators and patents name the row, 1-based: ``第2行：目标值应为数字。``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching import tasks
from matching.models import (
    Attachment,
    CapabilityProfile,
    CoopMode,
    Need,
    NeedAccess,
    NeedIndicator,
    Patent,
    Result,
)
from matching.validators import (
    normalize_patent_number,
    validate_patent_number,
    validate_software_copyright_number,
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
)
CAPABILITY_EDITABLE = ("title", "description", "team", "equipment", "past_projects", "is_published")

# Allowed status changes; ``need_set_status`` is the only place that changes ``Need.status``.
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
}
RESULT_TRANSITIONS: dict[str, frozenset[str]] = {
    Result.Status.DRAFT: frozenset({Result.Status.PUBLISHED, Result.Status.WITHDRAWN}),
    Result.Status.PUBLISHED: frozenset({Result.Status.WITHDRAWN}),
    Result.Status.WITHDRAWN: frozenset(),
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
        elif name in ("budget_min", "budget_max", "price_min", "price_max", "trl_min", "deadline"):
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


# --- needs ----------------------------------------------------------------------------------------


def _validate_need(need: Need, errors: Errors) -> None:
    _full_clean(need, errors)
    _check_trl(need, "trl_min", errors)
    _check_range(need, "budget_min", "budget_max", errors, _("预算"))
    if need.confidentiality == Need.Confidentiality.SUMMARY and _blank(need.summary):
        _add(errors, "summary", _("选择“摘要公开”时必须填写公开摘要。"))
    _check_external_ref(need, errors)


INDICATOR_FIELDS = ("name", "operator", "target", "target_max", "unit", "position")


def _indicator_signature(rows: list[NeedIndicator]) -> list[tuple]:
    return [(r.name, r.operator, r.target, r.target_max, r.unit) for r in rows]


def _pair_indicators(
    existing: list[NeedIndicator], rows: list[NeedIndicator]
) -> list[tuple[NeedIndicator, NeedIndicator | None]]:
    """Each wanted row with the existing indicator it updates (None: a new one). A row takes the
    indicator it names by ``id``, else one with the same content, else one with the same name, else
    the first one left in order (an edited row of a form)."""
    free = {indicator.pk: indicator for indicator in existing}
    pairs: dict[int, NeedIndicator] = {}

    def claim(index: int, indicator: NeedIndicator) -> None:
        pairs[index] = free.pop(indicator.pk)

    for index, row in enumerate(rows):
        if row.requested_id in free:
            claim(index, free[row.requested_id])
    for same in (
        lambda old, row: _indicator_signature([old]) == _indicator_signature([row]),
        lambda old, row: old.name == row.name,
        lambda old, row: True,
    ):
        for index, row in enumerate(rows):
            if index not in pairs:
                match = next((old for old in free.values() if same(old, row)), None)
                if match is not None:
                    claim(index, match)
    return [(row, pairs.get(index)) for index, row in enumerate(rows)]


def _sync_indicators(need: Need, rows: list[NeedIndicator]) -> None:
    """Make the need's indicators ``rows``, in place: challenges accept against indicators and bids
    answer them by id (``challenges.BidIndicatorResponse`` protects them), so an indicator that is
    kept keeps its row; only rows no longer wanted are deleted."""
    existing = list(need.indicators.order_by("position", "id"))
    pairs = _pair_indicators(existing, rows)
    kept = {old.pk for _row, old in pairs if old is not None}
    need.indicators.exclude(pk__in=kept).delete()
    new = []
    for row, old in pairs:
        if old is None:
            row.need = need
            new.append(row)
            continue
        changed = [f for f in INDICATOR_FIELDS if getattr(old, f) != getattr(row, f)]
        if changed:
            for f in changed:
                setattr(old, f, getattr(row, f))
            old.save(update_fields=changed)
    NeedIndicator.objects.bulk_create(new)


def _indicators_frozen(need: Need) -> bool:
    """Whether a challenge built from the need holds its indicators: one that left its draft and
    was not cancelled accepts against them, and any bid answers them. Read through the reverse
    relation: the catalogue does not import ``challenges`` (challenges consume the catalogue)."""
    return need.challenges.filter(
        Q(bids__isnull=False) | ~Q(status__in=("draft", "cancelled"))
    ).exists()


@transaction.atomic
def need_create(
    *,
    actor: User,
    organization: Organization,
    data: dict,
    indicators: list[dict] | None = None,
) -> Need:
    """A draft need of ``organization`` (an enterprise) written by one of its members."""
    require_acts_for(user=actor, org=organization)
    errors: Errors = {}
    _check_kind(
        organization,
        Organization.Kind.ENTERPRISE,
        errors,
        _("只有企业可以发布技术需求。"),
    )
    need = Need(organization=organization, created_by=actor, status=Need.Status.DRAFT)
    _apply(need, data, NEED_EDITABLE, errors)
    rows, row_errors = _clean_indicator_rows(indicators or [])
    if row_errors:
        _add(errors, "indicators", row_errors)
    _validate_need(need, errors)
    if errors:
        raise ValidationError(errors)
    need.save()
    _sync_indicators(need, rows)
    audit_record(actor=actor, action="need.create", target=need, to_state=need.status)
    return need


@transaction.atomic
def need_update(
    *, need: Need, actor: User, data: dict, indicators: list[dict] | None = None
) -> Need:
    """Change the given fields; ``indicators`` None keeps them, a list is the new list: indicators
    are matched to the rows (by ``id``, content, name, then order) and updated in place. Once a
    challenge holds them (``_indicators_frozen``) they may be re-sent unchanged, not changed."""
    require_acts_for(user=actor, org=need.organization)
    need = Need.objects.select_for_update().select_related("organization").get(pk=need.pk)
    errors: Errors = {}
    if need.status in NEED_FROZEN_STATUSES:
        raise ValidationError({"status": [_("已关闭或已撤回的需求不能再编辑。")]})
    changed = _apply(need, data, NEED_EDITABLE, errors)
    rows: list[NeedIndicator] = []
    if indicators is not None:
        rows, row_errors = _clean_indicator_rows(indicators)
        existing = list(need.indicators.order_by("position", "id"))
        if row_errors:
            _add(errors, "indicators", row_errors)
        elif _indicator_signature(rows) != _indicator_signature(existing):
            if _indicators_frozen(need):
                _add(errors, "indicators", _("已有榜单的需求不能修改技术指标。"))
            changed.append("indicators")
    _validate_need(need, errors)
    if errors:
        raise ValidationError(errors)
    need.save()
    if "indicators" in changed:
        _sync_indicators(need, rows)
    if changed:
        audit_record(actor=actor, action="need.update", target=need, data={"fields": changed})
        if need.status != Need.Status.DRAFT:
            _schedule_matching("need", need.pk)
    return need


@transaction.atomic
def need_set_status(*, need: Need, actor: User, to_status: str, reason: str = "") -> Need:
    """The one way a need changes status: checks the transition (and, to publish, that the
    organization is verified), audits who/when/from/to/why, and re-runs matching after commit."""
    require_acts_for(user=actor, org=need.organization)
    locked = Need.objects.select_for_update().select_related("organization").get(pk=need.pk)
    from_status = locked.status
    if to_status not in Need.Status.values:
        raise ValidationError({"status": [_("未知的状态“%(value)s”。") % {"value": to_status}]})
    if to_status not in NEED_TRANSITIONS[from_status]:
        raise ValidationError(
            {
                "status": [
                    _("需求不能从“%(from)s”变为“%(to)s”。")
                    % {"from": Need.Status(from_status).label, "to": Need.Status(to_status).label}
                ]
            }
        )
    update_fields = ["status", "updated_at"]
    if to_status == Need.Status.PUBLISHED:
        if not locked.organization.is_verified:
            raise ValidationError(
                {"organization": [_("机构尚未通过平台认证，认证后才能发布需求。")]}
            )
        if from_status == Need.Status.DRAFT or locked.published_at is None:
            locked.published_at = timezone.now()
            update_fields.append("published_at")
    locked.status = to_status
    locked.save(update_fields=update_fields)
    audit_record(
        actor=actor,
        action="need.status",
        target=locked,
        from_state=from_status,
        to_state=to_status,
        reason=reason.strip(),
    )
    _schedule_matching("need", locked.pk)
    need.status, need.published_at, need.updated_at = (
        locked.status,
        locked.published_at,
        locked.updated_at,
    )
    return locked


def need_publish(*, need: Need, actor: User) -> Need:
    return need_set_status(need=need, actor=actor, to_status=Need.Status.PUBLISHED)


def need_withdraw(*, need: Need, actor: User, reason: str = "") -> Need:
    return need_set_status(need=need, actor=actor, to_status=Need.Status.WITHDRAWN, reason=reason)


def need_close(*, need: Need, actor: User, reason: str = "") -> Need:
    return need_set_status(need=need, actor=actor, to_status=Need.Status.CLOSED, reason=reason)


# --- results --------------------------------------------------------------------------------------


def _validate_result(result: Result, errors: Errors) -> None:
    _full_clean(result, errors)
    _check_trl(result, "trl", errors)
    _check_range(result, "price_min", "price_max", errors, _("意向价格"))
    for name in ("keywords", "application_fields"):
        if name not in errors and any(
            len(item) > (32 if name == "keywords" else 64) for item in getattr(result, name)
        ):
            _add(errors, name, _("单项过长。"))
    _check_external_ref(result, errors)


def _replace_patents(result: Result, patents: list[Patent]) -> None:
    result.patents.all().delete()
    for patent in patents:
        patent.result = result
    Patent.objects.bulk_create(patents)


@transaction.atomic
def result_create(
    *,
    actor: User,
    organization: Organization,
    data: dict,
    patents: list[dict] | None = None,
) -> Result:
    """A draft research result of ``organization`` (a university or institute)."""
    require_acts_for(user=actor, org=organization)
    errors: Errors = {}
    _check_kind(
        organization,
        Organization.Kind.INSTITUTION,
        errors,
        _("只有高校、科研院所可以发布科技成果。"),
    )
    result = Result(organization=organization, created_by=actor, status=Result.Status.DRAFT)
    _apply(result, data, RESULT_EDITABLE, errors)
    rows, row_errors = _clean_patent_rows(patents or [])
    if row_errors:
        _add(errors, "patents", row_errors)
    _validate_result(result, errors)
    if errors:
        raise ValidationError(errors)
    result.save()
    _replace_patents(result, rows)
    audit_record(actor=actor, action="result.create", target=result, to_state=result.status)
    return result


@transaction.atomic
def result_update(
    *, result: Result, actor: User, data: dict, patents: list[dict] | None = None
) -> Result:
    """Change the given fields; ``patents`` None keeps them, a list replaces them."""
    require_acts_for(user=actor, org=result.organization)
    result = Result.objects.select_for_update().select_related("organization").get(pk=result.pk)
    if result.status == Result.Status.WITHDRAWN:
        raise ValidationError({"status": [_("已撤回的成果不能再编辑。")]})
    errors: Errors = {}
    changed = _apply(result, data, RESULT_EDITABLE, errors)
    rows: list[Patent] = []
    if patents is not None:
        rows, row_errors = _clean_patent_rows(patents)
        if row_errors:
            _add(errors, "patents", row_errors)
        else:
            old = [(p.number, p.kind, p.status, p.title) for p in result.patents.order_by("id")]
            if old != [(p.number, p.kind, p.status, p.title) for p in rows]:
                changed.append("patents")
    _validate_result(result, errors)
    if errors:
        raise ValidationError(errors)
    result.save()
    if patents is not None:
        _replace_patents(result, rows)
    if changed:
        audit_record(actor=actor, action="result.update", target=result, data={"fields": changed})
        if result.status == Result.Status.PUBLISHED:
            _schedule_matching("result", result.pk)
    return result


@transaction.atomic
def result_set_status(*, result: Result, actor: User, to_status: str, reason: str = "") -> Result:
    require_acts_for(user=actor, org=result.organization)
    locked = Result.objects.select_for_update().select_related("organization").get(pk=result.pk)
    from_status = locked.status
    if to_status not in Result.Status.values or to_status not in RESULT_TRANSITIONS[from_status]:
        raise ValidationError(
            {
                "status": [
                    _("成果不能从“%(from)s”变为“%(to)s”。")
                    % {"from": Result.Status(from_status).label, "to": to_status}
                ]
            }
        )
    update_fields = ["status", "updated_at"]
    if to_status == Result.Status.PUBLISHED:
        if not locked.organization.is_verified:
            raise ValidationError(
                {"organization": [_("机构尚未通过平台认证，认证后才能发布成果。")]}
            )
        locked.published_at = timezone.now()
        update_fields.append("published_at")
    locked.status = to_status
    locked.save(update_fields=update_fields)
    audit_record(
        actor=actor,
        action="result.status",
        target=locked,
        from_state=from_status,
        to_state=to_status,
        reason=reason.strip(),
    )
    _schedule_matching("result", locked.pk)
    result.status, result.published_at = locked.status, locked.published_at
    return locked


def result_publish(*, result: Result, actor: User) -> Result:
    return result_set_status(result=result, actor=actor, to_status=Result.Status.PUBLISHED)


def result_withdraw(*, result: Result, actor: User, reason: str = "") -> Result:
    return result_set_status(
        result=result, actor=actor, to_status=Result.Status.WITHDRAWN, reason=reason
    )


# --- capability profiles --------------------------------------------------------------------------


def _resolve_fields(values: list | None, errors: Errors) -> list[Field]:
    resolved = []
    for value in _split_list(values) if isinstance(values, str) else values or []:
        field = _resolve_field(value, errors, key="fields")
        if field is not None and field not in resolved:
            resolved.append(field)
    return resolved


@transaction.atomic
def capability_create(
    *,
    actor: User,
    organization: Organization,
    data: dict,
    fields: list | None = None,
) -> CapabilityProfile:
    require_acts_for(user=actor, org=organization)
    errors: Errors = {}
    _check_kind(
        organization,
        Organization.Kind.INSTITUTION,
        errors,
        _("只有高校、科研院所可以登记研发能力。"),
    )
    profile = CapabilityProfile(organization=organization)
    _apply(profile, data, CAPABILITY_EDITABLE, errors)
    resolved = _resolve_fields(fields, errors)
    _full_clean(profile, errors)
    if errors:
        raise ValidationError(errors)
    profile.save()
    profile.fields.set(resolved)
    audit_record(actor=actor, action="capability.create", target=profile)
    if profile.is_published:
        _schedule_matching("capability", profile.pk)
    return profile


@transaction.atomic
def capability_update(
    *,
    profile: CapabilityProfile,
    actor: User,
    data: dict,
    fields: list | None = None,
) -> CapabilityProfile:
    """``fields`` None keeps the technology fields, a list replaces them."""
    require_acts_for(user=actor, org=profile.organization)
    profile = CapabilityProfile.objects.select_for_update().get(pk=profile.pk)
    was_published = profile.is_published
    errors: Errors = {}
    changed = _apply(profile, data, CAPABILITY_EDITABLE, errors)
    resolved = _resolve_fields(fields, errors) if fields is not None else None
    _full_clean(profile, errors)
    if errors:
        raise ValidationError(errors)
    profile.save()
    if resolved is not None and set(resolved) != set(profile.fields.all()):
        profile.fields.set(resolved)
        changed.append("fields")
    if changed:
        audit_record(
            actor=actor, action="capability.update", target=profile, data={"fields": changed}
        )
        if profile.is_published or was_published:
            _schedule_matching("capability", profile.pk)
    return profile


@transaction.atomic
def capability_delete(*, profile: CapabilityProfile, actor: User) -> None:
    """Delete the profile; its matches go with it (cascade)."""
    require_acts_for(user=actor, org=profile.organization)
    audit_record(
        actor=actor, action="capability.delete", target=profile, data={"title": profile.title}
    )
    profile.delete()


# --- attachments ----------------------------------------------------------------------------------


def _sniff(head: bytes, upload: UploadedFile) -> str | None:
    kind = filetype.guess(head)
    mime = kind.mime if kind else None
    if mime in (DOCX_MIME, "application/zip") or head.startswith(b"PK\x03\x04"):
        # A DOCX is a zip with word/document.xml; anything else zipped is refused.
        try:
            upload.seek(0)
            with zipfile.ZipFile(upload) as archive:
                return DOCX_MIME if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        finally:
            upload.seek(0)
    return mime if mime in ALLOWED_UPLOADS else None


def validate_upload(upload: UploadedFile) -> str:
    """The sniffed content type of an acceptable upload: PDF, DOCX, PNG or JPEG, at most
    ``settings.MAX_UPLOAD_MB``, with an extension matching its bytes. Raises ValidationError
    ``{"file": [...]}`` otherwise."""
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if upload.size is None or upload.size > limit:
        raise ValidationError(
            {"file": [_("文件不能超过 %(mb)d MB。") % {"mb": settings.MAX_UPLOAD_MB}]}
        )
    if upload.size == 0:
        raise ValidationError({"file": [_("文件是空的。")]})
    name = (upload.name or "").lower()
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    mime = _sniff(head, upload)
    if mime is None:
        raise ValidationError({"file": [_("只能上传 PDF、DOCX、PNG 或 JPEG 文件。")]})
    if not name.endswith(ALLOWED_UPLOADS[mime]):
        raise ValidationError({"file": [_("文件内容与扩展名不符，请检查文件。")]})
    return mime


def _clean_original_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "file"
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 199 - len(ext)] + dot + ext) if dot else name[:200]
    return name


@transaction.atomic
def attachment_add(*, owner: Need | Result, actor: User, upload: UploadedFile) -> Attachment:
    """Store ``upload`` under a random name and attach it to ``owner`` (a need or a result)."""
    require_acts_for(user=actor, org=owner.organization)
    if isinstance(owner, Need) and owner.status in NEED_FROZEN_STATUSES:
        raise ValidationError({"file": [_("已关闭或已撤回的需求不能再添加附件。")]})
    mime = validate_upload(upload)
    attachment = Attachment(
        original_name=_clean_original_name(upload.name or ""),
        content_type=mime,
        size=upload.size,
        uploaded_by=actor,
    )
    if isinstance(owner, Need):
        attachment.need = owner
    else:
        attachment.result = owner
    attachment.file.save(attachment.original_name, upload, save=False)
    try:
        attachment.save()
        audit_record(
            actor=actor,
            action="attachment.add",
            target=owner,
            data={"attachment": str(attachment.uuid), "name": attachment.original_name},
        )
    except Exception:
        # The file went to disk before the row; do not leave it behind. (An enclosing transaction
        # rolled back later can still orphan a file; it has a random name and no row to serve it.)
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment, actor: User) -> None:
    owner = attachment.need or attachment.result
    require_acts_for(user=actor, org=owner.organization)
    audit_record(
        actor=actor,
        action="attachment.delete",
        target=owner,
        data={"attachment": str(attachment.uuid), "name": attachment.original_name},
    )
    storage, path = attachment.file.storage, attachment.file.name
    attachment.delete()
    transaction.on_commit(partial(storage.delete, path))


# --- access to summary-public needs ---------------------------------------------------------------


def _check_access_target(need: Need, organization: Organization) -> None:
    if need.confidentiality != Need.Confidentiality.SUMMARY:
        raise ValidationError({"need": [_("只有“摘要公开”的需求需要申请查看全文。")]})
    if need.status not in Need.LISTED_STATUSES:
        raise ValidationError({"need": [_("该需求当前不可申请查看。")]})
    if organization.pk == need.organization_id:
        raise ValidationError({"organization": [_("需求方机构本身即可查看全文。")]})


@transaction.atomic
def need_access_request(
    *, need: Need, actor: User, organization: Organization, accept_terms: bool
) -> NeedAccess:
    """``organization`` asks to read the full text of a summary-public need and accepts its terms.

    A fresh request waits for the enterprise's decision; an organization the enterprise invited only
    accepts the terms and gets the full text at once. A rejected organization may ask again."""
    require_acts_for(user=actor, org=organization)
    _check_access_target(need, organization)
    if not accept_terms:
        raise ValidationError({"accept_terms": [_("请先阅读并接受需求方的保密条款。")]})
    now = timezone.now()
    access = (
        NeedAccess.objects.select_for_update().filter(need=need, organization=organization).first()
    )
    from_state = access.status if access else ""
    if access is None:
        access = NeedAccess(need=need, organization=organization)
    elif access.status == NeedAccess.Status.REQUESTED:
        raise ValidationError({"need": [_("已提交申请，请等待需求方审批。")]})
    elif access.grants_full_text:
        return access
    elif access.status == NeedAccess.Status.REJECTED:
        access.status = NeedAccess.Status.REQUESTED
        access.decided_by = None
        access.decided_at = None
    access.requested_by = access.requested_by or actor
    access.terms_accepted_at = now
    access.terms_accepted_by = actor
    access.save()
    audit_record(
        actor=actor,
        action="need.access_request",
        target=need,
        from_state=from_state,
        to_state=access.status,
        data={"organization": str(organization.uuid), "terms_accepted": True},
    )
    return access


@transaction.atomic
def need_access_decide(*, access: NeedAccess, actor: User, approve: bool) -> NeedAccess:
    """The enterprise approves or rejects a pending request."""
    access = (
        NeedAccess.objects.select_for_update()
        .select_related("need", "need__organization", "organization")
        .get(pk=access.pk)
    )
    require_acts_for(user=actor, org=access.need.organization)
    if access.status != NeedAccess.Status.REQUESTED:
        raise ValidationError({"status": [_("该申请已处理。")]})
    access.status = NeedAccess.Status.APPROVED if approve else NeedAccess.Status.REJECTED
    access.decided_by = actor
    access.decided_at = timezone.now()
    access.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="need.access_decide",
        target=access.need,
        from_state=NeedAccess.Status.REQUESTED,
        to_state=access.status,
        data={"organization": str(access.organization.uuid)},
    )
    return access


@transaction.atomic
def need_access_invite(*, need: Need, actor: User, organization: Organization) -> NeedAccess:
    """The enterprise invites ``organization`` to read the full text; it still has to accept the
    terms (``need_access_request``) before it sees anything more."""
    require_acts_for(user=actor, org=need.organization)
    _check_access_target(need, organization)
    access, _created = NeedAccess.objects.select_for_update().get_or_create(
        need=need, organization=organization
    )
    from_state = "" if _created else access.status
    access.status = NeedAccess.Status.APPROVED
    access.invited = True
    access.decided_by = actor
    access.decided_at = timezone.now()
    access.save()
    audit_record(
        actor=actor,
        action="need.access_invite",
        target=need,
        from_state=from_state,
        to_state=access.status,
        data={"organization": str(organization.uuid)},
    )
    return access
