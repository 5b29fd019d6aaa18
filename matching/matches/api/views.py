"""API for matches: a need's matches, a result's matched needs, ad-hoc matching, feedback."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_acts_for
from matching.catalogue.projections import explanation_for_viewer, need_shows
from matching.catalogue.visibility import NeedVisibility, need_get_for_viewer
from matching.matcher import calibration, indexing, pipeline
from matching.matches import selectors as match_selectors
from matching.matches import services as match_services
from matching.matches.api.examples import NEED_MATCHES_RESPONSE
from matching.matches.api.serializers import (
    AdHocMatchInputSerializer,
    AdHocMatchOutputSerializer,
    FeedbackInputSerializer,
    FeedbackOutputSerializer,
    MatchedNeedOutputSerializer,
    MatchOutputSerializer,
)
from matching.models import Result


def _candidate(obj, kind: str, request, *, organization: bool = True) -> dict:
    return {
        "kind": kind,
        "uuid": obj.uuid,
        "title": obj.title,
        "organization": obj.organization.name if organization else "",
        "url": request.build_absolute_uri(obj.get_absolute_url()),
    }


class NeedMatchesApi(APIView):
    """Ranked results and capability profiles for a need of the caller's organization."""

    @extend_schema(
        summary=_("需求的匹配结果"),
        responses=MatchOutputSerializer(many=True),
        examples=[NEED_MATCHES_RESPONSE],
    )
    def get(self, request, uuid):
        need, _visibility = need_get_for_viewer(
            uuid=uuid, user=request.user, minimum=NeedVisibility.FULL
        )
        if not user_acts_for(user=request.user, organization_id=need.organization_id):
            raise Http404
        data = [
            {
                "id": m.pk,
                "score": m.score,
                "strength": calibration.strength(m.score, m.model_version),
                "rank": m.rank,
                "candidate": _candidate(
                    m.candidate, "result" if m.result_id else "capability", request
                ),
                "components": m.components,
                "explanation": explanation_for_viewer(m.explanation, NeedVisibility.FULL),
                "model_version": m.model_version,
                "updated_at": m.updated_at,
            }
            for m in match_selectors.matches_for_need(need=need)
        ]
        return Response(MatchOutputSerializer(data, many=True).data)


class ResultMatchesApi(APIView):
    """Open needs matched to a result of the caller's organization, each only as far as the
    caller may see the need (a summary-public need's explanation leaves out its full text)."""

    @extend_schema(responses=MatchedNeedOutputSerializer(many=True))
    def get(self, request, uuid):
        result = Result.objects.filter(uuid=uuid).select_related("organization").first()
        if result is None or not user_acts_for(
            user=request.user, organization_id=result.organization_id
        ):
            raise Http404
        data = []
        for match, visibility in match_selectors.needs_matched_to_result(
            result=result, user=request.user
        ):
            full = visibility == NeedVisibility.FULL
            data.append(
                {
                    "id": match.pk,
                    "score": match.score,
                    "strength": calibration.strength(match.score, match.model_version),
                    # A summary-only need shows title, field, region and summary: not its company.
                    "need": _candidate(
                        match.need,
                        "need",
                        request,
                        organization=need_shows(visibility, "organization"),
                    ),
                    "explanation": explanation_for_viewer(match.explanation, visibility),
                    "full_text_visible": full,
                }
            )
        return Response(MatchedNeedOutputSerializer(data, many=True).data)


class AdHocMatchApi(APIView):
    """Rank published results for a free-text need (for provincial platforms and enterprise
    systems), with the same ranking and explanations as stored matches. Nothing is stored."""

    @extend_schema(
        request=AdHocMatchInputSerializer, responses=AdHocMatchOutputSerializer(many=True)
    )
    def post(self, request):
        serializer = AdHocMatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ranked = pipeline.rank_text(**serializer.validated_data)
        model_id = indexing.serving_version().model_id if ranked else ""
        data = [
            {
                "score": c.score,
                "strength": calibration.strength(c.score, model_id),
                "candidate": _candidate(c.obj, "result", request),
                "components": c.components,
                "explanation": explanation_for_viewer(explanation, NeedVisibility.FULL),
            }
            for c, explanation in ranked
        ]
        return Response(AdHocMatchOutputSerializer(data, many=True).data)


class MatchFeedbackApi(APIView):
    """Give (or change) your side's verdict on a match."""

    @extend_schema(request=FeedbackInputSerializer, responses=FeedbackOutputSerializer)
    def post(self, request, pk: int):
        match = match_selectors.match_get_for_party(pk=pk, user=request.user)
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = match_services.match_feedback_give(
            match=match, user=request.user, **serializer.validated_data
        )
        return Response(FeedbackOutputSerializer(feedback).data, status=status.HTTP_200_OK)
