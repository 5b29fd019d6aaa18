"""Confidentiality on every web read path (detail, list, search, CSV export, attachment download,
match lists) for each kind of viewer and each kind of need; and the "申请查看全文" flow.

The secrets below are words that appear only in confidential columns; an outsider's HTML or CSV must
never contain them."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from datetime import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Organization
from matching.catalogue import selectors as ws
from matching.catalogue import services
from matching.catalogue.visibility import NeedVisibility, need_queryset_for_viewer, need_visibility
from matching.models import Match, Need, NeedAccess
from tests.factories import (
    FieldFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    ResultFactory,
    UserFactory,
)
from tests.web_helpers import PDF_BYTES, fast_passwords, taxonomy, upload  # noqa: F401

pytestmark = pytest.mark.django_db

FULL, SUMMARY, NONE = NeedVisibility.FULL, NeedVisibility.SUMMARY, NeedVisibility.NONE

SECRETS = {
    "public": "公开描述ALPHA",
    "summary": "机密描述BRAVO",
    "private": "私密描述CHARLIE",
}
SUMMARY_PHONE = "13900001111"
PRIVATE_TITLE = "私密需求标题DELTA"

# Who sees what of each need.
EXPECTED = {
    "anonymous": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "outsider": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "pending": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "invited": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "approved": {"public": FULL, "summary": FULL, "private": NONE},
    "member": {"public": FULL, "summary": FULL, "private": FULL},
    "staff": {"public": FULL, "summary": FULL, "private": FULL},
}
VIEWERS = list(EXPECTED)


@dataclass
class World:
    needs: dict
    users: dict
    attachments: dict


@pytest.fixture
def world(cast, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    taxonomy()
    needs = {
        "public": NeedFactory(
            organization=cast.org,
            created_by=cast.owner,
            title="公开需求标题",
            summary="公开需求的摘要",
            description=SECRETS["public"],
        ),
        "summary": NeedFactory(
            organization=cast.org,
            created_by=cast.owner,
            title="摘要需求标题",
            summary="摘要需求的公开摘要",
            description=SECRETS["summary"],
            scenario="机密场景BRAVO2",
            contact_phone=SUMMARY_PHONE,
            budget_min=777,
            budget_max=888,
            confidentiality=Need.Confidentiality.SUMMARY,
            terms="不得向第三方披露。",
        ),
        "private": NeedFactory(
            organization=cast.org,
            created_by=cast.owner,
            title=PRIVATE_TITLE,
            summary="私密摘要",
            description=SECRETS["private"],
            confidentiality=Need.Confidentiality.PRIVATE,
        ),
    }
    attachments = {
        kind: services.attachment_add(
            owner=need, actor=cast.owner, upload=upload(f"{kind}.pdf", PDF_BYTES)
        )
        for kind, need in needs.items()
    }

    def party(name: str) -> tuple[object, Organization]:
        org = OrganizationFactory(name=name, kind=Organization.Kind.INSTITUTION)
        user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
        return user, org

    now = timezone.now()
    approved, approved_org = party("丙大学")
    NeedAccess.objects.create(
        need=needs["summary"],
        organization=approved_org,
        status=NeedAccess.Status.APPROVED,
        terms_accepted_at=now,
        terms_accepted_by=approved,
        decided_by=cast.owner,
        decided_at=now,
    )
    pending, pending_org = party("丁研究所")
    NeedAccess.objects.create(
        need=needs["summary"],
        organization=pending_org,
        status=NeedAccess.Status.REQUESTED,
        terms_accepted_at=now,
        requested_by=pending,
    )
    invited, invited_org = party("戊实验室")
    NeedAccess.objects.create(
        need=needs["summary"],
        organization=invited_org,
        status=NeedAccess.Status.APPROVED,
        invited=True,
        decided_by=cast.owner,
        decided_at=now,
    )
    staff = UserFactory(is_staff=True)
    users = {
        "anonymous": None,
        "outsider": cast.outsider,
        "pending": pending,
        "invited": invited,
        "approved": approved,
        "member": cast.member,
        "staff": staff,
    }
    return World(needs=needs, users=users, attachments=attachments)


def login(client, world: World, viewer: str):
    user = world.users[viewer]
    if user is not None:
        client.force_login(user)
    return client


# --- the selectors agree with need_visibility ------------------------------------------------------


ACCESS_STATES = [None] + [
    (status, accepted) for status in NeedAccess.Status.values for accepted in (False, True)
]


def test_need_queryset_agrees_with_need_visibility_for_every_combination(cast):
    """``need_queryset_for_viewer`` (the rules as SQL, behind every list, search and export) gives
    each need exactly ``need_visibility`` (the rules per object), for every status,
    confidentiality, access state of a third organization, and viewer, at every ``minimum``."""
    field = FieldFactory()
    third = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    third_and_other = MembershipFactory(organization=third).user
    MembershipFactory(user=third_and_other, organization=cast.other_org)
    staff_member = UserFactory(is_staff=True)
    MembershipFactory(user=staff_member, organization=third)
    viewers = {
        "none": None,
        "anonymous": AnonymousUser(),
        "owner": cast.owner,
        "member": cast.member,
        "outsider": cast.outsider,
        "third": MembershipFactory(organization=third).user,
        "third_and_other": third_and_other,
        "staff": UserFactory(is_staff=True),
        "staff_member": staff_member,
        "no_org": UserFactory(),
    }
    needs = []
    for status, conf, access in itertools.product(
        Need.Status.values, Need.Confidentiality.values, ACCESS_STATES
    ):
        need = NeedFactory(
            organization=cast.org,
            created_by=cast.owner,
            field=field,
            status=status,
            confidentiality=conf,
            summary="摘要",
        )
        if access:
            access_status, accepted = access
            NeedAccess.objects.create(
                need=need,
                organization=third,
                status=access_status,
                terms_accepted_at=timezone.now() if accepted else None,
            )
        needs.append(need)
    pks = [n.pk for n in needs]
    for name, user in viewers.items():
        expected = {n.pk: need_visibility(need=n, user=user) for n in needs}
        for minimum in NeedVisibility:
            rows = need_queryset_for_viewer(user=user, minimum=minimum).filter(pk__in=pks)
            got = {n.pk: (n.viewer_visibility, n.full_text) for n in rows}
            want = {
                pk: (int(level), level == FULL)
                for pk, level in expected.items()
                if level >= minimum
            }
            assert got == want, (name, minimum)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_list_annotation_agrees_with_need_visibility(world, viewer):
    user = world.users[viewer] or AnonymousUser()
    listed = {n.pk: n.full_text for n in ws.need_list_for_viewer(user=user)}
    for kind, need in world.needs.items():
        expected = EXPECTED[viewer][kind]
        assert need_visibility(need=need, user=user) == expected
        if expected == NONE:
            assert need.pk not in listed
        else:
            assert listed[need.pk] is (expected == FULL)


# --- detail page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_detail_page_shows_only_what_the_viewer_may_see(client, world, viewer):
    login(client, world, viewer)
    for kind, need in world.needs.items():
        expected = EXPECTED[viewer][kind]
        response = client.get(need.get_absolute_url())
        if expected == NONE:
            assert response.status_code == 404
            assert PRIVATE_TITLE not in response.content.decode()
            continue
        html = response.content.decode()
        assert response.status_code == 200
        assert need.title in html
        download = reverse(
            "matching:attachment-download", kwargs={"uuid": world.attachments[kind].uuid}
        )
        if expected == FULL:
            assert SECRETS[kind] in html
            assert download in html
            if kind == "summary":
                assert "777 – 888 万元" in html
        else:
            assert need.summary in html
            assert SECRETS[kind] not in html
            assert "机密场景BRAVO2" not in html
            assert SUMMARY_PHONE not in html
            assert "777 – 888 万元" not in html
            assert download not in html
            assert "全文仅对获准机构可见" in html


# --- list, search, export ---------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_list_hides_private_needs_and_confidential_text(client, world, viewer):
    login(client, world, viewer)
    html = client.get(reverse("matching:need-list")).content.decode()
    for kind, need in world.needs.items():
        expected = EXPECTED[viewer][kind]
        assert (need.title in html) is (expected > NONE)
        if expected < FULL:
            assert SECRETS[kind] not in html
    assert SUMMARY_PHONE not in html


@pytest.mark.parametrize("viewer", VIEWERS)
def test_search_on_confidential_text_finds_only_needs_seen_in_full(client, world, viewer):
    login(client, world, viewer)
    for kind, need in world.needs.items():
        html = client.get(reverse("matching:need-list"), {"q": SECRETS[kind]}).content.decode()
        found = need.get_absolute_url() in html
        assert found is (EXPECTED[viewer][kind] == FULL), (kind, viewer)
        if EXPECTED[viewer][kind] < FULL:
            assert "没有符合条件的需求" in html
    # A filter on a confidential column (budget) does not reveal summary-only needs either.
    html = client.get(
        reverse("matching:need-list"), {"amount_min": "800", "amount_max": "900"}
    ).content.decode()
    summary_url = world.needs["summary"].get_absolute_url()
    assert (summary_url in html) is (EXPECTED[viewer]["summary"] == FULL)


def export_rows(client) -> tuple[str, list[dict]]:
    response = client.get(reverse("matching:need-export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    return text, list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("viewer", VIEWERS)
def test_csv_export_respects_confidentiality(client, world, viewer):
    login(client, world, viewer)
    text, rows = export_rows(client)
    by_id = {row["编号"]: row for row in rows}
    for kind, need in world.needs.items():
        expected = EXPECTED[viewer][kind]
        row = by_id.get(str(need.uuid))
        if expected == NONE:
            assert row is None
            assert need.title not in text
            continue
        assert row["需求名称"] == need.title
        assert row["公开摘要"] == need.summary
        if expected == FULL:
            assert row["问题描述"] == SECRETS[kind]
        else:
            assert row["问题描述"] == row["应用场景"] == row["联系电话"] == ""
            assert row["预算上限（万元）"] == row["技术指标"] == ""
            assert SECRETS[kind] not in text
            assert SUMMARY_PHONE not in text


SUMMARY_ONLY_ORG = "庚保密企业"
SUMMARY_ONLY_DATE = "2021-03-04"


@pytest.mark.parametrize("viewer", ["anonymous", "outsider", "invited", "approved"])
def test_summary_only_need_shows_the_same_fields_on_every_path(client, world, cast, viewer):
    """Seen only by summary, a need shows title, field, region, public summary and status on the
    web list, detail page, front page, web CSV, API detail and API CSV alike: not its organization,
    nor its publication date, nor more of its confidentiality than "摘要公开". Seen in full (the
    approved party), it shows them."""
    enterprise = OrganizationFactory(name=SUMMARY_ONLY_ORG)
    need = NeedFactory(
        organization=enterprise,
        title="摘要可见需求标题",
        summary="只公开这段摘要",
        confidentiality=Need.Confidentiality.SUMMARY,
        published_at=timezone.make_aware(datetime(2021, 3, 4, 12, 0)),
    )
    approved_org = Membership.objects.get(user=world.users["approved"]).organization
    NeedAccess.objects.create(
        need=need,
        organization=approved_org,
        status=NeedAccess.Status.APPROVED,
        terms_accepted_at=timezone.now(),
    )
    user = world.users[viewer]
    full = need_visibility(need=need, user=user or AnonymousUser()) == FULL
    assert full is (viewer == "approved")
    login(client, world, viewer)

    pages = {
        "list": client.get(reverse("matching:need-list")).content.decode(),
        "detail": client.get(need.get_absolute_url()).content.decode(),
    }
    for name, html in pages.items():
        assert need.title in html and need.summary in html, name
        assert (SUMMARY_ONLY_ORG in html) is full, name
        assert (SUMMARY_ONLY_DATE in html) is full, name
    # The front page shows what anyone may see, to everyone.
    home = client.get("/").content.decode()
    assert need.title in home and SUMMARY_ONLY_ORG not in home
    # Nor does a search by the organization's name find it.
    found = client.get(reverse("matching:need-list"), {"q": SUMMARY_ONLY_ORG}).content.decode()
    assert (need.get_absolute_url() in found) is full

    text, rows = export_rows(client)
    row = {r["编号"]: r for r in rows}[str(need.uuid)]
    assert (row["需求名称"], row["公开摘要"], row["状态"]) == (
        need.title,
        need.summary,
        need.get_status_display(),
    )
    assert row["公开方式"] == "摘要公开"
    if full:
        assert row["发布机构"] == SUMMARY_ONLY_ORG and row["发布时间"] == SUMMARY_ONLY_DATE
    else:
        assert row["发布机构"] == row["发布时间"] == ""
        assert SUMMARY_ONLY_ORG not in text and SUMMARY_ONLY_DATE not in text

    if user is None:
        return  # the API has no anonymous access
    api = APIClient()
    api.force_authenticate(user)
    detail = api.get(f"/api/v1/needs/{need.uuid}/")
    assert detail.status_code == 200
    if full:
        assert detail.json()["organization"]["name"] == SUMMARY_ONLY_ORG
    else:
        assert set(detail.json()) == {
            "uuid",
            "visibility",
            "title",
            "field",
            "region",
            "summary",
            "status",
        }
    api_text = api.get("/api/v1/needs/export.csv").content.decode("utf-8-sig")
    api_row = {r["uuid"]: r for r in csv.DictReader(io.StringIO(api_text))}[str(need.uuid)]
    assert api_row["发布机构"] == (SUMMARY_ONLY_ORG if full else "")
    assert api_row["发布时间"].startswith(SUMMARY_ONLY_DATE) is full
    assert (SUMMARY_ONLY_ORG in api_text) is full


def test_csv_cells_cannot_start_a_formula(client, cast):
    taxonomy()
    NeedFactory(organization=cast.org, title='=HYPERLINK("http://x")')
    _text, rows = export_rows(client)
    assert rows[0]["需求名称"].startswith("'=")


# --- attachments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_attachment_download_needs_full_visibility(client, world, viewer):
    login(client, world, viewer)
    for kind, attachment in world.attachments.items():
        url = reverse("matching:attachment-download", kwargs={"uuid": attachment.uuid})
        response = client.get(url)
        if EXPECTED[viewer][kind] == FULL:
            assert response.status_code == 200
            assert b"".join(response.streaming_content) == PDF_BYTES
        else:
            assert response.status_code == 404


# --- matches shown on a result's page ---------------------------------------------------------------


def test_result_page_lists_matched_needs_without_private_ones(client, world, cast):
    result = ResultFactory(organization=cast.other_org, created_by=cast.outsider)
    for need in world.needs.values():
        Match.objects.create(
            need=need,
            result=result,
            score=0.9,
            model_version="test",
            explanation={"shared_terms": ["隔膜"], "public": {"shared_terms": ["隔膜"]}},
        )
    client.force_login(cast.outsider)
    html = client.get(result.get_absolute_url()).content.decode()
    assert "匹配的企业需求" in html
    assert world.needs["public"].title in html
    assert world.needs["summary"].title in html
    assert PRIVATE_TITLE not in html
    for secret in SECRETS.values():
        assert secret not in html
    # Nobody outside the result's organization sees its matches.
    client.force_login(cast.member)
    assert "匹配的企业需求" not in client.get(result.get_absolute_url()).content.decode()


# --- the 申请查看全文 flow -----------------------------------------------------------------------------


def access_url(need, name="need-access-request"):
    return reverse(f"matching:{name}", kwargs={"uuid": need.uuid})


def test_request_needs_accepted_terms(client, world, cast):
    need = world.needs["summary"]
    client.force_login(cast.outsider)
    response = client.post(access_url(need), {"organization": cast.other_org.pk})
    assert response.status_code == 400
    assert "请先阅读并接受需求方的保密条款" in response.content.decode()
    assert not NeedAccess.objects.filter(organization=cast.other_org).exists()


def test_request_then_approval_opens_the_full_text(client, world, cast):
    need = world.needs["summary"]
    client.force_login(cast.outsider)
    html = client.get(need.get_absolute_url()).content.decode()
    assert "不得向第三方披露。" in html  # the enterprise's terms are shown
    client.post(access_url(need), {"organization": cast.other_org.pk, "accept_terms": "on"})
    access = NeedAccess.objects.get(need=need, organization=cast.other_org)
    assert access.status == NeedAccess.Status.REQUESTED
    assert access.terms_accepted_by == cast.outsider
    html = client.get(need.get_absolute_url()).content.decode()
    assert SECRETS["summary"] not in html
    assert "等待需求方审批" in html

    # The enterprise sees the request on its dashboard and approves it.
    client.force_login(cast.owner)
    assert "乙研究院" in client.get(reverse("matching:dashboard")).content.decode()
    decide = reverse("matching:need-access-decide", kwargs={"pk": access.pk})
    client.post(decide, {"decision": "approve"})
    access.refresh_from_db()
    assert access.status == NeedAccess.Status.APPROVED and access.decided_by == cast.owner

    client.force_login(cast.outsider)
    assert SECRETS["summary"] in client.get(need.get_absolute_url()).content.decode()


def test_rejected_request_keeps_the_text_closed(client, world, cast):
    need = world.needs["summary"]
    access = services.need_access_request(
        need=need, actor=cast.outsider, organization=cast.other_org, accept_terms=True
    )
    client.force_login(cast.member)
    client.post(
        reverse("matching:need-access-decide", kwargs={"pk": access.pk}),
        {"decision": "reject", "reason": "field"},
    )
    access.refresh_from_db()
    assert access.status == NeedAccess.Status.REJECTED
    client.force_login(cast.outsider)
    html = client.get(need.get_absolute_url()).content.decode()
    assert SECRETS["summary"] not in html and "未批准" in html


def test_only_the_enterprise_decides(client, world, cast):
    access = NeedAccess.objects.get(status=NeedAccess.Status.REQUESTED)
    client.force_login(cast.outsider)
    url = reverse("matching:need-access-decide", kwargs={"pk": access.pk})
    assert client.post(url, {"decision": "approve"}).status_code == 404
    access.refresh_from_db()
    assert access.status == NeedAccess.Status.REQUESTED


def test_invited_organization_only_accepts_the_terms(client, world, cast):
    need = world.needs["summary"]
    client.force_login(cast.owner)
    client.post(access_url(need, "need-access-invite"), {"organization": cast.other_org.pk})
    access = NeedAccess.objects.get(need=need, organization=cast.other_org)
    assert access.invited and access.status == NeedAccess.Status.APPROVED
    client.force_login(cast.outsider)
    html = client.get(need.get_absolute_url()).content.decode()
    assert SECRETS["summary"] not in html and "需求方已邀请" in html
    client.post(access_url(need), {"organization": cast.other_org.pk, "accept_terms": "on"})
    assert SECRETS["summary"] in client.get(need.get_absolute_url()).content.decode()


def test_private_need_cannot_be_requested(client, world, cast):
    client.force_login(cast.outsider)
    response = client.post(
        access_url(world.needs["private"]),
        {"organization": cast.other_org.pk, "accept_terms": "on"},
    )
    assert response.status_code == 404
    assert not NeedAccess.objects.filter(organization=cast.other_org).exists()
