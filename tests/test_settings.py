import os
import subprocess
import sys

import pytest

from matchmaker.env import EnvError, env_bool, env_int, env_list, parse_database_url

# The suite relaxes HTTPS settings for the test client (tests/plugin_env.py); a subprocess that checks
# production defaults must not inherit that.
RELAXED = {
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "ALLOWED_HOSTS",
}
BASE_ENV = {k: v for k, v in os.environ.items() if k not in RELAXED}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**BASE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_bool_accepts_common_spellings(monkeypatch):
    for raw, expected in [("1", True), ("yes", True), ("On", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("FLAG", raw)
        assert env_bool("FLAG", default=not expected) is expected


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(EnvError, match="FLAG"):
        env_bool("FLAG", default=False)


def test_env_int_rejects_garbage_and_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("N", raising=False)
    assert env_int("N", 7) == 7
    monkeypatch.setenv("N", "seven")
    with pytest.raises(EnvError):
        env_int("N", 7)


def test_env_list_splits_and_strips(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.cn, b.cn ,,")
    assert env_list("HOSTS", []) == ["a.cn", "b.cn"]


def test_database_url_with_host_and_port():
    db = parse_database_url("postgres://mm:s%40cret@db.local:5433/matchmaker?sslmode=require")
    assert db["NAME"] == "matchmaker"
    assert (db["USER"], db["PASSWORD"]) == ("mm", "s@cret")
    assert (db["HOST"], db["PORT"]) == ("db.local", "5433")
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_database_url_with_socket_directory():
    db = parse_database_url("postgresql://postgres@/test_mm?host=/var/run/pg")
    assert db["HOST"] == "/var/run/pg"
    assert db["NAME"] == "test_mm"


def test_database_url_rejects_other_engines():
    with pytest.raises(EnvError, match="scheme"):
        parse_database_url("sqlite:///db.sqlite3")


def test_settings_read_from_environment(settings):
    # tests/plugin_env.py put the suite on its own Redis; settings must have followed the env.
    assert settings.REDIS_URL == os.environ["REDIS_URL"]
    assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.LANGUAGE_CODE == "zh-hans"


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_bad_boolean_in_environment_fails_loudly():
    result = run_manage("check", DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


def test_deploy_check_is_clean_in_production_mode():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="a-real-production-secret-with-enough-entropy-0f9e8d7c6b5a4",
        ALLOWED_HOSTS="match.example.cn",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


# --- The development SECRET_KEY serves loopback only (issue 11, #2) ------------------------------


def test_loopback_names_and_addresses():
    from matchmaker.security import is_loopback_host

    for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "app.localhost"]:
        assert is_loopback_host(host), host
    every_interface = "0.0.0.0"  # noqa: S104
    for host in ["match.example.cn", every_interface, "*", ".example.cn", "192.168.1.5", "", "::"]:
        assert not is_loopback_host(host), host


def test_dev_key_check_names_the_non_loopback_hosts():
    from django.core.exceptions import ImproperlyConfigured

    from matchmaker.security import require_loopback_for_dev_key

    require_loopback_for_dev_key(["127.0.0.1", "localhost", "[::1]"])
    with pytest.raises(ImproperlyConfigured, match="match.example.cn"):
        require_loopback_for_dev_key(["127.0.0.1", "match.example.cn"])
    with pytest.raises(ImproperlyConfigured, match=r"\*"):
        require_loopback_for_dev_key(["*"])


def test_dev_secret_key_refuses_to_start_with_a_public_host():
    result = run_manage("check", DEBUG="1", ALLOWED_HOSTS="127.0.0.1,match.example.cn")
    assert result.returncode != 0
    assert "development SECRET_KEY" in result.stderr
    assert "match.example.cn" in result.stderr


def test_dev_secret_key_starts_on_loopback():
    result = run_manage("check", DEBUG="1")
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_dev_secret_key_answers_only_loopback_clients(client, settings):
    from matchmaker.security import DEV_SECRET_KEY

    settings.SECRET_KEY = DEV_SECRET_KEY
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    local = client.get("/accounts/login/", HTTP_HOST="127.0.0.1")
    assert local.status_code == 200
    remote = client.get("/accounts/login/", HTTP_HOST="127.0.0.1", REMOTE_ADDR="192.0.2.1")
    assert remote.status_code == 403
    # A host name that is not loopback is refused as well, whatever the client address.
    assert client.get("/accounts/login/", HTTP_HOST="testserver").status_code == 403


@pytest.mark.django_db
def test_a_real_secret_key_serves_any_client(client):
    assert client.get("/accounts/login/", REMOTE_ADDR="192.0.2.1").status_code == 200
