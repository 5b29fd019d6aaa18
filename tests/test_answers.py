"""Coded answers with deadlines for access requests to summary-public needs: a decline names a
reason from the fixed set and reaches the requester (email and dashboard); the enterprise is
reminded before the deadline; a missed deadline is recorded once as "no answer"."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from matching.catalogue import services
from matching.catalogue.answers import DeclineReason
from matching.models import Need, NeedAccess
from matching.tasks import answers_sweep
from notifications.models import Notification
from tests.factories import MembershipFactory, NeedFactory, OrganizationFactory
from tests.test_notifications_worker import wait_until, worker_smtp  # noqa: F401

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def request_(cast, settings):
    """The outsider's lab asks to read a summary-public need of the cast's enterprise at START."""
    settings.ANSWER_DEADLINE_DAYS = 10
    settings.ANSWER_REMINDER_HOURS = 48
    need = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        title="固态电解质界面阻抗",
        summary="寻求固态电池界面改性方案。",
        confidentiality=Need.Confidentiality.SUMMARY,
    )
    with time_machine.travel(START, tick=False):
        return services.need_access_request(
            need=need, actor=cast.outsider, organization=cast.other_org, accept_terms=True
        )


def _rows(template: str) -> list[Notification]:
    return list(Notification.objects.filter(template=template).select_related("recipient"))


@pytest.mark.django_db
def test_a_request_gets_the_platform_deadline(request_):
    assert request_.respond_by == START + dt.timedelta(days=10)


@pytest.mark.django_db
def test_declining_needs_a_reason_from_the_fixed_set(request_, cast):
    with pytest.raises(ValidationError) as missing:
        services.need_access_decide(access=request_, actor=cast.owner, approve=False)
    assert "reason" in missing.value.message_dict
    with pytest.raises(ValidationError) as other:
        services.need_access_decide(
            access=request_, actor=cast.owner, approve=False, reason=DeclineReason.OTHER
        )
    assert "note" in other.value.message_dict
    request_.refresh_from_db()
    assert request_.status == NeedAccess.Status.REQUESTED and not _rows("access_declined")


@pytest.mark.django_db
def test_a_declined_request_reaches_the_requester_with_its_reason(request_, cast, client):
    client.force_login(cast.member)
    client.post(
        reverse("matching:need-access-decide", kwargs={"pk": request_.pk}),
        {"decision": "reject", "reason": "maturity", "note": "需要中试数据"},
    )
    request_.refresh_from_db()
    assert request_.status == NeedAccess.Status.REJECTED
    assert (request_.decline_reason, request_.decline_note) == ("maturity", "需要中试数据")
    rows = _rows("access_declined")
    assert [r.recipient for r in rows] == [cast.outsider]  # the requester's side only
    assert rows[0].context["reason"] == "成熟度不够"

    client.force_login(cast.outsider)
    dashboard = client.get(reverse("matching:dashboard")).content.decode()
    assert "原因：成熟度不够" in dashboard and "需要中试数据" in dashboard


@pytest.mark.django_db
def test_the_sweep_reminds_once_then_records_no_answer_once(request_, cast):
    enterprise_member = MembershipFactory(organization=cast.org).user
    with time_machine.travel(START + dt.timedelta(days=7), tick=False):
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}  # not due yet
    with time_machine.travel(START + dt.timedelta(days=8, hours=12), tick=False):
        assert answers_sweep() == {"reminded": 1, "no_answer": 0}
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}  # idempotent
    reminded = {r.recipient for r in _rows("access_answer_reminder")}
    assert reminded == {cast.owner, cast.member, enterprise_member}

    with time_machine.travel(START + dt.timedelta(days=10, minutes=1), tick=False):
        assert answers_sweep() == {"reminded": 0, "no_answer": 1}
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}
    request_.refresh_from_db()
    assert request_.no_answer_at == START + dt.timedelta(days=10, minutes=1)
    assert request_.status == NeedAccess.Status.REQUESTED  # may still be answered, late
    assert [r.recipient for r in _rows("access_no_answer")] == [cast.outsider]

    services.need_access_decide(access=request_, actor=cast.owner, approve=True)
    request_.refresh_from_db()
    assert request_.status == NeedAccess.Status.APPROVED and request_.no_answer_at is not None


@pytest.mark.django_db
def test_a_renewed_request_gets_a_fresh_deadline(request_, cast):
    services.need_access_decide(
        access=request_, actor=cast.owner, approve=False, reason=DeclineReason.PARTNER
    )
    later = START + dt.timedelta(days=30)
    with time_machine.travel(later, tick=False):
        again = services.need_access_request(
            need=request_.need, actor=cast.outsider, organization=cast.other_org, accept_terms=True
        )
    assert again.respond_by == later + dt.timedelta(days=10)
    assert again.decline_reason == "" and again.no_answer_at is None


# --- through a real worker and SMTP server ----------------------------------------------------------


@pytest.mark.worker
@pytest.mark.smtp
@pytest.mark.slow
def test_the_decline_and_the_missed_deadline_are_emailed(
    worker_smtp,  # noqa: F811 (the fixture imported above)
    celery_worker_process,
    settings,
):
    settings.ANSWER_DEADLINE_DAYS = 10
    enterprise = OrganizationFactory(name="甲电池公司")
    boss = MembershipFactory(organization=enterprise, role=Membership.Role.OWNER).user
    lab = OrganizationFactory(name="乙研究院", kind="institution")
    professor = MembershipFactory(organization=lab, role=Membership.Role.OWNER).user
    declined_need, silent_need = (
        NeedFactory(
            organization=enterprise,
            created_by=boss,
            title=title,
            confidentiality=Need.Confidentiality.SUMMARY,
        )
        for title in ("固态电解质界面阻抗", "钠电正极循环寿命")
    )
    start = timezone.now()
    first = services.need_access_request(
        need=declined_need, actor=professor, organization=lab, accept_terms=True
    )
    with time_machine.travel(start - dt.timedelta(days=11), tick=False):
        services.need_access_request(
            need=silent_need, actor=professor, organization=lab, accept_terms=True
        )
    with transaction.atomic():
        services.need_access_decide(
            access=first, actor=boss, approve=False, reason=DeclineReason.INDICATORS
        )
    assert answers_sweep() == {"reminded": 0, "no_answer": 1}

    messages = worker_smtp.wait_for(2, timeout=30)
    bodies = {str(m["Subject"]): m.get_body(("plain",)).get_content() for m in messages}
    assert {str(m["To"]) for m in messages} == {professor.email}
    declined = next(b for s, b in bodies.items() if "未获批准" in s)
    assert "原因：指标达不到" in declined
    assert any("逾期未答复" in s for s in bodies)
    wait_until(
        lambda: set(Notification.objects.values_list("status", flat=True)) == {"sent"},
        message="rows marked sent",
    )
