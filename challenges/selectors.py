"""Reads for challenges. Sealing lives here: ``bids_visible_to`` is the one query every read path of
bids goes through (web, API, admin, export), and ``challenge_visibility`` applies the need's
confidentiality to the challenge's terms.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ExpertProfile, Organization
from accounts.selectors import forget_memberships, member_org_ids, user_acts_for, user_is_staff
from challenges.models import (
    Bid,
    Challenge,
    ChallengeInvitation,
    ConsortiumMember,
    Contract,
    ContractMilestone,
    ExpertConflict,
    ReviewAssignment,
    Score,
)
from matching.catalogue.projections import need_shows
from matching.catalogue.visibility import NeedVisibility, need_visibility
from matching.models import Need, NeedAccess, Patent, Result

ChallengeVisibility = NeedVisibility
S = Challenge.Status
# Statuses in which a challenge whose deadline has passed shows its bids to the enterprise and experts.
UNSEALED_STATUSES = (S.OPEN, S.REVIEW, S.AWARDED, S.IN_PROGRESS, S.COMPLETED)
OUTLIER_POINTS = 25
OUTLIER_IQR = 1.5


def _confirmed_places(org_ids) -> QuerySet[ConsortiumMember]:
    """Consortium places of these organizations that count: confirmed by the organization itself
    (the lead's row is confirmed when the bid is created). An unconfirmed place was only offered by
    the lead and grants nothing: neither the challenge's terms nor the bid."""
    return ConsortiumMember.objects.filter(organization_id__in=org_ids, confirmed_at__isnull=False)


def user_is_enterprise(*, user, challenge: Challenge) -> bool:
    return challenge.organization_id in member_org_ids(user)


def _challenge_qs() -> QuerySet[Challenge]:
    return Challenge.objects.select_related(
        "need", "need__field", "need__organization", "organization", "organization__region"
    )


def challenge_visibility(*, challenge: Challenge, user) -> NeedVisibility:
    """What ``user`` may see of a challenge's terms.

    - the enterprise and staff: everything, in any state;
    - drafts: nobody else;
    - organizations that bid on it (the lead, and consortium members once they confirmed), and
      assigned experts: everything;
    - invited organizations: the summary, and everything once the need's terms are accepted;
    - a 定向邀请 challenge: nobody else;
    - an open challenge: what the need's confidentiality allows (need_visibility).
    """
    if user_is_staff(user):
        return NeedVisibility.FULL
    org_ids = member_org_ids(user)
    if challenge.organization_id in org_ids:
        return NeedVisibility.FULL
    if challenge.status == S.DRAFT:
        return NeedVisibility.NONE
    if org_ids and (
        _confirmed_places(org_ids)
        .filter(bid__challenge=challenge)
        .exclude(bid__status=Bid.Status.WITHDRAWN)
        .exists()
    ):
        return NeedVisibility.FULL
    if (
        user is not None
        and user.is_authenticated
        and challenge.assignments.filter(expert__user=user).exists()
    ):
        return NeedVisibility.FULL
    invited = bool(org_ids) and challenge.invitations.filter(organization_id__in=org_ids).exists()
    need_level = need_visibility(need=challenge.need, user=user)
    if invited:
        granted = NeedAccess.objects.filter(
            need=challenge.need,
            organization_id__in=org_ids,
            status=NeedAccess.Status.APPROVED,
            terms_accepted_at__isnull=False,
        ).exists()
        return NeedVisibility.FULL if granted else max(need_level, NeedVisibility.SUMMARY)
    if challenge.access == Challenge.Access.INVITED:
        return NeedVisibility.NONE
    return need_level


def bidding_closed(challenge: Challenge) -> bool:
    """No bid may be created, revised, withdrawn or confirmed any more: the challenge is not open, or
    its deadline has passed (even if beat has not yet moved it to review)."""
    return challenge.status != S.OPEN or timezone.now() >= challenge.bid_deadline


def challenge_shown_status(challenge: Challenge) -> str:
    """The status pages show: an open challenge past its deadline shows as under review, without
    waiting for beat to write the transition (a page view never writes)."""
    if challenge.status == S.OPEN and bidding_closed(challenge):
        return S.REVIEW
    return challenge.status


@dataclass(frozen=True)
class ChallengePublic:
    """What a viewer sees of a challenge's heading, at one visibility level. The one projection
    every output builds from: the list and detail pages, the API serializers and the emails.

    Below FULL (a summary-public need the viewer has no access to) it names no enterprise, as the
    need's own summary does not; ``terms`` (the challenge itself, for the full terms) is set only at
    FULL."""

    uuid: str
    url: str
    title: str
    need_uuid: str
    field: str
    summary: str
    intro: str
    enterprise: str | None
    enterprise_label: str
    status: str
    status_display: str
    access: str
    access_display: str
    award_mode: str
    award_mode_display: str
    reward_total: Decimal | None
    bid_deadline: datetime
    full: bool
    terms: Challenge | None


def challenge_public_fields(*, challenge: Challenge, visibility: NeedVisibility) -> ChallengePublic:
    full = visibility >= NeedVisibility.FULL
    status = challenge_shown_status(challenge)
    # The enterprise is the need's organization: shown where the need's projection shows it.
    enterprise = challenge.organization.name if need_shows(visibility, "organization") else None
    return ChallengePublic(
        uuid=str(challenge.uuid),
        url=challenge.get_absolute_url(),
        title=challenge.title,
        need_uuid=str(challenge.need.uuid),
        field=challenge.need.field.name,
        summary=challenge.need.summary,
        intro=challenge.intro if full else "",
        enterprise=enterprise,
        enterprise_label=enterprise or _("出题单位（摘要公开）"),
        status=status,
        status_display=str(S(status).label),
        access=challenge.access,
        access_display=challenge.get_access_display(),
        award_mode=challenge.award_mode,
        award_mode_display=challenge.get_award_mode_display(),
        reward_total=challenge.reward_total,
        bid_deadline=challenge.bid_deadline,
        full=full,
        terms=challenge if full else None,
    )


def challenge_get_for_viewer(
    *, uuid, user, minimum: NeedVisibility = NeedVisibility.SUMMARY, manage: bool = False
) -> tuple[Challenge, NeedVisibility]:
    """The challenge and what ``user`` may see of it; 404 when that is less than ``minimum`` or, with
    ``manage``, when the user is not in the enterprise (staff included: they do not act for it)."""
    try:
        challenge = _challenge_qs().get(uuid=uuid)
    except (Challenge.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc
    if manage:
        if not user_is_enterprise(user=user, challenge=challenge):
            raise Http404
        return challenge, NeedVisibility.FULL
    visibility = challenge_visibility(challenge=challenge, user=user)
    if visibility < minimum:
        raise Http404
    return challenge, visibility


def _with_terms(queryset: QuerySet[Challenge]) -> QuerySet[Challenge]:
    """A list that shows full terms (indicators, regions, criteria, milestones) reads them for
    the whole list in a fixed number of queries."""
    return queryset.prefetch_related(
        "indicators", "eligible_regions", "criteria", "milestones__indicator"
    )


def challenge_list_open(*, user) -> list[tuple[Challenge, NeedVisibility]]:
    """Challenges taking bids that ``user`` may know of, newest first, each with its visibility.
    Visibility and terms are read for the list in a fixed number of queries."""
    challenges = list(
        _with_terms(_challenge_qs())
        .filter(status=S.OPEN, bid_deadline__gt=timezone.now())
        .order_by("bid_deadline")
    )
    org_ids = member_org_ids(user)
    is_staff = user_is_staff(user)
    ids = [c.pk for c in challenges]
    invited = set(
        ChallengeInvitation.objects.filter(
            challenge_id__in=ids, organization_id__in=org_ids
        ).values_list("challenge_id", flat=True)
    )
    bidding = set(
        _confirmed_places(org_ids)
        .filter(bid__challenge_id__in=ids)
        .exclude(bid__status=Bid.Status.WITHDRAWN)
        .values_list("bid__challenge_id", flat=True)
    )
    granted = set(
        NeedAccess.objects.filter(
            need_id__in=[c.need_id for c in challenges],
            organization_id__in=org_ids,
            status=NeedAccess.Status.APPROVED,
            terms_accepted_at__isnull=False,
        ).values_list("need_id", flat=True)
    )
    out = []
    for c in challenges:
        if is_staff or c.organization_id in org_ids or c.pk in bidding:
            level = NeedVisibility.FULL
        elif c.access == Challenge.Access.INVITED and c.pk not in invited:
            level = NeedVisibility.NONE
        elif c.need.confidentiality == Need.Confidentiality.PUBLIC:
            level = NeedVisibility.FULL
        elif c.need_id in granted:
            level = NeedVisibility.FULL
        elif c.need.confidentiality == Need.Confidentiality.SUMMARY or c.pk in invited:
            level = NeedVisibility.SUMMARY
        else:
            level = NeedVisibility.NONE
        if level > NeedVisibility.NONE:
            out.append((c, level))
    return out


def challenges_of_enterprise(*, user) -> QuerySet[Challenge]:
    return _challenge_qs().filter(organization_id__in=member_org_ids(user)).order_by("-created_at")


def needs_ready_for_challenge(*, user) -> QuerySet[Need]:
    """Published needs of the user's organizations with no challenge still running."""
    running = Challenge.objects.filter(need=OuterRef("pk")).exclude(status=S.CANCELLED)
    return (
        Need.objects.filter(organization_id__in=member_org_ids(user), status__in=Need.OPEN_STATUSES)
        .exclude(Exists(running))
        .select_related("organization", "field")
        .order_by("-published_at")
    )


# --- bids --------------------------------------------------------------------------------------------


def _unconfirmed_members() -> Exists:
    return Exists(ConsortiumMember.objects.filter(bid=OuterRef("pk"), confirmed_at__isnull=True))


def bids_counting(*, challenge: Challenge) -> QuerySet[Bid]:
    """Bids that count: submitted, and confirmed by every consortium member organization."""
    return (
        Bid.objects.filter(challenge=challenge, status=Bid.Status.SUBMITTED)
        .exclude(_unconfirmed_members())
        .select_related("organization")
        .order_by("submitted_at", "pk")
    )


def bidding_organization_ids(*, challenge: Challenge) -> set[int]:
    """Every organization in a counting bid: leads and consortium members."""
    return set(
        ConsortiumMember.objects.filter(
            bid__in=bids_counting(challenge=challenge).values("pk")
        ).values_list("organization_id", flat=True)
    )


def bids_visible_to(*, user) -> QuerySet[Bid]:
    """Every bid ``user`` may read. Bids are sealed: before the deadline only the people of the bidding
    organization and of its confirmed consortium members see one (not the enterprise, other bidders,
    reviewers or staff). After the deadline the enterprise, the assigned experts and staff see the
    bids that count; drafts and withdrawn bids stay with their authors."""
    if user is None or not user.is_authenticated:
        return Bid.objects.none()
    org_ids = member_org_ids(user)
    own = Q(organization_id__in=org_ids) | Q(pk__in=_confirmed_places(org_ids).values("bid_id"))
    unsealed = (
        Q(challenge__bid_deadline__lte=timezone.now())
        & Q(challenge__status__in=UNSEALED_STATUSES)
        & Q(status=Bid.Status.SUBMITTED)
        & ~_unconfirmed_members()
    )
    readers = Q(challenge__organization_id__in=org_ids) | Q(
        challenge_id__in=ReviewAssignment.objects.filter(expert__user=user).values("challenge_id")
    )
    if user.is_staff:
        readers = Q()
    return Bid.objects.filter(own | (unsealed & readers)).select_related(
        "challenge", "organization", "created_by"
    )


def bid_get_for_viewer(*, uuid, user) -> Bid:
    try:
        return bids_visible_to(user=user).get(uuid=uuid)
    except (Bid.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def bid_detail(*, bid: Bid) -> Bid:
    """The bid with everything its page shows, prefetched."""
    return (
        Bid.objects.select_related("challenge", "organization", "created_by")
        .prefetch_related(
            "indicator_responses__indicator",
            "budget_items",
            "schedule__milestone",
            "results",
            "patents",
            "attachments",
            "members__organization",
        )
        .get(pk=bid.pk)
    )


def bids_received(*, challenge: Challenge, user) -> QuerySet[Bid]:
    """The counting bids of a challenge, as far as ``user`` may read them (none before the deadline)."""
    return (
        bids_visible_to(user=user)
        .filter(challenge=challenge, status=Bid.Status.SUBMITTED)
        .exclude(_unconfirmed_members())
        .prefetch_related("members__organization", "budget_items")
        .order_by("rank", "submitted_at")
    )


def bids_of_user(*, user) -> QuerySet[Bid]:
    """Bids the user's organizations lead or take part in (as confirmed consortium members; open
    places wait in ``consortium_invitations``)."""
    org_ids = member_org_ids(user)
    return (
        Bid.objects.filter(
            Q(organization_id__in=org_ids) | Q(pk__in=_confirmed_places(org_ids).values("bid_id"))
        )
        .select_related("challenge", "organization")
        .order_by("-updated_at")
    )


def bid_of_org(*, challenge: Challenge, user) -> Bid | None:
    """The active bid the user's organization leads on this challenge, if any."""
    return (
        Bid.objects.filter(challenge=challenge, organization_id__in=member_org_ids(user))
        .exclude(status=Bid.Status.WITHDRAWN)
        .first()
    )


def consortium_invitations(*, user) -> QuerySet[ConsortiumMember]:
    """Consortium places waiting for the user's organizations to confirm."""
    return ConsortiumMember.objects.filter(
        organization_id__in=member_org_ids(user),
        confirmed_at__isnull=True,
        bid__status=Bid.Status.SUBMITTED,
        bid__challenge__status=S.OPEN,
    ).select_related("bid", "bid__organization", "bid__challenge", "organization")


def consortium_place_of_bid(*, bid_uuid, user) -> ConsortiumMember:
    """The (non-lead) place of one of the user's organizations in a consortium bid, unconfirmed
    first; 404 for anyone else. The bid itself stays unreadable until the place is confirmed."""
    member = (
        ConsortiumMember.objects.filter(
            bid__uuid=bid_uuid, organization_id__in=member_org_ids(user), is_lead=False
        )
        .select_related("bid", "bid__challenge", "organization")
        .order_by(F("confirmed_at").asc(nulls_first=True))
        .first()
    )
    if member is None:
        raise Http404
    return member


def bid_linkable_org_ids(*, bid: Bid) -> set[int]:
    """Organizations whose results and patents a bid may cite: the lead and the consortium members
    that confirmed."""
    return {bid.organization_id} | set(
        bid.members.filter(confirmed_at__isnull=False).values_list("organization_id", flat=True)
    )


def results_linkable(*, org_ids) -> QuerySet[Result]:
    """Published results of these organizations: a draft or withdrawn result is never cited."""
    return Result.objects.filter(organization_id__in=org_ids, status=Result.Status.PUBLISHED)


def patents_linkable(*, org_ids) -> QuerySet[Patent]:
    return Patent.objects.filter(result__in=results_linkable(org_ids=org_ids))


def consortium_member_get_for_user(*, pk: int, user) -> ConsortiumMember:
    try:
        return ConsortiumMember.objects.select_related("bid", "bid__challenge", "organization").get(
            pk=pk, organization_id__in=member_org_ids(user)
        )
    except ConsortiumMember.DoesNotExist as exc:
        raise Http404 from exc


# --- review ------------------------------------------------------------------------------------------


def assignments_for_expert(*, user) -> QuerySet[ReviewAssignment]:
    if user is None or not user.is_authenticated:
        return ReviewAssignment.objects.none()
    return (
        ReviewAssignment.objects.filter(expert__user=user)
        .select_related("challenge", "challenge__organization")
        .order_by("submitted_at", "-assigned_at")
    )


def assignment_get_for_expert(*, uuid, user) -> ReviewAssignment:
    try:
        return assignments_for_expert(user=user).select_related("expert__user").get(uuid=uuid)
    except (ReviewAssignment.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def own_scores(*, assignment: ReviewAssignment) -> dict[tuple[int, int], Score]:
    return {(s.bid_id, s.criterion_id): s for s in assignment.scores.all()}


def peer_scores(*, assignment: ReviewAssignment) -> list[Score]:
    """Other experts' submitted scores, and only once this expert has submitted their own."""
    if assignment.submitted_at is None:
        return []
    return list(
        Score.objects.filter(
            assignment__challenge_id=assignment.challenge_id,
            assignment__submitted_at__isnull=False,
        )
        .exclude(assignment=assignment)
        .select_related("assignment__expert__user", "criterion", "bid__organization")
        .order_by("bid_id", "criterion__position", "assignment_id")
    )


def review_progress(*, challenge: Challenge) -> list[dict]:
    """Per expert: how many scores of how many needed, whether submitted (never the scores of an
    expert who has not submitted), and any conflict of interest that arose since the assignment."""
    needed = bids_counting(challenge=challenge).count() * challenge.criteria.count()
    rows = []
    for a in challenge.assignments.select_related("expert__user").order_by("assigned_at"):
        conflicts = expert_conflicts(challenge=challenge, expert=a.expert)
        rows.append(
            {
                "assignment": a,
                "scored": a.scores.count(),
                "needed": needed,
                "conflicts": [org.name for org, _kind in conflicts],
            }
        )
    return rows


def assignment_get_for_enterprise(*, challenge: Challenge, uuid) -> ReviewAssignment:
    """An assignment of a challenge the caller manages (already checked by
    ``challenge_get_for_viewer(manage=True)``); 404 otherwise."""
    try:
        return challenge.assignments.select_related("expert__user", "challenge").get(uuid=uuid)
    except (ReviewAssignment.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc


def is_outlier(value: float, others: list[float]) -> bool:
    """A score is an outlier when it lies more than 25 points from the median of the other experts'
    scores on that criterion (and from the median of all, so that with three experts one wild score
    does not make the two sensible ones look wild too), or, with three or more others that disagree
    at all, beyond 1.5 × IQR outside their quartiles."""
    if not others:
        return False
    if (
        abs(value - statistics.median(others)) > OUTLIER_POINTS
        and abs(value - statistics.median([*others, value])) > OUTLIER_POINTS
    ):
        return True
    if len(others) >= 3:
        q1, _q2, q3 = statistics.quantiles(others, n=4, method="inclusive")
        iqr = q3 - q1
        if iqr > 0 and (value < q1 - OUTLIER_IQR * iqr or value > q3 + OUTLIER_IQR * iqr):
            return True
    return False


@dataclass
class RankRow:
    bid: Bid
    total: Decimal | None
    expert_totals: dict[int, Decimal] = field(default_factory=dict)
    criterion_means: dict[int, Decimal] = field(default_factory=dict)
    outliers: list[Score] = field(default_factory=list)


def challenge_ranking(*, challenge: Challenge) -> list[RankRow]:
    """Counting bids ranked by weighted total: per expert Σ score × weight / 100 over the criteria,
    averaged over the experts who submitted; outlier scores are flagged."""
    criteria = {c.pk: c for c in challenge.criteria.all()}
    bids = list(bids_counting(challenge=challenge))
    scores = list(
        Score.objects.filter(
            assignment__challenge=challenge, assignment__submitted_at__isnull=False
        ).select_related("assignment__expert__user", "criterion")
    )
    by_bid: dict[int, list[Score]] = {}
    for s in scores:
        by_bid.setdefault(s.bid_id, []).append(s)
    rows = []
    for bid in bids:
        row = RankRow(bid=bid, total=None)
        bid_scores = by_bid.get(bid.pk, [])
        for s in bid_scores:
            weighted = Decimal(s.value) * criteria[s.criterion_id].weight / 100
            row.expert_totals[s.assignment_id] = (
                row.expert_totals.get(s.assignment_id, 0) + weighted
            )
        if row.expert_totals:
            mean = sum(row.expert_totals.values()) / len(row.expert_totals)
            row.total = Decimal(mean).quantize(Decimal("0.01"))
        for criterion_id in criteria:
            values = [s for s in bid_scores if s.criterion_id == criterion_id]
            if values:
                row.criterion_means[criterion_id] = (
                    Decimal(sum(s.value for s in values)) / len(values)
                ).quantize(Decimal("0.1"))
            for s in values:
                others = [float(o.value) for o in values if o.pk != s.pk]
                if is_outlier(float(s.value), others):
                    row.outliers.append(s)
        rows.append(row)
    rows.sort(
        key=lambda r: (r.total is None, -(r.total or 0), r.bid.submitted_at or timezone.now())
    )
    return rows


@dataclass(frozen=True)
class AwardRow:
    """One line of an award result as a viewer sees it (the template and the API build from it)."""

    bid: str | None
    organization_name: str
    rank: int | None
    score: Decimal | None
    outcome: str
    outcome_display: str


def _sees_whole_award(*, challenge: Challenge, user, ranked: list[Bid]) -> bool:
    """The parties see every ranked bid with its score: the enterprise, staff, the assigned
    experts and the bidders (leads and confirmed members of a ranked bid)."""
    if user is None or not user.is_authenticated:
        return False
    if user_is_staff(user):
        return True
    org_ids = member_org_ids(user)
    if challenge.organization_id in org_ids:
        return True
    if challenge.assignments.filter(expert__user=user).exists():
        return True
    if any(b.organization_id in org_ids for b in ranked):
        return True
    return (
        _confirmed_places(org_ids).filter(bid__in=[b.pk for b in ranked]).exists()
        if org_ids
        else False
    )


def award_result_for_viewer(*, challenge: Challenge, user) -> list[AwardRow]:
    """After the award: the ranked counting bids (organization, rank, score, outcome) for the
    parties; for anyone else only the winners (several under 赛马制), without rank or score."""
    if challenge.awarded_at is None:
        return []
    ranked = list(
        Bid.objects.filter(challenge=challenge, rank__isnull=False)
        .select_related("organization")
        .order_by("rank")
    )
    if _sees_whole_award(challenge=challenge, user=user, ranked=ranked):
        return [
            AwardRow(
                bid=str(b.uuid),
                organization_name=b.organization.name,
                rank=b.rank,
                score=b.score,
                outcome=b.outcome,
                outcome_display=b.get_outcome_display(),
            )
            for b in ranked
        ]
    return [
        AwardRow(
            bid=None,
            organization_name=b.organization.name,
            rank=None,
            score=None,
            outcome=b.outcome,
            outcome_display=b.get_outcome_display(),
        )
        for b in ranked
        if b.outcome == Bid.Outcome.WON
    ]


@dataclass
class ExpertSuggestion:
    expert: ExpertProfile
    score: float
    conflicts: list[str]


def expert_conflicts(
    *, challenge: Challenge, expert: ExpertProfile
) -> list[tuple[Organization, str]]:
    """The one conflict-of-interest rule, checked at assignment, at every score save and submission,
    and at the award: the organizations the expert may not judge for. These are the enterprise
    itself and the bidding organizations (leads and confirmed consortium members of counting bids)
    the expert belongs to now or has declared an affiliation with."""
    bidders = bidding_organization_ids(challenge=challenge)
    org_ids = bidders | {challenge.organization_id}
    # Memberships may have changed since this user object was loaded (an expert joining a bidder).
    forget_memberships(expert.user)
    member_of = member_org_ids(expert.user) & org_ids
    declared = set(expert.affiliations.filter(pk__in=org_ids).values_list("pk", flat=True))
    orgs = Organization.objects.in_bulk(member_of | declared)
    found: list[tuple[Organization, str]] = []
    for org_id in sorted(member_of):
        kind = (
            ExpertConflict.Kind.ENTERPRISE
            if org_id == challenge.organization_id
            else ExpertConflict.Kind.MEMBER
        )
        found.append((orgs[org_id], kind))
    for org_id in sorted(declared):
        found.append((orgs[org_id], ExpertConflict.Kind.AFFILIATION))
    return found


def _expert_text(expert: ExpertProfile) -> str:
    fields = " ".join(f.name for f in expert.fields.all())
    return f"{fields} {expert.title} {expert.bio}"


def _need_text(need: Need) -> str:
    indicators = " ".join(i.name for i in need.indicators.all())
    return f"{need.title} {need.field.name} {need.summary} {need.description} {indicators}"


def _similarities(query: str, docs: list[str]) -> list[float]:
    """BM25 of each expert's text against the need (normalised per query, so 1.0 is the need's own
    text). Always lexical: experts have no stored vectors, and loading the embedding model in a web
    process takes ~20 s, so the suggestions are the same in every process."""
    from matching.matcher import lexical

    q_tokens = lexical.tokenize(query)
    doc_tokens = [lexical.tokenize(d) for d in docs]
    stats = lexical.Bm25Stats.from_documents(doc_tokens)
    scores = lexical.bm25_scores(q_tokens, doc_tokens, stats)
    top = lexical.self_score(q_tokens, stats) or 1.0
    return [float(s) / top for s in scores]


def expert_suggestions(*, challenge: Challenge, limit: int = 10) -> list[ExpertSuggestion]:
    """Active experts ranked by how close their fields and bio are to the need, with a bonus for the
    same field; experts already assigned are left out, conflicts of interest are shown."""
    need = challenge.need
    experts = list(
        ExpertProfile.objects.filter(is_active=True)
        .exclude(pk__in=challenge.assignments.values("expert_id"))
        .select_related("user")
        .prefetch_related("fields", "affiliations")
    )
    if not experts:
        return []
    sims = _similarities(_need_text(need), [_expert_text(e) for e in experts])
    suggestions = []
    for expert, sim in zip(experts, sims, strict=True):
        field_ids = {f.pk for f in expert.fields.all()}
        bonus = (
            0.1
            if need.field_id in field_ids
            else (0.05 if need.field.parent_id and need.field.parent_id in field_ids else 0.0)
        )
        suggestions.append(ExpertSuggestion(expert=expert, score=sim + bonus, conflicts=[]))
    suggestions.sort(key=lambda s: -s.score)
    shown = suggestions[:limit]
    # The same rule as the assignment's guard, for the few experts shown.
    for s in shown:
        s.conflicts = [
            org.name for org, _kind in expert_conflicts(challenge=challenge, expert=s.expert)
        ]
    return shown


# --- execution ---------------------------------------------------------------------------------------


def contracts_of_challenge(*, challenge: Challenge) -> list[Contract]:
    return list(
        challenge.contracts.select_related("organization", "bid")
        .prefetch_related("milestones__milestone", "milestones__payment", "payments")
        .order_by("created_at")
    )


def milestones_of_user(*, user) -> QuerySet[ContractMilestone]:
    """Milestones the user's organizations deliver (as a winner)."""
    return (
        ContractMilestone.objects.filter(contract__organization_id__in=member_org_ids(user))
        .select_related("contract__challenge", "milestone", "contract__organization")
        .order_by("-contract__challenge__awarded_at", "milestone__position")
    )


def contract_milestone_get_for_viewer(*, uuid, user) -> ContractMilestone:
    """A contract milestone for the enterprise and the winner's people; 404 for anyone else."""
    org_ids = member_org_ids(user)
    try:
        return (
            ContractMilestone.objects.filter(
                Q(contract__organization_id__in=org_ids)
                | Q(contract__challenge__organization_id__in=org_ids)
            )
            .select_related("contract__challenge", "contract__organization", "milestone")
            .get(uuid=uuid)
        )
    except (ContractMilestone.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


# --- coded answers (challenges.services.answers) ------------------------------------------------------


def invitation_of_user(*, challenge: Challenge, user) -> ChallengeInvitation | None:
    """The sent invitation to one of the user's organizations on this challenge, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        ChallengeInvitation.objects.filter(
            challenge=challenge, organization_id__in=member_org_ids(user), sent_at__isnull=False
        )
        .select_related("organization")
        .first()
    )


def invitations_awaiting_answer(*, user) -> QuerySet[ChallengeInvitation]:
    """Sent invitations to the user's organizations still waiting for their answer."""
    return (
        ChallengeInvitation.objects.filter(
            organization_id__in=member_org_ids(user),
            status=ChallengeInvitation.Status.PENDING,
            sent_at__isnull=False,
            challenge__status=Challenge.Status.OPEN,
        )
        .select_related("challenge", "organization")
        .order_by("respond_by")
    )


def answer_rows(*, organization_ids, since, now) -> list[tuple]:
    """The challenges' part of organizations' responsiveness records
    (``matching.catalogue.responsiveness.register_answer_source``): invitations they received and
    bids they had to answer as the enterprise, (organization, started, answered or None, due),
    counted once answered or past due. A cancelled challenge's bids don't count against the
    enterprise."""
    invitations = (
        ChallengeInvitation.objects.filter(
            organization_id__in=organization_ids, respond_by__isnull=False, sent_at__gte=since
        )
        .filter(Q(answered_at__isnull=False) | Q(respond_by__lte=now))
        .values_list("organization_id", "sent_at", "answered_at", "respond_by")
    )
    bids = (
        Bid.objects.filter(
            challenge__organization_id__in=organization_ids,
            status=Bid.Status.SUBMITTED,
            answer_by__isnull=False,
            challenge__bid_deadline__gte=since,
        )
        .exclude(challenge__status=Challenge.Status.CANCELLED)
        .filter(Q(answered_at__isnull=False) | Q(answer_by__lte=now))
        .values_list(
            "challenge__organization_id", "challenge__bid_deadline", "answered_at", "answer_by"
        )
    )
    return [*invitations, *bids]


# --- the 榜单 quality check (matching.catalogue.quality.challenge_quality) ----------------------------


def _indicator_row(indicator) -> dict:
    return {
        "name": indicator.name,
        "operator": indicator.operator,
        "target": indicator.target,
        "target_max": indicator.target_max,
        "unit": indicator.unit,
    }


def challenge_quality(*, challenge: Challenge, form_data=None) -> dict:
    """The quality report of a 榜单: of the stored challenge, or (``form_data``, the raw POST of
    its setup form, half-typed input allowed) of what its enterprise is typing. What it inherits
    from its need (text, TRL, cooperation modes) is read from the need."""
    from matching.catalogue import quality

    need = challenge.need
    indicators = {i.pk: i for i in need.indicators.all()}
    if form_data is None:
        chosen = [i for i in challenge.indicators.all()]
        title, intro, ip_terms = challenge.title, challenge.intro, challenge.ip_terms
        reward, deadline = challenge.reward_total, challenge.bid_deadline
    else:
        ids = {int(v) for v in form_data.getlist("indicator_ids") if str(v).isdigit()}
        chosen = [indicators[pk] for pk in sorted(ids) if pk in indicators]
        title = str(form_data.get("title", ""))
        intro = str(form_data.get("intro", ""))
        ip_terms = str(form_data.get("ip_terms", ""))
        reward = _decimal_or_none(form_data.get("reward_total", ""))
        deadline = _datetime_or_none(form_data.get("bid_deadline", ""))
    draft = quality.ChallengeDraft(
        title=title,
        intro=intro,
        need_text="\n".join([need.description, need.scenario]),
        indicators=tuple(_indicator_row(i) for i in chosen),
        reward_total=reward,
        trl_min=need.trl_min,
        coop_modes=tuple(need.coop_modes),
        bid_deadline=deadline,
        ip_terms=ip_terms,
    )
    return quality.challenge_quality(draft)


def _decimal_or_none(value) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _datetime_or_none(value) -> datetime | None:
    text = str(value).strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return timezone.make_aware(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return None


def contract_party_org_ids(contract: Contract) -> set[int]:
    """The organizations party to a contract: the challenge's enterprise, the winner, and the
    confirmed members of the winner's consortium."""
    ids = {contract.challenge.organization_id, contract.organization_id}
    ids.update(
        ConsortiumMember.objects.filter(
            bid_id=contract.bid_id, confirmed_at__isnull=False
        ).values_list("organization_id", flat=True)
    )
    return ids


def contract_get_for_party(*, uuid, user) -> Contract:
    """A contract for the people who act for one of its parties (``user_acts_for``: members, and
    platform staff); 404 for anyone else, so the contract's existence does not leak."""
    try:
        contract = Contract.objects.select_related(
            "challenge__need__field",
            "challenge__organization__region",
            "organization__region",
            "bid",
        ).get(uuid=uuid)
    except (Contract.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc
    if not any(
        user_acts_for(user=user, organization_id=org_id)
        for org_id in contract_party_org_ids(contract)
    ):
        raise Http404
    return contract
