"""Reads of matches, always filtered by what the viewer may see of the need on the other side."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.http import Http404

from accounts.selectors import member_org_ids, user_is_staff
from matching.catalogue.responsiveness import rank_factors
from matching.catalogue.visibility import NeedVisibility, need_queryset_for_viewer, need_visibility
from matching.matcher import calibration
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


def _for_labs(matches) -> list[Match]:
    """Matches in the order a lab reads them: by score, the needs of organizations that leave
    requests unanswered a little lower (``responsiveness.rank_factor``, at most 10 %). The score
    shown stays the stored one; only the order changes."""
    matches = list(matches)
    if not matches:
        return []
    factors = rank_factors(m.need.organization_id for m in matches)
    return sorted(matches, key=lambda m: -m.score * factors[m.need.organization_id])


def _lab_order(organization_ids):
    """``_for_labs`` as a database expression, for lists ordered and paginated in SQL: the score
    times the rank factor of the need's organization (only the factors below 1 are spelled out)."""
    factors = {
        org_id: factor for org_id, factor in rank_factors(organization_ids).items() if factor < 1
    }
    if not factors:
        return F("score")
    return ExpressionWrapper(
        F("score")
        * Case(
            *(When(need__organization_id=org_id, then=Value(f)) for org_id, f in factors.items()),
            default=Value(1.0),
            output_field=FloatField(),
        ),
        output_field=FloatField(),
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
    for match in _for_labs(matches):
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


STRENGTHS = ("strong", "weak")


def _strong_q(model_versions) -> Q:
    """Matches that clear the email threshold of their model (``calibration.alert_threshold``)."""
    strong = Q(pk__in=[])
    for model_version in model_versions:
        threshold = calibration.alert_threshold(model_version)
        strong |= Q(model_version=model_version, score__gte=threshold)
    return strong


@dataclass
class LabMatches:
    """The lab's matched needs as ``/matches/`` shows them (``lab_matches``)."""

    matches: QuerySet[Match]  # ordered for grouping by candidate; rows annotated viewer_visibility
    fields: list[tuple[str, str]]  # (code, name) of the matched needs' fields, for the filter
    has_strong: bool  # whether any match (unfiltered) clears the threshold


def lab_matches(*, organization_ids, user, strength: str = "", field_code: str = "") -> LabMatches:
    """Open needs matched to the results and capability profiles of ``organization_ids`` that ``user``
    may see (at least their summary), except the pairs one of them marked 不相关. Ordered by the
    lab's result or profile — the one with the best calibrated score first — and inside each by
    score; ``strength`` ("strong" / "weak") and ``field_code`` (the need's field or a sub-field)
    filter. A fixed number of queries, whatever the number of rows."""
    visible = (
        need_queryset_for_viewer(user=user)
        .filter(pk=OuterRef("need_id"))
        .values("viewer_visibility")[:1]
    )
    base = (
        Match.objects.filter(need__status__in=Need.OPEN_STATUSES)
        .filter(
            Q(result__organization_id__in=organization_ids, result__status=Result.Status.PUBLISHED)
            | Q(capability__organization_id__in=organization_ids, capability__is_published=True)
        )
        .exclude(_rejected_by(organization_ids))
        .annotate(viewer_visibility=Subquery(visible))
        .filter(viewer_visibility__gte=int(NeedVisibility.SUMMARY))
    )
    strong = _strong_q(sorted(set(base.values_list("model_version", flat=True))))
    fields = sorted(
        {
            (code, name)
            for code, name in base.values_list("need__field__code", "need__field__name")
            if code
        }
    )
    has_strong = base.filter(strong).exists()
    matches = base
    if strength == "strong":
        matches = matches.filter(strong)
    elif strength == "weak":
        matches = matches.exclude(strong)
    if field_code:
        matches = matches.filter(
            Q(need__field__code=field_code) | Q(need__field__code__startswith=f"{field_code}.")
        )
    # The order a lab reads: by score, the needs of organizations that leave requests unanswered a
    # little lower (``_lab_order``); the score shown stays the stored one.
    order = _lab_order(base.values_list("need__organization_id", flat=True).distinct())
    matches = (
        matches.annotate(
            order_score=order,
            group_best=Window(Max(order), partition_by=[F("result_id"), F("capability_id")]),
        )
        .select_related(
            "need",
            "need__organization",
            "need__field",
            "result",
            "result__field",
            "capability",
        )
        .order_by("-group_best", "result_id", "capability_id", "-order_score", "pk")
    )
    return LabMatches(matches=matches, fields=fields, has_strong=has_strong)
