import re

import pytest

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_create_use_and_revoke_a_token(client, cast):
    client.force_login(cast.owner)
    response = client.post("/accounts/tokens/", {"name": "省平台对接"})
    key = re.search(r'id="new-key">([0-9a-f]{40})<', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=cast.owner)
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    client.logout()

    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    response = client.get("/api/v1/organizations/", **auth)
    assert response.status_code == 200
    assert [o["uuid"] for o in response.json()] == [str(cast.org.uuid)]
    token.refresh_from_db()
    assert token.last_used_at is not None

    client.force_login(cast.owner)
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    client.logout()
    assert client.get("/api/v1/organizations/", **auth).status_code == 401


def test_token_page_never_shows_the_key_again(client, cast):
    client.force_login(cast.owner)
    first = client.post("/accounts/tokens/", {"name": "ERP"}).content.decode()
    key = re.search(r'id="new-key">([0-9a-f]{40})<', first).group(1)
    assert key not in client.get("/accounts/tokens/").content.decode()


def test_cannot_revoke_someone_elses_token(client, cast):
    from accounts.services import api_token_create

    token, key = api_token_create(user=cast.owner, name="ERP")
    client.force_login(cast.outsider)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.is_active


def test_unknown_token_is_401(client):
    assert (
        client.get("/api/v1/organizations/", HTTP_AUTHORIZATION="Token " + "0" * 40).status_code
        == 401
    )


def test_api_token_command_prints_a_working_key_once(client, cast):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("api_token", cast.owner.email.upper(), "--name", "省平台对接", stdout=out)
    key = out.getvalue().strip()
    token = ApiToken.objects.get(user=cast.owner)
    assert token.name == "省平台对接" and token.key_hash == ApiToken.hash_key(key)
    response = client.get("/api/v1/organizations/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200

    with pytest.raises(CommandError):
        call_command("api_token", "nobody@example.cn", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("api_token", cast.owner.email, "--name", "  ", stdout=StringIO())
    assert ApiToken.objects.count() == 1
