"""Reads of matches, always filtered by what the viewer may see of the need on the other side."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.selectors import member_org_ids, user_is_staff
from matching.catalogue.visibility import NeedVisibility, need_visibility
from matching.models import Match, MatchFeedback, Need, Result


def _rejected_by(organization_ids) -> Exists:
    """The match was marked 不相关 by one of ``organization_ids``: gone for that side at once."""
    return Exists(
        MatchFeedback.objects.filter(
            match=OuterRef("pk"),
            organization_id__in=list(organization_ids),
            verdict=MatchFeedback.Verdict.NOT_RELEVANT,
        )
    )


def matches_for_need(*, need: Need, limit: int = 20) -> QuerySet[Match]:
    """A need's ranked matches, for viewers who see the need in full (its own organization, staff);
    pairs its organization marked 不相关 are left out."""
    return (
        Match.objects.filter(need=need)
        .exclude(_rejected_by([need.organization_id]))
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
    see at all (private ones), and pairs the result's organization marked 不相关, are left out."""
    matches = (
        Match.objects.filter(result=result, need__status__in=Need.OPEN_STATUSES)
        .exclude(_rejected_by([result.organization_id]))
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


def match_get_for_party(*, pk: int, user) -> Match:
    """A match seen by a member of either side (or staff); 404 for anyone else, and for the
    candidate side when the need is one they may not see (private needs)."""
    match = (
        Match.objects.select_related("need", "need__organization", "result", "capability")
        .filter(pk=pk)
        .first()
    )
    if match is None or not user.is_authenticated:
        raise Http404
    if user_is_staff(user):
        return match
    org_ids = member_org_ids(user)
    if match.need.organization_id in org_ids:
        return match
    if (
        match.candidate.organization_id in org_ids
        and need_visibility(need=match.need, user=user) > NeedVisibility.NONE
    ):
        return match
    raise Http404


def feedback_reason_counts(*, need: Need) -> dict[str, int]:
    """How often each 'not relevant' reason was given on the need's matches (its own side)."""
    rows = (
        MatchFeedback.objects.filter(
            match__need=need,
            organization_id=need.organization_id,
            verdict=MatchFeedback.Verdict.NOT_RELEVANT,
        )
        .values("reason")
        .annotate(n=Count("id"))
    )
    labels = dict(MatchFeedback.Reason.choices)
    return {str(labels.get(row["reason"], row["reason"])): row["n"] for row in rows}


def matched_needs_for_organization(
    *, organization_ids, user, limit: int = 50
) -> list[tuple[Match, NeedVisibility]]:
    """Open needs matched to any result or capability profile of the user's organizations, except
    the pairs one of them marked 不相关."""
    matches = (
        Match.objects.filter(need__status__in=Need.OPEN_STATUSES)
        .filter(
            Q(result__organization_id__in=organization_ids, result__status=Result.Status.PUBLISHED)
            | Q(capability__organization_id__in=organization_ids, capability__is_published=True)
        )
        .exclude(_rejected_by(organization_ids))
        .select_related("need", "need__organization", "need__field", "result", "capability")
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


def feedback_training_rows(*, model_id: str) -> list[tuple[dict, bool]]:
    """Every verdict on a match of ``model_id`` whose stored components carry the weight-free
    signals (matches made since ``tune_ranking`` exists): (components, 感兴趣?). Either side's
    verdict counts; it is what the calibrated score estimates."""
    rows = (
        MatchFeedback.objects.filter(match__model_version=model_id)
        .filter(match__components__has_key="z_dense")
        .values_list("match__components", "verdict")
        .order_by("pk")
    )
    return [
        (components, verdict == MatchFeedback.Verdict.INTERESTED) for components, verdict in rows
    ]
