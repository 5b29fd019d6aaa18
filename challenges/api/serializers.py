"""Input and output serializers of the challenges API (kept apart: inputs only parse)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Organization
from challenges.contract_package import ContractType
from challenges.models import (
    Bid,
    Challenge,
    ChallengeInvitation,
    ChallengeMilestone,
    ConsortiumMember,
    Contract,
    ContractMilestone,
    ReviewAssignment,
    RubricCriterion,
    Score,
)
from core.api import RowSerializer, StrictBooleanField, StrictCharField, StrictUUIDField
from core.limits import LONG_TEXT, PARAGRAPH
from matching.catalogue.answers import MAX_ANSWER_DAYS, DeclineReason
from matching.catalogue.api.serializers import QualityOutputSerializer

# --- outputs -----------------------------------------------------------------------------------------


class ChallengeCriterionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = RubricCriterion
        fields = ["id", "name", "weight", "description"]


class ChallengeMilestoneOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChallengeMilestone
        fields = ["id", "name", "deliverable", "indicator", "criterion", "due_date", "share"]


class ChallengeIndicatorOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = StrictCharField(source="__str__")


class ChallengeSummaryOutputSerializer(serializers.Serializer):
    """What anyone who may know of the challenge sees (summary-public needs stop here). Built from
    ``challenges.selectors.challenge_public_fields``, never from the model directly."""

    uuid = StrictUUIDField()
    title = StrictCharField()
    need = StrictUUIDField(source="need_uuid")
    organization = StrictCharField(
        source="enterprise",
        allow_null=True,
        help_text="The enterprise; null when the viewer sees the need by its summary only.",
    )
    status = StrictCharField(help_text=" | ".join(Challenge.Status.values))
    access = StrictCharField(help_text=" | ".join(Challenge.Access.values))
    award_mode = StrictCharField(help_text=" | ".join(Challenge.AwardMode.values))
    reward_total = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    bid_deadline = serializers.DateTimeField()
    summary = StrictCharField()
    visibility = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=["summary"]))
    def get_visibility(self, public) -> str:
        return "summary"


class ChallengeOutputSerializer(ChallengeSummaryOutputSerializer):
    """The full terms, for viewers who see the need in full (``terms`` of the projection)."""

    intro = StrictCharField(source="terms.intro")
    reward_split = StrictCharField(source="terms.reward_split")
    indicators = ChallengeIndicatorOutputSerializer(many=True, source="terms.indicators")
    no_threshold = serializers.BooleanField(source="terms.no_threshold")
    eligible_kinds = serializers.ListField(child=StrictCharField(), source="terms.eligible_kinds")
    eligible_regions = serializers.SerializerMethodField()
    required_qualifications = StrictCharField(source="terms.required_qualifications")
    allow_consortium = serializers.BooleanField(source="terms.allow_consortium")
    consortium_max_members = serializers.IntegerField(source="terms.consortium_max_members")
    review_method = StrictCharField(
        source="terms.review_method", help_text=" | ".join(Challenge.ReviewMethod.values)
    )
    race_winners = serializers.IntegerField(source="terms.race_winners")
    downselect_after = serializers.IntegerField(source="terms.downselect_after_id", allow_null=True)
    criteria = ChallengeCriterionOutputSerializer(many=True, source="terms.criteria")
    milestones = ChallengeMilestoneOutputSerializer(many=True, source="terms.milestones")
    award_reason = StrictCharField(source="terms.award_reason")
    awarded_at = serializers.DateTimeField(source="terms.awarded_at", allow_null=True)
    cancel_reason = StrictCharField(source="terms.cancel_reason")
    published_at = serializers.DateTimeField(source="terms.published_at", allow_null=True)
    ip_terms = StrictCharField(source="terms.ip_terms", help_text=gettext_lazy("知识产权归属"))
    quality = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "信息完整度（matching.catalogue.quality.challenge_quality）：仅出题单位可见，其他人为 null。"
        )
    )
    answer_days = serializers.IntegerField(
        source="terms.answer_days",
        allow_null=True,
        help_text="Days an invited organization has to answer, and the enterprise to answer each "
        "bid after the bid deadline; null: the platform's default.",
    )

    @extend_schema_field(QualityOutputSerializer(allow_null=True))
    def get_quality(self, public) -> dict | None:
        # Set by the view for the challenge's own organization only.
        return self.context.get("quality")

    @extend_schema_field(serializers.ChoiceField(choices=["full"]))
    def get_visibility(self, public) -> str:
        return "full"

    @extend_schema_field(serializers.ListField(child=StrictCharField()))
    def get_eligible_regions(self, public):
        return [r.name for r in public.terms.eligible_regions.all()]


class ChallengeMemberOutputSerializer(serializers.ModelSerializer):
    organization = StrictUUIDField(source="organization.uuid")
    organization_name = StrictCharField(source="organization.name")

    class Meta:
        model = ConsortiumMember
        fields = [
            "id",
            "organization",
            "organization_name",
            "is_lead",
            "role",
            "share",
            "confirmed_at",
        ]


class ChallengeBidOutputSerializer(serializers.ModelSerializer):
    # Plain strings (values listed in the help text): several models have a "status" enum.
    status = StrictCharField(read_only=True, help_text=" | ".join(Bid.Status.values))
    challenge = StrictUUIDField(source="challenge.uuid")
    organization = StrictUUIDField(source="organization.uuid")
    organization_name = StrictCharField(source="organization.name")
    indicator_responses = serializers.SerializerMethodField()
    budget_items = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    members = ChallengeMemberOutputSerializer(many=True)
    result_ids = serializers.PrimaryKeyRelatedField(source="results", many=True, read_only=True)
    patent_ids = serializers.PrimaryKeyRelatedField(source="patents", many=True, read_only=True)

    class Meta:
        model = Bid
        fields = [
            "uuid",
            "challenge",
            "organization",
            "organization_name",
            "status",
            "is_consortium",
            "technical_approach",
            "team",
            "qualification_statement",
            "indicator_responses",
            "budget_items",
            "schedule",
            "members",
            "result_ids",
            "patent_ids",
            "outcome",
            "rank",
            "score",
            "submitted_at",
            "answer_by",
            "answered_at",
            "decline_reason",
            "decline_note",
            "no_answer_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_indicator_responses(self, bid):
        return [
            {
                "indicator_id": r.indicator_id,
                "approach": r.approach,
                "expected_value": r.expected_value,
            }
            for r in bid.indicator_responses.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_budget_items(self, bid):
        return [
            {"item": b.item, "amount": str(b.amount), "note": b.note}
            for b in bid.budget_items.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_schedule(self, bid):
        return [
            {"milestone_id": s.milestone_id, "planned_date": s.planned_date, "plan": s.plan}
            for s in bid.schedule.all()
        ]


class ChallengeInvitationOutputSerializer(serializers.ModelSerializer):
    status = StrictCharField(
        read_only=True, help_text=" | ".join(ChallengeInvitation.Status.values)
    )
    challenge = StrictUUIDField(source="challenge.uuid")
    organization = StrictUUIDField(source="organization.uuid")
    organization_name = StrictCharField(source="organization.name")

    class Meta:
        model = ChallengeInvitation
        fields = [
            "challenge",
            "organization",
            "organization_name",
            "status",
            "sent_at",
            "respond_by",
            "answered_at",
            "decline_reason",
            "decline_note",
            "no_answer_at",
        ]


class ChallengeAssignmentOutputSerializer(serializers.ModelSerializer):
    challenge = StrictUUIDField(source="challenge.uuid")
    challenge_title = StrictCharField(source="challenge.title")
    expert = serializers.IntegerField(source="expert_id")
    expert_name = StrictCharField(source="expert.user.name")

    class Meta:
        model = ReviewAssignment
        fields = [
            "uuid",
            "challenge",
            "challenge_title",
            "expert",
            "expert_name",
            "assigned_at",
            "submitted_at",
        ]


class ChallengeConflictOutputSerializer(serializers.Serializer):
    organization = StrictUUIDField(source="organization.uuid")
    organization_name = StrictCharField(source="organization.name")
    kind = StrictCharField()


class ChallengeAssignResultOutputSerializer(serializers.Serializer):
    assignment = ChallengeAssignmentOutputSerializer(allow_null=True)
    blocked = serializers.BooleanField()
    conflicts = ChallengeConflictOutputSerializer(many=True)


class ChallengeExpertSuggestionOutputSerializer(serializers.Serializer):
    expert = serializers.IntegerField(source="expert.pk")
    name = StrictCharField(source="expert.user.name")
    employer = StrictCharField(source="expert.employer")
    score = serializers.FloatField()
    conflicts = serializers.ListField(child=StrictCharField())


class ChallengeScoreOutputSerializer(serializers.ModelSerializer):
    bid = StrictUUIDField(source="bid.uuid")
    criterion = serializers.IntegerField(source="criterion_id")
    expert = serializers.IntegerField(source="assignment.expert_id")

    class Meta:
        model = Score
        fields = ["bid", "criterion", "expert", "value", "comment"]


class ChallengeScoresOutputSerializer(serializers.Serializer):
    submitted_at = serializers.DateTimeField(allow_null=True)
    own = ChallengeScoreOutputSerializer(many=True)
    peers = ChallengeScoreOutputSerializer(
        many=True, help_text="Other experts' submitted scores; empty until this expert submits."
    )


class ChallengeRankingRowOutputSerializer(serializers.Serializer):
    """The enterprise's working ranking during review (``challenges.selectors.challenge_ranking``)."""

    view = serializers.SerializerMethodField()
    bid = StrictUUIDField(source="bid.uuid")
    organization_name = StrictCharField(source="bid.organization.name")
    total = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    expert_totals = serializers.DictField(
        child=serializers.DecimalField(max_digits=6, decimal_places=2)
    )
    outliers = ChallengeScoreOutputSerializer(many=True)

    @extend_schema_field(serializers.ChoiceField(choices=["review"]))
    def get_view(self, row) -> str:
        return "review"


class ChallengePublicRankingRowOutputSerializer(serializers.Serializer):
    """A row of ``challenges.selectors.award_result_for_viewer``: the parties get every ranked bid;
    anyone else only the winners, with ``bid``, ``rank`` and ``score`` null."""

    view = serializers.SerializerMethodField()
    bid = StrictUUIDField(allow_null=True)
    organization_name = StrictCharField()
    rank = serializers.IntegerField(allow_null=True)
    score = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    outcome = StrictCharField(help_text=" | ".join(Bid.Outcome.values))

    @extend_schema_field(serializers.ChoiceField(choices=["result"]))
    def get_view(self, row) -> str:
        return "result"


class ChallengeContractMilestoneOutputSerializer(serializers.ModelSerializer):
    status = StrictCharField(read_only=True, help_text=" | ".join(ContractMilestone.Status.values))
    name = StrictCharField(source="milestone.name")
    due_date = serializers.DateField(source="milestone.due_date")
    share = serializers.DecimalField(source="milestone.share", max_digits=5, decimal_places=2)
    payment = serializers.SerializerMethodField()

    class Meta:
        model = ContractMilestone
        fields = [
            "uuid",
            "name",
            "due_date",
            "share",
            "status",
            "deliverable_note",
            "measured_value",
            "submitted_at",
            "decision_comment",
            "decided_at",
            "overdue_at",
            "payment",
        ]

    @extend_schema_field(serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True))
    def get_payment(self, cm):
        payment = getattr(cm, "payment", None)
        return str(payment.amount) if payment else None


class ChallengeContractOutputSerializer(serializers.ModelSerializer):
    status = StrictCharField(read_only=True, help_text=" | ".join(Contract.Status.values))
    organization = StrictUUIDField(source="organization.uuid")
    organization_name = StrictCharField(source="organization.name")
    milestones = ChallengeContractMilestoneOutputSerializer(many=True)

    class Meta:
        model = Contract
        fields = ["uuid", "organization", "organization_name", "amount", "status", "milestones"]


# --- inputs ------------------------------------------------------------------------------------------


class ContractFileQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=ContractType.choices,
        required=False,
        help_text="Type of the draft; by default derived from the need's cooperation modes "
        "(技术开发 when they say nothing or several things).",
    )


class ChallengeCriterionInputSerializer(RowSerializer):
    name = StrictCharField(max_length=32)
    weight = serializers.IntegerField(min_value=1, max_value=100)
    description = StrictCharField(max_length=200, required=False, allow_blank=True)


class ChallengeMilestoneInputSerializer(RowSerializer):
    name = StrictCharField(max_length=64)
    deliverable = StrictCharField(max_length=200)
    indicator_id = serializers.IntegerField(required=False, allow_null=True)
    criterion = StrictCharField(max_length=200)
    due_date = serializers.DateField()
    share = serializers.DecimalField(max_digits=5, decimal_places=2)


class ChallengeTermsInputSerializer(serializers.Serializer):
    title = StrictCharField(max_length=120, required=False)
    intro = StrictCharField(required=False, allow_blank=True, max_length=LONG_TEXT)
    access = serializers.ChoiceField(choices=Challenge.Access.choices, required=False)
    reward_total = serializers.DecimalField(max_digits=10, decimal_places=2, required=False)
    reward_split = StrictCharField(required=False, allow_blank=True, max_length=PARAGRAPH)
    indicator_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    no_threshold = StrictBooleanField(required=False)
    eligible_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Organization.Kind.choices), required=False
    )
    eligible_region_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    required_qualifications = StrictCharField(
        required=False, allow_blank=True, max_length=PARAGRAPH
    )
    ip_terms = StrictCharField(required=False, allow_blank=True, max_length=PARAGRAPH)
    allow_consortium = StrictBooleanField(required=False)
    consortium_max_members = serializers.IntegerField(min_value=2, max_value=20, required=False)
    bid_deadline = serializers.DateTimeField(required=False)
    review_method = serializers.ChoiceField(choices=Challenge.ReviewMethod.choices, required=False)
    award_mode = serializers.ChoiceField(choices=Challenge.AwardMode.choices, required=False)
    race_winners = serializers.IntegerField(min_value=2, max_value=10, required=False)
    downselect_after_index = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    answer_days = serializers.IntegerField(
        min_value=1, max_value=MAX_ANSWER_DAYS, required=False, allow_null=True
    )
    criteria = ChallengeCriterionInputSerializer(many=True, required=False)
    milestones = ChallengeMilestoneInputSerializer(many=True, required=False)


class ChallengeCreateInputSerializer(ChallengeTermsInputSerializer):
    need = StrictUUIDField()


class ChallengeReasonInputSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=PARAGRAPH)


def _decline_reason(**kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=DeclineReason.choices,
        help_text="One of the fixed reasons (matching.catalogue.answers.DeclineReason); "
        "`other` needs a note.",
        **kwargs,
    )


def _decline_note() -> serializers.CharField:
    return StrictCharField(required=False, allow_blank=True, max_length=500)


class ChallengeAwardInputSerializer(serializers.Serializer):
    winners = serializers.ListField(child=StrictUUIDField(), min_length=1)
    reason = StrictCharField(max_length=PARAGRAPH)
    decline_reason = _decline_reason(required=False, allow_blank=True)
    decline_note = _decline_note()


class ChallengeDeclineInputSerializer(serializers.Serializer):
    reason = _decline_reason()
    note = _decline_note()


class ChallengeInvitationAnswerInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("accept", "accept"), ("decline", "decline")])
    reason = _decline_reason(required=False, allow_blank=True)
    note = _decline_note()


class ChallengeDownselectInputSerializer(serializers.Serializer):
    keep = StrictUUIDField(help_text="The contract that continues.")
    after_milestone = serializers.IntegerField(help_text="Id of the challenge milestone.")
    reason = StrictCharField(max_length=PARAGRAPH)


class ChallengeIndicatorResponseInputSerializer(RowSerializer):
    indicator_id = serializers.IntegerField()
    approach = StrictCharField(max_length=PARAGRAPH)
    expected_value = StrictCharField(max_length=64, required=False, allow_blank=True)


class ChallengeBudgetItemInputSerializer(RowSerializer):
    item = StrictCharField(max_length=64)
    amount = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    note = StrictCharField(max_length=200, required=False, allow_blank=True)


class ChallengeScheduleInputSerializer(RowSerializer):
    milestone_id = serializers.IntegerField()
    planned_date = serializers.DateField()
    plan = StrictCharField(required=False, allow_blank=True, max_length=PARAGRAPH)


class ChallengeConsortiumInputSerializer(RowSerializer):
    organization = serializers.SlugRelatedField(
        slug_field="uuid", queryset=Organization.objects.all()
    )
    role = StrictCharField(max_length=120)
    share = serializers.DecimalField(max_digits=5, decimal_places=2)


class ChallengeBidInputSerializer(serializers.Serializer):
    technical_approach = StrictCharField(required=False, max_length=LONG_TEXT)
    team = StrictCharField(required=False, max_length=PARAGRAPH)
    qualification_statement = StrictCharField(
        required=False, allow_blank=True, max_length=PARAGRAPH
    )
    indicator_responses = ChallengeIndicatorResponseInputSerializer(many=True, required=False)
    budget_items = ChallengeBudgetItemInputSerializer(many=True, required=False)
    schedule = ChallengeScheduleInputSerializer(many=True, required=False)
    result_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    patent_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    consortium = ChallengeConsortiumInputSerializer(many=True, required=False)


class ChallengeBidCreateInputSerializer(ChallengeBidInputSerializer):
    organization = StrictUUIDField(help_text="The bidding (lead) organization.")
    submit = StrictBooleanField(default=False, help_text="Submit right away.")


class ChallengeAssignInputSerializer(serializers.Serializer):
    expert = serializers.IntegerField(help_text="Id of the expert profile.")


class ChallengeScoreInputSerializer(RowSerializer):
    bid = StrictUUIDField()
    criterion = serializers.IntegerField()
    value = serializers.IntegerField(min_value=0, max_value=100, allow_null=True)
    comment = StrictCharField(max_length=500, required=False, allow_blank=True)


class ChallengeScoresInputSerializer(serializers.Serializer):
    scores = ChallengeScoreInputSerializer(many=True)


class ChallengeMilestoneSubmitInputSerializer(serializers.Serializer):
    note = StrictCharField(max_length=LONG_TEXT)
    measured_value = StrictCharField(max_length=64, required=False, allow_blank=True)


class ChallengeMilestoneDecisionInputSerializer(serializers.Serializer):
    comment = StrictCharField(required=False, allow_blank=True, max_length=PARAGRAPH)
