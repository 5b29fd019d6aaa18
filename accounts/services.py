"""Writes for users, organizations, memberships, invitations and API tokens."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from functools import partial

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import selectors
from accounts.emails import send_confirmation_email, send_invitation_email
from accounts.models import (
    CREDIT_CODE_REQUIRED,
    CREDIT_CODE_TAKEN,
    ApiToken,
    Invitation,
    Membership,
    Organization,
    User,
)
from accounts.tokens import confirmation_token_user, confirmation_url
from core.services import audit_record


@transaction.atomic
def user_register(*, email: str, name: str, password: str) -> User:
    """Create an inactive account and email a confirmation link; login works once it is confirmed."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("该邮箱已注册。")})
    user = User(email=email, name=name.strip(), is_active=False)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.full_clean()
    user.save()
    transaction.on_commit(partial(send_confirmation_email, user=user, url=confirmation_url(user)))
    return user


@transaction.atomic
def user_confirm_email(*, token: str) -> User:
    """Activate the account the token was issued for; it does not log anyone in (the user logs in
    with their password). Raises ValidationError on a bad, old or used token."""
    user = confirmation_token_user(token=token, for_update=True)
    user.email_confirmed_at = timezone.now()
    user.is_active = True
    user.save(update_fields=["email_confirmed_at", "is_active"])
    audit_record(actor=user, action="user.confirm_email", target=user)
    return user


def user_update_profile(*, user: User, name: str, phone: str, language: str) -> User:
    user.name = name.strip()
    user.phone = phone.strip()
    user.language = language
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name", "phone", "language"])
    return user


@transaction.atomic
def organization_create(
    *,
    user: User,
    name: str,
    kind: str,
    credit_code: str = "",
    region=None,
    city: str = "",
    description: str = "",
    website: str = "",
) -> Organization:
    """Create an unverified organization with ``user`` as its owner."""
    if kind == Organization.Kind.OPERATOR and not user.is_staff:
        raise ValidationError({"kind": _("平台运营方只能由平台工作人员创建。")})
    org = Organization(
        name=name.strip(),
        kind=kind,
        credit_code=credit_code.strip(),
        region=region,
        city=city.strip(),
        description=description.strip(),
        website=website.strip(),
    )
    _clean_organization(org)
    org.save()
    Membership.objects.create(user=user, organization=org, role=Membership.Role.OWNER)
    audit_record(actor=user, action="organization.create", target=org, to_state="unverified")
    return org


# Verification vouches for this name and this credit code: a verified organization that changes
# either loses its badge until staff verify it again.
IDENTITY_FIELDS = ("name", "credit_code")
IDENTITY_CHANGE_NOTICE = gettext_lazy(
    "机构名称或统一社会信用代码已更改，认证已撤销；平台重新认证前不能发布新内容。"
)


@transaction.atomic
def organization_update(*, org: Organization, actor: User, **changes) -> Organization:
    """Apply ``changes`` and return the saved organization. If a verified organization's name or
    credit code changes, its verification is dropped in the same transaction, with an
    ``organization.unverify`` audit row; callers tell the user (``IDENTITY_CHANGE_NOTICE``)."""
    _require_owner(org, actor)
    editable = {"name", "credit_code", "region", "city", "description", "website"}
    unknown = set(changes) - editable
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    # Locked, so staff cannot verify the old identity while it is being replaced.
    org = (
        Organization.objects.select_for_update(of=("self",)).select_related("region").get(pk=org.pk)
    )
    before = {field: getattr(org, field) for field in IDENTITY_FIELDS}
    for field, value in changes.items():
        setattr(org, field, value.strip() if isinstance(value, str) else value)
    _clean_organization(org)
    update_fields = set(changes)
    changed = [field for field in IDENTITY_FIELDS if getattr(org, field) != before[field]]
    if changed and org.verified_at is not None:
        org.verified_at = None
        org.verified_by = None
        update_fields |= {"verified_at", "verified_by"}
        audit_record(
            actor=actor,
            action="organization.unverify",
            target=org,
            from_state="verified",
            to_state="unverified",
            reason="identity changed",
            data={"fields": changed, "before": before},
        )
    org.save(update_fields=sorted(update_fields))
    audit_record(
        actor=actor, action="organization.update", target=org, data={"fields": sorted(changes)}
    )
    return org


def _clean_organization(org: Organization) -> None:
    """Field messages for every rule, the credit-code constraints included: they are checked here
    by field (a raw constraint name is no message for a user); the database still enforces them."""
    errors: dict[str, list[str]] = {}
    try:
        org.full_clean(exclude=["verified_by"], validate_constraints=False)
    except ValidationError as exc:
        errors = {field: list(messages) for field, messages in exc.message_dict.items()}
    if "credit_code" not in errors:
        if org.kind in Organization.KINDS_WITH_CREDIT_CODE and not org.credit_code:
            errors["credit_code"] = [str(CREDIT_CODE_REQUIRED)]
        elif (
            org.credit_code
            and Organization.objects.filter(credit_code=org.credit_code).exclude(pk=org.pk).exists()
        ):
            errors["credit_code"] = [str(CREDIT_CODE_TAKEN)]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def organization_verify(*, org: Organization, actor: User) -> Organization:
    if not actor.is_staff:
        raise PermissionDenied
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if org.verified_at is None:
        org.verified_at = timezone.now()
        org.verified_by = actor
        org.save(update_fields=["verified_at", "verified_by"])
        audit_record(
            actor=actor,
            action="organization.verify",
            target=org,
            from_state="unverified",
            to_state="verified",
        )
    return org


def _require_owner(org: Organization, user: User) -> None:
    if not selectors.user_is_owner(user=user, org=org):
        raise PermissionDenied


@transaction.atomic
def invitation_create(
    *, org: Organization, actor: User, email: str, role: str = Membership.Role.MEMBER
) -> Invitation:
    _require_owner(org, actor)
    email = email.strip().lower()
    if Membership.objects.filter(organization=org, user__email__iexact=email).exists():
        raise ValidationError({"email": _("该用户已是本机构成员。")})
    if Invitation.objects.filter(organization=org, email=email, accepted_at__isnull=True).exists():
        raise ValidationError({"email": _("已向该邮箱发出邀请，尚未接受。")})
    invitation = Invitation(
        organization=org,
        email=email,
        role=role,
        invited_by=actor,
        token=secrets.token_urlsafe(32),
    )
    invitation.full_clean()
    invitation.save()
    url = f"{settings.SITE_URL}{reverse('accounts:invitation', kwargs={'token': invitation.token})}"
    transaction.on_commit(partial(send_invitation_email, invitation=invitation, url=url))
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organization")
        .filter(token=token, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:
        raise ValidationError(_("邀请链接无效或已被使用。"))
    age = (timezone.now() - invitation.created_at).total_seconds()
    if age > settings.INVITATION_MAX_AGE:
        raise ValidationError(_("邀请已过期，请联系机构管理员重新邀请。"))
    if invitation.email != user.email.lower():
        raise ValidationError(_("该邀请发给了另一个邮箱，请用受邀邮箱登录。"))
    membership, _created = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(
        actor=user,
        action="organization.join",
        target=invitation.organization,
        data={"role": membership.role},
    )
    return membership


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; return it with the plain key, which is never stored and shown only now."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("请为令牌起一个名称。")})
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user, name=name[:64], prefix=key[:8], key_hash=ApiToken.hash_key(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken, user: User) -> ApiToken:
    if token.user_id != user.pk:
        raise PermissionDenied
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- login throttling -----------------------------------------------------------------------------
#
# Failed logins are counted per account and per client address in the cache (Redis: ``add`` opens a
# window, ``incr`` is atomic, so concurrent attempts are all counted). Past either limit every attempt
# is refused, even with the right password, until the window that began with the first failure ends.


def _login_account_key(email: str) -> str:
    return "login-failures:account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _login_counters(*, email: str, address: str) -> list[tuple[str, int]]:
    """(cache key, limit) of each counter that applies; a limit of 0 is off."""
    counters = [(_login_account_key(email), settings.LOGIN_FAILURES_PER_ACCOUNT)]
    if address:
        counters.append((f"login-failures:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS))
    return [(key, limit) for key, limit in counters if limit > 0]


def login_lockout_minutes(*, email: str, address: str) -> int:
    """Minutes until a login for ``email`` from ``address`` may be tried again; 0 if it may now."""
    counters = _login_counters(email=email, address=address)
    keys = [key for key, _limit in counters]
    values = cache.get_many(keys + [f"{key}:until" for key in keys])
    now = time.time()
    waits = [
        values.get(f"{key}:until", now + settings.LOGIN_FAILURE_WINDOW) - now
        for key, limit in counters
        if values.get(key, 0) >= limit
    ]
    return max(1, math.ceil(max(waits) / 60)) if waits else 0


def login_failure_record(*, email: str, address: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW
    for key, _limit in _login_counters(email=email, address=address):
        if cache.add(key, 1, timeout=window):
            # The first failure opens the window; remember when it closes, for the message.
            cache.set(f"{key}:until", time.time() + window, timeout=window)
            continue
        try:
            cache.incr(key)
        except ValueError:  # the window closed between add and incr
            cache.add(key, 1, timeout=window)


def login_success_record(*, email: str) -> None:
    """A successful login clears its account's failures (not its address's)."""
    key = _login_account_key(email)
    cache.delete_many([key, f"{key}:until"])
