from rest_framework import serializers

from accounts.models import Membership, Organization
from accounts.validators import validate_credit_code


class OrganizationOutputSerializer(serializers.ModelSerializer):
    region = serializers.StringRelatedField(allow_null=True)
    is_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = Organization
        fields = ["uuid", "name", "kind", "region", "city", "website", "description", "is_verified"]


class OrganizationPrivateOutputSerializer(OrganizationOutputSerializer):
    class Meta(OrganizationOutputSerializer.Meta):
        fields = [*OrganizationOutputSerializer.Meta.fields, "credit_code", "created_at"]


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
    name = serializers.CharField(max_length=_max_length("name"), required=False)
    credit_code = serializers.CharField(
        max_length=_max_length("credit_code"), required=False, validators=[validate_credit_code]
    )
    city = serializers.CharField(max_length=_max_length("city"), required=False, allow_blank=True)
    website = serializers.URLField(
        max_length=_max_length("website"), required=False, allow_blank=True
    )
    description = serializers.CharField(
        max_length=_max_length("description"), required=False, allow_blank=True
    )


class MembershipOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")

    class Meta:
        model = Membership
        fields = ["email", "name", "role", "is_broker", "title", "created_at"]
