"""Notifications, in process: recipients and content of match emails, confidentiality, the outbox's
delivery rules against a real SMTP server on loopback, preferences, digests, unsubscribe, pages, API.
Worker-level guarantees (retries through Celery, a worker killed mid-send) are in
``test_notifications_worker.py``."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from matching.models import Need, NeedAccess
from matchmaker.embedded import free_port
from notifications import ratelimit
from notifications.delivery import Outcome, notification_deliver
from notifications.emails import unsubscribe_token
from notifications.models import MatchNotice, Notification, NotificationPreference
from notifications.services import (
    digests_build,
    match_notifications_create,
    notify,
    preference_update,
)
from tests.conftest import SmtpSink
from tests.factories import (
    CapabilityProfileFactory,
    FieldFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    NotificationPreferenceFactory,
    OrganizationFactory,
    ResultFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db]

SITE = "https://mm.example.cn"


@pytest.fixture(autouse=True)
def _site(settings):
    # Fast hashing: these tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = SITE
    settings.NOTIFICATION_UNSUBSCRIBE_MAILTO = "unsubscribe@mm.example.cn"
    settings.NOTIFICATION_DOMAIN_RATE = 100.0
    settings.NOTIFICATION_DOMAIN_BURST = 100
    ratelimit.reset()
    yield
    ratelimit.reset()


# --- helpers ----------------------------------------------------------------------------------------


def deliver_pending() -> list[Outcome]:
    """What the worker does for every queued row, in process."""
    ids = Notification.objects.filter(status=Notification.Status.PENDING).values_list(
        "pk", flat=True
    )
    return [notification_deliver(notification_id=pk).outcome for pk in list(ids)]


def body_of(message: EmailMessage) -> str:
    """Subject, plain text and HTML of a received message, as one string to search."""
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def to_of(message: EmailMessage) -> str:
    return str(message["To"])


def page_url(obj, anchor: str = "matches") -> str:
    """The link an email should carry to ``obj``'s page (the notification centre while that page's
    URL is not routed yet)."""
    try:
        return f"{SITE}{obj.get_absolute_url()}#{anchor}"
    except NoReverseMatch:
        return f"{SITE}{reverse('notifications:center')}"


def lab_with_member(**org_kwargs):
    org = OrganizationFactory(kind=Organization.Kind.INSTITUTION, **org_kwargs)
    user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
    return org, user


def enterprise_with_member():
    org = OrganizationFactory()
    user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
    return org, user


def create_notifications(matches) -> int:
    with transaction.atomic():
        return match_notifications_create(matches=matches)


# --- notify(): the contract ---------------------------------------------------------------------


def test_notify_creates_one_row_per_event_and_recipient(cast):
    with transaction.atomic():
        first = notify(
            event_key="challenge.bid:1",
            recipient=cast.owner,
            template="review_assigned",
            context={"title": "揭榜项目A"},
            link=f"{SITE}/challenges/x/",
        )
        second = notify(
            event_key="challenge.bid:1",
            recipient=cast.owner,
            template="review_assigned",
            context={"title": "揭榜项目A"},
        )
    assert first is not None and first.status == Notification.Status.PENDING
    assert second is None
    assert Notification.objects.count() == 1


def test_notify_honours_quiet_and_digest_preferences(cast):
    NotificationPreferenceFactory(user=cast.owner, frequency=NotificationPreference.Frequency.NONE)
    NotificationPreferenceFactory(
        user=cast.member, frequency=NotificationPreference.Frequency.DAILY
    )
    with transaction.atomic():
        quiet = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
        held = notify(event_key="e", recipient=cast.member, template="review_assigned", context={})
    assert quiet is None
    assert held.status == Notification.Status.HELD_FOR_DIGEST


def test_notify_rejects_context_that_is_not_json(cast):
    with pytest.raises(TypeError), transaction.atomic():
        notify(event_key="e", recipient=cast.owner, template="t", context={"when": object()})
    assert not Notification.objects.exists()


def test_notify_enqueues_only_after_commit(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
        assert callbacks == []
    assert len(callbacks) == 1


# --- match notifications: recipients and content ---------------------------------------------------


def test_published_need_match_emails_the_enterprise_once_with_reasons_and_link(smtp_server):
    enterprise, boss = enterprise_with_member()
    lab, professor = lab_with_member()
    bystander = UserFactory()
    need = NeedFactory(organization=enterprise, created_by=boss)
    result = ResultFactory(organization=lab, created_by=professor)
    match = MatchFactory(need=need, result=result, score=0.82)

    assert create_notifications([match]) == 2
    assert deliver_pending() == [Outcome.SENT, Outcome.SENT]

    messages = smtp_server.wait_for(2)
    assert len(messages) == 2
    by_recipient = {to_of(m): m for m in messages}
    assert set(by_recipient) == {boss.email, professor.email}
    assert bystander.email not in by_recipient

    to_enterprise = body_of(by_recipient[boss.email])
    assert need.title in to_enterprise
    assert result.title in to_enterprise
    assert "0.82" in to_enterprise
    assert "循环寿命" in to_enterprise  # a shared term
    assert "45℃循环800次后容量保持率低于80%" in to_enterprise  # evidence from its own need
    assert page_url(need) in to_enterprise

    to_lab = body_of(by_recipient[professor.email])
    assert need.title in to_lab and need.description in to_lab  # a public need: everything
    assert page_url(result) in to_lab

    # One row per recipient, and each match noted as announced to each.
    assert MatchNotice.objects.filter(match=match).count() == 2


def test_the_same_matches_reported_twice_send_once(smtp_server):
    enterprise, boss = enterprise_with_member()
    need = NeedFactory(organization=enterprise, created_by=boss)
    match = MatchFactory(need=need)

    first = create_notifications([match])
    second = create_notifications([match])
    deliver_pending()
    deliver_pending()

    assert first == 2 and second == 0
    time.sleep(0.2)
    assert len([m for m in smtp_server.messages if to_of(m) == boss.email]) == 1


def test_a_row_delivered_twice_is_sent_once(smtp_server, cast):
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SENT
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SKIPPED
    assert len(smtp_server.wait_for(1)) == 1
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT and row.sent_at and row.attempts == 1


def test_a_missing_row_is_skipped_quietly():
    assert notification_deliver(notification_id=987654).outcome == Outcome.SKIPPED


def test_one_email_per_need_lists_the_top_matches_by_score(smtp_server, settings):
    settings.NOTIFICATION_MATCHES_PER_EMAIL = 2
    enterprise, boss = enterprise_with_member()
    need = NeedFactory(organization=enterprise, created_by=boss)
    matches = [
        MatchFactory(need=need, result=ResultFactory(title=f"成果{i}"), score=score)
        for i, score in enumerate([0.61, 0.93, 0.77])
    ]
    create_notifications(matches)
    row = Notification.objects.get(recipient=boss)
    assert [m["title"] for m in row.context["matches"]] == ["成果1", "成果2"]
    assert row.context["more"] == 1


def test_matches_below_the_users_threshold_or_outside_their_fields_are_not_sent():
    enterprise, boss = enterprise_with_member()
    lab, professor = lab_with_member()
    NotificationPreferenceFactory(user=boss, min_score=0.9)
    other_field = FieldFactory(code="ic.design", name="集成电路设计")
    preference = NotificationPreferenceFactory(user=professor)
    preference.fields.set([other_field])
    need = NeedFactory(organization=enterprise, created_by=boss)
    match = MatchFactory(
        need=need, result=ResultFactory(organization=lab, created_by=professor), score=0.82
    )

    assert create_notifications([match]) == 0

    # A top-level field covers its sub-fields: "new_energy" covers the need's "new_energy.batteries".
    preference.fields.set([need.field.parent])
    assert create_notifications([match]) == 1
    assert Notification.objects.get().recipient == professor


def test_capability_profile_matches_reach_the_lab(smtp_server):
    lab, professor = lab_with_member()
    capability = CapabilityProfileFactory(organization=lab)
    capability.fields.set([FieldFactory()])
    match = MatchFactory(result=None, capability=capability)
    create_notifications([match])
    assert Notification.objects.filter(recipient=professor, template="match_candidate").exists()


def test_draft_need_matches_notify_nobody():
    need = NeedFactory(status=Need.Status.DRAFT, published_at=None)
    assert create_notifications([MatchFactory(need=need)]) == 0


# --- confidentiality -------------------------------------------------------------------------------


SECRET_DESCRIPTION = "机密：我司良率只有71%，客户是某头部车企"
SECRET_EVIDENCE = "机密证据句：产线A的良率只有71%"
SECRET_TERM = "机密术语甲"


def confidential_match(confidentiality: str, lab, professor):
    enterprise, boss = enterprise_with_member()
    need = NeedFactory(
        organization=enterprise,
        created_by=boss,
        title="固态电解质界面稳定性",
        summary="寻求固态电池界面改性方案（公开摘要）。",
        description=SECRET_DESCRIPTION,
        confidentiality=confidentiality,
        contact_phone="13800000000",
    )
    explanation = {
        "shared_terms": [SECRET_TERM, "固态电解质"],
        "fit": [{"text": "满足需求指标：良率≥71%", "ok": True}],
        "evidence": [{"need": SECRET_EVIDENCE, "candidate": "界面阻抗降低60%"}],
        "public": {
            "shared_terms": ["固态电解质"],
            "fit": [{"text": "成熟度 TRL 6", "ok": True}],
            "evidence": [{"candidate": "界面阻抗降低60%"}],
        },
    }
    match = MatchFactory(
        need=need,
        result=ResultFactory(organization=lab, created_by=professor),
        explanation=explanation,
    )
    return need, boss, match


def test_summary_public_need_email_to_lab_shows_only_title_field_and_summary(smtp_server):
    lab, professor = lab_with_member()
    need, boss, match = confidential_match(Need.Confidentiality.SUMMARY, lab, professor)
    create_notifications([match])
    deliver_pending()
    by_recipient = {to_of(m): body_of(m) for m in smtp_server.wait_for(2)}

    to_lab = by_recipient[professor.email]
    assert need.title in to_lab and need.summary in to_lab and need.field.name in to_lab
    for secret in (
        SECRET_DESCRIPTION,
        SECRET_EVIDENCE,
        SECRET_TERM,
        "良率",
        "13800000000",
        need.organization.name,
    ):
        assert secret not in to_lab
    # Sentence evidence pairs quote the need's description: none at the summary level.
    assert "界面阻抗降低60%" not in to_lab

    to_enterprise = by_recipient[boss.email]
    assert SECRET_EVIDENCE in to_enterprise and SECRET_TERM in to_enterprise


def test_summary_public_need_shows_full_text_to_a_lab_with_approved_access(smtp_server):
    lab, professor = lab_with_member()
    need, _boss, match = confidential_match(Need.Confidentiality.SUMMARY, lab, professor)
    NeedAccess.objects.create(
        need=need,
        organization=lab,
        status=NeedAccess.Status.APPROVED,
        terms_accepted_at=timezone.now(),
    )
    create_notifications([match])
    deliver_pending()
    to_lab = {to_of(m): body_of(m) for m in smtp_server.wait_for(2)}[professor.email]
    assert SECRET_DESCRIPTION in to_lab and SECRET_EVIDENCE in to_lab


def test_private_need_sends_nothing_to_the_lab_side(smtp_server):
    lab, professor = lab_with_member()
    need, boss, match = confidential_match(Need.Confidentiality.PRIVATE, lab, professor)
    # Even a lab whose member is platform staff (who sees everything on the site).
    professor.is_staff = True
    professor.save()
    assert create_notifications([match]) == 1
    deliver_pending()
    messages = smtp_server.wait_for(1)
    time.sleep(0.2)
    assert [to_of(m) for m in messages] == [boss.email]
    assert not Notification.objects.filter(recipient=professor).exists()


def test_need_made_private_before_sending_cancels_the_lab_email(smtp_server):
    lab, professor = lab_with_member()
    need, boss, match = confidential_match(Need.Confidentiality.SUMMARY, lab, professor)
    create_notifications([match])
    Need.objects.filter(pk=need.pk).update(confidentiality=Need.Confidentiality.PRIVATE)
    deliver_pending()
    time.sleep(0.2)
    assert [to_of(m) for m in smtp_server.messages] == [boss.email]
    row = Notification.objects.get(recipient=professor)
    assert row.status == Notification.Status.CANCELLED


# --- delivery failures and rate limits ---------------------------------------------------------------


def test_smtp_down_is_retried_with_backoff_and_delivered_when_it_comes_back(settings, cast):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 3
    settings.NOTIFICATION_RETRY_BACKOFF = 10
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})

    result = notification_deliver(notification_id=row.pk)  # nothing listens on the port

    assert result.outcome == Outcome.RETRY and 5 <= result.retry_in <= 10
    row.refresh_from_db()
    assert row.status == Notification.Status.PENDING and row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at > timezone.now()
    # Not due yet: a second worker does nothing.
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SKIPPED

    sink = SmtpSink(host="127.0.0.1", port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert notification_deliver(notification_id=row.pk).outcome == Outcome.SENT
        assert [to_of(m) for m in sink.wait_for(1)] == [cast.owner.email]
    finally:
        controller.stop()
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT and row.attempts == 2


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    from notifications.delivery import backoff_delay

    settings.NOTIFICATION_RETRY_BACKOFF, settings.NOTIFICATION_RETRY_BACKOFF_MAX = 30, 600
    assert 15 <= backoff_delay(1) <= 30
    assert 60 <= backoff_delay(3) <= 120
    assert 300 <= backoff_delay(12) <= 600
    assert len({backoff_delay(4) for _ in range(20)}) > 1


def test_a_4xx_reply_is_temporary(smtp_server, cast):
    smtp_server.reject_with = "451 4.7.1 greylisted, try again later"
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.RETRY
    row.refresh_from_db()
    assert row.status == Notification.Status.PENDING and "451" in row.last_error


def test_a_5xx_reply_marks_the_row_failed_without_retrying(smtp_server, cast):
    smtp_server.reject_with = "550 5.1.1 mailbox unavailable"
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.FAILED
    row.refresh_from_db()
    assert row.status == Notification.Status.FAILED and row.attempts == 1
    assert "550" in row.last_error and row.next_attempt_at is None
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SKIPPED
    assert smtp_server.messages == []


def test_temporary_failures_give_up_after_the_maximum_attempts(smtp_server, settings, cast):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    smtp_server.reject_with = "451 4.3.0 try later"
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.RETRY
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.FAILED
    row.refresh_from_db()
    assert row.status == Notification.Status.FAILED and row.attempts == 2


def test_per_domain_rate_limit_reschedules_rather_than_drops(smtp_server, settings):
    settings.NOTIFICATION_DOMAIN_RATE, settings.NOTIFICATION_DOMAIN_BURST = 2.0, 1
    same_domain = [UserFactory(email=f"u{i}@busy.example.cn") for i in range(2)]
    elsewhere = UserFactory(email="someone@quiet.example.cn")
    with transaction.atomic():
        rows = [
            notify(event_key="e", recipient=user, template="review_assigned", context={})
            for user in [*same_domain, elsewhere]
        ]

    outcomes = [notification_deliver(notification_id=row.pk) for row in rows]

    assert [o.outcome for o in outcomes] == [Outcome.SENT, Outcome.RATE_LIMITED, Outcome.SENT]
    assert 0 < outcomes[1].retry_in <= 0.6
    limited = Notification.objects.get(pk=rows[1].pk)
    assert limited.status == Notification.Status.PENDING
    assert limited.attempts == 0 and "rate limited" in limited.last_error
    time.sleep(outcomes[1].retry_in + 0.05)
    assert notification_deliver(notification_id=rows[1].pk).outcome == Outcome.SENT
    assert {to_of(m) for m in smtp_server.wait_for(3)} == {
        u.email for u in [*same_domain, elsewhere]
    }
    assert not Notification.objects.exclude(status=Notification.Status.SENT).exists()


def test_sweeper_picks_up_stale_claims_and_overdue_rows_only(settings, cast):
    from notifications.delivery import outbox_due_ids

    settings.NOTIFICATION_CLAIM_TIMEOUT, settings.NOTIFICATION_SWEEP_GRACE = 300, 60
    now = timezone.now()

    def row(key, **fields):
        return Notification.objects.create(
            event_key=key, recipient=cast.owner, template="review_assigned", **fields
        )

    stale = row("stale", status="sending", claimed_at=now - timedelta(minutes=10))
    row("live", status="sending", claimed_at=now - timedelta(seconds=30))
    overdue = row("overdue", status="pending", next_attempt_at=now - timedelta(minutes=5))
    row("queued", status="pending", next_attempt_at=now - timedelta(seconds=5))
    row("later", status="pending", next_attempt_at=now + timedelta(minutes=5))
    row("sent", status="sent", sent_at=now)
    row("held", status="held_for_digest")

    assert set(outbox_due_ids(now=now)) == {stale.pk, overdue.pk}


def test_a_stale_claim_is_taken_over_and_sent_once(smtp_server, settings, cast):
    settings.NOTIFICATION_CLAIM_TIMEOUT = 300
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    Notification.objects.filter(pk=row.pk).update(
        status="sending", claimed_at=timezone.now() - timedelta(seconds=30), attempts=1
    )
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SKIPPED  # live claim
    Notification.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SENT
    assert len(smtp_server.wait_for(1)) == 1


# --- headers, language, unsubscribe -------------------------------------------------------------------


def test_list_unsubscribe_headers_follow_rfc_8058(smtp_server, cast, client):
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    notification_deliver(notification_id=row.pk)
    (message,) = smtp_server.wait_for(1)

    token = unsubscribe_token(cast.owner)
    url = f"{SITE}/notifications/unsubscribe/{token}/"
    header = " ".join(str(message["List-Unsubscribe"]).split())
    assert header == (
        f"<{url}>, <mailto:unsubscribe@mm.example.cn?subject=unsubscribe%20{token.replace(':', '%3A')}>"
    )
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert url.startswith("https://")
    assert str(message["Message-ID"]) == row.message_id
    assert message.get_body(("plain",)) and message.get_body(("html",))

    # The URL in the header works as a one-click POST from a mail client (no session, no CSRF).
    one_click = Client(enforce_csrf_checks=True)
    response = one_click.post(
        urlsplit(url).path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=cast.owner).frequency == "none"


def test_mailto_fallback_carries_the_token(smtp_server, cast):
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    notification_deliver(notification_id=row.pk)
    (message,) = smtp_server.wait_for(1)
    mailto = re.search(r"<mailto:([^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert unquote(mailto.split("subject=")[1]) == f"unsubscribe {unsubscribe_token(cast.owner)}"


def test_email_is_rendered_in_the_recipients_language(smtp_server, cast):
    cast.owner.language = "en"
    cast.owner.save()
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    notification_deliver(notification_id=row.pk)
    (message,) = smtp_server.wait_for(1)
    assert '<html lang="en">' in message.get_body(("html",)).get_content()


def test_unsubscribe_link_get_confirms_and_post_unsubscribes(client, cast):
    url = reverse("notifications:unsubscribe", kwargs={"token": unsubscribe_token(cast.owner)})
    response = client.get(url)
    assert response.status_code == 200
    assert not NotificationPreference.objects.filter(user=cast.owner, frequency="none").exists()
    assert cast.owner.email not in response.content.decode()  # masked

    assert client.post(url).status_code == 200
    assert NotificationPreference.objects.get(user=cast.owner).frequency == "none"


def test_tampered_unsubscribe_token_is_refused(client, cast):
    token = unsubscribe_token(cast.owner)
    value, signature = token.split(":")
    tampered = f"{value}:{signature[:-2]}xx"
    forged = f"{cast.member.uuid.hex}:{signature}"  # another user's id, this user's signature
    for bad in (tampered, forged, "nonsense"):
        url = reverse("notifications:unsubscribe", kwargs={"token": bad})
        assert client.post(url).status_code == 400
    assert not NotificationPreference.objects.filter(frequency="none").exists()


def test_a_users_token_unsubscribes_only_that_user(client, cast):
    url = reverse("notifications:unsubscribe", kwargs={"token": unsubscribe_token(cast.member)})
    client.post(url)
    assert NotificationPreference.objects.get(user=cast.member).frequency == "none"
    assert not NotificationPreference.objects.filter(user=cast.owner).exists()
    assert unsubscribe_token(cast.owner) != unsubscribe_token(cast.member)


def test_unsubscribing_cancels_what_was_not_sent(client, cast):
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    client.post(
        reverse("notifications:unsubscribe", kwargs={"token": unsubscribe_token(cast.owner)})
    )
    row.refresh_from_db()
    assert row.status == Notification.Status.CANCELLED
    assert notification_deliver(notification_id=row.pk).outcome == Outcome.SKIPPED


# --- digests ---------------------------------------------------------------------------------------


def test_two_events_for_a_digest_user_become_one_digest_email(smtp_server, cast):
    NotificationPreferenceFactory(user=cast.owner, frequency=NotificationPreference.Frequency.DAILY)
    with transaction.atomic():
        for title in ("揭榜项目甲", "揭榜项目乙"):
            notify(
                event_key=f"review:{title}",
                recipient=cast.owner,
                template="review_assigned",
                context={"title": title},
                link=f"{SITE}/challenges/{title}/",
            )
    assert deliver_pending() == []  # held, nothing sent yet

    assert digests_build(frequency="daily") == 1
    assert digests_build(frequency="daily") == 0  # idempotent
    assert deliver_pending() == [Outcome.SENT]

    (message,) = smtp_server.wait_for(1)
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1
    body = body_of(message)
    assert "揭榜项目甲" in body and "揭榜项目乙" in body
    assert "2" in str(message["Subject"])
    assert Notification.objects.filter(template="review_assigned", status="sent").count() == 2
    assert NotificationPreference.objects.get(user=cast.owner).last_digest_at is not None


def test_a_digest_leaves_out_needs_the_user_may_no_longer_see(smtp_server):
    lab, professor = lab_with_member()
    NotificationPreferenceFactory(user=professor, frequency=NotificationPreference.Frequency.DAILY)
    need, _boss, match = confidential_match(Need.Confidentiality.SUMMARY, lab, professor)
    create_notifications([match])
    Need.objects.filter(pk=need.pk).update(confidentiality=Need.Confidentiality.PRIVATE)
    assert digests_build(frequency="daily") == 1
    digest = Notification.objects.get(recipient=professor, template="digest")
    assert notification_deliver(notification_id=digest.pk).outcome == Outcome.CANCELLED
    time.sleep(0.2)
    assert professor.email not in [to_of(m) for m in smtp_server.messages]


def test_digest_waits_for_its_time(cast, settings):
    settings.NOTIFICATION_DIGEST_HOUR = 8
    preference_update(user=cast.owner, frequency=NotificationPreference.Frequency.DAILY)
    with transaction.atomic():
        notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    # Just switched to daily: nothing until the next 08:00.
    now = timezone.now()
    assert digests_build(frequency="daily", now=now) == 0
    assert digests_build(frequency="daily", now=now + timedelta(days=1)) == 1


def test_switching_back_to_immediate_releases_held_rows(cast):
    preference_update(user=cast.owner, frequency=NotificationPreference.Frequency.WEEKLY)
    with transaction.atomic():
        row = notify(event_key="e", recipient=cast.owner, template="review_assigned", context={})
    assert row.status == Notification.Status.HELD_FOR_DIGEST
    preference_update(user=cast.owner, frequency=NotificationPreference.Frequency.IMMEDIATE)
    row.refresh_from_db()
    assert row.status == Notification.Status.PENDING


# --- pages and API ---------------------------------------------------------------------------------


def test_notification_centre_lists_only_the_users_notifications(owner_client, cast):
    with transaction.atomic():
        notify(
            event_key="a",
            recipient=cast.owner,
            template="review_assigned",
            context={"title": "我的评审"},
        )
        notify(
            event_key="b",
            recipient=cast.outsider,
            template="review_assigned",
            context={"title": "别人的评审"},
        )
    page = owner_client.get(reverse("notifications:center")).content.decode()
    assert "我的评审" in page and "别人的评审" not in page


def test_notification_centre_requires_login(client):
    response = client.get(reverse("notifications:center"))
    assert response.status_code == 302


def test_preferences_page_saves_the_choice(owner_client, cast):
    field = FieldFactory()
    response = owner_client.post(
        reverse("notifications:preferences"),
        {"frequency": "weekly", "min_score": "0.6", "fields": [field.pk]},
    )
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=cast.owner)
    assert (preference.frequency, preference.min_score) == ("weekly", 0.6)
    assert list(preference.fields.all()) == [field]


def test_preferences_page_rejects_a_bad_score(owner_client, cast):
    response = owner_client.post(
        reverse("notifications:preferences"), {"frequency": "daily", "min_score": "3"}
    )
    assert response.status_code == 200
    assert not NotificationPreference.objects.filter(user=cast.owner).exists()


def test_preferences_api_reads_and_updates(owner_client, cast):
    url = reverse("api:notification-preferences")
    assert owner_client.get(url).json()["frequency"] == "immediate"
    field = FieldFactory()
    response = owner_client.patch(
        url,
        {"frequency": "daily", "min_score": 0.5, "fields": [field.code]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["fields"] == [field.code]
    assert NotificationPreference.objects.get(user=cast.owner).frequency == "daily"
    bad = owner_client.patch(url, {"min_score": 2}, content_type="application/json")
    assert bad.status_code == 400


def test_notification_list_api_is_scoped_to_the_user(owner_client, cast):
    with transaction.atomic():
        notify(
            event_key="a", recipient=cast.owner, template="review_assigned", context={"title": "甲"}
        )
        notify(event_key="a", recipient=cast.outsider, template="review_assigned", context={})
    data = owner_client.get(reverse("api:notification-list")).json()
    assert len(data) == 1 and "甲" in data[0]["subject"]


def test_nav_links_to_the_notification_centre(owner_client):
    page = owner_client.get(reverse("notifications:preferences")).content.decode()
    assert f'href="{reverse("notifications:center")}"' in page


def test_staff_see_the_outbox_in_the_admin(client, cast):
    staff = UserFactory(is_staff=True, is_superuser=True)
    with transaction.atomic():
        notify(event_key="a", recipient=cast.owner, template="review_assigned", context={})
    client.force_login(staff)
    url = reverse("admin:notifications_notification_changelist")
    response = client.get(url, {"status__exact": "pending", "q": cast.owner.email})
    assert response.status_code == 200
    assert cast.owner.email in response.content.decode()
