"""Bulk import of needs and results: CSV/XLSX files in the template of ``fixtures/templates`` (the
``import_needs``/``import_results`` commands) and JSON lists (the API's ``bulk`` endpoints).

Contract, the same for both paths:

- every row is validated, by the same services the web forms use (``matching.catalogue.services``);
- all rows or none: one transaction, rolled back when any row is bad (``ImportRejected``);
- each bad row is reported by number and column, e.g. ``第3行 预算上限：预算上限不能低于下限。``
  Files count rows as a spreadsheet shows them (the header is row 1); JSON lists count items from 1;
- idempotent by ``external_ref`` (外部编号) within the organization: a known ref updates that
  record, a new one creates a draft; ``status`` ``published`` then publishes a draft. Importing never
  un-publishes, and closed or withdrawn records cannot be updated.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import override

from accounts.models import Organization, User
from matching.catalogue import services
from matching.models import Need, NeedIndicator, Result

MAX_ROWS = 5000


@dataclass(frozen=True)
class Column:
    key: str  # model field name, or indicators / patents / status
    header: str  # the template's (Chinese) header; the key is accepted as a header too
    required: bool = False


NEED_COLUMNS = [
    Column("external_ref", "外部编号", required=True),
    Column("title", "需求名称", required=True),
    Column("summary", "公开摘要"),
    Column("description", "问题描述", required=True),
    Column("scenario", "应用场景"),
    Column("field", "技术领域", required=True),
    Column("industry_chain", "产业链环节"),
    Column("region", "所在地区"),
    Column("budget_min", "预算下限"),
    Column("budget_max", "预算上限"),
    Column("funding_mode", "经费方式"),
    Column("coop_modes", "合作方式"),
    Column("trl_min", "期望成熟度"),
    Column("deadline", "截止日期"),
    Column("contact_name", "联系人"),
    Column("contact_phone", "联系电话"),
    Column("contact_email", "联系邮箱"),
    Column("confidentiality", "公开方式"),
    Column("terms", "保密条款"),
    Column("indicators", "技术指标"),
    Column("status", "状态"),
]

RESULT_COLUMNS = [
    Column("external_ref", "外部编号", required=True),
    Column("title", "成果名称", required=True),
    Column("abstract", "成果简介", required=True),
    Column("keywords", "关键词"),
    Column("field", "技术领域", required=True),
    Column("industry_chain", "产业链环节"),
    Column("trl", "成熟度", required=True),
    Column("is_service_invention", "职务科技成果"),
    Column("transfer_modes", "转化方式"),
    Column("price_min", "意向价格下限"),
    Column("price_max", "意向价格上限"),
    Column("team", "团队"),
    Column("application_fields", "应用领域"),
    Column("patents", "专利"),
    Column("status", "状态"),
]

# Columns whose blank cell means "the model's default" (create) or "unchanged" (update): they have
# a default and may not be blank.
_OMIT_WHEN_BLANK = {"funding_mode", "confidentiality", "is_service_invention", "status"}


# --- errors and reports -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # 0 for the file as a whole
    column: str  # what the user calls it: the file's header, or the JSON field name
    message: str
    field: str = ""  # the field name (for the API)

    def __str__(self) -> str:
        if self.row == 0:
            return _("%(column)s：%(message)s") % {"column": self.column, "message": self.message}
        return _("第%(row)d行 %(column)s：%(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


class ImportRejected(Exception):
    """Nothing was imported; ``errors`` says why, row by row."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


@dataclass
class ImportedItem:
    row: int
    external_ref: str
    uuid: Any
    created: bool


@dataclass
class ImportReport:
    items: list[ImportedItem] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for item in self.items if item.created)

    @property
    def updated(self) -> int:
        return sum(1 for item in self.items if not item.created)


@dataclass
class ParsedRow:
    """One row ready for the services: ``data`` keyed by model field, ``rows`` the indicator or
    patent dicts (None: keep the existing ones), ``errors`` found while reading it."""

    row: int
    external_ref: str
    data: dict[str, Any]
    rows: list[dict] | None = None
    status: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


# --- applying rows (files and JSON) -----------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    model: type
    create: Callable
    update: Callable
    publish: Callable
    rows_arg: str  # indicators / patents
    instance_arg: str  # need / result


def _need_kind() -> _Kind:
    return _Kind(
        Need,
        services.need_create,
        services.need_update,
        services.need_publish,
        "indicators",
        "need",
    )


def _result_kind() -> _Kind:
    return _Kind(
        Result,
        services.result_create,
        services.result_update,
        services.result_publish,
        "patents",
        "result",
    )


def flatten_errors(messages: Any) -> list[str]:
    """DRF/Django error structures (lists of dicts for nested rows) as plain messages."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            out += [f"{key}：{m}" for m in flatten_errors(value)]
        return out
    if isinstance(messages, list | tuple):
        out = []
        for index, value in enumerate(messages, start=1):
            if isinstance(value, dict):
                out += [
                    _("第%(n)d项：%(message)s") % {"n": index, "message": m}
                    for m in flatten_errors(value)
                ]
            else:
                out += flatten_errors(value)
        return out
    return [str(messages)]


def _apply_rows(
    *,
    kind: _Kind,
    actor: User,
    organization: Organization,
    rows: list[ParsedRow],
    column_name: Callable[[str], str],
) -> ImportReport:
    errors: list[RowError] = []

    def reject(row: int, key: str, messages: Iterable[str]) -> None:
        name = column_name(key)
        for message in messages:
            errors.append(RowError(row=row, column=name, message=str(message), field=key))

    seen: dict[str, int] = {}
    report = ImportReport()
    with transaction.atomic():
        # One import per organization at a time: two concurrent runs with the same new
        # external_ref would otherwise both create it (the second failing on the unique
        # constraint). The second run waits, then finds the first one's rows and updates them.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        existing = {
            obj.external_ref: obj
            for obj in kind.model.objects.filter(
                organization=organization,
                external_ref__in=[r.external_ref for r in rows if r.external_ref],
            )
        }
        for parsed in rows:
            ref = parsed.external_ref
            if ref and ref in seen:
                reject(
                    parsed.row,
                    "external_ref",
                    [_("外部编号“%(ref)s”与第%(row)d行重复。") % {"ref": ref, "row": seen[ref]}],
                )
                continue
            if ref:
                seen[ref] = parsed.row
            if parsed.errors:
                for key, messages in parsed.errors.items():
                    reject(parsed.row, key, messages)
                continue
            obj = existing.get(ref)
            try:
                # A savepoint per row: a bad row leaves nothing behind, and the rows after it are
                # still checked so that one run reports every bad row.
                with transaction.atomic():
                    if obj is None:
                        obj = kind.create(
                            actor=actor,
                            organization=organization,
                            data=parsed.data,
                            **{kind.rows_arg: parsed.rows},
                        )
                        created = True
                    else:
                        obj = kind.update(
                            actor=actor,
                            data=parsed.data,
                            **{kind.instance_arg: obj, kind.rows_arg: parsed.rows},
                        )
                        created = False
                    if parsed.status == "published" and obj.status == "draft":
                        obj = kind.publish(actor=actor, **{kind.instance_arg: obj})
            except ValidationError as exc:
                detail = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
                for key, messages in detail.items():
                    if key == "indicators" or key == "patents":
                        messages = [_nested_row(m) for m in messages]
                    reject(parsed.row, key, messages)
                if "organization" in detail:
                    break  # about the organization, not the row: every other row would repeat it
                continue
            report.items.append(
                ImportedItem(row=parsed.row, external_ref=ref, uuid=obj.uuid, created=created)
            )
        if errors:
            raise ImportRejected(errors)
    return report


_SERVICE_ROW = re.compile(r"^第(\d+)行：")


def _nested_row(message: str) -> str:
    """The services number indicator/patent rows as 第N行; inside a row of a file they are items."""
    return _SERVICE_ROW.sub(r"第\1项：", str(message))


def import_needs(
    *, actor: User, organization: Organization, rows: list[ParsedRow], column_name=None
) -> ImportReport:
    """Create or update the needs of ``rows`` all at once, or raise ``ImportRejected``."""
    return _apply_rows(
        kind=_need_kind(),
        actor=actor,
        organization=organization,
        rows=rows,
        column_name=column_name or _column_namer(NEED_COLUMNS),
    )


def import_results(
    *, actor: User, organization: Organization, rows: list[ParsedRow], column_name=None
) -> ImportReport:
    """Create or update the results of ``rows`` all at once, or raise ``ImportRejected``."""
    return _apply_rows(
        kind=_result_kind(),
        actor=actor,
        organization=organization,
        rows=rows,
        column_name=column_name or _column_namer(RESULT_COLUMNS),
    )


def _column_namer(columns: list[Column]) -> Callable[[str], str]:
    headers = {c.key: c.header for c in columns}

    def name(key: str) -> str:
        if key in ("", NON_FIELD_ERRORS, "non_field_errors"):
            return _("整行")
        if key == "organization":
            return _("机构")
        return headers.get(key, key)

    return name


def json_column_name(key: str) -> str:
    """Errors of JSON items name the JSON field."""
    if key in ("", NON_FIELD_ERRORS):
        return "non_field_errors"
    return key


# --- reading files ----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value).strip()


def _decode(raw: bytes) -> str:
    # Excel on Chinese Windows saves "CSV" as GB18030/GBK; everyone else as UTF-8 (maybe with BOM).
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_table(file: IO[bytes] | Path | str, *, filename: str = "") -> list[tuple[int, list[str]]]:
    """The rows of a CSV or XLSX file as ``(row number, cells)``, header included; row numbers are
    what a spreadsheet shows. Raises ``ImportRejected`` when the file cannot be read."""
    if isinstance(file, str | Path):
        filename = filename or str(file)
        with open(file, "rb") as fh:
            raw = fh.read()
    else:
        raw = file.read()
    name = filename.lower()
    is_xlsx = name.endswith((".xlsx", ".xlsm")) or raw[:4] == b"PK\x03\x04"
    try:
        if is_xlsx:
            return _read_xlsx(raw)
        if name and not name.endswith((".csv", ".txt")):
            raise ValueError(name)
        text = _decode(raw)
        return [
            (number, [_cell(c) for c in cells])
            for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
        ]
    except (ValueError, KeyError, OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ImportRejected(
            [RowError(0, _("文件"), _("无法读取文件，请使用模板的 CSV 或 XLSX 格式。"))]
        ) from exc


def _read_xlsx(raw: bytes) -> list[tuple[int, list[str]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except BadZipFile as exc:
        raise ValueError("not an xlsx file") from exc
    try:
        sheet = workbook.worksheets[0]
        return [
            (number, [_cell(c) for c in cells])
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        workbook.close()


def _normalize_header(value: str) -> str:
    value = value.strip().lstrip("\ufeff").rstrip("*＊").strip()
    # "预算上限（万元）" and "预算上限(万元)" are the same column as "预算上限".
    return re.sub(r"[（(].*[）)]$", "", value).strip()


# Columns the API export adds to the template's; ignored on import so an export re-imports.
EXPORT_ONLY_HEADERS = ("uuid", "可见范围", "发布机构", "发布时间")


def _map_headers(
    header: list[str], columns: list[Column]
) -> tuple[dict[int, Column], list[RowError]]:
    by_name = {c.header: c for c in columns} | {c.key: c for c in columns}
    mapping: dict[int, Column] = {}
    errors: list[RowError] = []
    for index, raw in enumerate(header):
        name = _normalize_header(raw)
        if not name or name in EXPORT_ONLY_HEADERS:
            continue
        column = by_name.get(name)
        if column is None:
            errors.append(
                RowError(1, raw, _("无法识别的列“%(name)s”，请对照模板的表头。") % {"name": raw})
            )
        elif column in mapping.values():
            errors.append(RowError(1, raw, _("列“%(name)s”重复。") % {"name": raw}))
        else:
            mapping[index] = column
    for column in columns:
        if column.required and column not in mapping.values():
            errors.append(
                RowError(1, column.header, _("缺少必填列“%(name)s”。") % {"name": column.header})
            )
    return mapping, errors


_ITEM_SPLIT = re.compile(r"[;；\n]+")
_INDICATOR_OP = re.compile(
    r"^(?P<name>.+?)\s*(?P<op>>=|<=|=>|=<|≥|≤|>|<|=|＞|＜|＝)\s*(?P<rest>.+)$"
)
_INDICATOR_RANGE = re.compile(
    r"^(?P<name>.+?)\s*(?P<low>[+-]?\d+(?:\.\d+)?)\s*[~～]\s*(?P<high>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>.*)$"
)
_RANGE_VALUE = re.compile(
    r"^(?P<low>[+-]?\d+(?:\.\d+)?)\s*[~～]\s*(?P<high>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>.*)$"
)
_NUMBER_PREFIX = re.compile(r"^(?P<num>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>.*)$")
_FULLWIDTH_OPS = {"＞": ">", "＜": "<", "＝": "=", "=>": ">=", "=<": "<="}


def parse_indicators(cell: str) -> list[dict]:
    """``良率>=99.5%;功耗<=2W;厚度5~7μm`` as indicator dicts. An item without an operator keeps its
    text as the name, so the services report it (目标值 missing) by its position."""
    indicators = []
    for item in _ITEM_SPLIT.split(cell):
        item = item.strip()
        if not item:
            continue
        match = _INDICATOR_OP.match(item)
        if match:
            op = _FULLWIDTH_OPS.get(match["op"], match["op"])
            rest = match["rest"].strip()
            span = _RANGE_VALUE.match(rest) if op == "=" else None
            if span:  # 厚度=2~4μm
                indicators.append(
                    {
                        "name": match["name"].strip(),
                        "operator": NeedIndicator.Operator.RANGE,
                        "target": span["low"],
                        "target_max": span["high"],
                        "unit": span["unit"].strip(),
                    }
                )
                continue
            number = _NUMBER_PREFIX.match(rest)
            target, unit = (number["num"], number["unit"].strip()) if number else (rest, "")
            indicators.append(
                {"name": match["name"].strip(), "operator": op, "target": target, "unit": unit}
            )
            continue
        match = _INDICATOR_RANGE.match(item)
        if match:
            indicators.append(
                {
                    "name": match["name"].strip(),
                    "operator": NeedIndicator.Operator.RANGE,
                    "target": match["low"],
                    "target_max": match["high"],
                    "unit": match["unit"].strip(),
                }
            )
            continue
        indicators.append({"name": item, "operator": "", "target": ""})
    return indicators


def parse_patents(cell: str) -> list[dict]:
    """``202310123456.6|发明|已授权|名称;2023SR0123456|软件著作权|已授权`` as patent dicts; kind and
    status may be codes or labels, and default to 发明 and 申请中."""
    patents = []
    for item in _ITEM_SPLIT.split(cell):
        if not item.strip():
            continue
        parts = [p.strip() for p in re.split(r"[|｜]", item)]
        parts += [""] * (4 - len(parts))
        number, kind, status, title = parts[0], parts[1], parts[2], "|".join(parts[3:]).strip("|")
        patents.append({"number": number, "kind": kind, "status": status, "title": title})
    return patents


def _choice_code(value: str, choices) -> str:
    """A code for a code or a (Chinese) label; unknown values pass through for the model to reject."""
    with override("zh-hans"):
        lookup = {str(label): code for code, label in choices}
    return lookup.get(value, value)


_TRUE = {"是", "true", "1", "yes", "y", "职务"}
_FALSE = {"否", "false", "0", "no", "n", "非职务"}
_STATUS_WORDS = {
    "": "",
    "draft": "",
    "草稿": "",
    "published": "published",
    "发布": "published",
    "已发布": "published",
}


def _other_status(value: str) -> str | None:
    """Other statuses of an export (已关闭, 揭榜中, …) leave the status as it is; unknown ones are
    errors."""
    with override("zh-hans"):
        labels = {str(label) for _code, label in [*Need.Status.choices, *Result.Status.choices]}
    return "" if value in labels | set(Need.Status.values) | set(Result.Status.values) else None


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _cell_value(column: Column, value: str, errors: dict[str, list[str]]) -> Any:
    key = column.key
    if key == "funding_mode":
        return _choice_code(value, Need.FundingMode.choices)
    if key == "confidentiality":
        return _choice_code(value, Need.Confidentiality.choices)
    if key == "is_service_invention":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        errors.setdefault(key, []).append(_("请填写“是”或“否”。"))
        return None
    if key == "deadline" and value:
        # 2026/6/30, 2026.6.30 and 2026年6月30日 as ISO; anything else goes to the model to reject.
        match = _DATE.match(value)
        if match and _valid_date(match):
            return dt.date(*(int(g) for g in match.groups())).isoformat()
    if key in ("budget_min", "budget_max", "price_min", "price_max"):
        return value.replace(",", "").replace("，", "")
    return value


def _valid_date(match: re.Match) -> bool:
    try:
        dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


def parse_file(
    file: IO[bytes] | Path | str, *, kind: str, filename: str = ""
) -> tuple[list[ParsedRow], Callable[[str], str]]:
    """Read a needs (``kind="needs"``) or results (``"results"``) file in the template into rows,
    with a function naming a field as the file's header does. Raises ``ImportRejected`` for
    problems of the file as a whole (unreadable, unknown or missing columns, too many rows)."""
    columns = NEED_COLUMNS if kind == "needs" else RESULT_COLUMNS
    table = [(n, cells) for n, cells in read_table(file, filename=filename) if any(cells)]
    if not table:
        raise ImportRejected([RowError(0, _("文件"), _("文件是空的。"))])
    header_row, header = table[0]
    mapping, errors = _map_headers(header, columns)
    if errors:
        raise ImportRejected(errors)
    if len(table) - 1 > MAX_ROWS:
        raise ImportRejected(
            [RowError(0, _("文件"), _("一次最多导入%(max)d行。") % {"max": MAX_ROWS})]
        )
    headers_used = {column.key: header[index].strip() for index, column in mapping.items()}
    parsed_rows = []
    for number, cells in table[1:]:
        parsed_rows.append(_parse_row(number, cells, mapping))
    base = _column_namer(columns)

    def column_name(key: str) -> str:
        return _normalize_header(headers_used[key]) if key in headers_used else base(key)

    return parsed_rows, column_name


def _parse_row(number: int, cells: list[str], mapping: dict[int, Column]) -> ParsedRow:
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    rows: list[dict] | None = None
    status = ""
    external_ref = ""
    for index, column in mapping.items():
        value = cells[index] if index < len(cells) else ""
        if column.key == "external_ref":
            external_ref = value
            if not value:
                errors.setdefault("external_ref", []).append(
                    _("请填写外部编号：重复导入时靠它更新而不是重复创建。")
                )
            elif len(value) > 64:
                errors.setdefault("external_ref", []).append(_("外部编号不能超过64个字符。"))
            data["external_ref"] = value
        elif column.key == "indicators":
            rows = parse_indicators(value)
        elif column.key == "patents":
            rows = parse_patents(value)
        elif column.key == "status":
            status = _STATUS_WORDS.get(value.lower(), _other_status(value))
            if status is None:
                errors.setdefault("status", []).append(
                    _("状态“%(value)s”无效，应为“草稿”或“已发布”。") % {"value": value}
                )
        elif not value and column.key in _OMIT_WHEN_BLANK:
            continue
        else:
            converted = _cell_value(column, value, errors)
            if converted is not None:
                data[column.key] = converted
    return ParsedRow(
        row=number, external_ref=external_ref, data=data, rows=rows, status=status, errors=errors
    )


# --- the import_needs / import_results commands -----------------------------------------------------


def resolve_organization(value: str) -> Organization | None:
    """An organization by uuid or 统一社会信用代码."""
    value = value.strip()
    org = Organization.objects.filter(credit_code=value.upper()).first()
    if org is None:
        try:
            org = Organization.objects.filter(uuid=value).first()
        except ValidationError:
            org = None
    return org


def import_file(
    *, path: Path, kind: str, actor: User, organization: Organization, dry_run: bool = False
) -> ImportReport:
    """Parse and import one file; ``dry_run`` validates everything and writes nothing."""
    rows, column_name = parse_file(path, kind=kind, filename=path.name)
    run = import_needs if kind == "needs" else import_results
    with transaction.atomic():
        report = run(actor=actor, organization=organization, rows=rows, column_name=column_name)
        if dry_run:
            transaction.set_rollback(True)
    return report
