"""统一社会信用代码 (unified social credit code) validation, GB 32100-2015."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# The code alphabet leaves out I, O, S, V and Z so they are not confused with digits.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(body: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(ch) * w
        for ch, w in zip(body[:17], CREDIT_CODE_WEIGHTS, strict=True)
    )
    value = 31 - total % 31
    return CREDIT_CODE_ALPHABET[0 if value == 31 else value]


def validate_credit_code(value: str) -> None:
    if len(value) != 18:
        raise ValidationError(
            _("统一社会信用代码应为18位，当前为%(length)d位。"),
            code="credit_code_length",
            params={"length": len(value)},
        )
    if value != value.upper():
        raise ValidationError(_("统一社会信用代码中的字母须为大写。"), code="credit_code_case")
    bad = [ch for ch in value if ch not in CREDIT_CODE_ALPHABET]
    if bad:
        raise ValidationError(
            _("统一社会信用代码含有无效字符“%(chars)s”（不使用I、O、S、V、Z）。"),
            code="credit_code_charset",
            params={"chars": "".join(sorted(set(bad)))},
        )
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        raise ValidationError(
            _("统一社会信用代码校验位错误，请核对后重新输入。"), code="credit_code_check"
        )
