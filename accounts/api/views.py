from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.serializers import (
    MembershipOutputSerializer,
    OrganizationDetailOutputSerializer,
    OrganizationPrivateOutputSerializer,
    OrganizationUpdateInputSerializer,
    OrganizationUpdateOutputSerializer,
)
from accounts.models import Membership, Organization


class MyOrganizationListApi(generics.ListAPIView):
    """Organizations the authenticated user belongs to."""

    serializer_class = OrganizationPrivateOutputSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Organization.objects.none()
        return selectors.organization_list_for_user(user=self.request.user)


class OrganizationDetailApi(APIView):
    """One organization of the user's own: 404 for any other."""

    @extend_schema(responses=OrganizationDetailOutputSerializer)
    def get(self, request, uuid):
        org = selectors.organization_get_for_member(uuid=uuid, user=request.user)
        return Response(OrganizationDetailOutputSerializer(org).data)

    @extend_schema(
        request=OrganizationUpdateInputSerializer, responses=OrganizationUpdateOutputSerializer
    )
    def patch(self, request, uuid):
        """Changing a verified organization's name or credit code drops its verification; the
        response says so in ``notices``."""
        org = selectors.organization_get_for_member(uuid=uuid, user=request.user)
        if not selectors.user_is_owner(user=request.user, org=org):
            raise PermissionDenied
        serializer = OrganizationUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        was_verified = org.is_verified
        org = services.organization_update(org=org, actor=request.user, **serializer.validated_data)
        notices = [services.IDENTITY_CHANGE_NOTICE] if was_verified and not org.is_verified else []
        return Response(OrganizationUpdateOutputSerializer(org, context={"notices": notices}).data)


class OrganizationMembersApi(generics.ListAPIView):
    serializer_class = MembershipOutputSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        org = selectors.organization_get_for_member(
            uuid=self.kwargs["uuid"], user=self.request.user
        )
        return selectors.organization_members(org=org)
