"""Coded answers with deadlines in challenges (challenges/services/answers.py, on the rule of
matching/catalogue/answers.py): an invitation to bid is answered by the invited organization
(accept, or decline with a reason the enterprise is told); a counting bid is answered by the
enterprise (a decline with a reason the bidder is told, or the award); reminders before the
deadline and one "no answer" record after it, counted on the responsiveness record."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from challenges import services
from challenges.models import Bid, Challenge, ChallengeInvitation
from challenges.services import TransitionError
from challenges.tasks import answers_sweep
from core.models import AuditEvent
from matching.catalogue.answers import DeclineReason
from matching.catalogue.responsiveness import organization_responsiveness
from notifications.models import Notification
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
)
from tests.test_challenges import reviewed
from tests.test_notifications_worker import wait_until, worker_smtp  # noqa: F401

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ANSWER_DEADLINE_DAYS = 10
    settings.ANSWER_REMINDER_HOURS = 48


def _lab(name="乙研究院"):
    lab = OrganizationFactory(name=name, kind=Organization.Kind.INSTITUTION)
    return lab, MembershipFactory(organization=lab, role=Membership.Role.OWNER).user


def _rows(template: str) -> list[Notification]:
    return list(Notification.objects.filter(template=template).select_related("recipient"))


@pytest.fixture
def invited():
    """An open 定向邀请 challenge (bid deadline 30 days after START) inviting a lab at START."""
    with time_machine.travel(START, tick=False):
        challenge = ChallengeFactory(
            access=Challenge.Access.INVITED, bid_deadline=START + dt.timedelta(days=30)
        )
        lab, professor = _lab()
        invitation = services.challenge_invite(
            challenge=challenge, organization=lab, actor=challenge.created_by
        )
    invitation.refresh_from_db()
    return invitation, professor


@pytest.mark.django_db
def test_an_invitation_to_an_open_challenge_gets_the_platform_deadline(invited):
    invitation, _professor = invited
    assert invitation.sent_at == START
    assert invitation.respond_by == START + dt.timedelta(days=10)
    assert invitation.status == ChallengeInvitation.Status.PENDING


@pytest.mark.django_db
def test_the_challenge_answer_days_set_the_deadline_never_past_the_bid_deadline():
    challenge = ChallengeFactory(status=Challenge.Status.DRAFT, published_at=None)
    services.challenge_update(challenge=challenge, actor=challenge.created_by, answer_days=3)
    lab, _user = _lab()
    invitation = services.challenge_invite(
        challenge=challenge, organization=lab, actor=challenge.created_by
    )
    assert invitation.sent_at is None and invitation.respond_by is None  # a draft sends nothing
    services.challenge_publish(challenge=challenge, actor=challenge.created_by)
    invitation.refresh_from_db()
    challenge.refresh_from_db()
    assert invitation.respond_by == challenge.published_at + dt.timedelta(days=3)

    draft = ChallengeFactory(status=Challenge.Status.DRAFT, published_at=None)
    with pytest.raises(ValidationError) as exc:
        services.challenge_update(challenge=draft, actor=draft.created_by, answer_days=0)
    assert "answer_days" in exc.value.message_dict

    late = ChallengeFactory(bid_deadline=timezone.now() + dt.timedelta(days=2))
    early = services.challenge_invite(
        challenge=late, organization=_lab("丙大学")[0], actor=late.created_by
    )
    assert early.respond_by == late.bid_deadline


@pytest.mark.django_db
def test_declining_an_invitation_needs_a_coded_reason_and_tells_the_enterprise(invited, client):
    invitation, professor = invited
    challenge = invitation.challenge
    with pytest.raises(ValidationError) as missing:
        services.invitation_answer(invitation=invitation, actor=professor, accept=False)
    assert "reason" in missing.value.message_dict
    with pytest.raises(ValidationError) as other:
        services.invitation_answer(
            invitation=invitation, actor=professor, accept=False, reason=DeclineReason.OTHER
        )
    assert "note" in other.value.message_dict
    with pytest.raises(PermissionDenied):  # only the invited organization answers
        services.invitation_answer(
            invitation=invitation,
            actor=challenge.created_by,
            accept=False,
            reason=DeclineReason.FIELD,
        )
    invitation.refresh_from_db()
    assert invitation.status == ChallengeInvitation.Status.PENDING
    assert not _rows("challenge_answer_declined")

    client.force_login(professor)
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        page = client.get(challenge.get_absolute_url()).content.decode()
        assert "前答复邀请" in page and "婉拒原因" in page
        response = client.post(
            reverse("challenges:invitation-answer", kwargs={"uuid": challenge.uuid}),
            {"decision": "decline", "reason": "route", "note": "需要原位表征设备"},
        )
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == ChallengeInvitation.Status.DECLINED
    assert (invitation.decline_reason, invitation.decline_note) == ("route", "需要原位表征设备")
    rows = _rows("challenge_answer_declined")
    assert {r.recipient for r in rows} == {challenge.created_by}
    assert rows[0].context["reason"] == "技术路线不可行"

    with (
        time_machine.travel(START + dt.timedelta(days=1), tick=False),
        pytest.raises(TransitionError),  # answered once
    ):
        services.invitation_answer(invitation=invitation, actor=professor, accept=True)

    client.force_login(challenge.created_by)
    page = client.get(challenge.get_absolute_url()).content.decode()
    assert "已婉拒" in page and "技术路线不可行" in page and "需要原位表征设备" in page
    assert AuditEvent.objects.filter(action="challenge.invitation_answer").count() == 1


@pytest.mark.django_db
def test_starting_a_bid_accepts_the_invitation(invited):
    invitation, professor = invited
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        services.bid_create(
            challenge=invitation.challenge,
            organization=invitation.organization,
            actor=professor,
            technical_approach="原子层沉积",
            team="教授2人",
        )
    invitation.refresh_from_db()
    assert invitation.status == ChallengeInvitation.Status.ACCEPTED
    assert invitation.answered_by == professor


@pytest.mark.django_db
def test_a_draft_cannot_be_answered(invited):
    invitation, professor = invited
    Challenge.objects.filter(pk=invitation.challenge_id).update(status=Challenge.Status.CANCELLED)
    with pytest.raises(TransitionError):
        services.invitation_answer(invitation=invitation, actor=professor, accept=True)


@pytest.mark.django_db
def test_the_sweep_reminds_the_invited_lab_once_then_records_no_answer_once(invited):
    invitation, professor = invited
    with time_machine.travel(START + dt.timedelta(days=7), tick=False):
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}
    with time_machine.travel(START + dt.timedelta(days=8, hours=12), tick=False):
        assert answers_sweep() == {"reminded": 1, "no_answer": 0}
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}
    assert {r.recipient for r in _rows("challenge_answer_reminder")} == {professor}
    with time_machine.travel(START + dt.timedelta(days=10, minutes=1), tick=False):
        assert answers_sweep() == {"reminded": 0, "no_answer": 1}
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}
    invitation.refresh_from_db()
    assert invitation.no_answer_at == START + dt.timedelta(days=10, minutes=1)
    assert {r.recipient for r in _rows("challenge_answer_missed")} == {
        invitation.challenge.created_by
    }
    # Still answerable, late: it counts as answered after its deadline.
    services.invitation_answer(invitation=invitation, actor=professor, accept=True)
    invitation.refresh_from_db()
    assert invitation.status == ChallengeInvitation.Status.ACCEPTED


# --- bids -------------------------------------------------------------------------------------------


@pytest.fixture
def in_review():
    """A challenge whose bidding closed with two counting bids, in review."""
    with time_machine.travel(START, tick=False):
        challenge = ChallengeFactory(bid_deadline=START + dt.timedelta(days=7), answer_days=5)
        bids = [BidFactory(challenge=challenge) for _ in range(2)]
    with time_machine.travel(START + dt.timedelta(days=7, minutes=1), tick=False):
        services.challenge_close_bidding_if_due(challenge=challenge)
    challenge.refresh_from_db()
    for bid in bids:
        bid.refresh_from_db()
    return challenge, bids


@pytest.mark.django_db
def test_closing_bidding_sets_the_enterprise_answer_deadline_from_the_bid_deadline(in_review):
    challenge, bids = in_review
    assert challenge.status == Challenge.Status.REVIEW
    assert {b.answer_by for b in bids} == {START + dt.timedelta(days=12)}


@pytest.mark.django_db
def test_declining_a_bid_needs_a_coded_reason_and_tells_the_bidder(in_review, client):
    challenge, (declined, other) = in_review
    enterprise = challenge.created_by
    with pytest.raises(ValidationError) as missing:
        services.bid_decline(bid=declined, actor=enterprise, reason="")
    assert "reason" in missing.value.message_dict
    with pytest.raises(PermissionDenied):
        services.bid_decline(bid=declined, actor=declined.created_by, reason="price")
    client.force_login(enterprise)
    response = client.post(
        reverse("challenges:bid-decline", kwargs={"uuid": declined.uuid}),
        {"reason": "price", "note": "预算超出两倍"},
    )
    assert response.status_code == 302
    declined.refresh_from_db()
    assert declined.outcome == Bid.Outcome.LOST and declined.answered_at is not None
    assert (declined.decline_reason, declined.decline_note) == ("price", "预算超出两倍")
    rows = _rows("challenge_answer_declined")
    assert {r.recipient for r in rows} == {declined.created_by}
    assert rows[0].context["reason"] == "报价不合适"
    with pytest.raises(TransitionError):
        services.bid_decline(bid=declined, actor=enterprise, reason="price")

    client.force_login(declined.created_by)
    page = client.get(declined.get_absolute_url()).content.decode()
    assert "报价不合适" in page and "预算超出两倍" in page

    # A declined bid cannot win; the award answers the others.
    reviewed(challenge, [declined, other], [{declined: [90] * 4, other: [70] * 4}])
    with pytest.raises(ValidationError):
        services.challenge_award(
            challenge=challenge, actor=enterprise, winners=[declined], reason="最优"
        )
    services.challenge_award(
        challenge=challenge,
        actor=enterprise,
        winners=[other],
        reason="最优",
        decline_reason="indicators",
    )
    other.refresh_from_db()
    declined.refresh_from_db()
    assert other.outcome == Bid.Outcome.WON and other.answered_at is not None
    assert declined.decline_reason == "price"  # its own reason stays


@pytest.mark.django_db
def test_a_bid_can_only_be_declined_in_review():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    with pytest.raises(TransitionError):
        services.bid_decline(bid=bid, actor=challenge.created_by, reason="field")
    bid.refresh_from_db()
    assert bid.outcome == Bid.Outcome.PENDING and bid.decline_reason == ""


@pytest.mark.django_db
def test_the_sweep_reminds_the_enterprise_once_per_challenge_then_records_no_answer(in_review):
    challenge, bids = in_review
    with time_machine.travel(START + dt.timedelta(days=10, hours=12), tick=False):
        assert answers_sweep() == {"reminded": 1, "no_answer": 0}  # one email, two bids
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}
    reminder = _rows("challenge_answer_reminder")
    assert [r.recipient for r in reminder] == [challenge.created_by]
    assert reminder[0].context["count"] == 2
    with time_machine.travel(START + dt.timedelta(days=12, minutes=1), tick=False):
        assert answers_sweep() == {"reminded": 0, "no_answer": 2}
        assert answers_sweep() == {"reminded": 0, "no_answer": 0}
    missed = {r.recipient for r in _rows("challenge_answer_missed")}
    assert missed == {b.created_by for b in bids}


# --- the responsiveness record ------------------------------------------------------------------------


@pytest.mark.django_db
def test_missed_invitations_and_bids_count_on_the_record_of_who_failed_to_answer():
    enterprise_need = NeedFactory()
    enterprise = enterprise_need.organization
    lab, professor = _lab()
    with time_machine.travel(START, tick=False):
        for _i in range(5):
            challenge = ChallengeFactory(
                need=NeedFactory(organization=enterprise, created_by=enterprise_need.created_by),
                bid_deadline=START + dt.timedelta(days=7),
                access=Challenge.Access.INVITED,
            )
            services.challenge_invite(
                challenge=challenge, organization=lab, actor=challenge.created_by
            )
            BidFactory(challenge=challenge)
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        answered = ChallengeInvitation.objects.filter(organization=lab).order_by("pk")[:2]
        for invitation in answered:
            services.invitation_answer(
                invitation=invitation, actor=professor, accept=False, reason="partner"
            )
    with time_machine.travel(START + dt.timedelta(days=20), tick=False):
        services.challenges_close_due()
        answers_sweep()
        lab_record = organization_responsiveness(organization_id=lab.pk)
        enterprise_record = organization_responsiveness(organization_id=enterprise.pk)
    # The lab: 5 invitations, 2 answered within a day, 3 missed (their deadline was the bid deadline).
    assert lab_record["requests"] == 5 and lab_record["enough_data"]
    assert lab_record["answered_in_time_share"] == 0.4
    assert lab_record["median_hours_to_answer"] == 24.0
    # The enterprise: 5 bids, none answered within 10 days of the bid deadline.
    assert enterprise_record["requests"] == 5
    assert enterprise_record["answered_in_time_share"] == 0.0


# --- through a real worker and SMTP server ----------------------------------------------------------


@pytest.mark.worker
@pytest.mark.smtp
@pytest.mark.slow
def test_decline_emails_and_the_no_answer_sweep_reach_their_recipients(
    worker_smtp,  # noqa: F811 (the fixture imported above)
    celery_worker_process,
):
    challenge = ChallengeFactory(
        access=Challenge.Access.INVITED,
        title="高镍正极循环寿命",
        bid_deadline=timezone.now() + dt.timedelta(days=20),
    )
    boss = challenge.created_by
    lab, professor = _lab()
    silent_lab, silent_professor = _lab("丁研究所")
    start = timezone.now()
    with transaction.atomic():
        invitation = services.challenge_invite(challenge=challenge, organization=lab, actor=boss)
    with time_machine.travel(start - dt.timedelta(days=11), tick=False), transaction.atomic():
        services.challenge_invite(challenge=challenge, organization=silent_lab, actor=boss)
    with transaction.atomic():
        services.invitation_answer(
            invitation=invitation,
            actor=professor,
            accept=False,
            reason=DeclineReason.MATURITY,
            note="尚在小试",
        )
    assert services.challenge_answers_sweep() == {"reminded": 0, "no_answer": 1}

    messages = worker_smtp.wait_for(4, timeout=30)
    by_to: dict[str, list] = {}
    for m in messages:
        by_to.setdefault(str(m["To"]), []).append(
            (str(m["Subject"]), m.get_body(("plain",)).get_content())
        )
    boss_mail = by_to[boss.email]
    declined = next(body for subject, body in boss_mail if "婉拒" in subject)
    assert "原因：成熟度不够" in declined and "尚在小试" in declined
    assert any("逾期未答复" in subject for subject, _b in boss_mail)
    # The two invitation emails went to the labs, naming their answer deadline.
    assert {professor.email, silent_professor.email} <= set(by_to)
    assert "前答复" in by_to[professor.email][0][1]
    wait_until(
        lambda: set(Notification.objects.values_list("status", flat=True)) == {"sent"},
        message="rows marked sent",
    )


# --- the API ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_answers_invitations_and_declines_bids_with_coded_reasons(invited, in_review):
    from tests.test_challenges_api import api

    invitation, professor = invited
    challenge = invitation.challenge
    url = f"/api/v1/challenges/{challenge.uuid}/invitation/"
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        mine = api(professor).get(url)
        assert mine.status_code == 200
        assert mine.json()["respond_by"].startswith("2026-03-12")
        assert api(challenge.created_by).get(url).status_code == 404  # not invited
        refused = api(professor).post(url, {"decision": "decline"}, format="json")
        assert refused.status_code == 400 and "reason" in refused.json()
        unknown = api(professor).post(
            url, {"decision": "decline", "reason": "bored"}, format="json"
        )
        assert unknown.status_code == 400
        answered = api(professor).post(
            url, {"decision": "decline", "reason": "partner", "note": ""}, format="json"
        )
        assert answered.status_code == 200
        assert answered.json()["status"] == "declined"
        again = api(professor).post(url, {"decision": "accept"}, format="json")
        assert again.status_code == 409
    listing = api(challenge.created_by).get(f"/api/v1/challenges/{challenge.uuid}/invitations/")
    assert [(r["organization_name"], r["decline_reason"]) for r in listing.json()] == [
        (invitation.organization.name, "partner")
    ]
    assert api(professor).get(f"/api/v1/challenges/{challenge.uuid}/invitations/").status_code in (
        403,
        404,
    )

    reviewing, (bid, _other) = in_review
    decline = f"/api/v1/bids/{bid.uuid}/decline/"
    assert api(bid.created_by).post(decline, {"reason": "price"}, format="json").status_code == 404
    missing_note = api(reviewing.created_by).post(decline, {"reason": "other"}, format="json")
    assert missing_note.status_code == 400 and "note" in missing_note.json()
    declined = api(reviewing.created_by).post(
        decline, {"reason": "other", "note": "与现有产线不兼容"}, format="json"
    )
    assert declined.status_code == 200
    body = api(bid.created_by).get(f"/api/v1/bids/{bid.uuid}/").json()
    assert (body["outcome"], body["decline_reason"], body["decline_note"]) == (
        "lost",
        "other",
        "与现有产线不兼容",
    )


@pytest.mark.django_db
def test_answer_days_are_set_through_the_api_for_challenges_and_needs():
    from tests.test_challenges_api import api

    draft = ChallengeFactory(status=Challenge.Status.DRAFT, published_at=None)
    client = api(draft.created_by)
    url = f"/api/v1/challenges/{draft.uuid}/"
    assert client.patch(url, {"answer_days": 0}, format="json").status_code == 400
    response = client.patch(url, {"answer_days": 7}, format="json")
    assert response.status_code == 200 and response.json()["answer_days"] == 7

    need = NeedFactory(confidentiality="summary")
    need_url = f"/api/v1/needs/{need.uuid}/"
    owner = api(need.created_by)
    assert owner.patch(need_url, {"answer_days": 5}, format="json").status_code == 200
    need.refresh_from_db()
    assert need.answer_days == 5
    lab, professor = _lab()
    from matching.catalogue import services as catalogue

    with time_machine.travel(START, tick=False):
        access = catalogue.need_access_request(
            need=need, actor=professor, organization=lab, accept_terms=True
        )
    assert access.respond_by == START + dt.timedelta(days=5)
