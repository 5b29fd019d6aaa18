"""Organization pages and API: members see their own, an outsider gets 404 and changes nothing."""

import pytest

from accounts.models import Invitation, Membership

pytestmark = pytest.mark.django_db


def test_member_sees_members_page(client, cast):
    client.force_login(cast.member)
    response = client.get(f"/accounts/orgs/{cast.org.uuid}/members/")
    assert response.status_code == 200
    assert cast.owner.email in response.content.decode()


@pytest.mark.parametrize("suffix", ["members/", "edit/"])
def test_outsider_gets_404_on_private_pages(outsider_client, cast, suffix):
    response = outsider_client.get(f"/accounts/orgs/{cast.org.uuid}/{suffix}")
    assert response.status_code == 404


def test_outsider_cannot_edit_other_org(outsider_client, cast):
    response = outsider_client.post(
        f"/accounts/orgs/{cast.org.uuid}/edit/",
        {"name": "被篡改", "credit_code": cast.org.credit_code},
    )
    assert response.status_code == 404
    cast.org.refresh_from_db()
    assert cast.org.name == "甲公司"


def test_public_page_hides_private_fields_from_outsider(outsider_client, cast):
    response = outsider_client.get(f"/accounts/orgs/{cast.org.uuid}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert cast.org.name in body
    assert cast.org.credit_code not in body
    assert cast.owner.email not in body


def test_member_cannot_edit_but_owner_can(client, cast):
    client.force_login(cast.member)
    assert client.get(f"/accounts/orgs/{cast.org.uuid}/edit/").status_code == 404
    client.force_login(cast.owner)
    response = client.post(
        f"/accounts/orgs/{cast.org.uuid}/edit/",
        {"name": "甲公司（更名）", "credit_code": cast.org.credit_code, "description": "新简介"},
    )
    assert response.status_code == 302
    cast.org.refresh_from_db()
    assert cast.org.name == "甲公司（更名）"


def test_api_lists_only_own_organizations(outsider_client, cast):
    data = outsider_client.get("/api/v1/organizations/").json()
    assert [o["uuid"] for o in data] == [str(cast.other_org.uuid)]


@pytest.mark.parametrize("suffix", ["", "members/"])
def test_api_outsider_gets_404(outsider_client, cast, suffix):
    assert outsider_client.get(f"/api/v1/organizations/{cast.org.uuid}/{suffix}").status_code == 404


def test_api_outsider_patch_is_404_and_changes_nothing(outsider_client, cast):
    response = outsider_client.patch(
        f"/api/v1/organizations/{cast.org.uuid}/",
        {"name": "被篡改"},
        content_type="application/json",
    )
    assert response.status_code == 404
    cast.org.refresh_from_db()
    assert cast.org.name == "甲公司"


def test_api_member_patch_is_403(client, cast):
    client.force_login(cast.member)
    response = client.patch(
        f"/api/v1/organizations/{cast.org.uuid}/", {"name": "改名"}, content_type="application/json"
    )
    assert response.status_code == 403
    cast.org.refresh_from_db()
    assert cast.org.name == "甲公司"


def test_anonymous_api_is_401(client, cast):
    assert client.get("/api/v1/organizations/").status_code == 401


def test_new_organization_is_unverified_with_creator_as_owner(owner_client, cast):
    from accounts.models import Organization
    from tests.factories import make_credit_code

    response = owner_client.post(
        "/accounts/orgs/new/",
        {
            "name": "新材料研究院",
            "kind": "institution",
            "credit_code": make_credit_code("12", "110108"),
        },
    )
    org = Organization.objects.get(name="新材料研究院")
    assert response.status_code == 302
    assert not org.is_verified
    assert Membership.objects.get(organization=org).user == cast.owner


def test_operator_kind_is_staff_only(owner_client, cast):
    from accounts.models import Organization

    owner_client.post("/accounts/orgs/new/", {"name": "省平台", "kind": "operator"})
    assert not Organization.objects.filter(name="省平台").exists()


def test_staff_verifies_and_audit_row_is_written(client, cast, django_user_model):
    from core.models import AuditEvent

    org = cast.other_org
    org.verified_at = None
    org.save()
    staff = django_user_model.objects.create_user(
        email="ops@example.cn", password="x", name="运营", is_staff=True
    )
    client.force_login(staff)
    client.post(f"/accounts/orgs/{org.uuid}/verify/")
    org.refresh_from_db()
    assert org.is_verified
    event = AuditEvent.objects.get(action="organization.verify", target_id=str(org.pk))
    assert (event.actor, event.to_state) == (staff, "verified")


def test_audit_events_cannot_be_edited(cast):
    from django.db import DatabaseError, transaction

    from core.models import AuditEvent
    from core.services import audit_record

    event = audit_record(actor=cast.owner, action="x", target=cast.org)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.smtp
def test_owner_invites_colleague_who_joins(
    client, cast, smtp_server, django_user_model, django_capture_on_commit_callbacks
):
    client.force_login(cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/accounts/orgs/{cast.org.uuid}/members/",
            {"email": "new@example.cn", "role": "member"},
        )
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "new@example.cn"
    invitation = Invitation.objects.get(email="new@example.cn")
    assert invitation.token in message.get_body(preferencelist=("plain",)).get_content()

    newcomer = django_user_model.objects.create_user(
        email="new@example.cn", password="x", name="新同事"
    )
    client.force_login(newcomer)
    response = client.post(f"/accounts/invitations/{invitation.token}/")
    assert response.status_code == 302
    assert Membership.objects.filter(user=newcomer, organization=cast.org).exists()


def test_member_cannot_invite(client, cast):
    client.force_login(cast.member)
    response = client.post(
        f"/accounts/orgs/{cast.org.uuid}/members/", {"email": "x@example.cn", "role": "owner"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_invitation_for_another_email_is_refused(client, cast, django_user_model):
    from accounts.services import invitation_create

    invitation = invitation_create(org=cast.org, actor=cast.owner, email="right@example.cn")
    client.force_login(cast.outsider)
    response = client.post(f"/accounts/invitations/{invitation.token}/")
    assert response.status_code == 400
    assert not Membership.objects.filter(user=cast.outsider, organization=cast.org).exists()
