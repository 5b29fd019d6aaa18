"""A lab member reads its ``/matches/`` page in a real browser: grouped by result, filtered to strong
matches. Set MATCHES_SCREENSHOTS=<dir> to keep the screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.models import Membership, Organization
from matching.models import Need
from tests.factories import (
    FieldFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    ResultFactory,
)
from tests.web_helpers import fast_passwords  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lab_filters_its_grouped_matches_to_strong_ones(page, live_server, tmp_path):
    directory = Path(os.environ.get("MATCHES_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    lab = OrganizationFactory(
        kind=Organization.Kind.INSTITUTION, name="华东理工大学新能源材料实验室"
    )
    user = MembershipFactory(organization=lab, role=Membership.Role.OWNER).user
    batteries = FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    robots = FieldFactory(code="intelligent_manufacturing.robots", name="工业机器人")
    cathode = ResultFactory(organization=lab, title="单晶高镍正极表面包覆改性技术", field=batteries)
    vision = ResultFactory(organization=lab, title="工业机器人视觉引导抓取系统", field=robots)
    rows = [
        (cathode, "三元电池高温循环衰减快", batteries, 0.91, Need.Confidentiality.PUBLIC),
        (cathode, "储能电池正极材料降本", batteries, 0.62, Need.Confidentiality.SUMMARY),
        (cathode, "钠离子电池层状氧化物正极", batteries, 0.31, Need.Confidentiality.PUBLIC),
        (vision, "无序来料机器人上料", robots, 0.74, Need.Confidentiality.PUBLIC),
        (vision, "焊缝视觉跟踪", robots, 0.22, Need.Confidentiality.PUBLIC),
    ]
    for result, title, field, score, confidentiality in rows:
        need = NeedFactory(title=title, field=field, confidentiality=confidentiality)
        MatchFactory(need=need, result=result, score=score)

    page.goto("/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", "pass-word-123")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto("/matches/")
    page.wait_for_selector("section.match-group")
    groups = page.locator("section.match-group h3")
    assert groups.count() == 2
    assert "单晶高镍正极表面包覆改性技术" in groups.nth(0).inner_text()
    page.screenshot(path=str(directory / "lab-matches.png"), full_page=True)

    page.select_option("select[name=strength]", "strong")
    page.click("#match-filters button[type=submit]")
    page.wait_for_url("**/matches/?strength=strong*")
    titles = page.locator("article.match header strong").all_inner_texts()
    assert titles == ["三元电池高温循环衰减快", "储能电池正极材料降本", "无序来料机器人上料"]
    page.screenshot(path=str(directory / "lab-matches-strong.png"), full_page=True)
