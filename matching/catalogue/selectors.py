"""Reads of the catalogue (needs, results, capability profiles) for the web pages and the API:
lists, search, export, dashboards, attachments.

The need list is ``matching.catalogue.visibility.need_queryset_for_viewer`` (the confidentiality rules as a
queryset) limited to listed statuses: every row carries ``full_text`` (the viewer sees it in full)
and the rows are exactly the listed needs the viewer sees at least by summary. Conditions on columns
a summary-only viewer may not read (description, scenario, indicators, industry chain, organization,
budget, TRL, cooperation modes) only ever match rows with ``full_text``, so neither search nor
filters reveal them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.models import Organization
from accounts.selectors import member_org_ids, user_acts_for, user_is_staff
from matching.catalogue.search import field_q, need_search, result_search
from matching.catalogue.visibility import (
    NEED_RELATED,
    NeedVisibility,
    need_full_text_q,
    need_queryset_for_viewer,
    need_visibility,
)
from matching.models import Attachment, CapabilityProfile, Need, NeedAccess, Result

# TRL stages as the industry names them (matching.models.trl_stage).
STAGES = {
    "lab": (1, 3),
    "small": (4, 5),
    "pilot": (6, 7),
    "industrial": (8, 9),
}


def user_organizations(*, user, kind: str | None = None) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    qs = Organization.objects.filter(pk__in=member_org_ids(user)).order_by("name")
    if kind:
        qs = qs.filter(kind=kind)
    return qs


@dataclass
class ListFilters:
    q: str = ""
    field: str = ""  # a Field code; a top-level code includes its sub-fields
    region: int | None = None
    stage: str = ""
    trl: int | None = None
    mode: str = ""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    open_only: bool = False

    @property
    def touches_confidential(self) -> bool:
        return bool(
            self.stage
            or self.trl
            or self.mode
            or self.amount_min is not None
            or self.amount_max is not None
        )


def _trl_bounds(filters: ListFilters) -> tuple[int, int] | None:
    if filters.stage in STAGES:
        return STAGES[filters.stage]
    if filters.trl:
        return filters.trl, filters.trl
    return None


def need_list_for_viewer(*, user, filters: ListFilters | None = None) -> QuerySet[Need]:
    """Listed needs (published, in challenge, matched, closed) ``user`` may see at least by summary,
    newest first, each annotated with ``full_text``. Private needs appear only to their own
    organization and staff; drafts and withdrawn needs never (the dashboard shows those)."""
    filters = filters or ListFilters()
    qs = (
        need_queryset_for_viewer(user=user)
        .filter(status__in=Need.LISTED_STATUSES)
        .select_related(*NEED_RELATED)
    )
    if filters.open_only:
        qs = qs.filter(status__in=Need.OPEN_STATUSES)
    if filters.field:
        qs = qs.filter(field_q(filters.field))
    if filters.region:
        qs = qs.filter(region_id=filters.region)
    qs = need_search(qs, filters.q)
    if filters.touches_confidential:
        # TRL, cooperation modes and budget are part of the full text.
        qs = qs.filter(need_full_text_q())
        bounds = _trl_bounds(filters)
        if bounds:
            qs = qs.filter(trl_min__gte=bounds[0], trl_min__lte=bounds[1])
        if filters.mode:
            qs = qs.filter(coop_modes__contains=[filters.mode])
        qs = _amount_overlap(qs, "budget_min", "budget_max", filters)
    return qs.order_by("-published_at", "-created_at")


def _amount_overlap(qs, low: str, high: str, filters: ListFilters):
    """Rows whose [low, high] range overlaps the wanted range; rows without any amount drop out."""
    if filters.amount_min is None and filters.amount_max is None:
        return qs
    qs = qs.annotate(_upper=Coalesce(high, low), _lower=Coalesce(low, high))
    if filters.amount_min is not None:
        qs = qs.filter(_upper__gte=filters.amount_min)
    if filters.amount_max is not None:
        qs = qs.filter(_lower__lte=filters.amount_max)
    return qs


def result_list_for_viewer(*, user, filters: ListFilters | None = None) -> QuerySet[Result]:
    """Published results, newest first (a result is public once published)."""
    filters = filters or ListFilters()
    qs = Result.objects.filter(status=Result.Status.PUBLISHED).select_related(
        "organization", "organization__region", "field", "field__parent"
    )
    if filters.field:
        qs = qs.filter(field_q(filters.field))
    if filters.region:
        qs = qs.filter(organization__region_id=filters.region)
    qs = result_search(qs, filters.q)
    bounds = _trl_bounds(filters)
    if bounds:
        qs = qs.filter(trl__gte=bounds[0], trl__lte=bounds[1])
    if filters.mode:
        qs = qs.filter(transfer_modes__contains=[filters.mode])
    qs = _amount_overlap(qs, "price_min", "price_max", filters)
    return qs.order_by("-published_at", "-created_at")


def result_get_for_viewer(*, uuid, user) -> Result:
    """A published result for anyone; drafts and withdrawn ones only for members and staff."""
    try:
        result = Result.objects.select_related(
            "organization", "organization__region", "field", "field__parent", "created_by"
        ).get(uuid=uuid)
    except (Result.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    if result.status != Result.Status.PUBLISHED and not user_acts_for(
        user=user, organization_id=result.organization_id
    ):
        raise Http404
    return result


def need_get_for_manager(*, uuid, user) -> Need:
    """A need its organization's member (or staff) may edit; 404 for everyone else."""
    try:
        need = Need.objects.select_related("organization", "field", "region").get(uuid=uuid)
    except (Need.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    if not user_acts_for(user=user, organization_id=need.organization_id):
        raise Http404
    return need


def result_get_for_manager(*, uuid, user) -> Result:
    try:
        result = Result.objects.select_related("organization", "field").get(uuid=uuid)
    except (Result.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    if not user_acts_for(user=user, organization_id=result.organization_id):
        raise Http404
    return result


def capability_get_for_viewer(*, uuid, user) -> CapabilityProfile:
    try:
        profile = CapabilityProfile.objects.select_related(
            "organization", "organization__region"
        ).get(uuid=uuid)
    except (CapabilityProfile.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    if not profile.is_published and not user_acts_for(
        user=user, organization_id=profile.organization_id
    ):
        raise Http404
    return profile


def capability_get_for_manager(*, uuid, user) -> CapabilityProfile:
    profile = capability_get_for_viewer(uuid=uuid, user=user)
    if not user_acts_for(user=user, organization_id=profile.organization_id):
        raise Http404
    return profile


# --- need detail: access requests -------------------------------------------------------------------


def need_accesses_for_viewer(*, need: Need, user) -> QuerySet[NeedAccess]:
    """The viewer's organizations' access rows for ``need`` (request status, invitation)."""
    return NeedAccess.objects.filter(
        need=need, organization_id__in=member_org_ids(user)
    ).select_related("organization")


def need_accesses_for_owner(*, need: Need) -> QuerySet[NeedAccess]:
    return need.accesses.select_related(
        "organization", "requested_by", "terms_accepted_by", "decided_by"
    ).order_by("status", "-created_at")


def need_access_get_for_owner(*, pk: int, user) -> NeedAccess:
    try:
        access = NeedAccess.objects.select_related(
            "need", "need__organization", "organization"
        ).get(pk=pk)
    except NeedAccess.DoesNotExist as exc:
        raise Http404 from exc
    if not user_acts_for(user=user, organization_id=access.need.organization_id):
        raise Http404
    return access


def invitable_organizations(*, need: Need) -> QuerySet[Organization]:
    return (
        Organization.objects.exclude(pk=need.organization_id)
        .exclude(kind=Organization.Kind.OPERATOR)
        .exclude(need_accesses__need=need)
        .order_by("kind", "name")
    )


# --- attachments ------------------------------------------------------------------------------------


def attachment_get_for_download(*, uuid, user) -> Attachment:
    """An attachment the viewer may download: a need's only with FULL visibility of the need; a
    result's for anyone when the result is published, for members and staff otherwise. 404 else."""
    try:
        attachment = Attachment.objects.select_related("need", "need__organization", "result").get(
            uuid=uuid
        )
    except (Attachment.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    if attachment.need_id:
        if need_visibility(need=attachment.need, user=user) < NeedVisibility.FULL:
            raise Http404
    elif attachment.result.status != Result.Status.PUBLISHED and not user_acts_for(
        user=user, organization_id=attachment.result.organization_id
    ):
        raise Http404
    return attachment


def attachment_get_for_manager(*, uuid, user) -> Attachment:
    attachment = attachment_get_for_download(uuid=uuid, user=user)
    owner = attachment.need or attachment.result
    if not user_acts_for(user=user, organization_id=owner.organization_id):
        raise Http404
    return attachment


# --- dashboard --------------------------------------------------------------------------------------


@dataclass
class OrgDashboard:
    organization: Organization
    needs: list[Need]
    results: list[Result]
    capabilities: list[CapabilityProfile]
    pending_accesses: list[NeedAccess]
    my_requests: list[NeedAccess]


def _access_requests_still_visible(*, user, org_ids: list[int]) -> list[NeedAccess]:
    """The organizations' requests to read needs, for the needs ``user`` may still see: a need made
    private or withdrawn since drops out (not even its title shows). Each carries
    ``need_full_text``; the enterprise is named only when it is true."""
    visible = dict(
        need_queryset_for_viewer(user=user)
        .filter(accesses__organization_id__in=org_ids)
        .values_list("pk", "full_text")
    )
    accesses = (
        NeedAccess.objects.filter(organization_id__in=org_ids, need_id__in=list(visible))
        .select_related("need", "need__organization")
        .order_by("-created_at")
    )
    for access in accesses:
        access.need_full_text = visible[access.need_id]
    return list(accesses)


def dashboards_for_user(*, user) -> list[OrgDashboard]:
    orgs = list(user_organizations(user=user).select_related("region"))
    org_ids = [o.pk for o in orgs]
    needs = (
        Need.objects.filter(organization_id__in=org_ids)
        .select_related("field")
        .annotate(
            pending_count=Count(
                "accesses", filter=Q(accesses__status=NeedAccess.Status.REQUESTED), distinct=True
            ),
            match_count=Count("matches", distinct=True),
        )
        .order_by("-updated_at")
    )
    results = (
        Result.objects.filter(organization_id__in=org_ids)
        .select_related("field")
        .annotate(match_count=Count("matches"))
        .order_by("-updated_at")
    )
    capabilities = (
        CapabilityProfile.objects.filter(organization_id__in=org_ids)
        .prefetch_related("fields")
        .order_by("title")
    )
    pending = (
        NeedAccess.objects.filter(
            need__organization_id__in=org_ids, status=NeedAccess.Status.REQUESTED
        )
        .select_related("need", "organization", "requested_by")
        .order_by("created_at")
    )
    mine = _access_requests_still_visible(user=user, org_ids=org_ids)
    boards = {
        org.pk: OrgDashboard(org, [], [], [], [], [])
        for org in orgs  # keeps the name order
    }
    for need in needs:
        boards[need.organization_id].needs.append(need)
    for result in results:
        boards[result.organization_id].results.append(result)
    for profile in capabilities:
        boards[profile.organization_id].capabilities.append(profile)
    for access in pending:
        boards[access.need.organization_id].pending_accesses.append(access)
    for access in mine:
        boards[access.organization_id].my_requests.append(access)
    return list(boards.values())


# --- home page --------------------------------------------------------------------------------------


def home_listings(*, user, limit: int = 5) -> dict:
    needs = need_list_for_viewer(user=user, filters=ListFilters(open_only=True))
    results = result_list_for_viewer(user=user)
    return {
        "latest_needs": list(needs[:limit]),
        "latest_results": list(results[:limit]),
        "need_count": needs.count(),
        "result_count": results.count(),
        "capability_count": CapabilityProfile.objects.filter(is_published=True).count(),
        "institution_count": Organization.objects.filter(
            kind=Organization.Kind.INSTITUTION, verified_at__isnull=False
        ).count(),
    }


# --- API reads: the relations the serializers read and the ordering key -----------------------


def need_queryset_for_api(*, user) -> QuerySet[Need]:
    """``need_queryset_for_viewer`` (needs ``user`` may know exist, in any status, annotated with
    ``viewer_visibility``) with the relations the serializers read and ``published``
    (``published_at``, or ``created_at`` for drafts) to order by."""
    return (
        need_queryset_for_viewer(user=user)
        .select_related(*NEED_RELATED)
        .annotate(published=Coalesce("published_at", "created_at"))
    )


def need_get_for_api(*, uuid, user) -> Need:
    """One need through ``need_queryset_for_api`` (with indicators); 404 when the viewer may not
    know it exists."""
    try:
        return need_queryset_for_api(user=user).prefetch_related("indicators").get(uuid=uuid)
    except (Need.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def result_queryset_for_viewer(*, user) -> QuerySet[Result]:
    """Published results for everyone; drafts and withdrawn ones for their organization and staff."""
    qs = Result.objects.select_related(
        "organization", "organization__region", "field", "field__parent"
    ).annotate(published=Coalesce("published_at", "created_at"))
    if user_is_staff(user):
        return qs
    return qs.filter(
        Q(status=Result.Status.PUBLISHED) | Q(organization_id__in=member_org_ids(user))
    )


def result_get_for_api(*, uuid, user) -> Result:
    try:
        return result_queryset_for_viewer(user=user).prefetch_related("patents").get(uuid=uuid)
    except (Result.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def capability_queryset_for_viewer(*, user) -> QuerySet[CapabilityProfile]:
    """Published profiles for everyone; unpublished ones for their organization and staff."""
    qs = CapabilityProfile.objects.select_related("organization").prefetch_related(
        "fields", "fields__parent"
    )
    if user_is_staff(user):
        return qs
    return qs.filter(Q(is_published=True) | Q(organization_id__in=member_org_ids(user)))


def capability_get_for_api(*, uuid, user) -> CapabilityProfile:
    try:
        return capability_queryset_for_viewer(user=user).get(uuid=uuid)
    except (CapabilityProfile.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
