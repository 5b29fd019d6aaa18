"""Reads for accounts. ``organization_get_for_member`` is the one way to load an org's private side."""

from __future__ import annotations

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


def user_is_member(*, user: User, org: Organization) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user, organization=org).exists()


def user_is_owner(*, user: User, org: Organization) -> bool:
    return (
        user.is_authenticated
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
