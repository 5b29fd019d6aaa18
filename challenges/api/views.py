"""REST API of challenges. Same services and selectors as the web pages: bids are sealed here too,
an illegal transition answers 409 and changes nothing, invalid input 400 with field messages."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ExpertProfile, Organization
from accounts.selectors import member_org_ids, user_is_staff
from challenges import contract_package, selectors, services
from challenges.api import serializers as s
from challenges.api.examples import BID_CREATE_REQUEST
from challenges.models import Bid, Challenge
from challenges.selectors import NeedVisibility
from challenges.services import TransitionError
from core.api import Conflict, Representer
from core.schema import by_visibility
from core.spreadsheet import XLSX_CONTENT_TYPE
from matching.models import Need

CONFLICT = OpenApiResponse(description="Not allowed in the current state; nothing changed.")


class ChallengeApiView(APIView):
    def handle_exception(self, exc):
        if isinstance(exc, TransitionError):
            exc = Conflict(exc.message)
        return super().handle_exception(exc)


def _challenge(request, uuid, *, manage: bool = False, minimum=NeedVisibility.SUMMARY):
    # Reads never move the state: a challenge past its deadline shows as under review
    # (challenge_shown_status) until beat or a write by the enterprise closes bidding.
    return selectors.challenge_get_for_viewer(
        uuid=uuid, user=request.user, manage=manage, minimum=minimum
    )


# A challenge as its viewer may see it: the summary, or the full terms (``visibility`` tells which).
ChallengeItem = by_visibility(
    "ChallengeItem", summary=s.ChallengeSummaryOutputSerializer, full=s.ChallengeOutputSerializer
)
ChallengeItemList = by_visibility(
    "ChallengeItem",
    summary=s.ChallengeSummaryOutputSerializer,
    full=s.ChallengeOutputSerializer,
    many=True,
)


def _challenge_data(
    challenge, visibility, represent: Representer | None = None, *, owner: bool = False
) -> dict:
    """The challenge as ``visibility`` allows, from its one projection; its quality report for
    its own organization (``owner``) only. ``represent``: one per list, so each serializer is
    built once."""
    public = selectors.challenge_public_fields(challenge=challenge, visibility=visibility)
    if public.full and owner:
        context = {"quality": selectors.challenge_quality(challenge=challenge)}
        return s.ChallengeOutputSerializer(public, context=context).data
    represent = represent or Representer()
    if public.full:
        return represent(s.ChallengeOutputSerializer, public)
    return represent(s.ChallengeSummaryOutputSerializer, public)


def _bid_data(bid: Bid) -> dict:
    return s.ChallengeBidOutputSerializer(selectors.bid_detail(bid=bid)).data


# --- challenges --------------------------------------------------------------------------------------


class ChallengeListApi(ChallengeApiView):
    @extend_schema(
        summary="Open challenges the user may know of (full terms only where allowed)",
        responses=ChallengeItemList,
    )
    def get(self, request):
        rows = selectors.challenge_list_open(user=request.user)
        represent = Representer()
        return Response([_challenge_data(c, v, represent) for c, v in rows])

    @extend_schema(
        summary="Create a draft challenge from one of the user's published needs",
        request=s.ChallengeCreateInputSerializer,
        responses={201: s.ChallengeOutputSerializer},
    )
    def post(self, request):
        serializer = s.ChallengeCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            need = Need.objects.get(
                uuid=data.pop("need"), organization_id__in=member_org_ids(request.user)
            )
        except Need.DoesNotExist as exc:
            raise Http404 from exc
        access = data.pop("access", Challenge.Access.OPEN)
        challenge = services.challenge_create_from_need(
            need=need, actor=request.user, access=access, **data
        )
        return Response(
            _challenge_data(challenge, NeedVisibility.FULL, owner=True),
            status=status.HTTP_201_CREATED,
        )


class MyChallengesApi(ChallengeApiView):
    @extend_schema(
        summary="Challenges of the user's organizations (as the enterprise), any state",
        responses=s.ChallengeOutputSerializer(many=True),
    )
    def get(self, request):
        rows = selectors.challenges_of_enterprise(user=request.user).prefetch_related(
            "indicators", "criteria", "milestones", "eligible_regions"
        )
        represent = Representer()
        return Response([_challenge_data(c, NeedVisibility.FULL, represent) for c in rows])


class ChallengeDetailApi(ChallengeApiView):
    @extend_schema(responses=ChallengeItem)
    def get(self, request, uuid):
        challenge, visibility = _challenge(request, uuid)
        # Its quality report: for the enterprise and platform staff, as for needs.
        owner = selectors.user_is_enterprise(
            user=request.user, challenge=challenge
        ) or user_is_staff(request.user)
        return Response(_challenge_data(challenge, visibility, owner=owner))

    @extend_schema(
        summary="Edit a draft's terms (criteria and milestones replace the current rows)",
        request=s.ChallengeTermsInputSerializer,
        responses={200: s.ChallengeOutputSerializer, 409: CONFLICT},
    )
    def patch(self, request, uuid):
        challenge, _v = _challenge(request, uuid, manage=True)
        serializer = s.ChallengeTermsInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        for key in ("criteria", "milestones"):
            if key in data:
                data[key] = [dict(row) for row in data[key]]
        challenge = services.challenge_update(challenge=challenge, actor=request.user, **data)
        return Response(_challenge_data(challenge, NeedVisibility.FULL, owner=True))


def _transition_view(name: str, summary: str, call, request_serializer=None):
    """An APIView for one enterprise transition: POST, 200 with the challenge, 409 when illegal."""

    class TransitionApi(ChallengeApiView):
        @extend_schema(
            summary=summary,
            request=request_serializer,
            responses={200: s.ChallengeOutputSerializer, 409: CONFLICT},
            operation_id=f"challenges_{name}",
        )
        def post(self, request, uuid):
            challenge, _v = _challenge(request, uuid, manage=True)
            data = {}
            if request_serializer is not None:
                serializer = request_serializer(data=request.data)
                serializer.is_valid(raise_exception=True)
                data = serializer.validated_data
            challenge = call(challenge=challenge, actor=request.user, data=data)
            challenge.refresh_from_db()
            return Response(_challenge_data(challenge, NeedVisibility.FULL, owner=True))

    TransitionApi.__name__ = f"Challenge{name.title().replace('_', '')}Api"
    return TransitionApi


def _award(*, challenge, actor, data):
    bids = list(Bid.objects.filter(challenge=challenge, uuid__in=data["winners"]))
    if len(bids) != len(set(data["winners"])):
        from django.core.exceptions import ValidationError

        raise ValidationError({"winners": ["Unknown bid."]})
    return services.challenge_award(
        challenge=challenge,
        actor=actor,
        winners=bids,
        reason=data["reason"],
        decline_reason=data.get("decline_reason", ""),
        decline_note=data.get("decline_note", ""),
    )


def _downselect(*, challenge, actor, data):
    keep = challenge.contracts.filter(uuid=data["keep"]).first()
    milestone = challenge.milestones.filter(pk=data["after_milestone"]).first()
    if keep is None or milestone is None:
        raise Http404
    return services.challenge_downselect(
        challenge=challenge,
        actor=actor,
        keep=keep,
        after_milestone=milestone,
        reason=data["reason"],
    )


ChallengePublishApi = _transition_view(
    "publish",
    "draft → open",
    lambda challenge, actor, data: services.challenge_publish(challenge=challenge, actor=actor),
)
ChallengeCloseBiddingApi = _transition_view(
    "close_bidding",
    "open → review, once the deadline has passed",
    lambda challenge, actor, data: services.challenge_close_bidding(
        challenge=challenge, actor=actor
    ),
)
ChallengeCancelApi = _transition_view(
    "cancel",
    "Any non-final state → cancelled, with a reason",
    lambda challenge, actor, data: services.challenge_cancel(
        challenge=challenge, actor=actor, reason=data["reason"]
    ),
    s.ChallengeReasonInputSerializer,
)
ChallengeAwardApi = _transition_view(
    "award",
    "review → awarded: the winner(s) and a written reason",
    _award,
    s.ChallengeAwardInputSerializer,
)
ChallengeStartApi = _transition_view(
    "start",
    "awarded → in_progress",
    lambda challenge, actor, data: services.challenge_start(challenge=challenge, actor=actor),
)
ChallengeDownselectApi = _transition_view(
    "downselect",
    "赛马制: keep one racer after an accepted milestone",
    _downselect,
    s.ChallengeDownselectInputSerializer,
)


# --- bids ----------------------------------------------------------------------------------------------


def _bid_kwargs(data: dict) -> dict:
    data = dict(data)
    for key in ("indicator_responses", "budget_items", "schedule", "consortium"):
        if key in data:
            data[key] = [dict(row) for row in data[key]]
    return data


class BidListApi(ChallengeApiView):
    @extend_schema(
        summary="Every bid the user may read (sealed: others' bids only after the deadline)",
        responses=s.ChallengeBidOutputSerializer(many=True),
    )
    def get(self, request):
        bids = selectors.bids_visible_to(user=request.user).prefetch_related(
            "indicator_responses",
            "budget_items",
            "schedule",
            "members__organization",
            "results",
            "patents",
        )
        return Response(s.ChallengeBidOutputSerializer(bids, many=True).data)


class ChallengeBidsApi(ChallengeApiView):
    @extend_schema(
        summary="Bids of a challenge the user may read (none of others' before the deadline)",
        responses=s.ChallengeBidOutputSerializer(many=True),
    )
    def get(self, request, uuid):
        challenge, _v = _challenge(request, uuid)
        bids = (
            selectors.bids_visible_to(user=request.user)
            .filter(challenge=challenge)
            .prefetch_related(
                "indicator_responses",
                "budget_items",
                "schedule",
                "members__organization",
                "results",
                "patents",
            )
        )
        return Response(s.ChallengeBidOutputSerializer(bids, many=True).data)

    @extend_schema(
        summary="Create (and optionally submit) the bid of one of the user's organizations",
        request=s.ChallengeBidCreateInputSerializer,
        responses={201: s.ChallengeBidOutputSerializer, 409: CONFLICT},
        examples=[BID_CREATE_REQUEST],
    )
    def post(self, request, uuid):
        challenge, _v = _challenge(request, uuid, minimum=NeedVisibility.FULL)
        serializer = s.ChallengeBidCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = _bid_kwargs(serializer.validated_data)
        submit = data.pop("submit")
        try:
            org = Organization.objects.get(
                uuid=data.pop("organization"), pk__in=member_org_ids(request.user)
            )
        except Organization.DoesNotExist as exc:
            raise Http404 from exc
        bid = services.bid_create(
            challenge=challenge, organization=org, actor=request.user, submit=submit, **data
        )
        return Response(_bid_data(bid), status=status.HTTP_201_CREATED)


class BidDetailApi(ChallengeApiView):
    @extend_schema(responses=s.ChallengeBidOutputSerializer)
    def get(self, request, uuid):
        return Response(_bid_data(selectors.bid_get_for_viewer(uuid=uuid, user=request.user)))

    @extend_schema(
        summary="Revise the bid until the deadline",
        request=s.ChallengeBidInputSerializer,
        responses={200: s.ChallengeBidOutputSerializer, 409: CONFLICT},
    )
    def patch(self, request, uuid):
        bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
        serializer = s.ChallengeBidInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.bid_update(bid=bid, actor=request.user, **_bid_kwargs(serializer.validated_data))
        return Response(_bid_data(bid))


class BidSubmitApi(ChallengeApiView):
    @extend_schema(request=None, responses={200: s.ChallengeBidOutputSerializer, 409: CONFLICT})
    def post(self, request, uuid):
        bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
        services.bid_submit(bid=bid, actor=request.user)
        return Response(_bid_data(bid))


class BidWithdrawApi(ChallengeApiView):
    @extend_schema(request=None, responses={200: s.ChallengeBidOutputSerializer, 409: CONFLICT})
    def post(self, request, uuid):
        bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
        services.bid_withdraw(bid=bid, actor=request.user, reason=request.data.get("reason", ""))
        return Response(_bid_data(bid))


class BidDeclineApi(ChallengeApiView):
    @extend_schema(
        summary="The enterprise answers a bid during review: not selected, with a coded reason",
        request=s.ChallengeDeclineInputSerializer,
        responses={200: s.ChallengeBidOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
        if not selectors.user_is_enterprise(user=request.user, challenge=bid.challenge):
            raise Http404
        serializer = s.ChallengeDeclineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.bid_decline(bid=bid, actor=request.user, **serializer.validated_data)
        return Response(_bid_data(bid))


class ChallengeInvitationsApi(ChallengeApiView):
    @extend_schema(
        summary="The enterprise's invitations to bid and their answers",
        responses=s.ChallengeInvitationOutputSerializer(many=True),
    )
    def get(self, request, uuid):
        challenge, _v = _challenge(request, uuid, manage=True)
        rows = challenge.invitations.select_related("organization", "challenge").order_by("pk")
        return Response(s.ChallengeInvitationOutputSerializer(rows, many=True).data)


def _my_invitation(request, uuid):
    challenge, _v = _challenge(request, uuid)
    invitation = selectors.invitation_of_user(challenge=challenge, user=request.user)
    if invitation is None:
        raise Http404
    return invitation


class ChallengeMyInvitationApi(ChallengeApiView):
    @extend_schema(
        summary="The invitation to bid sent to the user's organization, with its deadline",
        responses=s.ChallengeInvitationOutputSerializer,
    )
    def get(self, request, uuid):
        return Response(s.ChallengeInvitationOutputSerializer(_my_invitation(request, uuid)).data)

    @extend_schema(
        summary="Answer the invitation: accept (then bid) or decline with a coded reason",
        request=s.ChallengeInvitationAnswerInputSerializer,
        responses={200: s.ChallengeInvitationOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        invitation = _my_invitation(request, uuid)
        serializer = s.ChallengeInvitationAnswerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invitation = services.invitation_answer(
            invitation=invitation,
            actor=request.user,
            accept=data["decision"] == "accept",
            reason=data.get("reason", ""),
            note=data.get("note", ""),
        )
        return Response(s.ChallengeInvitationOutputSerializer(invitation).data)


class BidConfirmApi(ChallengeApiView):
    @extend_schema(
        summary="Confirm the participation of the user's organization in a consortium bid",
        request=None,
        responses={200: s.ChallengeBidOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        # The bid is unreadable to the organization until it confirms: reach it by its place.
        member = selectors.consortium_place_of_bid(bid_uuid=uuid, user=request.user)
        services.consortium_confirm(member=member, actor=request.user)
        return Response(_bid_data(member.bid))


# --- review -------------------------------------------------------------------------------------------


class ChallengeExpertsApi(ChallengeApiView):
    @extend_schema(
        summary="Experts suggested for the review, by expertise similarity, with conflicts",
        responses=s.ChallengeExpertSuggestionOutputSerializer(many=True),
    )
    def get(self, request, uuid):
        challenge, _v = _challenge(request, uuid, manage=True)
        suggestions = selectors.expert_suggestions(challenge=challenge)
        return Response(s.ChallengeExpertSuggestionOutputSerializer(suggestions, many=True).data)

    @extend_schema(
        summary="Assign an expert; one with a conflict of interest is blocked and recorded",
        request=s.ChallengeAssignInputSerializer,
        responses={200: s.ChallengeAssignResultOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        challenge, _v = _challenge(request, uuid, manage=True)
        serializer = s.ChallengeAssignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            expert = ExpertProfile.objects.get(pk=serializer.validated_data["expert"])
        except ExpertProfile.DoesNotExist as exc:
            raise Http404 from exc
        assignment, conflicts = services.review_assign_expert(
            challenge=challenge, expert=expert, actor=request.user
        )
        payload = {"assignment": assignment, "blocked": bool(conflicts), "conflicts": conflicts}
        return Response(s.ChallengeAssignResultOutputSerializer(payload).data)


class ChallengeExpertRecuseApi(ChallengeApiView):
    @extend_schema(
        summary="Remove an assigned expert who has a conflict of interest now, with their scores",
        request=None,
        responses={204: None, 409: CONFLICT},
    )
    def post(self, request, uuid, assignment_uuid):
        challenge, _v = _challenge(request, uuid, manage=True)
        assignment = selectors.assignment_get_for_enterprise(
            challenge=challenge, uuid=assignment_uuid
        )
        services.review_recuse_expert(assignment=assignment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChallengeRankingApi(ChallengeApiView):
    @extend_schema(
        summary="Weighted ranking: the enterprise sees totals and outliers; after the award the "
        "bidders, experts and staff see every ranked bid, anyone else only the winners",
        responses=PolymorphicProxySerializer(
            component_name="ChallengeRankingRow",
            serializers={
                "review": s.ChallengeRankingRowOutputSerializer,
                "result": s.ChallengePublicRankingRowOutputSerializer,
            },
            resource_type_field_name="view",
            many=True,
        ),
    )
    def get(self, request, uuid):
        challenge, _v = _challenge(request, uuid)
        if selectors.user_is_enterprise(user=request.user, challenge=challenge):
            if not challenge.deadline_passed:
                return Response([])
            rows = selectors.challenge_ranking(challenge=challenge)
            return Response(s.ChallengeRankingRowOutputSerializer(rows, many=True).data)
        rows = selectors.award_result_for_viewer(challenge=challenge, user=request.user)
        return Response(s.ChallengePublicRankingRowOutputSerializer(rows, many=True).data)


class ReviewListApi(ChallengeApiView):
    @extend_schema(responses=s.ChallengeAssignmentOutputSerializer(many=True))
    def get(self, request):
        rows = selectors.assignments_for_expert(user=request.user).select_related("expert__user")
        return Response(s.ChallengeAssignmentOutputSerializer(rows, many=True).data)


def _scores_payload(assignment) -> dict:
    own = list(assignment.scores.select_related("bid", "assignment"))
    return {
        "submitted_at": assignment.submitted_at,
        "own": own,
        "peers": selectors.peer_scores(assignment=assignment),
    }


class ReviewScoresApi(ChallengeApiView):
    @extend_schema(
        summary="The expert's own scores, and peers' once the expert has submitted",
        responses=s.ChallengeScoresOutputSerializer,
    )
    def get(self, request, uuid):
        assignment = selectors.assignment_get_for_expert(uuid=uuid, user=request.user)
        return Response(s.ChallengeScoresOutputSerializer(_scores_payload(assignment)).data)

    @extend_schema(
        summary="Save scores (value null removes one); refused once submitted",
        request=s.ChallengeScoresInputSerializer,
        responses={200: s.ChallengeScoresOutputSerializer, 409: CONFLICT},
    )
    def put(self, request, uuid):
        assignment = selectors.assignment_get_for_expert(uuid=uuid, user=request.user)
        serializer = s.ChallengeScoresInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bids = dict(Bid.objects.filter(challenge=assignment.challenge).values_list("uuid", "pk"))
        rows = []
        for row in serializer.validated_data["scores"]:
            if row["bid"] not in bids:
                raise Http404
            rows.append(
                {
                    "bid_id": bids[row["bid"]],
                    "criterion_id": row["criterion"],
                    "value": row["value"],
                    "comment": row.get("comment", ""),
                }
            )
        services.review_save_scores(assignment=assignment, actor=request.user, scores=rows)
        return Response(s.ChallengeScoresOutputSerializer(_scores_payload(assignment)).data)


class ReviewSubmitApi(ChallengeApiView):
    @extend_schema(request=None, responses={200: s.ChallengeScoresOutputSerializer, 409: CONFLICT})
    def post(self, request, uuid):
        assignment = selectors.assignment_get_for_expert(uuid=uuid, user=request.user)
        assignment = services.review_submit(assignment=assignment, actor=request.user)
        return Response(s.ChallengeScoresOutputSerializer(_scores_payload(assignment)).data)


# --- execution -----------------------------------------------------------------------------------------


class ChallengeContractsApi(ChallengeApiView):
    @extend_schema(responses=s.ChallengeContractOutputSerializer(many=True))
    def get(self, request, uuid):
        challenge, _v = _challenge(request, uuid)
        is_enterprise = selectors.user_is_enterprise(user=request.user, challenge=challenge)
        org_ids = member_org_ids(request.user)
        contracts = [
            c
            for c in selectors.contracts_of_challenge(challenge=challenge)
            if is_enterprise or c.organization_id in org_ids
        ]
        return Response(s.ChallengeContractOutputSerializer(contracts, many=True).data)


class MilestoneSubmitApi(ChallengeApiView):
    @extend_schema(
        request=s.ChallengeMilestoneSubmitInputSerializer,
        responses={200: s.ChallengeContractMilestoneOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        cm = selectors.contract_milestone_get_for_viewer(uuid=uuid, user=request.user)
        serializer = s.ChallengeMilestoneSubmitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cm = services.milestone_submit(cm=cm, actor=request.user, **serializer.validated_data)
        return Response(s.ChallengeContractMilestoneOutputSerializer(cm).data)


class MilestoneAcceptApi(ChallengeApiView):
    @extend_schema(
        summary="Accept a submitted milestone; its payment share is recorded",
        request=s.ChallengeMilestoneDecisionInputSerializer,
        responses={200: s.ChallengeContractMilestoneOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        cm = selectors.contract_milestone_get_for_viewer(uuid=uuid, user=request.user)
        serializer = s.ChallengeMilestoneDecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cm = services.milestone_accept(
            cm=cm, actor=request.user, comment=serializer.validated_data.get("comment", "")
        )
        return Response(s.ChallengeContractMilestoneOutputSerializer(cm).data)


class MilestoneRejectApi(ChallengeApiView):
    @extend_schema(
        summary="Reject a submitted milestone with comments",
        request=s.ChallengeMilestoneDecisionInputSerializer,
        responses={200: s.ChallengeContractMilestoneOutputSerializer, 409: CONFLICT},
    )
    def post(self, request, uuid):
        cm = selectors.contract_milestone_get_for_viewer(uuid=uuid, user=request.user)
        serializer = s.ChallengeMilestoneDecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cm = services.milestone_reject(
            cm=cm, actor=request.user, comment=serializer.validated_data.get("comment", "")
        )
        return Response(s.ChallengeContractMilestoneOutputSerializer(cm).data)


# --- the contract package ----------------------------------------------------------------------------


class _FileRenderer(BaseRenderer):
    """Passes a rendered file through; errors (dicts) go out as JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


class DocxRenderer(_FileRenderer):
    media_type = contract_package.DOCX_CONTENT_TYPE
    format = "docx"


class PdfRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class XlsxRenderer(_FileRenderer):
    media_type = XLSX_CONTENT_TYPE
    format = "xlsx"


class ContractFileUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("服务器未安装生成 PDF 所需的中文字体，请联系平台管理员。")
    default_code = "pdf_font_missing"


class _ContractFileApi(ChallengeApiView):
    """One file of an awarded bid's contract package; the two parties and platform staff only (404
    for anyone else)."""

    fmt = ""

    def handle_exception(self, exc):
        # Errors answer in the one JSON error shape, whatever ?format= or Accept asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def get(self, request, uuid):
        contract = selectors.contract_get_for_party(uuid=uuid, user=request.user)
        query = s.ContractFileQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            rendered = contract_package.render_contract_file(
                contract, self.fmt, query.validated_data.get("type", "")
            )
        except contract_package.FontMissing as exc:
            raise ContractFileUnavailable from exc
        response = HttpResponse(rendered.content, content_type=rendered.content_type)
        response["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
        return response


def _file_schema(summary, media_type: str, description):
    return extend_schema(
        summary=summary,
        parameters=[s.ContractFileQuerySerializer],
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description)
        },
    )


class ContractDocxApi(_ContractFileApi):
    fmt = "docx"
    renderer_classes = [JSONRenderer, DocxRenderer]

    @_file_schema(
        gettext_lazy("技术合同草稿（DOCX）"),
        DocxRenderer.media_type,
        gettext_lazy(
            "按需求合作方式（或 type 参数）起草的技术合同草稿；平台未掌握的内容为“（待填写）”。"
        ),
    )
    def get(self, request, uuid):
        return super().get(request, uuid)


class ContractPdfApi(_ContractFileApi):
    fmt = "pdf"
    renderer_classes = [JSONRenderer, PdfRenderer]

    @_file_schema(
        gettext_lazy("技术合同草稿（PDF）"),
        PdfRenderer.media_type,
        gettext_lazy("与 DOCX 草稿内容相同的 PDF。"),
    )
    def get(self, request, uuid):
        return super().get(request, uuid)


class ContractRegistrationApi(_ContractFileApi):
    fmt = "xlsx"
    renderer_classes = [JSONRenderer, XlsxRenderer]

    @_file_schema(
        gettext_lazy("技术合同认定登记信息（XLSX）"),
        XlsxRenderer.media_type,
        gettext_lazy("当事人、合同类型、金额、技术交易额与里程碑，供技术合同认定登记。"),
    )
    def get(self, request, uuid):
        return super().get(request, uuid)
