"""Admin for challenges. Bids are sealed here too, for superusers as well: every bid page goes
through ``selectors.bids_visible_to``, so before the deadline admin shows no bid at all, and a bid's
content is never editable here (no add, change or delete)."""

from django.contrib import admin

from challenges import selectors
from challenges.models import (
    Bid,
    Challenge,
    ChallengeMilestone,
    Contract,
    ContractMilestone,
    ExpertConflict,
    ReviewAssignment,
    RubricCriterion,
)


class RubricInline(admin.TabularInline):
    model = RubricCriterion
    extra = 0


class MilestoneInline(admin.TabularInline):
    model = ChallengeMilestone
    extra = 0
    raw_id_fields = ["indicator"]


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = ["title", "organization", "status", "access", "award_mode", "bid_deadline"]
    list_filter = ["status", "access", "award_mode"]
    search_fields = ["title", "organization__name"]
    raw_id_fields = ["need", "organization", "created_by", "downselect_after"]
    filter_horizontal = ["eligible_regions"]
    readonly_fields = ["uuid", "status", "published_at", "awarded_at", "downselected_at"]
    inlines = [RubricInline, MilestoneInline]
    exclude = ["indicators"]


@admin.register(Bid)
class BidAdmin(admin.ModelAdmin):
    list_display = ["challenge", "organization", "status", "is_consortium", "rank", "submitted_at"]
    list_filter = ["status", "outcome"]
    search_fields = ["organization__name", "challenge__title"]
    raw_id_fields = ["challenge", "organization", "created_by"]
    readonly_fields = ["uuid", "status", "outcome", "rank", "score", "submitted_at", "withdrawn_at"]
    exclude = ["results", "patents"]

    def get_queryset(self, request):
        # Sealing applies to everyone: staff and superusers are not bidders, so before the
        # deadline they see no one's bid, not even that it exists.
        qs = super().get_queryset(request)
        return qs.filter(pk__in=selectors.bids_visible_to(user=request.user).values("pk"))

    # A bid is its bidder's word: shown read-only, never written from admin.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(admin.ModelAdmin):
    list_display = ["challenge", "expert", "assigned_at", "submitted_at"]
    raw_id_fields = ["challenge", "expert", "assigned_by"]


@admin.register(ExpertConflict)
class ExpertConflictAdmin(admin.ModelAdmin):
    list_display = ["challenge", "expert", "organization", "kind", "created_at"]
    list_filter = ["kind"]

    def has_change_permission(self, request, obj=None):
        return False


class ContractMilestoneInline(admin.TabularInline):
    model = ContractMilestone
    extra = 0
    fields = ["milestone", "status", "submitted_at", "decided_at", "overdue_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["challenge", "organization", "amount", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["uuid", "challenge", "bid", "organization", "amount", "status", "stopped_at"]
    inlines = [ContractMilestoneInline]
