"""REST API of needs (需求), results (成果) and capability profiles (研发能力), keyed by uuid.

Reads go through ``matching.catalogue.selectors`` (built on ``matching.catalogue.visibility.need_queryset_for_viewer``,
the confidentiality rules as a queryset), writes through ``matching.catalogue.services``. A need the caller
may not know about is absent from lists and 404 on detail; a need the caller sees only by summary
shows its summary fields only (title, field, region, summary, status). Writing to a visible record
of another organization is 403.

Rates (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, set by the ``API_THROTTLE_*`` environment),
counted atomically in Redis by ``core.throttling``: every call counts against its user, whichever
token or session it comes with (``user``: 600/minute by default); the bulk endpoints also against
``bulk`` (60/hour by default). Over the limit: 429 with ``Retry-After``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, filters, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.models import Organization
from accounts.selectors import member_org_ids, user_acts_for
from core.api import Representer
from core.schema import by_visibility
from core.spreadsheet import csv_writer
from core.throttling import UserRateThrottle
from matching.catalogue import import_templates, importers, selectors, services
from matching.catalogue.api.examples import NEED_CREATE_REQUEST
from matching.catalogue.api.filters import CapabilityFilter, NeedFilter, ResultFilter
from matching.catalogue.api.serializers import (
    BulkErrorOutputSerializer,
    BulkOutputSerializer,
    CapabilityInputSerializer,
    CapabilityOutputSerializer,
    NeedBulkItemInputSerializer,
    NeedInputSerializer,
    NeedOutputSerializer,
    NeedSummaryOutputSerializer,
    ReasonInputSerializer,
    ResultBulkItemInputSerializer,
    ResultInputSerializer,
    ResultOutputSerializer,
)
from matching.catalogue.projections import need_fields
from matching.catalogue.visibility import NeedVisibility
from matching.models import CapabilityProfile, CoopMode, Need, Result

# --- throttling, pagination, rendering --------------------------------------------------------------


class BulkRateThrottle(UserRateThrottle):
    """Bulk imports write up to thousands of rows: a separate, lower ``bulk`` rate per user."""

    scope = "bulk"
    default_rate = "60/hour"


THROTTLES = [UserRateThrottle]


class OpaqueCursorPagination(CursorPagination):
    """DRF's cursor pagination with opaque cursors. DRF puts the position in the cursor in clear
    (base64 of ``p=<value of the ordering field>``): for a summary-public need listed by publication
    or creation time, that is a date the viewer may not see. Here the cursor is an HMAC of that
    position, which stays on the server (the cache, for ``cursor_ttl`` after its last use); an
    unknown, expired or malformed cursor is 404 with ``invalid_cursor_message``."""

    invalid_cursor_message = gettext_lazy("无效的游标（可能已过期），请从第一页重新开始。")
    cursor_ttl = 24 * 3600
    _token = re.compile(r"[0-9a-f]{32}")

    @staticmethod
    def _cache_key(token: str) -> str:
        return f"api-cursor:{token}"

    def get_page_size(self, request):
        """``page_size`` from 1 up (at most ``max_page_size``); anything else is a 400, not
        silently the default."""
        raw = request.query_params.get(self.page_size_query_param or "", "")
        if not raw:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [_("每页条数须为正整数。")]}
            )
        return min(value, self.max_page_size) if self.max_page_size else value

    def encode_cursor(self, cursor: Cursor) -> str:
        tokens = {}
        if cursor.offset:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = cursor.position
        clear = urlencode(tokens)
        token = salted_hmac("matching.api.cursor", clear, algorithm="sha256").hexdigest()[:32]
        cache.set(self._cache_key(token), clear, self.cursor_ttl)
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request) -> Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if not token:
            return None
        clear = cache.get(self._cache_key(token)) if self._token.fullmatch(token) else None
        if clear is None:
            raise exceptions.NotFound(self.invalid_cursor_message)
        tokens = parse_qs(clear, keep_blank_values=True)
        offset = int(tokens.get("o", ["0"])[0])
        return Cursor(
            offset=min(offset, self.offset_cutoff),
            reverse=tokens.get("r", ["0"])[0] == "1",
            position=tokens.get("p", [None])[0],
        )


class NewestFirstCursorPagination(OpaqueCursorPagination):
    """Stable under inserts. ``ordering`` (``published``, ``created_at``, ``title``, ``-`` for
    descending) picks the order; ``published`` is the publication time, or creation for drafts."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-published", "-id")


class CapabilityCursorPagination(NewestFirstCursorPagination):
    ordering = ("-created_at", "-id")


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return JSONRenderer().render(data)


# --- helpers ----------------------------------------------------------------------------------------


def _organization_for_write(request, uuid) -> Organization:
    """The organization a create or bulk import writes for: the given one, or the caller's only one.
    Membership is checked by the services (403)."""
    if uuid:
        try:
            return Organization.objects.get(uuid=uuid)
        except (Organization.DoesNotExist, ValueError, DjangoValidationError) as exc:
            raise exceptions.ValidationError({"organization": [_("机构不存在。")]}) from exc
    orgs = list(Organization.objects.filter(pk__in=member_org_ids(request.user))[:2])
    if len(orgs) == 1:
        return orgs[0]
    if not orgs:
        raise exceptions.ValidationError({"organization": [_("你还不属于任何机构。")]})
    raise exceptions.ValidationError(
        {"organization": [_("你属于多个机构，请用 organization 指定机构的 uuid。")]}
    )


def _require_write_access(request, organization: Organization) -> None:
    """Members of the owning organization write (platform staff too, as in the services)."""
    if not user_acts_for(user=request.user, org=organization):
        raise exceptions.PermissionDenied(_("只有该机构的成员可以修改。"))


def _split_data(validated: dict, rows_key: str) -> tuple[dict, list | None]:
    data = dict(validated)
    data.pop("organization", None)
    data.pop("status", None)
    rows = data.pop(rows_key, None)
    return data, rows


def _bulk_rejected(errors: list[importers.RowError]) -> Response:
    body = {
        "detail": _("有%(n)d处错误，没有导入任何记录。") % {"n": len(errors)},
        "rows": [
            {"row": e.row, "field": e.field or e.column, "message": e.message, "text": str(e)}
            for e in errors
        ],
    }
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _bulk_items(request) -> list | Response:
    """The submitted array; text the database cannot store, refused when the body is parsed
    (``core.api``), is reported like any other row error."""
    try:
        return request.data
    except exceptions.ValidationError as exc:
        if not isinstance(exc.detail, list):
            raise
        return _bulk_rejected(
            [
                importers.RowError(row=number, column=key, message=str(message), field=key)
                for number, item in enumerate(exc.detail, start=1)
                for key, messages in item.items()
                for message in messages
            ]
        )


def _bulk_response(run, request, item_serializer, rows_key: str) -> Response:
    """Validate every item, then import all or nothing via ``run`` (an ``importers.import_*``)."""
    items = _bulk_items(request)
    if isinstance(items, Response):
        return items
    if not isinstance(items, list):
        raise exceptions.ValidationError({"non_field_errors": [_("请提交一个 JSON 数组。")]})
    if not items:
        raise exceptions.ValidationError({"non_field_errors": [_("数组是空的。")]})
    if len(items) > importers.MAX_ROWS:
        raise exceptions.ValidationError(
            {"non_field_errors": [_("一次最多导入%(max)d条。") % {"max": importers.MAX_ROWS}]}
        )
    rows = []
    for number, item in enumerate(items, start=1):
        serializer = item_serializer(data=item)
        ref = item.get("external_ref", "") if isinstance(item, dict) else ""
        if not serializer.is_valid():
            errors = {
                key: importers.flatten_errors(value) for key, value in serializer.errors.items()
            }
            rows.append(
                importers.ParsedRow(row=number, external_ref=str(ref), data={}, errors=errors)
            )
            continue
        data, nested = _split_data(serializer.validated_data, rows_key)
        rows.append(
            importers.ParsedRow(
                row=number,
                external_ref=data["external_ref"],
                data=data,
                rows=nested,
                status=serializer.validated_data.get("status", ""),
            )
        )
    try:
        report = run(rows=rows, column_name=importers.json_column_name)
    except importers.ImportRejected as exc:
        return _bulk_rejected(exc.errors)
    return Response(
        {
            "created": report.created,
            "updated": report.updated,
            "items": [
                {"row": i.row, "external_ref": i.external_ref, "uuid": i.uuid, "created": i.created}
                for i in report.items
            ],
        }
    )


_ORG_PARAMETER = OpenApiParameter(
    "organization",
    OpenApiTypes.UUID,
    description=gettext_lazy("写入的机构 uuid；调用者只属于一个机构时可省略。"),
)
_BULK_DESCRIPTION = gettext_lazy(
    "JSON 数组，每项一条记录，external_ref 必填。逐条校验后一次性全部导入，或有任一错误时全部不导入"
    "（400，rows 中列出每处错误的序号与字段）。按 external_ref 幂等：已有的更新，新的创建为草稿；"
    "status 为 published 时创建后发布。速率另受 bulk 限制（默认 60 次/小时）。"
)


# --- needs ------------------------------------------------------------------------------------------

NeedItem = by_visibility("NeedItem", summary=NeedSummaryOutputSerializer, full=NeedOutputSerializer)
NeedItemList = by_visibility(
    "NeedItem", summary=NeedSummaryOutputSerializer, full=NeedOutputSerializer, many=True
)


def _need_representer(request, *, with_quality: bool = False) -> Representer:
    return Representer(
        {
            "member_org_ids": member_org_ids(request.user),
            "user": request.user,
            "with_quality": with_quality,
        }
    )


def _need_payload(
    need: Need, request, *, with_quality: bool = False, represent: Representer | None = None
) -> dict:
    """A need as its viewer may see it; ``represent`` (one per list) builds each serializer once."""
    represent = represent or _need_representer(request, with_quality=with_quality)
    if need.viewer_visibility >= NeedVisibility.FULL:
        return represent(NeedOutputSerializer, need)
    return represent(NeedSummaryOutputSerializer, need)


class _NeedQuerysetMixin:
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = NeedFilter
    # Only columns everyone may see: ordering by budget would leak hidden budgets.
    ordering_fields = ["published", "created_at", "title"]
    ordering = ["-published", "-id"]
    throttle_classes = THROTTLES

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Need.objects.none()
        return selectors.need_queryset_for_api(user=self.request.user).prefetch_related(
            "indicators"
        )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("需求列表"),
        description=gettext_lazy(
            "调用者可见的需求；摘要公开的需求对外只返回 visibility=summary 的字段。"
        ),
        responses=NeedItemList,
    ),
    retrieve=extend_schema(summary=gettext_lazy("需求详情"), responses=NeedItem),
)
class NeedViewSet(_NeedQuerysetMixin, viewsets.GenericViewSet):
    """Technical needs (需求清单)."""

    lookup_field = "uuid"
    pagination_class = NewestFirstCursorPagination
    serializer_class = NeedOutputSerializer

    def _get(self, uuid) -> Need:
        return selectors.need_get_for_api(uuid=uuid, user=self.request.user)

    def _respond(self, need: Need, code=status.HTTP_200_OK) -> Response:
        need = self._get(need.uuid)
        return Response(_need_payload(need, self.request, with_quality=True), status=code)

    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        represent = _need_representer(request)
        return self.get_paginated_response(
            [_need_payload(n, request, represent=represent) for n in page]
        )

    def retrieve(self, request, uuid=None):
        return Response(_need_payload(self._get(uuid), request, with_quality=True))

    @extend_schema(
        summary=gettext_lazy("新建需求（草稿）"),
        request=NeedInputSerializer,
        responses={201: NeedOutputSerializer},
        examples=[NEED_CREATE_REQUEST],
    )
    def create(self, request):
        serializer = NeedInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = _organization_for_write(
            request, serializer.validated_data.get("organization")
        )
        _require_write_access(request, organization)
        data, indicators = _split_data(serializer.validated_data, "indicators")
        need = services.need_create(
            actor=request.user, organization=organization, data=data, indicators=indicators
        )
        return self._respond(need, status.HTTP_201_CREATED)

    def _update(self, request, uuid, partial: bool) -> Response:
        need = self._get(uuid)
        _require_write_access(request, need.organization)
        serializer = NeedInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data, indicators = _split_data(serializer.validated_data, "indicators")
        need = services.need_update(need=need, actor=request.user, data=data, indicators=indicators)
        return self._respond(need)

    @extend_schema(
        summary=gettext_lazy("修改需求（全部字段）"),
        request=NeedInputSerializer,
        responses=NeedOutputSerializer,
    )
    def update(self, request, uuid=None):
        return self._update(request, uuid, partial=False)

    @extend_schema(
        summary=gettext_lazy("修改需求（部分字段）"),
        request=NeedInputSerializer,
        responses=NeedOutputSerializer,
    )
    def partial_update(self, request, uuid=None):
        return self._update(request, uuid, partial=True)

    def _transition(self, request, uuid, service, with_reason: bool) -> Response:
        need = self._get(uuid)
        _require_write_access(request, need.organization)
        kwargs = {}
        if with_reason:
            serializer = ReasonInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            kwargs["reason"] = serializer.validated_data["reason"]
        need = service(need=need, actor=request.user, **kwargs)
        return self._respond(need)

    @extend_schema(summary=gettext_lazy("发布需求"), request=None, responses=NeedOutputSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, uuid=None):
        return self._transition(request, uuid, services.need_publish, with_reason=False)

    @extend_schema(
        summary=gettext_lazy("撤回需求"),
        request=ReasonInputSerializer,
        responses=NeedOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, uuid=None):
        return self._transition(request, uuid, services.need_withdraw, with_reason=True)

    @extend_schema(
        summary=gettext_lazy("关闭需求"),
        request=ReasonInputSerializer,
        responses=NeedOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def close(self, request, uuid=None):
        return self._transition(request, uuid, services.need_close, with_reason=True)

    @extend_schema(
        summary=gettext_lazy("续期需求"),
        description=gettext_lazy(
            "一键续期：有效期改为今天起12个月；已过期的需求重新发布并参与匹配。仅发布机构可操作。"
        ),
        request=None,
        responses=NeedOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def renew(self, request, uuid=None):
        return self._transition(request, uuid, services.need_renew, with_reason=False)

    @extend_schema(
        summary=gettext_lazy("批量导入需求"),
        description=_BULK_DESCRIPTION,
        request=NeedBulkItemInputSerializer(many=True),
        parameters=[_ORG_PARAMETER],
        responses={200: BulkOutputSerializer, 400: BulkErrorOutputSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        throttle_classes=[UserRateThrottle, BulkRateThrottle],
        filter_backends=[],
        pagination_class=None,
    )
    def bulk(self, request):
        organization = _organization_for_write(request, request.query_params.get("organization"))
        _require_write_access(request, organization)

        def run(**kwargs):
            return importers.import_needs(actor=request.user, organization=organization, **kwargs)

        return _bulk_response(run, request, NeedBulkItemInputSerializer, "indicators")


# --- export -----------------------------------------------------------------------------------------

EXPORT_LIMIT = 10000


def _label(choices, value) -> str:
    return str(dict(choices).get(value, value))


def need_export_rows(needs, *, member_ids: set[int]):
    """Rows of the needs CSV export: the import template's columns (so an export of one's own needs
    re-imports), plus uuid, visibility, organization and publication time. Summary-public needs of
    others carry only their summary columns. Headers and labels are the file format's (Chinese in
    every interface language), like the template's."""
    columns = importers.NEED_COLUMNS
    header = ["uuid", "可见范围", "发布机构", "发布时间", *[c.header for c in columns]]
    yield header
    for need in needs:
        # Only the columns of the fields this viewer's level shows (matching.catalogue.projections).
        shown = need_fields(NeedVisibility(need.viewer_visibility))
        full = "description" in shown
        published = timezone.localtime(need.published_at).isoformat() if need.published_at else ""
        values = {
            "title": need.title,
            "summary": need.summary,
            "field": need.field.code,
            "region": need.region.name if need.region else "",
            "status": _label(Need.Status.choices, need.status),
            "external_ref": need.external_ref if need.organization_id in member_ids else "",
            "description": need.description,
            "scenario": need.scenario,
            "industry_chain": need.industry_chain,
            "budget_min": need.budget_min,
            "budget_max": need.budget_max,
            "funding_mode": _label(Need.FundingMode.choices, need.funding_mode),
            "coop_modes": ";".join(_label(CoopMode.choices, m) for m in need.coop_modes),
            "trl_min": need.trl_min,
            "deadline": need.deadline.isoformat() if need.deadline else "",
            "contact_name": need.contact_name,
            "contact_phone": need.contact_phone,
            "contact_email": need.contact_email,
            "confidentiality": _label(Need.Confidentiality.choices, need.confidentiality),
            "terms": need.terms,
            "indicators": import_templates.indicator_cell(need) if "indicators" in shown else "",
            "organization": need.organization.name,
            "published_at": published,
        }
        shown_values = {key: value for key, value in values.items() if key in shown}
        yield [
            str(need.uuid),
            "全文" if full else "摘要",
            shown_values.get("organization", ""),
            shown_values.get("published_at", ""),
            *[shown_values.get(c.key, "") for c in columns],
        ]


class NeedExportApi(_NeedQuerysetMixin, generics.GenericAPIView):
    """The needs list as CSV (UTF-8 with BOM), with the list's filters and ordering; at most 10,000
    rows. Same confidentiality as the list."""

    renderer_classes = [JSONRenderer, CsvRenderer]
    pagination_class = None

    @extend_schema(
        summary=gettext_lazy("导出需求（CSV）"),
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description=gettext_lazy("CSV 文件")
            )
        },
    )
    def get(self, request):
        needs = self.filter_queryset(self.get_queryset())[:EXPORT_LIMIT]
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        with override("zh-hans"):
            writer.writerows(need_export_rows(needs, member_ids=member_org_ids(request.user)))
        response = HttpResponse(
            ("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="needs-{stamp}.csv"'
        return response


# --- results and capability profiles: shared writes -------------------------------------------------


def _write_schemas(request_serializer, response_serializer, **summaries) -> dict:
    """``extend_schema`` of create / update / partial_update, for ``extend_schema_view``."""
    return {
        action: extend_schema(
            summary=summary,
            request=request_serializer,
            responses={201: response_serializer} if action == "create" else response_serializer,
        )
        for action, summary in summaries.items()
    }


class _OrganizationObjectWriteMixin:
    """create / update / partial_update of an object an organization owns (a result, a
    capability profile): validate the input serializer, check the caller may write for the
    organization, call the service (the nested ``rows_key`` rows apart), and answer with the
    object as the caller sees it. The view sets name their serializer, selector and services."""

    input_serializer_class: type
    get_for_api: Callable
    create_service: Callable
    update_service: Callable
    object_kwarg: str  # the update service's keyword for the object
    rows_key: str  # nested rows handed to the services apart ("patents", "fields")

    def get_object(self):
        return self.get_for_api(uuid=self.kwargs["uuid"], user=self.request.user)

    def _respond(self, obj, code=status.HTTP_200_OK) -> Response:
        fresh = self.get_for_api(uuid=obj.uuid, user=self.request.user)
        return Response(self.get_serializer(fresh).data, status=code)

    def create(self, request):
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = _organization_for_write(
            request, serializer.validated_data.get("organization")
        )
        _require_write_access(request, organization)
        data, rows = _split_data(serializer.validated_data, self.rows_key)
        obj = self.create_service(
            actor=request.user, organization=organization, data=data, **{self.rows_key: rows}
        )
        return self._respond(obj, status.HTTP_201_CREATED)

    def _update(self, request, partial: bool) -> Response:
        obj = self.get_object()
        _require_write_access(request, obj.organization)
        serializer = self.input_serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data, rows = _split_data(serializer.validated_data, self.rows_key)
        obj = self.update_service(
            **{self.object_kwarg: obj, self.rows_key: rows}, actor=request.user, data=data
        )
        return self._respond(obj)

    def update(self, request, uuid=None):
        return self._update(request, partial=False)

    def partial_update(self, request, uuid=None):
        return self._update(request, partial=True)


# --- results ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("成果列表")),
    retrieve=extend_schema(summary=gettext_lazy("成果详情")),
    **_write_schemas(
        ResultInputSerializer,
        ResultOutputSerializer,
        create=gettext_lazy("新建成果（草稿）"),
        update=gettext_lazy("修改成果（全部字段）"),
        partial_update=gettext_lazy("修改成果（部分字段）"),
    ),
)
class ResultViewSet(
    _OrganizationObjectWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Research results (科技成果): published ones for everyone, drafts for their organization."""

    lookup_field = "uuid"
    serializer_class = ResultOutputSerializer
    pagination_class = NewestFirstCursorPagination
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = ResultFilter
    ordering_fields = ["published", "created_at", "title", "trl"]
    ordering = ["-published", "-id"]
    throttle_classes = THROTTLES
    input_serializer_class = ResultInputSerializer
    get_for_api = staticmethod(selectors.result_get_for_api)
    create_service = staticmethod(services.result_create)
    update_service = staticmethod(services.result_update)
    object_kwarg = "result"
    rows_key = "patents"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Result.objects.none()
        return selectors.result_queryset_for_viewer(user=self.request.user).prefetch_related(
            "patents"
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["member_org_ids"] = member_org_ids(self.request.user)
            context["user"] = self.request.user
            context["with_quality"] = self.action != "list"
        return context

    @extend_schema(summary=gettext_lazy("发布成果"), request=None, responses=ResultOutputSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, uuid=None):
        result = self.get_object()
        _require_write_access(request, result.organization)
        return self._respond(services.result_publish(result=result, actor=request.user))

    @extend_schema(
        summary=gettext_lazy("续期成果"),
        description=gettext_lazy(
            "一键续期：有效期改为今天起12个月；已过期的成果重新发布并参与匹配。仅完成单位可操作。"
        ),
        request=None,
        responses=ResultOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def renew(self, request, uuid=None):
        result = self.get_object()
        _require_write_access(request, result.organization)
        return self._respond(services.result_renew(result=result, actor=request.user))

    @extend_schema(
        summary=gettext_lazy("撤回成果"),
        request=ReasonInputSerializer,
        responses=ResultOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, uuid=None):
        result = self.get_object()
        _require_write_access(request, result.organization)
        serializer = ReasonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.result_withdraw(
            result=result, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return self._respond(result)

    @extend_schema(
        summary=gettext_lazy("批量导入成果"),
        description=_BULK_DESCRIPTION,
        request=ResultBulkItemInputSerializer(many=True),
        parameters=[_ORG_PARAMETER],
        responses={200: BulkOutputSerializer, 400: BulkErrorOutputSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        throttle_classes=[UserRateThrottle, BulkRateThrottle],
        filter_backends=[],
        pagination_class=None,
    )
    def bulk(self, request):
        organization = _organization_for_write(request, request.query_params.get("organization"))
        _require_write_access(request, organization)

        def run(**kwargs):
            return importers.import_results(actor=request.user, organization=organization, **kwargs)

        return _bulk_response(run, request, ResultBulkItemInputSerializer, "patents")


# --- capability profiles ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("研发能力列表")),
    retrieve=extend_schema(summary=gettext_lazy("研发能力详情")),
    **_write_schemas(
        CapabilityInputSerializer,
        CapabilityOutputSerializer,
        create=gettext_lazy("新建研发能力"),
        update=gettext_lazy("修改研发能力（全部字段）"),
        partial_update=gettext_lazy("修改研发能力（部分字段）"),
    ),
)
class CapabilityViewSet(
    _OrganizationObjectWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Capability profiles (研发能力) of universities and institutes."""

    lookup_field = "uuid"
    serializer_class = CapabilityOutputSerializer
    pagination_class = CapabilityCursorPagination
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = CapabilityFilter
    ordering_fields = ["created_at", "title"]
    ordering = ["-created_at", "-id"]
    throttle_classes = THROTTLES
    input_serializer_class = CapabilityInputSerializer
    get_for_api = staticmethod(selectors.capability_get_for_api)
    create_service = staticmethod(services.capability_create)
    update_service = staticmethod(services.capability_update)
    object_kwarg = "profile"
    rows_key = "fields"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CapabilityProfile.objects.none()
        return selectors.capability_queryset_for_viewer(user=self.request.user)

    @extend_schema(summary=gettext_lazy("删除研发能力"), responses={204: None})
    def destroy(self, request, uuid=None):
        profile = self.get_object()
        _require_write_access(request, profile.organization)
        services.capability_delete(profile=profile, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
