"""An enterprise member posts a need with two indicator rows in a real browser, publishes it, and
finds it in the need list."""

from __future__ import annotations

from unittest import mock

import pytest

from accounts.models import Membership
from matching.models import Need
from tests.factories import MembershipFactory, OrganizationFactory
from tests.web_helpers import fast_passwords, taxonomy  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_posts_and_publishes_a_need_with_two_indicators(page, live_server, tmp_path):
    taxonomy()
    org = OrganizationFactory(name="苏州锂能科技有限公司")
    user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user

    with mock.patch("matching.tasks.index_and_match.delay") as delay:
        page.goto("/accounts/login/")
        page.fill("#id_username", user.email)
        page.fill("#id_password", "pass-word-123")
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.click("nav >> text=我的机构工作台")
        page.click("text=发布需求")
        page.fill("#id_title", "锂电池隔膜涂覆工艺优化")
        page.select_option("#id_field", "new_energy.batteries")
        page.select_option("#id_region", label="江苏省")
        page.fill("#id_description", "湿法隔膜涂覆后透气度下降明显，需要新的浆料配方与涂布工艺。")
        page.fill("#id_budget_min", "100")
        page.fill("#id_budget_max", "300")
        page.check("input[name=coop_modes][value=joint_dev]")

        page.fill("#id_indicators-0-name", "透气度增幅")
        page.select_option("#id_indicators-0-operator", "<=")
        page.fill("#id_indicators-0-target", "15")
        page.fill("#id_indicators-0-unit", "%")
        page.click("text=添加指标")
        page.fill("#id_indicators-1-name", "热收缩率")
        page.select_option("#id_indicators-1-operator", "range")
        page.fill("#id_indicators-1-target", "1")
        page.fill("#id_indicators-1-target_max", "3")
        page.fill("#id_indicators-1-unit", "%")
        page.screenshot(path=str(tmp_path / "need-form.png"), full_page=True)

        page.click("button[name=publish]")
        page.wait_for_selector("h1:has-text('锂电池隔膜涂覆工艺优化')")
        assert page.locator(".badge.status-published").first.inner_text() == "已发布"
        assert page.locator("table.indicators tbody tr").count() == 2

        page.goto("/needs/?q=锂电池")
        page.wait_for_selector("text=锂电池隔膜涂覆工艺优化")
        page.screenshot(path=str(tmp_path / "need-list.png"), full_page=True)

    need = Need.objects.get()
    assert need.status == Need.Status.PUBLISHED
    assert need.created_by == user
    assert list(need.indicators.values_list("name", "operator")) == [
        ("透气度增幅", "<="),
        ("热收缩率", "range"),
    ]
    delay.assert_called_with("need", need.pk)
    assert (tmp_path / "need-list.png").stat().st_size > 0
