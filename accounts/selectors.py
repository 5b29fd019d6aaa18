"""Reads for accounts. ``organization_get_for_member`` is the one way to load an org's private side."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import ApiToken, Invitation, Membership, Organization, User


def organization_get_public(*, uuid) -> Organization:
    """Any organization's public page: name, kind, region, description, verification."""
    try:
        return Organization.objects.select_related("region").get(uuid=uuid)
    except (Organization.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def organization_get_for_member(*, uuid, user: User, owner: bool = False) -> Organization:
    """The organization if ``user`` belongs to it (as owner when ``owner``); 404 otherwise, so an
    outsider cannot tell a private page from a missing one. Staff see every organization."""
    qs = Organization.objects.select_related("region")
    if not user.is_authenticated:
        raise Http404
    if not user.is_staff:
        memberships = Membership.objects.filter(user=user)
        if owner:
            memberships = memberships.filter(role=Membership.Role.OWNER)
        qs = qs.filter(pk__in=memberships.values("organization_id"))
    try:
        return qs.get(uuid=uuid)
    except (Organization.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def organization_list_for_user(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).select_related("region").distinct()


def organization_members(*, org: Organization) -> QuerySet[Membership]:
    return org.memberships.select_related("user").order_by("role", "created_at")


def organization_open_invitations(*, org: Organization) -> QuerySet[Invitation]:
    return org.invitations.filter(accepted_at__isnull=True).select_related("invited_by")


# --- membership and "acts for": the one home of these rules ------------------------------------------
#
# Every path that asks "is this user a member of that organization" or "may this user act for it"
# calls one of the functions below; nothing else reads ``Membership`` for that purpose.
#
# The staff rule, stated once: platform staff *act for* every organization (they may edit its needs,
# results and profiles, as support does), but they are *members* only of the organizations they
# belong to. Membership alone decides what counts for conflicts of interest, for a bidding
# organization, for the enterprise of a challenge and for "my" lists.


def user_is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff)


def member_org_ids(user) -> frozenset[int]:
    """Ids of the organizations ``user`` belongs to; empty for anonymous users. Cached on the user
    object, i.e. once per request."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_member_org_ids_cache", None)
    if cached is None:
        cached = frozenset(
            Membership.objects.filter(user=user).values_list("organization_id", flat=True)
        )
        user._member_org_ids_cache = cached
    return cached


def forget_memberships(user) -> None:
    """Drop the per-request cache after a membership of ``user`` changed."""
    if user is not None and hasattr(user, "_member_org_ids_cache"):
        del user._member_org_ids_cache


def user_is_member(
    *, user, org: Organization | None = None, organization_id: int | None = None
) -> bool:
    """``user`` belongs to the organization (given as object or id). Staff are not members."""
    org_id = org.pk if org is not None else organization_id
    return org_id is not None and org_id in member_org_ids(user)


def user_acts_for(
    *, user, org: Organization | None = None, organization_id: int | None = None
) -> bool:
    """``user`` may act for the organization: a member, or platform staff."""
    return user_is_staff(user) or user_is_member(
        user=user, org=org, organization_id=organization_id
    )


def require_acts_for(
    *, user, org: Organization | None = None, organization_id: int | None = None
) -> None:
    """``PermissionDenied`` unless ``user_acts_for``."""
    if not user_acts_for(user=user, org=org, organization_id=organization_id):
        raise PermissionDenied


def user_is_owner(*, user, org: Organization) -> bool:
    return (
        user is not None
        and user.is_authenticated
        and Membership.objects.filter(
            user=user, organization=org, role=Membership.Role.OWNER
        ).exists()
    )


def api_tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def api_token_get_for_user(*, user: User, pk: int) -> ApiToken:
    try:
        return ApiToken.objects.get(user=user, pk=pk)
    except ApiToken.DoesNotExist as exc:
        raise Http404 from exc
