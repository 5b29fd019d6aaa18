from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import Membership, Organization, User

TOO_MANY_ATTEMPTS = "too_many_attempts"


class ServiceErrorsMixin:
    """Put a service's ``ValidationError`` on the form, field by field."""

    def add_service_errors(self, exc) -> None:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, exc.messages)


class RegistrationForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(label=_("邮箱"))
    name = forms.CharField(label=_("姓名"), max_length=64)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, strip=False)
    password_again = forms.CharField(
        label=_("再次输入密码"), widget=forms.PasswordInput, strip=False
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("两次输入的密码不一致。"))
        return data


class ThrottledLoginMixin:
    """Refuse a login past the failure limits (``services.login_*``) and count each failure.

    For ``AuthenticationForm`` subclasses; the refusal is a non-field error with code
    ``TOO_MANY_ATTEMPTS``, which the login view answers with HTTP 429."""

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if email and password:
            minutes = services.login_lockout_minutes(email=email, address=address)
            if minutes:
                raise ValidationError(
                    _("尝试次数过多，请 %(minutes)s 分钟后再试。"),
                    code=TOO_MANY_ATTEMPTS,
                    params={"minutes": minutes},
                )
        try:
            data = super().clean()
        except ValidationError:
            if email and password:
                services.login_failure_record(email=email, address=address)
            raise
        if email and password:
            services.login_success_record(email=email)
        return data


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    username = forms.EmailField(label=_("邮箱"), widget=forms.EmailInput(attrs={"autofocus": True}))
    error_messages = {
        "invalid_login": _("邮箱或密码错误；如果刚注册，请先打开确认邮件中的链接。"),
        "inactive": _("账号尚未激活，请先确认邮箱。"),
    }


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's login form, under the same limits as the site's."""


class ProfileForm(ServiceErrorsMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ["name", "phone", "language"]


class OrganizationForm(ServiceErrorsMixin, forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "kind", "credit_code", "region", "city", "website", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    website = forms.URLField(label=_("网站"), required=False, assume_scheme="https")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and not user.is_staff:
            self.fields["kind"].choices = [
                c for c in Organization.Kind.choices if c[0] != Organization.Kind.OPERATOR
            ]
        if self.instance.pk:
            del self.fields["kind"]

    def _post_clean(self):
        # Validation is the service's job; the form only parses input.
        pass


class InvitationForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(label=_("同事邮箱"))
    role = forms.ChoiceField(
        label=_("角色"), choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )


class ApiTokenForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=_("令牌名称"), max_length=64, help_text=_("例如：省平台对接"))
