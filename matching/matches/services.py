"""Writes about matches: feedback from either side."""

from __future__ import annotations

from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.selectors import member_org_ids
from core.services import audit_record
from matching import tasks
from matching.matcher import preferences
from matching.models import Match, MatchFeedback


def _side_organization(match: Match, user) -> int:
    """The organization (need side or candidate side) on whose behalf ``user`` gives feedback."""
    candidate_org = match.candidate.organization_id
    org_ids = member_org_ids(user)
    if match.need.organization_id in org_ids:
        return match.need.organization_id
    if candidate_org in org_ids:
        return candidate_org
    raise PermissionDenied


@transaction.atomic
def match_feedback_give(
    *, match: Match, user, verdict: str, reason: str = "", comment: str = ""
) -> MatchFeedback:
    """Record (or change) one side's verdict on a match. A 'not relevant' removes the pair from that
    side's lists at once (``match_selectors``); from the need's side the need is also re-ranked
    without it (its near-duplicates lowered), which is scheduled now, and the need organization's
    structured-fit preferences are recomputed from its reasons (``matcher.preferences``)."""
    if verdict not in MatchFeedback.Verdict.values:
        raise ValidationError({"verdict": [_("请选择“感兴趣”或“不相关”。")]})
    if reason and reason not in MatchFeedback.Reason.values:
        raise ValidationError({"reason": [_("原因无效。")]})
    if verdict == MatchFeedback.Verdict.NOT_RELEVANT and not reason:
        raise ValidationError({"reason": [_("请说明不相关的原因，以便改进匹配。")]})
    organization_id = _side_organization(match, user)
    feedback, _created = MatchFeedback.objects.update_or_create(
        match=match,
        organization_id=organization_id,
        defaults={"user": user, "verdict": verdict, "reason": reason, "comment": comment.strip()},
    )
    audit_record(actor=user, action="match.feedback", target=match, to_state=verdict, reason=reason)
    if organization_id == match.need.organization_id:
        # The reasons of its 不相关 on its own needs weigh that organization's structured fits.
        preferences.refresh(organization_id)
    if (
        verdict == MatchFeedback.Verdict.NOT_RELEVANT
        and organization_id == match.need.organization_id
    ):
        transaction.on_commit(partial(tasks.index_and_match.delay, "need", match.need_id))
    return feedback
