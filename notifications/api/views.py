from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.api.serializers import (
    NotificationOutputSerializer,
    PreferenceInputSerializer,
    PreferenceOutputSerializer,
)


class NotificationListApi(APIView):
    """The authenticated user's recent notifications (the notification centre)."""

    @extend_schema(responses=NotificationOutputSerializer(many=True))
    def get(self, request):
        entries = selectors.notification_centre_entries(user=request.user)
        return Response(NotificationOutputSerializer(entries, many=True).data)


class PreferenceApi(APIView):
    """The authenticated user's notification preferences."""

    @extend_schema(responses=PreferenceOutputSerializer)
    def get(self, request):
        preference = selectors.preference_for_user(user=request.user)
        return Response(PreferenceOutputSerializer(preference).data)

    @extend_schema(request=PreferenceInputSerializer, responses=PreferenceOutputSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=PreferenceInputSerializer, responses=PreferenceOutputSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        serializer = PreferenceInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.preference_update(user=request.user, **serializer.validated_data)
        preference = selectors.preference_for_user(user=request.user)
        return Response(PreferenceOutputSerializer(preference).data)
