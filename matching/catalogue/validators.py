"""Chinese patent application numbers (专利申请号) with their check character."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# 12-digit form since 2003 (YYYY + type + 7-digit serial), 8-digit form before (YY + type + 5-digit).
_PATENT_RE = re.compile(r"^(?:CN)?(\d{12}|\d{8})\.([0-9X])$")
_SOFTWARE_RE = re.compile(r"^\d{4}SR\d{6,7}$")


def patent_check_char(digits: str) -> str:
    """Weights 2..9 then 2.. again over the digits, sum mod 11; 10 is written X."""
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(digits))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_patent_number(value: str) -> str:
    return value.strip().upper().replace(" ", "").removeprefix("ZL")


def validate_patent_number(value: str) -> None:
    number = normalize_patent_number(value)
    match = _PATENT_RE.match(number)
    if not match:
        raise ValidationError(
            _(
                "专利申请号“%(value)s”格式不正确，应为12位（或旧式8位）数字加“.”和校验位，如202310123456.6。"
            ),
            code="patent_format",
            params={"value": value},
        )
    digits, check = match.groups()
    if patent_check_char(digits) != check:
        raise ValidationError(
            _("专利申请号“%(value)s”的校验位不正确，请核对。"),
            code="patent_check",
            params={"value": value},
        )


def validate_software_copyright_number(value: str) -> None:
    if not _SOFTWARE_RE.match(value.strip().upper()):
        raise ValidationError(
            _("软件著作权登记号“%(value)s”格式不正确，应如2023SR0123456。"),
            code="software_format",
            params={"value": value},
        )
