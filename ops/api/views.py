from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_is_staff
from ops import selectors
from ops.forms import OpsFilterForm


class IsPlatformStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return user_is_staff(request.user)


class FunnelView(APIView):
    """The operator dashboard's numbers (funnel, money, money by mode, match feedback); platform staff only.
    Filters: ``field``, ``region`` (ids) and ``org_kind``, as on ``/ops/``."""

    permission_classes = [IsPlatformStaff]

    @extend_schema(
        responses={200: OpenApiResponse(description="funnel, money, money by mode and feedback")}
    )
    def get(self, request):
        filters = OpsFilterForm(request.query_params or None).filters()
        money = selectors.money(filters=filters)
        return Response(
            {
                "funnel": selectors.funnel(filters=filters),
                "money": {
                    "months": [
                        {**row, "committed": str(row["committed"]), "paid": str(row["paid"])}
                        for row in money["months"]
                    ],
                    "total": {k: str(v) for k, v in money["total"].items()},
                },
                "money_by_mode": [
                    {**row, "committed": str(row["committed"]), "paid": str(row["paid"])}
                    for row in selectors.money_by_mode(filters=filters)["modes"]
                ],
                "feedback": selectors.feedback(filters=filters),
            }
        )
