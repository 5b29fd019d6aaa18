"""Admin for needs, results, capability profiles and the matcher's state. Status changes of needs
and results go through ``matching.catalogue.services`` on the site (they are audited); the admin shows them
read-only so nobody bypasses the transition rules or the audit log."""

from django import forms
from django.contrib import admin
from django.db import models

from core.limits import TITLE
from matching.models import (
    Attachment,
    CapabilityProfile,
    EmbeddingVersion,
    Match,
    MatchFeedback,
    Need,
    NeedAccess,
    NeedIndicator,
    Patent,
    ReindexBatch,
    Result,
)


class LongTextAdminMixin:
    """Text columns longer than a title (capped by ``core.limits``) edit in a text area."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.CharField) and (db_field.max_length or 0) > TITLE:
            kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4}))
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class NeedIndicatorInline(admin.TabularInline):
    model = NeedIndicator
    extra = 0


class NeedAccessInline(admin.TabularInline):
    model = NeedAccess
    extra = 0
    readonly_fields = ["created_at", "terms_accepted_at", "decided_at"]
    raw_id_fields = ["organization", "requested_by", "terms_accepted_by", "decided_by"]


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ["original_name", "content_type", "size", "uploaded_by", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Need)
class NeedAdmin(LongTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "organization", "field", "status", "confidentiality", "published_at"]
    list_filter = ["status", "confidentiality", "field__parent"]
    search_fields = ["title", "summary", "organization__name", "external_ref"]
    readonly_fields = ["uuid", "status", "published_at", "created_at", "updated_at"]
    raw_id_fields = ["organization", "created_by"]
    inlines = [NeedIndicatorInline, NeedAccessInline, AttachmentInline]
    date_hierarchy = "created_at"


class PatentInline(admin.TabularInline):
    model = Patent
    extra = 0


@admin.register(Result)
class ResultAdmin(LongTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "organization", "field", "trl", "status", "published_at"]
    list_filter = ["status", "trl", "field__parent"]
    search_fields = ["title", "abstract", "organization__name", "external_ref"]
    readonly_fields = ["uuid", "status", "published_at", "created_at", "updated_at"]
    raw_id_fields = ["organization", "created_by"]
    inlines = [PatentInline, AttachmentInline]


@admin.register(CapabilityProfile)
class CapabilityProfileAdmin(LongTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "organization", "is_published", "updated_at"]
    list_filter = ["is_published"]
    search_fields = ["title", "description", "organization__name"]
    raw_id_fields = ["organization"]
    filter_horizontal = ["fields"]


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ["need", "candidate", "score", "rank", "model_version", "updated_at"]
    search_fields = ["need__title", "result__title", "capability__title"]
    raw_id_fields = ["need", "result", "capability"]
    readonly_fields = ["components", "explanation"]


@admin.register(MatchFeedback)
class MatchFeedbackAdmin(admin.ModelAdmin):
    list_display = ["match", "organization", "verdict", "reason", "created_at"]
    list_filter = ["verdict", "reason"]
    raw_id_fields = ["match", "organization", "user"]


@admin.register(EmbeddingVersion)
class EmbeddingVersionAdmin(admin.ModelAdmin):
    list_display = ["model_id", "dimension", "status", "created_at", "activated_at"]


@admin.register(ReindexBatch)
class ReindexBatchAdmin(admin.ModelAdmin):
    """A rebuild's progress, batch by batch; written only by the workers (read-only here)."""

    list_display = [
        "version",
        "stage",
        "kind",
        "first_id",
        "claimed_by",
        "attempts",
        "claimed_at",
        "done_at",
        "computed",
    ]
    list_filter = ["stage", "kind", ("done_at", admin.EmptyFieldListFilter)]
    exclude = ["object_ids", "claim_token"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
