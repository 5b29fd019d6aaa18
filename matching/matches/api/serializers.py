from rest_framework import serializers

from core.api import StrictCharField, StrictUUIDField
from matching.models import CoopMode, MatchFeedback


class FitItemSerializer(serializers.Serializer):
    code = StrictCharField()
    ok = serializers.BooleanField()
    text = StrictCharField()


class EvidenceSerializer(serializers.Serializer):
    need = StrictCharField()
    candidate = StrictCharField()
    similarity = serializers.FloatField()
    level = serializers.ChoiceField(
        choices=["strong", "medium", "weak"],
        required=False,
        help_text="how strongly the sentences correspond (强/中/弱), fitted on dev",
    )


class ExplanationSerializer(serializers.Serializer):
    shared_terms = serializers.ListField(child=StrictCharField())
    evidence = EvidenceSerializer(many=True)
    fit = FitItemSerializer(many=True)


class CandidateSerializer(serializers.Serializer):
    kind = StrictCharField()
    uuid = StrictUUIDField()
    title = StrictCharField()
    organization = StrictCharField()
    url = StrictCharField()


class MatchOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    score = serializers.FloatField()
    strength = serializers.ChoiceField(
        choices=["strong", "weak"],
        help_text="strong: the score clears the email threshold of the calibrated score; weak: the "
        "best candidates so far, no strong match yet",
    )
    rank = serializers.IntegerField()
    candidate = CandidateSerializer()
    components = serializers.DictField(child=serializers.FloatField())
    explanation = ExplanationSerializer()
    model_version = StrictCharField()
    updated_at = serializers.DateTimeField()


class MatchedNeedOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    score = serializers.FloatField()
    strength = serializers.ChoiceField(
        choices=["strong", "weak"],
        help_text="strong: the score clears the email threshold of the calibrated score; weak: the "
        "best candidates so far, no strong match yet",
    )
    need = CandidateSerializer()
    explanation = ExplanationSerializer()
    full_text_visible = serializers.BooleanField()


class AdHocMatchInputSerializer(serializers.Serializer):
    text = StrictCharField(min_length=4, max_length=5000)
    field = StrictCharField(
        required=False, help_text="field or sub-field code, e.g. new_energy.batteries"
    )
    region = StrictCharField(required=False)
    trl_min = serializers.IntegerField(required=False, min_value=1, max_value=9)
    coop_modes = serializers.ListField(
        child=serializers.ChoiceField(choices=CoopMode.choices), required=False
    )
    budget_max = serializers.DecimalField(
        max_digits=10, decimal_places=2, required=False, min_value=0
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=10)


class AdHocMatchOutputSerializer(serializers.Serializer):
    score = serializers.FloatField()
    strength = serializers.ChoiceField(
        choices=["strong", "weak"],
        help_text="strong: the score clears the email threshold of the calibrated score; weak: the "
        "best candidates so far, no strong match yet",
    )
    candidate = CandidateSerializer()
    components = serializers.DictField(child=serializers.FloatField())
    explanation = ExplanationSerializer()


class FeedbackInputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=MatchFeedback.Verdict.choices)
    reason = serializers.ChoiceField(
        choices=MatchFeedback.Reason.choices, required=False, allow_blank=True
    )
    comment = StrictCharField(required=False, allow_blank=True, max_length=2000)


class FeedbackOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchFeedback
        fields = ["verdict", "reason", "comment", "updated_at"]
