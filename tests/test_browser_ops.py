"""The operator dashboard in Chromium over a year of activity: staff log in, see the funnel, money
and feedback charts with Chinese labels. Set OPS_SCREENSHOT=<file.png> to keep a screenshot."""

from __future__ import annotations

import os

import pytest

from core.demo import DEMO_DIR
from ops.demo import load_history
from taxonomy.services import taxonomy_load
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pass-word-123"


def test_staff_see_a_year_of_funnel_money_and_feedback_charts(page, live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    taxonomy_load(path=DEMO_DIR / "taxonomy.json")
    load_history(password=PASSWORD)
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
    assert page.locator("main svg").count() == 5
    assert page.locator("[data-demo]").inner_text().startswith("演示数据")
    assert page.locator("main svg text", has_text="作价投资").count() == 1
    assert page.locator("main svg text", has_text="需求发布").count() >= 1
    assert page.locator("main svg rect").count() > 40
    assert not errors, errors  # e.g. a Content-Security-Policy violation
    if os.environ.get("OPS_SCREENSHOT"):
        page.screenshot(path=os.environ["OPS_SCREENSHOT"], full_page=True)
