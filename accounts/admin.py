from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.forms import AdminLoginForm
from accounts.models import ApiToken, ExpertProfile, Invitation, Membership, Organization, User

# The admin's login answers to the same failure limits as the site's (accounts/forms.py).
admin.site.login_form = AdminLoginForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "email_confirmed_at", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser", "language", "date_joined"]
    search_fields = ["email", "name", "phone"]
    readonly_fields = ["date_joined", "last_login", "email_confirmed_at"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("个人信息"), {"fields": ("name", "phone", "language")}),
        (_("权限"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("时间"), {"fields": ("date_joined", "last_login", "email_confirmed_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),
    )


class ParagraphFieldsMixin:
    """Edit the capped paragraph fields (CharFields since core.limits) in a text area."""

    paragraph_fields: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.paragraph_fields:
            kwargs["widget"] = forms.Textarea(attrs={"rows": 4})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Organization)
class OrganizationAdmin(ParagraphFieldsMixin, admin.ModelAdmin):
    paragraph_fields = ("description",)
    list_display = ["name", "kind", "credit_code", "region", "verified_at", "created_at"]
    list_filter = ["kind", ("verified_at", admin.EmptyFieldListFilter), "region"]
    search_fields = ["name", "credit_code", "city"]
    readonly_fields = ["uuid", "verified_at", "verified_by", "created_at"]
    inlines = [MembershipInline]
    actions = ["verify"]

    @admin.action(description=_("认证所选机构"))
    def verify(self, request, queryset):
        for org in queryset:
            services.organization_verify(org=org, actor=request.user)
        messages.success(request, _("已认证所选机构。"))


@admin.register(ExpertProfile)
class ExpertProfileAdmin(ParagraphFieldsMixin, admin.ModelAdmin):
    paragraph_fields = ("bio",)
    list_display = ["user", "employer", "title", "is_active"]
    list_filter = ["is_active", "fields"]
    search_fields = ["user__name", "user__email", "employer"]
    autocomplete_fields = ["user", "affiliations"]
    filter_horizontal = ["fields"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "accepted_at"]
    list_filter = [("accepted_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "organization__name"]
    readonly_fields = ["token"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__email", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
