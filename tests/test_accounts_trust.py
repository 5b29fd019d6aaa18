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
