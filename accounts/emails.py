"""Account emails (confirmation, invitation). Sent right after the transaction that causes them commits."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


def _send(*, to: str, template: str, context: dict, language: str = "zh-hans") -> None:
    with translation.override(language):
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context).strip()
        text = render_to_string(f"accounts/email/{template}.txt", context)
        html = render_to_string(f"accounts/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def send_confirmation_email(*, user, url: str) -> None:
    _send(
        to=user.email,
        template="confirm",
        context={"user": user, "url": url},
        language=user.language,
    )


def send_invitation_email(*, invitation, url: str) -> None:
    _send(
        to=invitation.email,
        template="invitation",
        context={"invitation": invitation, "url": url},
    )
