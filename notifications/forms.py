from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from notifications.models import NotificationPreference
from taxonomy.models import Field


class FieldChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Field) -> str:
        return str(obj)


class PreferenceForm(forms.Form):
    frequency = forms.ChoiceField(
        label=_("邮件频率"), choices=NotificationPreference.Frequency.choices
    )
    min_score = forms.FloatField(
        label=_("最低匹配度"),
        min_value=0.0,
        max_value=1.0,
        help_text=_("低于这个匹配度的新匹配不发邮件（0 到 1）。"),
    )
    fields = FieldChoiceField(
        label=_("关注领域"),
        queryset=Field.objects.select_related("parent").order_by("code"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text=_("只接收这些领域（含其下级领域）的匹配通知；不选表示全部领域。"),
    )
