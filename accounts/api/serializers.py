from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.extensions import organization_facts
from accounts.models import Membership, Organization
from accounts.validators import validate_credit_code
from core.api import StrictCharField


class OrganizationOutputSerializer(serializers.ModelSerializer):
    region = serializers.StringRelatedField(allow_null=True)
    is_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = Organization
        fields = ["uuid", "name", "kind", "region", "city", "website", "description", "is_verified"]


class OrganizationPrivateOutputSerializer(OrganizationOutputSerializer):
    class Meta(OrganizationOutputSerializer.Meta):
        fields = [*OrganizationOutputSerializer.Meta.fields, "credit_code", "created_at"]


class ResponsivenessOutputSerializer(serializers.Serializer):
    window_days = serializers.IntegerField()
    requests = serializers.IntegerField()
    enough_data = serializers.BooleanField()
    answered_in_time_share = serializers.FloatField(allow_null=True)
    median_hours_to_answer = serializers.FloatField(allow_null=True)
    label = StrictCharField()


class OrganizationDetailOutputSerializer(OrganizationPrivateOutputSerializer):
    responsiveness = serializers.SerializerMethodField(
        help_text="Share of access requests answered by their deadline and the median time to "
        "answer, over the last 180 days; figures are null (label 数据不足) with too few requests."
    )

    class Meta(OrganizationPrivateOutputSerializer.Meta):
        fields = [*OrganizationPrivateOutputSerializer.Meta.fields, "responsiveness"]

    @extend_schema_field(ResponsivenessOutputSerializer(allow_null=True))
    def get_responsiveness(self, obj) -> dict | None:
        return organization_facts(obj).get("responsiveness")


class OrganizationUpdateOutputSerializer(OrganizationPrivateOutputSerializer):
    notices = serializers.SerializerMethodField(
        help_text="Messages for the user about the update, e.g. that verification was dropped."
    )

    class Meta(OrganizationPrivateOutputSerializer.Meta):
        fields = [*OrganizationPrivateOutputSerializer.Meta.fields, "notices"]

    def get_notices(self, obj) -> list[str]:
        return [str(notice) for notice in self.context.get("notices", [])]


def _max_length(field: str) -> int:
    return Organization._meta.get_field(field).max_length


class OrganizationUpdateInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=_max_length("name"), required=False)
    credit_code = StrictCharField(
        max_length=_max_length("credit_code"), required=False, validators=[validate_credit_code]
    )
    city = StrictCharField(max_length=_max_length("city"), required=False, allow_blank=True)
    website = serializers.URLField(
        max_length=_max_length("website"), required=False, allow_blank=True
    )
    description = StrictCharField(
        max_length=_max_length("description"), required=False, allow_blank=True
    )


class MembershipOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = StrictCharField(source="user.name")

    class Meta:
        model = Membership
        fields = ["email", "name", "role", "is_broker", "title", "created_at"]
