"""Rendering an outbox row into an email: templates in the recipient's language, List-Unsubscribe
headers (RFC 2369 / RFC 8058) and the signed per-user unsubscribe token."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import User

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


# --- Unsubscribe ----------------------------------------------------------------------------------


def _signer() -> signing.Signer:
    return signing.Signer(salt=UNSUBSCRIBE_SALT, algorithm="sha256")


def unsubscribe_token(user: User) -> str:
    """A token naming ``user`` that only the server can make (HMAC with SECRET_KEY, salted)."""
    return _signer().sign(user.uuid.hex)


def user_for_unsubscribe_token(token: str) -> User | None:
    """The user a token was made for; None when it was tampered with or names nobody."""
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return None
    return User.objects.filter(uuid=value).first()


def unsubscribe_url(user: User) -> str:
    path = reverse("notifications:unsubscribe", kwargs={"token": unsubscribe_token(user)})
    return f"{settings.SITE_URL}{path}"


def unsubscribe_mailto(user: User) -> str:
    subject = quote(f"unsubscribe {unsubscribe_token(user)}")
    return f"mailto:{settings.NOTIFICATION_UNSUBSCRIBE_MAILTO}?subject={subject}"


def list_unsubscribe_headers(user: User) -> dict[str, str]:
    """RFC 8058 one-click: an https URL that accepts a POST, plus a mailto fallback (RFC 2369)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(user)}>, <{unsubscribe_mailto(user)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def message_id_for(row) -> str:
    """Fixed per row, so a message re-sent after a lost acknowledgement has the same Message-ID
    and mail clients show it once."""
    domain = settings.NOTIFICATION_MESSAGE_ID_DOMAIN or urlsplit(settings.SITE_URL).hostname
    return f"<{row.uuid}@{domain}>"


# --- Rendering ------------------------------------------------------------------------------------


def template_prefix(template: str) -> str:
    return template if "/" in template else f"notifications/email/{template}"


@dataclass
class RenderedEmail:
    subject: str
    text: str
    html: str


def still_visible(row) -> bool:
    """False when the row's guard names a need the recipient may no longer see at the level the
    email was written for (e.g. the need became private, or access was revoked)."""
    guard = (row.context or {}).get("guard")
    if not guard:
        return True
    from matching.catalogue.visibility import need_visibility
    from matching.models import Need

    need = Need.objects.filter(pk=guard.get("need_id")).select_related("organization").first()
    if need is None:
        return False
    if row.template == "match_candidate" and need.confidentiality == Need.Confidentiality.PRIVATE:
        return False
    return need_visibility(need=need, user=row.recipient) >= int(guard.get("visibility", 2))


def render_subject(row) -> str:
    """The subject in the active language, on one line."""
    context = _base_context(row)
    return " ".join(
        render_to_string(f"{template_prefix(row.template)}.subject.txt", context).split()
    )


def _base_context(row) -> dict:
    return {
        **(row.context or {}),
        "recipient": row.recipient,
        "link": row.link,
        "site_url": settings.SITE_URL,
        "unsubscribe_url": unsubscribe_url(row.recipient),
        "preferences_url": f"{settings.SITE_URL}{reverse('notifications:preferences')}",
        "center_url": f"{settings.SITE_URL}{reverse('notifications:center')}",
    }


def _digest_items(row) -> list[dict]:
    items = []
    held = row.items.filter(status="held_for_digest").select_related("recipient")
    for item in held.order_by("created_at"):
        if not still_visible(item):
            continue
        items.append(
            {"subject": render_subject(item), "link": item.link, "created_at": item.created_at}
        )
    return items


def render_notification(row) -> RenderedEmail:
    """Subject, plain text and HTML of ``row`` in its recipient's language."""
    with translation.override(row.recipient.language or settings.LANGUAGE_CODE):
        context = _base_context(row)
        if row.template == row.DIGEST_TEMPLATE:
            context["items"] = _digest_items(row)
        prefix = template_prefix(row.template)
        subject = " ".join(render_to_string(f"{prefix}.subject.txt", context).split())
        # The HTML part shows the subject in <title>, escaped like any other text.
        context["subject"] = subject
        text = render_to_string(f"{prefix}.txt", context)
        html = render_to_string(f"{prefix}.html", context)
    return RenderedEmail(subject=subject, text=text, html=html)


def build_message(
    row, rendered: RenderedEmail | None = None, connection=None
) -> EmailMultiAlternatives:
    rendered = rendered or render_notification(row)
    headers = {
        **list_unsubscribe_headers(row.recipient),
        "Message-ID": row.message_id,
        "Auto-Submitted": "auto-generated",
        "X-Matchmaker-Notification": str(row.uuid),
    }
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        to=[row.recipient.email],
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
