"""The email-confirmation token: signed, timed, and bound to the state of the account it was issued for.

The token carries the user's id and an HMAC of the account's email, password hash, activation and
confirmation state. Confirming changes that state, so a link works once; a password change or an email
change voids every link issued before it; and knowing the signing key alone is not enough to make a
link for someone else's account, because the HMAC covers their (salted) password hash.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from accounts.models import User

CONFIRM_SALT = "accounts.confirm-email"


def _state_hash(user: User) -> str:
    state = "\x00".join(
        [
            str(user.pk),
            user.email,
            user.password,
            str(user.is_active),
            user.email_confirmed_at.isoformat() if user.email_confirmed_at else "",
        ]
    )
    return salted_hmac(f"{CONFIRM_SALT}.state", state, algorithm="sha256").hexdigest()


def confirmation_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "s": _state_hash(user)}, salt=CONFIRM_SALT)


def confirmation_url(user: User) -> str:
    path = reverse("accounts:confirm", kwargs={"token": confirmation_token(user)})
    return f"{settings.SITE_URL}{path}"


def confirmation_token_user(*, token: str, for_update: bool = False) -> User:
    """The unconfirmed user ``token`` was issued for, in the state it was issued in.

    Raises ``ValidationError`` for a bad, expired, used or superseded token; reading only, it changes
    nothing (``for_update`` locks the row for the service that then confirms)."""
    invalid = ValidationError(_("确认链接无效或已使用；如果已经确认过邮箱，请直接登录。"))
    try:
        data = signing.loads(
            token, salt=CONFIRM_SALT, max_age=settings.ACCOUNT_CONFIRMATION_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise ValidationError(_("确认链接已过期，请重新注册或联系平台。")) from exc
    except signing.BadSignature as exc:
        raise invalid from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), str):
        raise invalid
    users = User.objects.select_for_update() if for_update else User.objects.all()
    user = users.filter(pk=data.get("u")).first() if isinstance(data.get("u"), int) else None
    if (
        user is None
        or user.email_confirmed_at is not None
        or not constant_time_compare(data["s"], _state_hash(user))
    ):
        raise invalid
    return user
