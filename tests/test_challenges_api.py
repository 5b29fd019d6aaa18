"""Challenges REST API: sealing, 409 on illegal transitions, the flow, independent scoring."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Organization
from challenges.models import Bid, Challenge, Contract
from core.models import AuditEvent
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    ExpertProfileFactory,
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


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def after_deadline(challenge):
    return time_machine.travel(challenge.bid_deadline + dt.timedelta(hours=1), tick=False)


def test_bids_are_sealed_on_every_api_read_path():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    other = BidFactory(challenge=challenge)
    staff = UserFactory(is_staff=True)
    paths = [
        "/api/v1/bids/",
        f"/api/v1/challenges/{challenge.uuid}/bids/",
        f"/api/v1/challenges/{challenge.uuid}/ranking/",
    ]
    own = api(bid.created_by).get(f"/api/v1/bids/{bid.uuid}/")
    assert own.status_code == 200 and own.json()["technical_approach"]
    for viewer in (challenge.created_by, other.created_by, staff, ExpertProfileFactory().user):
        client = api(viewer)
        assert client.get(f"/api/v1/bids/{bid.uuid}/").status_code == 404
        for path in paths:
            response = client.get(path)
            assert str(bid.uuid) not in response.content.decode(), (viewer, path)
    with after_deadline(challenge):
        client = api(challenge.created_by)
        assert client.get(f"/api/v1/bids/{bid.uuid}/").status_code == 200
        listed = client.get(f"/api/v1/challenges/{challenge.uuid}/bids/").json()
        assert {b["uuid"] for b in listed} == {str(bid.uuid), str(other.uuid)}
        assert api(other.created_by).get(f"/api/v1/bids/{bid.uuid}/").status_code == 404


def test_illegal_transitions_answer_409_and_change_nothing():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    client = api(challenge.created_by)
    base = f"/api/v1/challenges/{challenge.uuid}"
    before = AuditEvent.objects.count()
    for path, body in [
        (f"{base}/publish/", {}),
        (f"{base}/start/", {}),
        (f"{base}/close-bidding/", {}),
        (f"{base}/award/", {"winners": [str(bid.uuid)], "reason": "好"}),
    ]:
        response = client.post(path, body, format="json")
        assert response.status_code == 409, path
        assert response.json()["detail"]
    assert client.patch(f"{base}/", {"title": "改"}, format="json").status_code == 409
    assert api(bid.created_by).post(f"/api/v1/bids/{bid.uuid}/submit/").status_code == 409
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN and challenge.title != "改"
    assert not Contract.objects.exists()
    assert AuditEvent.objects.count() == before
    with after_deadline(challenge):
        response = api(bid.created_by).patch(
            f"/api/v1/bids/{bid.uuid}/", {"team": "新"}, format="json"
        )
        assert response.status_code == 409
    bid.refresh_from_db()
    assert bid.team != "新"


def test_outsider_gets_404_and_member_403_where_roles_differ():
    challenge = ChallengeFactory()
    outsider = api(UserFactory())
    assert outsider.post(f"/api/v1/challenges/{challenge.uuid}/publish/").status_code == 404
    assert outsider.get(f"/api/v1/challenges/{challenge.uuid}/experts/").status_code == 404


def test_enterprise_creates_publishes_and_lab_bids_over_the_api():
    need = NeedFactory()
    indicator = NeedIndicatorFactory(need=need)
    enterprise = api(need.created_by)
    due = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    response = enterprise.post(
        "/api/v1/challenges/",
        {
            "need": str(need.uuid),
            "reward_total": "200",
            "eligible_kinds": ["institution"],
            "allow_consortium": True,
            "milestones": [
                {
                    "name": "验收",
                    "deliverable": "样品",
                    "indicator_id": indicator.pk,
                    "criterion": "达标",
                    "due_date": due,
                    "share": "100",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    uuid = response.json()["uuid"]
    assert [c["weight"] for c in response.json()["criteria"]] == [30, 30, 20, 20]
    response = enterprise.post(f"/api/v1/challenges/{uuid}/publish/")
    assert response.status_code == 200 and response.json()["status"] == "open"

    challenge = Challenge.objects.get(uuid=uuid)
    milestone = challenge.milestones.get()
    company = OrganizationFactory(kind=Organization.Kind.ENTERPRISE)
    company_user = MembershipFactory(organization=company).user
    body = {
        "technical_approach": "路线",
        "team": "团队",
        "indicator_responses": [{"indicator_id": indicator.pk, "approach": "包覆"}],
        "budget_items": [{"item": "材料", "amount": "100"}],
        "schedule": [{"milestone_id": milestone.pk, "planned_date": due}],
        "submit": True,
    }
    refused = api(company_user).post(
        f"/api/v1/challenges/{uuid}/bids/",
        {**body, "organization": str(company.uuid)},
        format="json",
    )
    assert refused.status_code == 400
    assert "只接受以下类型" in str(refused.json())
    assert Bid.objects.filter(organization=company).count() == 0  # nothing was written

    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    partner = OrganizationFactory(kind=Organization.Kind.ENTERPRISE)
    lab_user = MembershipFactory(organization=lab, role=Membership.Role.OWNER).user
    partner_user = MembershipFactory(organization=partner).user
    created = api(lab_user).post(
        f"/api/v1/challenges/{uuid}/bids/",
        {
            **body,
            "organization": str(lab.uuid),
            "consortium": [{"organization": str(partner.uuid), "role": "中试", "share": "25"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    bid_uuid = created.json()["uuid"]
    assert created.json()["status"] == "submitted"
    members = created.json()["members"]
    assert [(m["is_lead"], m["share"], m["confirmed_at"] is None) for m in members] == [
        (True, "75.00", False),
        (False, "25.00", True),
    ]
    confirmed = api(partner_user).post(f"/api/v1/bids/{bid_uuid}/confirm/")
    assert confirmed.status_code == 200
    assert all(m["confirmed_at"] for m in confirmed.json()["members"])


def test_expert_scores_hidden_from_peers_until_submitted_over_the_api():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    e1, e2 = ExpertProfileFactory(), ExpertProfileFactory()
    enterprise = api(challenge.created_by)
    with after_deadline(challenge):
        assignments = []
        for expert in (e1, e2):
            response = enterprise.post(
                f"/api/v1/challenges/{challenge.uuid}/experts/",
                {"expert": expert.pk},
                format="json",
            )
            assert response.status_code == 200 and not response.json()["blocked"]
            assignments.append(response.json()["assignment"]["uuid"])
        scores = [
            {"bid": str(bid.uuid), "criterion": c.pk, "value": 70 + i}
            for i, c in enumerate(challenge.criteria.all())
        ]
        c1, c2 = api(e1.user), api(e2.user)
        assert (
            c1.put(
                f"/api/v1/reviews/{assignments[0]}/scores/", {"scores": scores}, format="json"
            ).status_code
            == 200
        )
        assert c1.post(f"/api/v1/reviews/{assignments[0]}/submit/").status_code == 200
        assert c2.get(f"/api/v1/reviews/{assignments[1]}/scores/").json()["peers"] == []
        assert c2.get(f"/api/v1/reviews/{assignments[0]}/scores/").status_code == 404
        c2.put(f"/api/v1/reviews/{assignments[1]}/scores/", {"scores": scores}, format="json")
        c2.post(f"/api/v1/reviews/{assignments[1]}/submit/")
        peers = c2.get(f"/api/v1/reviews/{assignments[1]}/scores/").json()["peers"]
        assert len(peers) == 4 and {p["expert"] for p in peers} == {e1.pk}
        again = c1.put(
            f"/api/v1/reviews/{assignments[0]}/scores/", {"scores": scores}, format="json"
        )
        assert again.status_code == 409
        ranking = enterprise.get(f"/api/v1/challenges/{challenge.uuid}/ranking/").json()
        # 70×30% + 71×30% + 72×20% + 73×20% = 21 + 21.3 + 14.4 + 14.6 = 71.30
        assert ranking[0]["total"] == "71.30"
        # The working ranking says which of the two documented row shapes it is.
        assert {row["view"] for row in ranking} == {"review"}


def test_conflicted_expert_is_blocked_over_the_api():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    expert = ExpertProfileFactory()
    expert.affiliations.add(bid.organization)
    with after_deadline(challenge):
        response = api(challenge.created_by).post(
            f"/api/v1/challenges/{challenge.uuid}/experts/", {"expert": expert.pk}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert body["blocked"] and body["assignment"] is None
    assert body["conflicts"][0]["kind"] == "affiliation"


def test_openapi_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
