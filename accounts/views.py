from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.extensions import organization_facts
from accounts.forms import (
    TOO_MANY_ATTEMPTS,
    ApiTokenForm,
    InvitationForm,
    LoginForm,
    OrganizationForm,
    ProfileForm,
    RegistrationForm,
)
from accounts.tokens import confirmation_token_user
from core.http import form_status
from core.selectors import audit_trail


def register(request):
    if request.user.is_authenticated:
        return redirect("core:home")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return render(request, "accounts/register_done.html", {"email": user.email})
    return render(request, "accounts/register.html", {"form": form}, status=form_status(form))


def confirm_email(request, token: str):
    """GET shows the link's page with a button; only the POST confirms. Confirming never logs in:
    a link that leaks (mail logs, a shared inbox) must not be a way into the account."""
    try:
        if request.method == "POST":
            services.user_confirm_email(token=token)
        else:
            confirmation_token_user(token=token)
    except ValidationError as exc:
        return render(request, "accounts/confirm_failed.html", {"errors": exc.messages}, status=400)
    if request.method != "POST":
        return render(request, "accounts/confirm.html")
    messages.success(request, _("邮箱已确认，请登录。"))
    return redirect("accounts:login")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, code=TOO_MANY_ATTEMPTS):
            response.status_code = 429
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    html_email_template_name = "accounts/email/password_reset.html"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    def get_extra_email_context(self):
        return {}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update_profile(
                user=request.user,
                name=form.cleaned_data["name"],
                phone=form.cleaned_data["phone"],
                language=form.cleaned_data["language"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("个人资料已保存。"))
            response = redirect("accounts:profile")
            response.set_cookie("django_language", request.user.language, samesite="Lax")
            return response
    context = {
        "form": form,
        "organizations": selectors.organization_list_for_user(user=request.user),
        "expert": getattr(request.user, "expert_profile", None),
    }
    return render(request, "accounts/profile.html", context, status=form_status(form))


@login_required
def organization_create(request):
    form = OrganizationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("机构已创建，等待平台认证；认证前可以起草，但不能发布。"))
            return redirect(org)
    context = {"form": form, "creating": True}
    return render(request, "accounts/organization_form.html", context, status=form_status(form))


def organization_detail(request, uuid):
    org = selectors.organization_get_public(uuid=uuid)
    is_member = selectors.user_is_member(user=request.user, org=org)
    context = {
        "org": org,
        "is_member": is_member,
        "is_owner": selectors.user_is_owner(user=request.user, org=org),
        "members": selectors.organization_members(org=org) if is_member else None,
        "facts": organization_facts(org),
    }
    return render(request, "accounts/organization_detail.html", context)


@login_required
def organization_edit(request, uuid):
    org = selectors.organization_get_for_member(uuid=uuid, user=request.user, owner=True)
    was_verified = org.is_verified
    form = OrganizationForm(request.POST or None, instance=org, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.organization_update(org=org, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("机构信息已保存。"))
            if was_verified and not saved.is_verified:
                messages.warning(request, services.IDENTITY_CHANGE_NOTICE)
            return redirect(saved)
    context = {"form": form, "org": org, "was_verified": was_verified}
    return render(request, "accounts/organization_form.html", context, status=form_status(form))


@login_required
def organization_members(request, uuid):
    org = selectors.organization_get_for_member(uuid=uuid, user=request.user)
    is_owner = selectors.user_is_owner(user=request.user, org=org)
    form = InvitationForm(request.POST or None)
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.invitation_create(org=org, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("邀请邮件已发送。"))
                return redirect("accounts:org-members", uuid=org.uuid)
    context = {
        "org": org,
        "is_owner": is_owner,
        "members": selectors.organization_members(org=org),
        "invitations": selectors.organization_open_invitations(org=org),
        "form": form,
        "audit": audit_trail(target=org)[:20],
    }
    return render(request, "accounts/organization_members.html", context, status=form_status(form))


@require_POST
@login_required
def organization_verify(request, uuid):
    if not request.user.is_staff:
        raise PermissionDenied
    org = selectors.organization_get_public(uuid=uuid)
    services.organization_verify(org=org, actor=request.user)
    messages.success(request, _("已认证该机构。"))
    return redirect(org)


def invitation_accept(request, token: str):
    if not request.user.is_authenticated:
        messages.info(request, _("请先登录或用受邀邮箱注册，然后再次打开邀请链接。"))
        return redirect(f"{reverse('accounts:login')}?next={request.path}")
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            return render(request, "accounts/invitation.html", {"errors": exc.messages}, status=400)
        messages.success(request, _("已加入机构。"))
        return redirect(membership.organization)
    return render(request, "accounts/invitation.html", {"token": token})


@login_required
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_key = services.api_token_create(
                user=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            form = ApiTokenForm()
    context = {
        "form": form,
        "tokens": selectors.api_tokens_for_user(user=request.user),
        "new_key": new_key,
    }
    return render(request, "accounts/api_tokens.html", context, status=form_status(form))


@require_POST
@login_required
def api_token_revoke(request, pk: int):
    token = selectors.api_token_get_for_user(user=request.user, pk=pk)
    services.api_token_revoke(token=token, user=request.user)
    messages.success(request, _("令牌已吊销。"))
    return redirect("accounts:tokens")
