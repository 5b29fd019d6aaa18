import re

import pytest

from accounts.models import User

pytestmark = [pytest.mark.smtp, pytest.mark.django_db(transaction=True)]

PASSWORD = "Kx8-揭榜-挂帅-2026"


def _link(message, path_prefix: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://[^\s]+(" + re.escape(path_prefix) + r"[^\s]+)", body)
    assert match, body
    return match.group(1)


def test_register_confirm_by_email_then_log_in(client, smtp_server):
    response = client.post(
        "/accounts/register/",
        {
            "email": "Zhang.Wei@Example.cn",
            "name": "张伟",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "请查收确认邮件" in response.content.decode()

    user = User.objects.get(email="zhang.wei@example.cn")
    assert not user.is_active and user.email_confirmed_at is None
    assert not client.login(username="zhang.wei@example.cn", password=PASSWORD)

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "zhang.wei@example.cn"
    assert "确认" in message["Subject"]
    assert message.get_body(preferencelist=("html",)) is not None

    link = _link(message, "/accounts/confirm/")
    assert client.get(link).status_code == 200
    user.refresh_from_db()
    assert not user.is_active

    response = client.post(link)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    user.refresh_from_db()
    assert user.is_active and user.email_confirmed_at is not None
    assert client.get("/accounts/profile/").status_code == 302  # confirming did not log in

    response = client.post(
        "/accounts/login/", {"username": "zhang.wei@example.cn", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


def test_tampered_confirmation_link_activates_nothing(client, smtp_server):
    client.post(
        "/accounts/register/",
        {"email": "li@example.cn", "name": "李", "password": PASSWORD, "password_again": PASSWORD},
    )
    (message,) = smtp_server.wait_for(1)
    link = _link(message, "/accounts/confirm/")
    assert client.get(link[:-3] + "abc/").status_code == 400
    assert client.post(link[:-3] + "abc/").status_code == 400
    assert not User.objects.get(email="li@example.cn").is_active


def test_duplicate_email_is_a_form_error_and_sends_nothing(client, smtp_server, django_user_model):
    django_user_model.objects.create_user(email="dup@example.cn", password=PASSWORD, name="甲")
    response = client.post(
        "/accounts/register/",
        {"email": "DUP@example.cn", "name": "乙", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert "该邮箱已注册" in response.content.decode()
    assert User.objects.filter(email__iexact="dup@example.cn").count() == 1
    assert smtp_server.wait_for(1, timeout=1) == []


def test_weak_password_is_a_form_error(client, smtp_server):
    response = client.post(
        "/accounts/register/",
        {
            "email": "weak@example.cn",
            "name": "弱",
            "password": "12345678",
            "password_again": "12345678",
        },
    )
    assert response.status_code == 400
    assert not User.objects.filter(email="weak@example.cn").exists()


def test_password_reset_by_email(client, smtp_server, django_user_model):
    django_user_model.objects.create_user(email="reset@example.cn", password=PASSWORD, name="王")
    client.post("/accounts/password-reset/", {"email": "reset@example.cn"})
    (message,) = smtp_server.wait_for(1)
    link = _link(message, "/accounts/reset/")
    response = client.get(link, follow=True)
    new_password = "Another-Strong-密码-99"
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    assert client.login(username="reset@example.cn", password=new_password)
