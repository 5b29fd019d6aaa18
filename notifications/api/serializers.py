from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import StrictCharField, StrictUUIDField
from notifications.models import NotificationPreference
from taxonomy.models import Field


class PreferenceOutputSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=NotificationPreference.Frequency.choices)
    min_score = serializers.FloatField()
    fields = serializers.SerializerMethodField(method_name="field_codes")
    last_digest_at = serializers.DateTimeField(allow_null=True)

    def field_codes(self, obj: NotificationPreference) -> list[str]:
        return sorted(field.code for field in obj.fields.all()) if obj.pk else []


class _NumberField(serializers.FloatField):
    """A JSON number: ``false`` is not 0."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class PreferenceInputSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=NotificationPreference.Frequency.choices)
    min_score = _NumberField(min_value=0.0, max_value=1.0)
    fields = serializers.SlugRelatedField(
        slug_field="code", queryset=Field.objects.all(), many=True, required=False
    )

    def to_internal_value(self, data):
        # A many-related field iterates whatever it gets: an object would pass as its keys.
        if isinstance(data, Mapping) and isinstance(data.get("fields"), Mapping):
            raise serializers.ValidationError({"fields": [_("请提交领域代码的列表。")]})
        return super().to_internal_value(data)


class NotificationOutputSerializer(serializers.Serializer):
    uuid = StrictUUIDField(source="notification.uuid")
    subject = StrictCharField()
    template = StrictCharField(source="notification.template")
    link = StrictCharField(source="notification.link")
    status = StrictCharField(source="notification.status")
    created_at = serializers.DateTimeField(source="notification.created_at")
    sent_at = serializers.DateTimeField(source="notification.sent_at", allow_null=True)
