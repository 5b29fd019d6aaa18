"""Challenge web pages: sealing on every read path, role pages, form flows."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import Membership, Organization
from challenges import services
from challenges.models import Bid, Challenge, ChallengeInvitation
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    ExpertProfileFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


SEALED_TEXT = "原子层沉积包覆＋单晶化工艺。"


def test_sealed_bid_on_web_export_and_admin_before_the_deadline(client):
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    other = BidFactory(challenge=challenge)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_bid"))
    detail = reverse("challenges:bid-detail", kwargs={"uuid": bid.uuid})

    client.force_login(bid.created_by)
    assert client.get(detail).status_code == 200

    for viewer in (challenge.created_by, other.created_by, staff, ExpertProfileFactory().user):
        client.force_login(viewer)
        assert client.get(detail).status_code == 404
    client.force_login(challenge.created_by)
    page = client.get(reverse("challenges:bids", kwargs={"uuid": challenge.uuid}))
    assert page.status_code == 200 and SEALED_TEXT not in page.content.decode()
    export = client.get(reverse("challenges:bids-export", kwargs={"uuid": challenge.uuid}))
    assert export.status_code == 200
    assert bid.organization.name not in export.content.decode("utf-8-sig")

    client.force_login(staff)
    changelist = client.get(reverse("admin:challenges_bid_changelist"))
    assert changelist.status_code == 200
    assert bid.organization.name not in changelist.content.decode()

    with time_machine.travel(challenge.bid_deadline + dt.timedelta(hours=1), tick=False):
        client.force_login(challenge.created_by)
        assert client.get(detail).status_code == 200
        export = client.get(reverse("challenges:bids-export", kwargs={"uuid": challenge.uuid}))
        assert bid.organization.name in export.content.decode("utf-8-sig")
        client.force_login(other.created_by)
        assert client.get(detail).status_code == 404
        client.force_login(staff)
        changelist = client.get(reverse("admin:challenges_bid_changelist"))
        assert bid.organization.name in changelist.content.decode()


def test_outsider_gets_404_on_enterprise_pages(client):
    challenge = ChallengeFactory()
    client.force_login(UserFactory())
    for name in ("edit", "bids", "bids-export", "review-manage"):
        assert (
            client.get(reverse(f"challenges:{name}", kwargs={"uuid": challenge.uuid})).status_code
            == 404
        )
    assert (
        client.post(reverse("challenges:publish", kwargs={"uuid": challenge.uuid})).status_code
        == 404
    )


def test_private_need_challenge_is_invisible_to_outsiders(client):
    challenge = ChallengeFactory(need=NeedFactory(confidentiality="private"))
    client.force_login(UserFactory())
    assert client.get(challenge.get_absolute_url()).status_code == 404
    assert challenge.title not in client.get(reverse("challenges:list")).content.decode()


def test_enterprise_sets_up_and_publishes_through_the_form(client):
    need = NeedFactory()
    indicator = NeedIndicatorFactory(need=need)
    client.force_login(need.created_by)
    response = client.post(reverse("challenges:create", kwargs={"need_uuid": need.uuid}))
    challenge = Challenge.objects.get(need=need)
    assert response.url == reverse("challenges:edit", kwargs={"uuid": challenge.uuid})
    assert client.get(response.url).status_code == 200
    due = (dt.date.today() + dt.timedelta(days=120)).isoformat()
    deadline = (dt.datetime.now() + dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "title": "高镍正极榜单",
        "intro": "说明",
        "access": "open",
        "reward_total": "300",
        "reward_split": "",
        "indicator_ids": [str(indicator.pk)],
        "consortium_max_members": "3",
        "bid_deadline": deadline,
        "review_method": "expert_scoring",
        "award_mode": "single",
        "race_winners": "2",
        "criteria-TOTAL_FORMS": "3",
        "criteria-INITIAL_FORMS": "0",
        "criteria-0-name": "技术先进性",
        "criteria-0-weight": "60",
        "criteria-1-name": "可行性",
        "criteria-1-weight": "30",
        "milestones-TOTAL_FORMS": "1",
        "milestones-INITIAL_FORMS": "0",
        "milestones-0-name": "验收",
        "milestones-0-deliverable": "样品",
        "milestones-0-indicator_id": str(indicator.pk),
        "milestones-0-criterion": "容量保持率达标",
        "milestones-0-due_date": due,
        "milestones-0-share": "100",
        "publish": "1",
    }
    page = client.post(reverse("challenges:edit", kwargs={"uuid": challenge.uuid}), data)
    assert page.status_code == 200
    assert "权重之和须为100" in page.content.decode()
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.DRAFT
    data["criteria-0-weight"] = "70"
    response = client.post(reverse("challenges:edit", kwargs={"uuid": challenge.uuid}), data)
    assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN
    assert challenge.milestones.get().indicator == indicator


def test_illegal_transition_on_the_web_shows_an_error_and_changes_nothing(client):
    challenge = ChallengeFactory()
    client.force_login(challenge.created_by)
    response = client.post(
        reverse("challenges:start", kwargs={"uuid": challenge.uuid}), follow=True
    )
    assert "不能启动攻关" in response.content.decode()
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN


def test_lab_bids_through_the_form_and_sees_it_in_my_bids(client):
    challenge = ChallengeFactory()
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    user = MembershipFactory(organization=lab, role=Membership.Role.OWNER).user
    client.force_login(user)
    form_url = reverse("challenges:bid-edit", kwargs={"uuid": challenge.uuid})
    assert client.get(form_url).status_code == 200
    data = {
        "organization": str(lab.pk),
        "technical_approach": "包覆改性技术路线",
        "team": "教授2人",
        "qualification_statement": "",
        "budget-TOTAL_FORMS": "2",
        "budget-INITIAL_FORMS": "0",
        "budget-0-item": "材料费",
        "budget-0-amount": "120",
        "consortium-TOTAL_FORMS": "1",
        "consortium-INITIAL_FORMS": "0",
        "submit": "1",
    }
    for ind in challenge.indicators.all():
        data[f"ind_{ind.pk}_approach"] = "包覆"
    response = client.post(form_url, data)
    assert response.status_code == 200  # milestones not planned: refused with a reason
    assert "请为以下里程碑填写进度计划" in response.content.decode()
    bid = Bid.objects.get(organization=lab)
    assert bid.status == Bid.Status.DRAFT
    for ms in challenge.milestones.all():
        data[f"ms_{ms.pk}_date"] = ms.due_date.isoformat()
    response = client.post(form_url, data)
    assert response.status_code == 302
    bid.refresh_from_db()
    assert bid.status == Bid.Status.SUBMITTED
    mine = client.get(reverse("challenges:mine")).content.decode()
    assert challenge.title in mine


def test_invite_from_match_view(client):
    need = NeedFactory()
    match = MatchFactory(need=need)
    url = reverse("challenges:invite-from-match", kwargs={"match_id": match.pk})
    client.force_login(match.result.created_by)
    assert client.post(url).status_code == 404
    client.force_login(need.created_by)
    response = client.post(url)
    challenge = Challenge.objects.get(need=need)
    assert response.status_code == 302
    assert ChallengeInvitation.objects.filter(
        challenge=challenge, organization=match.result.organization, match=match
    ).exists()


def test_role_pages_render_through_a_whole_flow(client):
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    expert = ExpertProfileFactory()
    enterprise = challenge.created_by
    client.force_login(enterprise)
    assert client.get(reverse("challenges:list")).status_code == 200
    assert client.get(reverse("challenges:mine")).status_code == 200
    assert client.get(challenge.get_absolute_url()).status_code == 200
    with time_machine.travel(challenge.bid_deadline + dt.timedelta(hours=1), tick=False):
        page = client.get(reverse("challenges:review-manage", kwargs={"uuid": challenge.uuid}))
        assert page.status_code == 200
        challenge.refresh_from_db()
        assert challenge.status == Challenge.Status.OPEN  # a page view never writes
        client.post(
            reverse("challenges:review-manage", kwargs={"uuid": challenge.uuid}),
            {"expert": expert.pk},
        )
        challenge.refresh_from_db()
        assert challenge.status == Challenge.Status.REVIEW  # closed on the way of the assignment
        assignment = challenge.assignments.get()
        client.force_login(expert.user)
        review_url = reverse("challenges:review", kwargs={"uuid": assignment.uuid})
        assert client.get(review_url).status_code == 200
        scores = {f"s_{bid.pk}_{c.pk}": "80" for c in challenge.criteria.all()}
        response = client.post(review_url, {**scores, f"c_{bid.pk}": "不错", "submit": "1"})
        assert response.status_code == 302
        client.force_login(enterprise)
        response = client.post(
            reverse("challenges:award", kwargs={"uuid": challenge.uuid}),
            {"winners": [bid.pk], "reason": "唯一有效方案"},
        )
        challenge.refresh_from_db()
        assert challenge.status == Challenge.Status.AWARDED
        client.post(reverse("challenges:start", kwargs={"uuid": challenge.uuid}))
        client.force_login(bid.created_by)
        page = client.get(reverse("challenges:execution", kwargs={"uuid": challenge.uuid}))
        assert page.status_code == 200
        detail = client.get(challenge.get_absolute_url()).content.decode()
        assert "唯一有效方案" in detail
    services.challenge_cancel(challenge=challenge, actor=enterprise, reason="测试结束")
