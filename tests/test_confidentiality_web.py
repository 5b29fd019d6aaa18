"""Confidentiality on every web read path (detail, list, search, CSV export, attachment download,
match lists) for each kind of viewer and each kind of need; and the "申请查看全文" flow.

The secrets below are words that appear only in confidential columns; an outsider's HTML or CSV must
never contain them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from matching import services
from matching import web_selectors as ws
from matching.models import Match, Need, NeedAccess
from matching.selectors import NeedVisibility, need_visibility
from tests.factories import (
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
        else:
            assert need.summary in html
            assert SECRETS[kind] not in html
            assert "机密场景BRAVO2" not in html
            assert SUMMARY_PHONE not in html
            assert "888" not in html
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
        reverse("matching:need-access-decide", kwargs={"pk": access.pk}), {"decision": "reject"}
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
