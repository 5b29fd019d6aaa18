"""The live quality check in a real browser: a member types a vague need and sees its score and
the named gaps before submitting; adding an indicator raises the score, still without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import Membership
from matching.models import Need
from tests.factories import MembershipFactory, OrganizationFactory
from tests.web_helpers import fast_passwords, taxonomy  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_a_vague_need_shows_its_score_and_gaps_before_submit(page, live_server):
    taxonomy()
    org = OrganizationFactory(name="苏州锂能科技有限公司")
    user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
    page.goto("/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", "pass-word-123")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/needs/new/")
    panel = page.locator("[data-quality-body]")
    page.fill("#id_title", "寻求电池技术合作")
    page.fill("#id_description", "希望提升产品性能，有意者请联系13912345678。")
    page.select_option("#id_funding_mode", "lump_sum")
    # The CSP forbids eval, so wait on a selector rather than a JS predicate.
    page.locator("[data-quality-body]:has-text('13912345678')").wait_for()
    assert "信息完整度 0 分" in panel.inner_text()
    gaps = panel.locator("li.gap")
    codes = {gaps.nth(i).get_attribute("data-code") for i in range(gaps.count())}
    assert {"indicator", "budget", "trl", "coop_modes", "deadline", "description"} <= codes
    assert {"no_contact", "matcher"} <= codes
    assert "低于 60 分" in panel.inner_text()
    assert "至少填写一项指标" in panel.inner_text()
    page.screenshot(path=str(DOCS / "quality-check.png"), full_page=False)

    page.fill("#id_indicators-0-name", "循环寿命")
    page.fill("#id_indicators-0-target", "2000")
    page.fill("#id_indicators-0-unit", "次")
    page.wait_for_selector("[data-quality-body] li.ok[data-code=indicator]")
    assert "信息完整度 20 分" in panel.inner_text()
    assert Need.objects.count() == 0  # nothing was submitted, nothing written
