"""Trust findings on accounts (issue 11): confirmation links, login throttling, verified
organizations changing identity, organization form errors, security headers and text caps."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.core.cache import cache

from accounts import tokens
from tests.factories import UserFactory
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
