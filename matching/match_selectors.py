"""Reads of matches, always filtered by what the viewer may see of the need on the other side."""

from __future__ import annotations

from django.db.models import QuerySet

from matching.models import Match, Need, Result
from matching.selectors import NeedVisibility, need_visibility


def matches_for_need(*, need: Need, limit: int = 20) -> QuerySet[Match]:
    """A need's ranked matches, for viewers who see the need in full (its own organization, staff)."""
    return (
        Match.objects.filter(need=need)
        .select_related(
            "result",
            "result__organization",
            "result__field",
            "capability",
            "capability__organization",
        )
        .prefetch_related("feedback")
        .order_by("-score")[:limit]
    )


def needs_matched_to_result(
    *, result: Result, user, limit: int = 20
) -> list[tuple[Match, NeedVisibility]]:
    """Open needs matched to ``result``, each with what ``user`` may see of it; needs the user may not
    see at all (private ones) are left out entirely."""
    matches = (
        Match.objects.filter(result=result, need__status__in=Need.OPEN_STATUSES)
        .select_related("need", "need__organization", "need__field")
        .order_by("-score")[: limit * 3]
    )
    visible = []
    for match in matches:
        visibility = need_visibility(need=match.need, user=user)
        if visibility > NeedVisibility.NONE:
            visible.append((match, visibility))
        if len(visible) == limit:
            break
    return visible
