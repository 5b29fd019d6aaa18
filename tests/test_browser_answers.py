"""Coded answers and the 榜单 quality check in a real browser: a lab declines an invitation to bid
with a coded reason and the enterprise sees it on its challenge page; then the enterprise declines
the lab's bid and the lab reads the reason on its bid page; the challenge setup form scores the
IP terms live, without a reload."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Membership, Organization
from challenges import services
from challenges.models import Bid, Challenge, ChallengeInvitation
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    MembershipFactory,
    OrganizationFactory,
)
from tests.web_helpers import fast_passwords  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user) -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", "pass-word-123")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _owner(org):
    return MembershipFactory(organization=org, role=Membership.Role.OWNER).user


def test_a_lab_declines_an_invitation_and_the_enterprise_sees_the_reason(page, live_server):
    challenge = ChallengeFactory(access=Challenge.Access.INVITED)
    boss = challenge.created_by
    lab = OrganizationFactory(name="乙研究院", kind=Organization.Kind.INSTITUTION)
    professor = _owner(lab)
    invitation = services.challenge_invite(challenge=challenge, organization=lab, actor=boss)

    _login(page, live_server, professor)
    page.goto("/challenges/mine/")
    page.locator("text=揭榜邀请（待答复）").wait_for()
    page.click("a:has-text('去答复')")
    page.locator("article.ch-invitation").wait_for()
    page.click("article.ch-invitation summary")
    page.select_option("article.ch-invitation select[name=reason]", "route")
    page.fill("article.ch-invitation input[name=note]", "需要原位表征设备")
    page.click("article.ch-invitation button[value=decline]")
    page.locator("text=已婉拒邀请，出题单位会看到您的原因。").wait_for()
    assert "原因：技术路线不可行" in page.locator("article.ch-invitation").inner_text()
    invitation.refresh_from_db()
    assert invitation.status == ChallengeInvitation.Status.DECLINED

    _login(page, live_server, boss)
    page.goto(challenge.get_absolute_url())
    answers = page.locator("ul.ch-invitations")
    answers.wait_for()
    text = answers.inner_text()
    assert "乙研究院" in text and "已婉拒" in text
    assert "原因：技术路线不可行" in text and "需要原位表征设备" in text


def test_the_enterprise_declines_a_bid_and_the_bidder_reads_the_reason(page, live_server):
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    Challenge.objects.filter(pk=challenge.pk).update(
        bid_deadline=timezone.now() - dt.timedelta(hours=1)
    )
    challenge.refresh_from_db()
    services.challenge_close_bidding_if_due(challenge=challenge)

    _login(page, live_server, challenge.created_by)
    page.goto(bid.get_absolute_url())
    page.click("details.ch-answer summary")
    page.select_option("details.ch-answer select[name=reason]", "price")
    page.fill("details.ch-answer input[name=note]", "预算超出两倍")
    page.click("details.ch-answer button[type=submit]")
    page.locator("article.ch-answer").wait_for()
    bid.refresh_from_db()
    assert (bid.outcome, bid.decline_reason) == (Bid.Outcome.LOST, "price")

    _login(page, live_server, bid.created_by)
    page.goto(bid.get_absolute_url())
    answer = page.locator("article.ch-answer").inner_text()
    assert "未入选" in answer and "原因：报价不合适" in answer and "预算超出两倍" in answer


def test_the_challenge_form_scores_the_ip_terms_live(page, live_server):
    challenge = ChallengeFactory(status=Challenge.Status.DRAFT, published_at=None)
    _login(page, live_server, challenge.created_by)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/challenges/{challenge.uuid}/edit/")
    panel = page.locator("[data-quality-body]")
    panel.locator("li.gap[data-code=ip_terms]").wait_for()
    before = int(panel.locator(".quality-report").get_attribute("data-score"))
    page.fill("#id_ip_terms", "新产生的知识产权归出题单位所有，揭榜方享有免费的非独占科研使用权。")
    page.wait_for_selector("[data-quality-body] li.ok[data-code=ip_terms]")
    after = int(panel.locator(".quality-report").get_attribute("data-score"))
    assert after - before == 15
    challenge.refresh_from_db()
    assert challenge.ip_terms == ""  # scored live, nothing saved
