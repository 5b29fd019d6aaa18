"""Forms of the match pages."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _


class MatchFilterForm(forms.Form):
    """The filters of ``/matches/``: strength (强匹配 / 弱候选) and the need's field."""

    strength = forms.ChoiceField(
        label=_("强度"),
        required=False,
        choices=[("", _("全部")), ("strong", _("强匹配")), ("weak", _("弱候选"))],
    )
    field = forms.CharField(
        label=_("领域"),
        required=False,
        max_length=64,
        validators=[RegexValidator(r"^[A-Za-z0-9_.-]+$", _("领域代码无效。"))],
    )
