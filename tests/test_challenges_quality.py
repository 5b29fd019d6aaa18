"""The 榜单 quality check (matching.catalogue.quality.challenge_quality, drafts built by
challenges.selectors.challenge_quality): the need's items on the challenge's own terms plus its IP
terms (知识产权归属), live on the setup form, on the page and in the API for its enterprise only,
and a warning when it is published below the threshold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from challenges import selectors, services
from challenges.models import Challenge
from matching.catalogue.quality import CHALLENGE_WEIGHTS, ChallengeDraft, challenge_quality
from tests.factories import ChallengeFactory, MembershipFactory, OrganizationFactory, UserFactory
from tests.test_challenges_api import api

NOW = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
IP = "新产生的知识产权归出题单位所有，揭榜方享有免费的非独占科研使用权。"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _codes(report, ok: bool) -> set[str]:
    return {item["code"] for item in report["items"] if item["ok"] is ok}


def test_the_weights_sum_to_100():
    assert sum(CHALLENGE_WEIGHTS.values()) == 100


@pytest.mark.django_db  # the matcher's reader looks words up in its lexical index
def test_a_complete_challenge_scores_full_and_an_empty_one_names_every_gap():
    complete = ChallengeDraft(
        title="高镍正极循环寿命提升",
        intro="现有高镍正极在 45℃ 下循环 800 次后容量保持率跌到 80% 以下，需要包覆或掺杂方案。" * 3,
        need_text="产线使用共沉淀前驱体，烧结温度 750℃。",
        indicators=({"name": "循环次数", "operator": "ge", "target": "1500", "unit": "次"},),
        reward_total=Decimal("300"),
        trl_min=5,
        coop_modes=("joint_dev",),
        bid_deadline=NOW + dt.timedelta(days=30),
        ip_terms=IP,
    )
    report = challenge_quality(complete, now=NOW)
    assert report["score"] == 100 and not report["below_threshold"], report["items"]

    empty = challenge_quality(ChallengeDraft(), now=NOW)
    # Nothing typed: every item is a gap but the contact check (there is no text to leak from).
    assert empty["score"] == CHALLENGE_WEIGHTS["no_contact"]
    assert _codes(empty, False) == set(CHALLENGE_WEIGHTS) - {"no_contact"}
    ip = next(item for item in empty["items"] if item["code"] == "ip_terms")
    assert ip["message"] == "没有写明知识产权归属。" and "归出题单位所有" in ip["suggestion"]

    leaking = challenge_quality(
        ChallengeDraft(intro="请联系 13812345678", ip_terms="归甲方"), now=NOW
    )
    assert {"no_contact", "ip_terms"} <= _codes(leaking, False)


@pytest.mark.django_db
def test_the_setup_form_checks_live_and_saves_the_ip_terms(client):
    challenge = ChallengeFactory(status=Challenge.Status.DRAFT, published_at=None)
    client.force_login(challenge.created_by)
    page = client.get(reverse("challenges:edit", kwargs={"uuid": challenge.uuid})).content.decode()
    assert "data-quality-url" in page and "知识产权归属" in page and "信息完整度" in page
    url = reverse("challenges:quality", kwargs={"uuid": challenge.uuid})
    before = client.post(url, {"title": "x", "ip_terms": ""}).json()["quality"]
    after = client.post(url, {"title": "x", "ip_terms": IP}).json()
    assert "ip_terms" in _codes(before, False)
    assert "ip_terms" in _codes(after["quality"], True)
    assert after["quality"]["score"] - before["score"] == CHALLENGE_WEIGHTS["ip_terms"]
    assert 'data-code="ip_terms"' in after["html"]
    challenge.refresh_from_db()
    assert challenge.ip_terms == ""  # the check writes nothing

    outsider = MembershipFactory(organization=OrganizationFactory()).user
    client.force_login(outsider)
    assert client.post(url, {"title": "x"}).status_code == 404

    services.challenge_update(challenge=challenge, actor=challenge.created_by, ip_terms=IP)
    challenge.refresh_from_db()
    assert challenge.ip_terms == IP
    assert "ip_terms" in _codes(selectors.challenge_quality(challenge=challenge), True)


@pytest.mark.django_db
def test_the_api_shows_the_report_to_the_enterprise_and_staff_only():
    challenge = ChallengeFactory(ip_terms=IP)
    url = f"/api/v1/challenges/{challenge.uuid}/"
    mine = api(challenge.created_by).get(url).json()
    assert mine["ip_terms"] == IP
    assert mine["quality"]["score"] == selectors.challenge_quality(challenge=challenge)["score"]
    assert "ip_terms" in _codes(mine["quality"], True)
    staff = UserFactory(is_staff=True)
    assert api(staff).get(url).json()["quality"] is not None
    lab = MembershipFactory(organization=OrganizationFactory()).user
    other = api(lab).get(url).json()
    assert other["quality"] is None and other["ip_terms"] == IP


@pytest.mark.django_db
def test_publishing_below_the_threshold_is_allowed_and_warned(client):
    challenge = ChallengeFactory(
        status=Challenge.Status.DRAFT,
        published_at=None,
        intro="",
        bid_deadline=timezone.now() + dt.timedelta(days=20),
    )
    challenge.need.description = "短"
    challenge.need.scenario = ""
    challenge.need.trl_min = None
    challenge.need.save()
    client.force_login(challenge.created_by)
    response = client.post(
        reverse("challenges:publish", kwargs={"uuid": challenge.uuid}), follow=True
    )
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN
    text = response.content.decode()
    assert "信息完整度" in text and "没有写明知识产权归属" in text
