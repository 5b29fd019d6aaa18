"""Trust findings on challenges: what a viewer sees of a summary-public challenge, consortium places
that count only once confirmed, conflicts of interest at every review step, sealed bids in admin,
the award result, GET without writes, and input that must be refused (400) rather than fail (500)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership
from challenges import services
from challenges.models import Challenge
from matching.models import Need
from tests.factories import (
    ChallengeFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

ENTERPRISE_NAME = "庚保密榜单企业"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def member_of(org, role=Membership.Role.MEMBER):
    return MembershipFactory(organization=org, role=role).user


def after_deadline(challenge, hours: int = 1):
    return time_machine.travel(challenge.bid_deadline + dt.timedelta(hours=hours), tick=False)


def summary_challenge(**kwargs) -> Challenge:
    enterprise = OrganizationFactory(name=ENTERPRISE_NAME)
    need = NeedFactory(
        organization=enterprise,
        confidentiality=Need.Confidentiality.SUMMARY,
        summary="只公开这段摘要",
        budget_max=Decimal("888"),
    )
    return ChallengeFactory(need=need, **kwargs)


# --- #4 a summary-public challenge shows no enterprise name -------------------------------------------


def test_summary_public_challenge_hides_the_enterprise_on_web_list_and_detail(client):
    challenge = summary_challenge()
    listed = client.get(reverse("challenges:list")).content.decode()
    assert challenge.title in listed
    assert ENTERPRISE_NAME not in listed

    client.force_login(member_of(OrganizationFactory()))
    listed = client.get(reverse("challenges:list")).content.decode()
    assert challenge.title in listed and ENTERPRISE_NAME not in listed
    detail = client.get(challenge.get_absolute_url())
    assert detail.status_code == 200
    assert challenge.title in detail.content.decode()
    assert ENTERPRISE_NAME not in detail.content.decode()

    client.force_login(challenge.created_by)
    assert ENTERPRISE_NAME in client.get(challenge.get_absolute_url()).content.decode()


def test_summary_public_challenge_hides_the_enterprise_in_api_list_and_detail():
    challenge = summary_challenge()
    outsider = api(member_of(OrganizationFactory()))
    listed = outsider.get("/api/v1/challenges/")
    assert listed.status_code == 200
    row = next(r for r in listed.json() if r["uuid"] == str(challenge.uuid))
    assert row["organization"] is None
    assert ENTERPRISE_NAME not in listed.content.decode()
    detail = outsider.get(f"/api/v1/challenges/{challenge.uuid}/")
    assert detail.status_code == 200
    assert detail.json()["organization"] is None
    assert ENTERPRISE_NAME not in detail.content.decode()

    own = api(challenge.created_by).get(f"/api/v1/challenges/{challenge.uuid}/")
    assert own.json()["organization"] == ENTERPRISE_NAME


def test_invitation_email_of_a_summary_public_challenge_names_no_enterprise(monkeypatch):
    sent = []
    monkeypatch.setattr("notifications.services.notify", lambda **kw: sent.append(kw) or object())
    challenge = summary_challenge()
    invited = OrganizationFactory()
    invited_user = member_of(invited)
    services.challenge_invite(challenge=challenge, organization=invited, actor=challenge.created_by)
    mail = [kw for kw in sent if kw["recipient"] == invited_user]
    assert mail and ENTERPRISE_NAME not in str(mail[0]["context"])


def test_challenge_from_a_need_does_not_prefill_the_reward_from_its_budget(client):
    need = NeedFactory(
        confidentiality=Need.Confidentiality.SUMMARY, summary="摘要", budget_max=Decimal("888")
    )
    client.force_login(need.created_by)
    response = client.post(reverse("challenges:create", kwargs={"need_uuid": need.uuid}))
    challenge = Challenge.objects.get(need=need)
    assert response.status_code == 302
    assert challenge.reward_total is None
    edit = client.get(reverse("challenges:edit", kwargs={"uuid": challenge.uuid}))
    assert edit.status_code == 200
    assert "888" not in edit.content.decode()

    created = api(need.created_by).post(
        "/api/v1/challenges/", {"need": str(NeedFactory(organization=need.organization).uuid)}
    )
    assert created.status_code == 201, created.json()
    assert created.json()["reward_total"] is None


def test_publication_requires_a_reward_typed_by_the_enterprise():
    need = NeedFactory()
    NeedIndicatorFactory(need=need)
    challenge = services.challenge_create_from_need(need=need, actor=need.created_by)
    with pytest.raises(ValidationError) as exc:
        services.challenge_publish(challenge=challenge, actor=need.created_by)
    assert "reward_total" in exc.value.message_dict
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.DRAFT


# --- #17 the API answers a creation with what was saved ------------------------------------------------


def test_api_create_returns_the_deadline_and_milestones_that_were_posted():
    need = NeedFactory()
    indicator = NeedIndicatorFactory(need=need)
    deadline = (timezone.now() + dt.timedelta(days=45)).replace(microsecond=0)
    due = (timezone.localdate() + dt.timedelta(days=120)).isoformat()
    milestones = [
        {
            "name": "验收",
            "deliverable": "样品",
            "indicator_id": indicator.pk,
            "criterion": "达标",
            "due_date": due,
            "share": "100.00",
        }
    ]
    response = api(need.created_by).post(
        "/api/v1/challenges/",
        {
            "need": str(need.uuid),
            "reward_total": "250",
            "bid_deadline": deadline.isoformat(),
            "milestones": milestones,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert dt.datetime.fromisoformat(body["bid_deadline"]) == deadline
    assert body["reward_total"] == "250.00"
    assert [
        {k: m[k] for k in ("name", "deliverable", "indicator", "criterion", "due_date", "share")}
        for m in body["milestones"]
    ] == [
        {
            **{k: v for k, v in milestones[0].items() if k != "indicator_id"},
            "indicator": indicator.pk,
        }
    ]
    challenge = Challenge.objects.get(uuid=body["uuid"])
    assert challenge.bid_deadline == deadline
