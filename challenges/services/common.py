"""What every challenge service shares: the transition error, input cleaning, role checks, the row
lock and the one state guard (``_require_state`` / ``_transition``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import user_is_member
from challenges.models import (
    Bid,
    Challenge,
)
from core.limits import PARAGRAPH
from core.services import audit_record
from core.text import unstorable_text_message
from matching.models import Need

S = Challenge.Status
CENT = Decimal("0.01")
DEFAULT_CRITERIA = (
    ("技术先进性", 30, "技术路线的先进性和创新性"),
    ("可行性", 30, "方案可行、指标可达、风险可控"),
    ("团队能力", 20, "团队经验、平台条件和已有成果"),
    ("经费合理性", 20, "预算与工作量匹配、拆分合理"),
)


class TransitionError(Exception):
    """The action is not allowed in the object's current state (HTTP 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- input -------------------------------------------------------------------------------------------


def _clean_text(value: Any, *, field: str, cap: int = PARAGRAPH) -> str:
    """Free text a service takes as an argument (reasons, notes, comments), stripped. Text
    PostgreSQL cannot store (core.text: a NUL, a lone surrogate) or more than ``cap`` characters is
    refused with a field message: web forms pass reasons through here unparsed."""
    text = str(value or "").strip()
    unstorable = unstorable_text_message(text)
    if unstorable:
        raise ValidationError({field: [unstorable]})
    if len(text) > cap:
        raise ValidationError(
            {field: [_("最多%(cap)d个字符，现为%(n)d个。") % {"cap": cap, "n": len(text)}]}
        )
    return text


# --- roles and locks ---------------------------------------------------------------------------------


def _require_enterprise(user: User, challenge: Challenge) -> None:
    """The challenge's own organization (出题单位) acts on it; staff do not act for it."""
    if not user_is_member(user=user, organization_id=challenge.organization_id):
        raise PermissionDenied


def _require_bidder(user: User, bid: Bid) -> None:
    if not user_is_member(user=user, organization_id=bid.organization_id):
        raise PermissionDenied


def _lock(challenge: Challenge) -> Challenge:
    """Reload the challenge under ``SELECT … FOR UPDATE``: concurrent transitions queue here and each
    sees the state the previous one committed."""
    return (
        Challenge.objects.select_for_update()
        .select_related("need", "organization")
        .get(pk=challenge.pk)
    )


def _require_state(challenge: Challenge, *allowed: str, action: str) -> None:
    if challenge.status not in allowed:
        raise TransitionError(
            _("榜单当前状态为“%(state)s”，不能%(action)s。")
            % {"state": challenge.get_status_display(), "action": action}
        )


def _transition(
    challenge: Challenge, *, to: str, actor: User | None, reason: str = "", data: dict | None = None
) -> None:
    from_state = challenge.status
    challenge.status = to
    challenge.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="challenge.transition",
        target=challenge,
        from_state=from_state,
        to_state=to,
        reason=reason,
        data=data,
    )


def _before_deadline(challenge: Challenge) -> None:
    """The bid guard checks the deadline itself: a challenge past it refuses bids even while its
    status still says open (beat moves it within a minute; page views never do)."""
    from challenges.selectors import bidding_closed

    if bidding_closed(challenge):
        raise TransitionError(_("揭榜已截止，方案不能再提交、修改或撤回。"))


def _set_need_status(need: Need, *, actor: User, to_status: str, reason: str) -> None:
    """Move the need along with the challenge, through matching's own service when the transition is
    allowed there (a need closed meanwhile stays closed)."""
    from matching.catalogue.services import NEED_TRANSITIONS, need_set_status

    if need.status != to_status and to_status in NEED_TRANSITIONS.get(need.status, ()):
        need_set_status(need=need, actor=actor, to_status=to_status, reason=reason)
