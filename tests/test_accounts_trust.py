"""Trust findings on accounts (issue 11): confirmation links, login throttling, verified
organizations changing identity, organization form errors, security headers and text caps."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.core.cache import cache

from accounts import tokens
from accounts.models import Membership, Organization
from core import limits
from core.models import AuditEvent
from tests.factories import UserFactory, make_credit_code
from tests.web_helpers import fast_passwords  # noqa: F401

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # tests/factories.py, UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Login failure counters live in the cache (the suite's own Redis); start every test from zero.
    cache.clear()
    yield
    cache.clear()


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


# --- #2: the email-confirmation link --------------------------------------------------------------


@pytest.fixture
def newcomer(fast_passwords):  # noqa: F811
    return UserFactory(is_active=False, email_confirmed_at=None)


def test_opening_confirmation_link_changes_nothing_and_offers_a_button(client, newcomer):
    link = _path(tokens.confirmation_url(newcomer))
    response = client.get(link)
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'<form method="post"', body)
    assert "csrfmiddlewaretoken" in body
    newcomer.refresh_from_db()
    assert not newcomer.is_active and newcomer.email_confirmed_at is None
    assert not _logged_in(client)


def test_confirming_activates_but_does_not_log_in(client, newcomer):
    link = _path(tokens.confirmation_url(newcomer))
    response = client.post(link, follow=True)
    assert response.status_code == 200
    assert "邮箱已确认，请登录" in response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    newcomer.refresh_from_db()
    assert newcomer.is_active and newcomer.email_confirmed_at is not None
    assert not _logged_in(client)


def test_confirmation_link_works_once(client, newcomer):
    link = _path(tokens.confirmation_url(newcomer))
    assert client.post(link).status_code == 302
    confirmed_at = type(newcomer).objects.get(pk=newcomer.pk).email_confirmed_at
    assert client.get(link).status_code == 400
    assert client.post(link).status_code == 400
    assert type(newcomer).objects.get(pk=newcomer.pk).email_confirmed_at == confirmed_at
    assert not _logged_in(client)


def test_link_issued_before_a_password_change_fails(client, newcomer):
    link = _path(tokens.confirmation_url(newcomer))
    newcomer.set_password("A-new-password-after-reset-42")
    newcomer.save(update_fields=["password"])
    assert client.post(link).status_code == 400
    newcomer.refresh_from_db()
    assert not newcomer.is_active


def test_link_for_a_confirmed_account_logs_nobody_in(client, fast_passwords):  # noqa: F811
    admin = UserFactory(is_staff=True, is_superuser=True)  # confirmed, like the superuser
    link = _path(tokens.confirmation_url(admin))
    assert client.get(link).status_code == 400
    assert client.post(link).status_code == 400
    assert not _logged_in(client)


def test_token_forged_for_another_user_fails(client, newcomer, fast_passwords):  # noqa: F811
    # The attacker knows the signing key (e.g. the development SECRET_KEY) and has an account of
    # their own; neither the old payload nor their own token with the victim's id is accepted.
    attacker = UserFactory(is_active=False, email_confirmed_at=None)
    own = signing.loads(tokens.confirmation_token(attacker), salt=tokens.CONFIRM_SALT)
    forged = [
        signing.dumps({"u": newcomer.pk, "e": newcomer.email}, salt=tokens.CONFIRM_SALT),
        signing.dumps({**own, "u": newcomer.pk}, salt=tokens.CONFIRM_SALT),
    ]
    for token in forged:
        assert client.post(f"/accounts/confirm/{token}/").status_code == 400
    newcomer.refresh_from_db()
    assert not newcomer.is_active
    assert not _logged_in(client)


# --- #9: brute force on the login form ------------------------------------------------------------


def _login(client, email: str, password: str, address: str):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=address
    )


def test_ten_failures_lock_the_account_even_for_the_right_password(client, fast_passwords):  # noqa: F811
    user = UserFactory()
    for _ in range(10):
        assert _login(client, user.email, "wrong-password", "192.0.2.1").status_code == 200
    response = _login(client, user.email, PASSWORD, "192.0.2.1")
    assert response.status_code == 429
    assert re.search(r"尝试次数过多，请 \d+ 分钟后再试", response.content.decode())
    assert not _logged_in(client)
    # From another address too: the limit is per account.
    assert _login(client, user.email, PASSWORD, "198.51.100.7").status_code == 429
    assert not _logged_in(client)


def test_a_locked_account_leaves_other_accounts_and_addresses_alone(client, fast_passwords):  # noqa: F811
    victim, other = UserFactory(), UserFactory()
    for _ in range(11):
        _login(client, victim.email, "wrong-password", "192.0.2.1")
    response = _login(client, other.email, PASSWORD, "198.51.100.7")
    assert response.status_code == 302
    assert _logged_in(client)


def test_thirty_failures_from_one_address_lock_that_address(client, fast_passwords):  # noqa: F811
    user = UserFactory()
    for i in range(30):
        _login(client, f"guess{i}@example.cn", "wrong-password", "192.0.2.9")
    assert _login(client, user.email, PASSWORD, "192.0.2.9").status_code == 429
    assert not _logged_in(client)
    assert _login(client, user.email, PASSWORD, "192.0.2.10").status_code == 302


def test_successful_login_resets_the_account_counter(client, fast_passwords):  # noqa: F811
    user = UserFactory()
    for _ in range(9):
        _login(client, user.email, "wrong-password", "192.0.2.1")
    assert _login(client, user.email, PASSWORD, "192.0.2.1").status_code == 302
    client.logout()
    for _ in range(9):
        _login(client, user.email, "wrong-password", "192.0.2.1")
    assert _login(client, user.email, PASSWORD, "192.0.2.1").status_code == 302


def test_admin_login_shares_the_lock(client, fast_passwords):  # noqa: F811
    staff = UserFactory(is_staff=True)
    for _ in range(10):
        _login(client, staff.email, "wrong-password", "192.0.2.1")
    response = client.post(
        "/admin/login/",
        {"username": staff.email, "password": PASSWORD},
        REMOTE_ADDR="192.0.2.1",
    )
    assert "尝试次数过多" in response.content.decode()
    assert not _logged_in(client)


# --- #10: a verified organization changing its identity -------------------------------------------


@pytest.fixture
def verified(cast):
    assert cast.org.is_verified
    return cast


def _org_api(client, org, data):
    return client.patch(f"/api/v1/organizations/{org.uuid}/", data, content_type="application/json")


def test_api_rename_drops_verification_with_audit_row_and_notice(owner_client, verified):
    org = verified.org
    response = _org_api(owner_client, org, {"name": "华为技术有限公司"})
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "华为技术有限公司"
    assert data["is_verified"] is False
    assert any("重新认证" in notice for notice in data["notices"])
    org.refresh_from_db()
    assert org.verified_at is None and org.verified_by is None
    event = AuditEvent.objects.get(action="organization.unverify", target_id=str(org.pk))
    assert (event.actor, event.from_state, event.to_state) == (
        verified.owner,
        "verified",
        "unverified",
    )
    assert event.data["fields"] == ["name"]
    assert event.data["before"]["name"] == "甲公司"


def test_api_credit_code_change_drops_verification(owner_client, verified):
    org = verified.org
    response = _org_api(owner_client, org, {"credit_code": make_credit_code()})
    assert response.status_code == 200
    assert response.json()["is_verified"] is False
    org.refresh_from_db()
    assert not org.is_verified


def test_api_other_edits_keep_verification(owner_client, verified):
    org = verified.org
    response = _org_api(
        owner_client, org, {"description": "新的简介", "name": "甲公司", "city": "苏州"}
    )
    assert response.status_code == 200
    assert response.json()["is_verified"] is True
    assert response.json()["notices"] == []
    org.refresh_from_db()
    assert org.is_verified and org.description == "新的简介"
    assert not AuditEvent.objects.filter(action="organization.unverify").exists()


def test_web_rename_drops_verification_and_says_so(owner_client, verified):
    org = verified.org
    response = owner_client.post(
        f"/accounts/orgs/{org.uuid}/edit/",
        {"name": "腾讯科技有限公司", "credit_code": org.credit_code, "description": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert "重新认证" in response.content.decode()
    org.refresh_from_db()
    assert org.name == "腾讯科技有限公司" and not org.is_verified
    assert AuditEvent.objects.filter(action="organization.unverify", target_id=str(org.pk)).exists()


def test_web_edit_without_identity_change_keeps_verification(owner_client, verified):
    org = verified.org
    response = owner_client.post(
        f"/accounts/orgs/{org.uuid}/edit/",
        {"name": org.name, "credit_code": org.credit_code, "description": "只改简介"},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.is_verified and org.description == "只改简介"


# --- #18: organization form errors are field messages ---------------------------------------------


def test_enterprise_without_credit_code_is_a_field_error(owner_client, cast):
    response = owner_client.post(
        "/accounts/orgs/new/", {"name": "无代码公司", "kind": "enterprise"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    errors = re.search(r'id="id_credit_code-errors">(.*?)</ul>', body, re.S)
    assert errors and "统一社会信用代码" in errors.group(1)
    assert "organization_credit_code" not in body
    assert "约束" not in body
    assert not Organization.objects.filter(name="无代码公司").exists()


def test_duplicate_credit_code_is_a_field_error_on_the_web(owner_client, cast):
    response = owner_client.post(
        "/accounts/orgs/new/",
        {"name": "重复代码公司", "kind": "enterprise", "credit_code": cast.other_org.credit_code},
    )
    assert response.status_code == 400
    body = response.content.decode()
    errors = re.search(r'id="id_credit_code-errors">(.*?)</ul>', body, re.S)
    assert errors and "已被其他机构登记" in errors.group(1)
    assert "organization_credit_code" not in body
    assert not Organization.objects.filter(name="重复代码公司").exists()


def test_duplicate_credit_code_is_a_field_error_in_the_api(owner_client, cast):
    response = _org_api(owner_client, cast.org, {"credit_code": cast.other_org.credit_code})
    assert response.status_code == 400
    data = response.json()
    assert list(data) == ["credit_code"]
    assert "已被其他机构登记" in data["credit_code"][0]
    cast.org.refresh_from_db()
    assert cast.org.credit_code != cast.other_org.credit_code


def test_empty_credit_code_for_enterprise_is_a_field_error_in_the_api(owner_client, cast):
    response = _org_api(owner_client, cast.org, {"credit_code": ""})
    assert response.status_code == 400
    assert list(response.json()) == ["credit_code"]


# --- #19: security headers and text caps ----------------------------------------------------------

CSP_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'self'",
    "object-src 'none'",
]


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/organizations/", "/nowhere/"])
def test_every_response_carries_the_content_security_policy(client, cast, path):
    response = client.get(path)
    policy = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    for directive in CSP_DIRECTIVES:
        assert directive in policy


def test_pages_have_no_inline_script_or_style(owner_client, cast):
    for path in ["/", "/accounts/login/", f"/accounts/orgs/{cast.org.uuid}/", "/api/docs/"]:
        body = owner_client.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), path
        assert "<style" not in body, path
        assert not re.search(r"\son[a-z]+=", body), path
        assert " style=" not in body, path


def test_over_long_description_via_api_is_a_field_error(owner_client, cast):
    response = _org_api(owner_client, cast.org, {"description": "长" * (limits.PARAGRAPH + 1)})
    assert response.status_code == 400
    assert list(response.json()) == ["description"]
    cast.org.refresh_from_db()
    assert cast.org.description == ""


def test_over_long_description_on_the_web_is_a_field_error(owner_client, cast):
    response = owner_client.post(
        "/accounts/orgs/new/",
        {
            "name": "长简介研究院",
            "kind": "institution",
            "credit_code": make_credit_code("12", "110108"),
            "description": "长" * (limits.PARAGRAPH + 1),
        },
    )
    assert response.status_code == 400
    assert re.search(r'id="id_description-errors"', response.content.decode())
    assert not Organization.objects.filter(name="长简介研究院").exists()
    assert not Membership.objects.filter(organization__name="长简介研究院").exists()


def test_organization_description_column_is_capped():
    field = Organization._meta.get_field("description")
    assert field.max_length == limits.PARAGRAPH


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_work_in_a_browser_under_the_policy(page, live_server, fast_passwords):  # noqa: F811
    from tests.factories import (
        CapabilityProfileFactory,
        MembershipFactory,
        NeedFactory,
        OrganizationFactory,
    )

    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    org = OrganizationFactory(name="苏州锂能科技有限公司")
    user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    need = NeedFactory(organization=org, created_by=user)
    lab = OrganizationFactory(name="江南材料研究院", kind=Organization.Kind.INSTITUTION)
    MembershipFactory(organization=lab, user=user)
    profile = CapabilityProfileFactory(organization=lab)

    page.goto("/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    for path in [
        "/",
        "/accounts/profile/",
        f"/accounts/orgs/{org.uuid}/",
        f"/accounts/orgs/{org.uuid}/edit/",
        "/needs/",
        need.get_absolute_url(),
        f"/needs/{need.uuid}/edit/",
        "/challenges/",
        "/dashboard/",
        "/admin/",
        f"/admin/accounts/organization/{org.pk}/change/",
    ]:
        response = page.goto(path)
        assert response.status < 400, path
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info")

    # The language switch submits through static/js/site.js (no inline handler).
    page.goto("/")
    page.select_option("select[name=language]", "en")
    page.wait_for_selector("html[lang=en]")

    # Deleting a capability profile asks first (data-confirm); dismissing keeps it.
    page.goto(profile.get_absolute_url())
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_timeout(300)
    assert type(profile).objects.filter(pk=profile.pk).exists()

    assert violations == []
