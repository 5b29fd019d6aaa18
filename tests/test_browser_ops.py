"""The operator dashboard in Chromium over a year of activity: staff log in, see the funnel, money
and feedback charts with Chinese labels. Set OPS_SCREENSHOT=<file.png> to keep a screenshot."""

from __future__ import annotations

import os

import pytest

from tests.factories import UserFactory
from tests.ops_history import year_of_activity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pass-word-123"


def test_staff_see_a_year_of_funnel_money_and_feedback_charts(page, live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    year_of_activity()
    staff = UserFactory(is_staff=True, email="ops@example.cn")
    staff.set_password(PASSWORD)
    staff.save()
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto("/accounts/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto("/ops/")
    assert page.locator("h1").inner_text() == "运营看板"
    assert page.locator("main svg").count() == 4
    assert page.locator("main svg text", has_text="需求发布").count() >= 1
    assert page.locator("main svg rect").count() > 40
    assert not errors, errors  # e.g. a Content-Security-Policy violation
    if os.environ.get("OPS_SCREENSHOT"):
        page.screenshot(path=os.environ["OPS_SCREENSHOT"], full_page=True)
