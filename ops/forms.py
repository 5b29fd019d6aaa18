from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from ops.selectors import Filters
from taxonomy.models import Field, Region


class OpsFilterForm(forms.Form):
    field = forms.ModelChoiceField(
        Field.objects.order_by("code"), required=False, label=_("技术领域"), empty_label=_("全部")
    )
    region = forms.ModelChoiceField(
        Region.objects.order_by("position", "name"),
        required=False,
        label=_("所在地区"),
        empty_label=_("全部"),
    )
    org_kind = forms.ChoiceField(
        choices=[("", _("全部")), *Organization.Kind.choices], required=False, label=_("机构类型")
    )

    def filters(self) -> Filters:
        if not self.is_bound or not self.is_valid():
            return Filters()
        data = self.cleaned_data
        return Filters(
            field_id=data["field"].pk if data.get("field") else None,
            region_id=data["region"].pk if data.get("region") else None,
            org_kind=data.get("org_kind") or "",
        )
