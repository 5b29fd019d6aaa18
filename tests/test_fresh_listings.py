"""Fresh listings (issue 15 item 2): needs and results carry a validity date, their owners are
reminded by email before it ends and renew in one click, and expired ones leave matching and
public lists but are kept for their organization."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_token_create
from core.models import AuditEvent
from matching.catalogue import freshness, services
from matching.catalogue.selectors import need_list_for_viewer, result_list_for_viewer
from matching.matcher import pipeline
from matching.matcher.documents import is_matchable
from matching.models import Match, Need, ObjectKind, Result
from matching.tasks import listings_expiry_sweep
from notifications.models import Notification
from tests.factories import NeedFactory, ResultFactory
from tests.test_matching_pipeline import make_results
from tests.test_notifications_worker import wait_until, worker_smtp  # noqa: F401

START = timezone.make_aware(dt.datetime(2026, 3, 2, 9, 0))


def _rows(template: str):
    return Notification.objects.filter(template=template).order_by("pk")


@pytest.fixture
def expiring(cast):
    """A published need and result of the cast's organizations, valid until 20 March 2026."""
    need = NeedFactory(
        organization=cast.org, created_by=cast.owner, valid_until=dt.date(2026, 3, 20)
    )
    result = ResultFactory(
        organization=cast.other_org, created_by=cast.outsider, valid_until=dt.date(2026, 3, 20)
    )
    return need, result


# --- the validity date -------------------------------------------------------------------------------


def test_months_are_added_by_the_calendar_and_clamped_to_the_month_end():
    assert freshness.add_months(dt.date(2026, 3, 2), 12) == dt.date(2027, 3, 2)
    assert freshness.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert freshness.add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)


@pytest.mark.django_db
def test_publishing_gives_a_need_and_a_result_twelve_months_by_default(cast):
    with time_machine.travel(START, tick=False):
        need = NeedFactory(organization=cast.org, status=Need.Status.DRAFT, published_at=None)
        assert need.valid_until is None
        services.need_publish(need=need, actor=cast.owner)
        result = ResultFactory(
            organization=cast.other_org, status=Result.Status.DRAFT, published_at=None
        )
        services.result_publish(result=result, actor=cast.outsider)
    need.refresh_from_db()
    result.refresh_from_db()
    assert need.valid_until == result.valid_until == dt.date(2027, 3, 2)


@pytest.mark.django_db
def test_the_owner_sets_the_validity_per_item_but_not_in_the_past(cast):
    need = NeedFactory(organization=cast.org, created_by=cast.owner)
    with time_machine.travel(START, tick=False):
        services.need_update(need=need, actor=cast.owner, data={"valid_until": "2026-09-30"})
        assert Need.objects.get(pk=need.pk).valid_until == dt.date(2026, 9, 30)
        with pytest.raises(ValidationError) as exc:
            services.need_update(need=need, actor=cast.owner, data={"valid_until": "2026-03-01"})
        assert "valid_until" in exc.value.message_dict
        # Publishing keeps a date the owner chose.
        draft = NeedFactory(
            organization=cast.org, status=Need.Status.DRAFT, valid_until=dt.date(2026, 6, 1)
        )
        services.need_publish(need=draft, actor=cast.owner)
    assert Need.objects.get(pk=draft.pk).valid_until == dt.date(2026, 6, 1)


# --- the sweep: reminder once, then expiry -------------------------------------------------------------


@pytest.mark.django_db
def test_owners_are_reminded_once_before_the_end_and_the_item_expires_after_it(
    cast, expiring, settings
):
    settings.LISTING_EXPIRY_REMINDER_DAYS = 14
    need, result = expiring
    with time_machine.travel(START, tick=False):  # 18 days left: too early
        assert listings_expiry_sweep()["need_reminded"] == 0
    with time_machine.travel(START + dt.timedelta(days=5), tick=False):
        counts = listings_expiry_sweep()
        assert counts["need_reminded"] == counts["result_reminded"] == 1
        # A second (or concurrent) run sends nothing twice.
        assert set(listings_expiry_sweep().values()) == {0}
    assert {r.recipient for r in _rows("listing_expiry_reminder")} == {
        cast.owner,
        cast.member,
        cast.outsider,
    }
    assert _rows("listing_expiry_reminder").count() == 3
    need.refresh_from_db()
    assert need.status == Need.Status.PUBLISHED and need.expiry_reminded_at is not None

    with time_machine.travel(dt.datetime(2026, 3, 20, 23, 0, tzinfo=START.tzinfo), tick=False):
        assert listings_expiry_sweep()["need_expired"] == 0  # valid through its last day
    with time_machine.travel(dt.datetime(2026, 3, 21, 1, 0, tzinfo=START.tzinfo), tick=False):
        counts = listings_expiry_sweep()
        assert counts["need_expired"] == counts["result_expired"] == 1
        assert set(listings_expiry_sweep().values()) == {0}
    need.refresh_from_db()
    result.refresh_from_db()
    assert need.status == Need.Status.EXPIRED and result.status == Result.Status.EXPIRED
    assert _rows("listing_expiry_reminder").count() == 3
    assert _rows("listing_expired").count() == 3
    audit = AuditEvent.objects.get(action="need.expire")
    assert (audit.from_state, audit.to_state, audit.actor) == ("published", "expired", None)


@pytest.mark.django_db
def test_needs_in_a_challenge_or_matched_do_not_expire(cast):
    for status in (Need.Status.IN_CHALLENGE, Need.Status.MATCHED, Need.Status.DRAFT):
        NeedFactory(organization=cast.org, status=status, valid_until=dt.date(2026, 1, 1))
    with time_machine.travel(START, tick=False):
        assert set(listings_expiry_sweep().values()) == {0}
    assert not Need.objects.filter(status=Need.Status.EXPIRED).exists()


# --- expired: out of matching and public lists, kept for the owner -------------------------------------


@pytest.mark.django_db
def test_expired_items_leave_matching_and_public_lists_but_their_owner_keeps_them(
    cast, expiring, client
):
    need, result = expiring
    with time_machine.travel(START + dt.timedelta(days=30), tick=False):
        listings_expiry_sweep()
    need.refresh_from_db()
    result.refresh_from_db()
    assert not is_matchable(ObjectKind.NEED, need)
    assert not is_matchable(ObjectKind.RESULT, result)

    for viewer in (AnonymousUser(), cast.outsider):
        assert need not in need_list_for_viewer(user=viewer)
    for viewer in (AnonymousUser(), cast.owner):
        assert result not in result_list_for_viewer(user=viewer)

    assert need.uuid.hex not in client.get(reverse("matching:need-list")).content.decode()
    assert client.get(reverse("matching:result-list")).content.decode().count(result.title) == 0
    assert client.get(need.get_absolute_url()).status_code == 404

    client.force_login(cast.owner)
    page = client.get(need.get_absolute_url()).content.decode()
    assert "已过期" in page and "一键续期" in page
    assert reverse("matching:need-renew", kwargs={"uuid": need.uuid}) in page
    client.force_login(cast.outsider)
    assert "已过期" in client.get(result.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_an_expired_result_is_no_candidate_and_an_expired_need_gets_no_matches(cast):
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(
        organization=cast.org,
        title="电池隔膜高温收缩",
        description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。",
        valid_until=timezone.localdate() + dt.timedelta(days=60),
    )
    pipeline.index_and_match(kind="need", object_id=need.pk)
    assert Match.objects.filter(need=need, result=results[1]).exists()

    Result.objects.filter(pk=results[1].pk).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1)
    )
    with transaction.atomic():
        assert listings_expiry_sweep()["result_expired"] == 1
    pipeline.index_and_match(kind="result", object_id=results[1].pk)  # what the sweep schedules
    pipeline.index_and_match(kind="need", object_id=need.pk)
    matched = set(Match.objects.filter(need=need).values_list("result_id", flat=True))
    assert matched and results[1].pk not in matched

    Need.objects.filter(pk=need.pk).update(valid_until=timezone.localdate() - dt.timedelta(days=1))
    with transaction.atomic():
        assert listings_expiry_sweep()["need_expired"] == 1
    pipeline.index_and_match(kind="need", object_id=need.pk)
    assert not Match.objects.filter(need=need).exists()


# --- renewal ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_click_renews_an_expired_need_for_twelve_months(cast, expiring, client):
    need, _result = expiring
    with time_machine.travel(START + dt.timedelta(days=30), tick=False):
        listings_expiry_sweep()
    client.force_login(cast.outsider)
    assert client.post(reverse("matching:need-renew", kwargs={"uuid": need.uuid})).status_code in (
        403,
        404,
    )
    client.force_login(cast.member)
    assert client.get(reverse("matching:need-renew", kwargs={"uuid": need.uuid})).status_code == 405
    with time_machine.travel(dt.datetime(2026, 4, 10, 9, 0, tzinfo=START.tzinfo), tick=False):
        response = client.post(reverse("matching:need-renew", kwargs={"uuid": need.uuid}))
    assert response.status_code == 302
    need.refresh_from_db()
    assert need.status == Need.Status.PUBLISHED
    assert need.valid_until == dt.date(2027, 4, 10) and need.expiry_reminded_at is None
    audit = AuditEvent.objects.get(action="need.renew")
    assert (audit.from_state, audit.to_state) == ("expired", "published")


@pytest.mark.django_db
def test_drafts_and_withdrawn_items_cannot_be_renewed(cast):
    draft = NeedFactory(organization=cast.org, status=Need.Status.DRAFT)
    with pytest.raises(ValidationError):
        services.need_renew(need=draft, actor=cast.owner)
    withdrawn = ResultFactory(organization=cast.other_org, status=Result.Status.WITHDRAWN)
    with pytest.raises(ValidationError):
        services.result_renew(result=withdrawn, actor=cast.outsider)


@pytest.mark.django_db
def test_the_api_renews_needs_and_results_and_sets_validity(cast, expiring, settings):
    from rest_framework.test import APIClient

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    need, result = expiring

    def api(user):
        _token, key = api_token_create(user=user, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    owner, lab = api(cast.owner), api(cast.outsider)
    with time_machine.travel(START, tick=False):
        response = owner.post(f"/api/v1/needs/{need.uuid}/renew/")
        assert response.status_code == 200, response.content
        assert response.json()["valid_until"] == "2027-03-02"
        response = lab.post(f"/api/v1/results/{result.uuid}/renew/")
        assert response.status_code == 200 and response.json()["valid_until"] == "2027-03-02"
        assert lab.post(f"/api/v1/needs/{need.uuid}/renew/").status_code in (403, 404)
        response = owner.patch(
            f"/api/v1/needs/{need.uuid}/", {"valid_until": "2026-12-31"}, format="json"
        )
        assert response.status_code == 200 and response.json()["valid_until"] == "2026-12-31"
        response = owner.patch(
            f"/api/v1/needs/{need.uuid}/", {"valid_until": "2020-01-01"}, format="json"
        )
        assert response.status_code == 400


# --- through a real worker and SMTP server ---------------------------------------------------------


@pytest.mark.worker
@pytest.mark.smtp
@pytest.mark.slow
def test_an_expiring_need_is_reminded_renewed_in_one_click_and_an_expired_one_leaves_matching(
    worker_smtp,  # noqa: F811 (the fixture imported above)
    celery_worker_process,
    cast,
    client,
    settings,
):
    settings.LISTING_EXPIRY_REMINDER_DAYS = 14
    make_results()
    for result in Result.objects.all():
        pipeline.index_and_match(kind="result", object_id=result.pk)
    today = timezone.localdate()
    expiring = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        title="电池隔膜高温收缩",
        description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。",
        valid_until=today + dt.timedelta(days=7),
    )
    stale = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        title="三元电池高温循环衰减快",
        description="NCM811电芯45℃循环衰减，需要正极包覆改性。",
        valid_until=today - dt.timedelta(days=1),
    )
    for need in (expiring, stale):
        pipeline.index_and_match(kind="need", object_id=need.pk)
    assert Match.objects.filter(need=stale).exists()

    with transaction.atomic():
        counts = listings_expiry_sweep()
    assert counts["need_reminded"] == 1 and counts["need_expired"] == 1

    # The reminder of the expiring need reaches both members, with the renewal link.
    wait_until(
        lambda: (
            Notification.objects.filter(template__startswith="listing_", status="sent").count() == 4
        ),
        timeout=60,
        message="reminder and expiry emails sent",
    )
    messages = worker_smtp.wait_for(4, timeout=10)
    reminders = [m for m in messages if "即将到期" in str(m["Subject"])]
    assert {str(m["To"]) for m in reminders} == {cast.owner.email, cast.member.email}
    body = reminders[0].get_body(("plain",)).get_content()
    assert expiring.title in body and f"{expiring.get_absolute_url()}#renew" in body
    assert any(stale.title in str(m["Subject"]) and "已过期" in str(m["Subject"]) for m in messages)

    # The expired need leaves matching: the worker retires it from the index and its matches.
    wait_until(lambda: not Match.objects.filter(need=stale).exists(), message="matches retired")
    stale.refresh_from_db()
    assert stale.status == Need.Status.EXPIRED

    # One click renews the expiring need (and brings the stale one back into matching).
    client.force_login(cast.owner)
    response = client.post(reverse("matching:need-renew", kwargs={"uuid": expiring.uuid}))
    assert response.status_code == 302
    expiring.refresh_from_db()
    assert expiring.valid_until == freshness.default_valid_until(today)
    assert (
        client.post(reverse("matching:need-renew", kwargs={"uuid": stale.uuid})).status_code == 302
    )
    wait_until(lambda: Match.objects.filter(need=stale).exists(), message="stale need re-matched")
    # The next sweep sends nothing: the renewed needs are far from their end.
    assert set(listings_expiry_sweep().values()) == {0}
