"""A challenge from publication to award in a real browser, with three users who log in through the
login form: the enterprise publishes, a lab bids, the deadline passes, an expert scores, the
enterprise awards. Set CHALLENGE_SCREENSHOTS=<dir> to keep a screenshot of every step."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Membership, Organization
from challenges.models import Bid, Challenge
from core.models import AuditEvent
from tests.factories import (
    ExpertProfileFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pass-word-123"


@pytest.fixture
def shots(tmp_path):
    directory = Path(os.environ.get("CHALLENGE_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        page.screenshot(path=str(directory / f"{name}.png"), full_page=True)

    return shoot


def login(page, live_server, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_challenge_from_publication_to_award_with_three_users(page, live_server, shots, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    enterprise_org = OrganizationFactory(name="苏州锂能科技有限公司")
    enterprise = MembershipFactory(organization=enterprise_org, role=Membership.Role.OWNER).user
    need = NeedFactory(organization=enterprise_org, created_by=enterprise)
    NeedIndicatorFactory(need=need, name="容量保持率", target="85", unit="%")
    lab_org = OrganizationFactory(name="江南材料研究院", kind=Organization.Kind.INSTITUTION)
    lab = MembershipFactory(organization=lab_org, role=Membership.Role.OWNER).user
    expert = ExpertProfileFactory(
        bio="长期研究高镍正极材料包覆改性与循环寿命。", employer="东华大学"
    )

    with mock.patch("matching.tasks.index_and_match.delay"):
        # The enterprise turns its need into a challenge and publishes it.
        login(page, live_server, enterprise.email)
        page.goto("/challenges/mine/")
        page.click("form button:has-text('发榜')")
        page.wait_for_selector("h3:has-text('基本信息与经费')")
        page.fill("#id_reward_total", "300")
        deadline = timezone.localtime() + dt.timedelta(days=10)
        page.fill("#id_bid_deadline", deadline.strftime("%Y-%m-%dT%H:%M"))
        due = (timezone.localdate() + dt.timedelta(days=120)).isoformat()
        page.fill("#id_milestones-0-name", "样品验收")
        page.fill("#id_milestones-0-deliverable", "20 Ah软包电芯样品")
        page.fill("#id_milestones-0-criterion", "45℃循环1500次容量保持率≥85%")
        page.fill("#id_milestones-0-due_date", due)
        page.fill("#id_milestones-0-share", "100")
        shots(page, "01-enterprise-setup")
        page.click("button[name=publish]")
        page.wait_for_selector(".ch-status:has-text('揭榜中')")
        challenge = Challenge.objects.get(need=need)
        assert challenge.status == Challenge.Status.OPEN
        shots(page, "02-enterprise-published")

        # The lab finds it in the hall and bids.
        login(page, live_server, lab.email)
        page.goto("/challenges/")
        shots(page, "03-lab-hall")
        page.click(f"text={challenge.title}")
        page.click("text=我要揭榜")
        page.fill("#id_technical_approach", "单晶化＋原子层沉积氧化铝包覆，抑制界面副反应。")
        indicator = challenge.indicators.get()
        page.fill(f"#id_ind_{indicator.pk}_approach", "包覆层厚度控制在2–3 nm")
        page.fill(f"#id_ind_{indicator.pk}_value", "87%")
        page.fill("#id_team", "教授2人，博士5人，中试线1条。")
        milestone = challenge.milestones.get()
        page.fill(f"#id_ms_{milestone.pk}_date", due)
        page.fill("#id_budget-0-item", "材料与测试费")
        page.fill("#id_budget-0-amount", "180")
        shots(page, "04-lab-bid-form")
        page.click("button[name=submit]")
        page.wait_for_selector("h1:has-text('的揭榜方案')")
        bid = Bid.objects.get(challenge=challenge)
        assert bid.status == Bid.Status.SUBMITTED
        shots(page, "05-lab-bid-submitted")

        # Before the deadline the enterprise sees that bids are sealed.
        login(page, live_server, enterprise.email)
        page.goto(f"/challenges/{challenge.uuid}/bids/")
        assert page.locator(".ch-sealed").count() == 1
        assert "单晶化" not in page.content()
        shots(page, "06-enterprise-sealed")

        with time_machine.travel(challenge.bid_deadline + dt.timedelta(hours=2)):
            # After the deadline: the enterprise assigns the suggested expert.
            page.goto(f"/challenges/{challenge.uuid}/review/")
            page.wait_for_selector(f"td:has-text('{expert.user.name}')")
            page.locator("tr", has_text=expert.user.name).locator("button:has-text('指派')").click()
            page.wait_for_selector("text=已指派评审专家")
            shots(page, "07-enterprise-review")

            # The expert scores the bid on every criterion and submits.
            login(page, live_server, expert.user.email)
            page.goto("/challenges/mine/")
            page.click(f"text={challenge.title}")
            for criterion in challenge.criteria.all():
                page.fill(f"#id_s_{bid.pk}_{criterion.pk}", "85")
            page.fill(f"#id_c_{bid.pk}", "路线清晰，团队有中试经验。")
            shots(page, "08-expert-scoring")
            page.click("button[name=submit]")
            page.wait_for_selector("text=评分已提交")
            shots(page, "09-expert-submitted")

            # The enterprise awards with a written reason.
            login(page, live_server, enterprise.email)
            page.goto(f"/challenges/{challenge.uuid}/review/")
            page.check(f"input[name=winners][value='{bid.pk}']")
            page.fill("#id_reason", "技术路线成熟，指标承诺明确。")
            shots(page, "10-enterprise-award")
            page.click("button:has-text('确认定榜')")
            page.wait_for_selector(".ch-status:has-text('已定榜')")
            shots(page, "11-awarded")

            # The lab sees the ranking and the reason.
            login(page, live_server, lab.email)
            page.goto(challenge.get_absolute_url())
            page.wait_for_selector("text=技术路线成熟，指标承诺明确。")
            shots(page, "12-lab-result")

    challenge.refresh_from_db()
    bid.refresh_from_db()
    assert challenge.status == Challenge.Status.AWARDED
    assert (bid.outcome, bid.rank) == (Bid.Outcome.WON, 1)
    assert list(
        AuditEvent.objects.filter(action="challenge.transition", target_id=str(challenge.pk))
        .order_by("id")
        .values_list("to_state", flat=True)
    ) == ["open", "review", "awarded"]
