"""Delivery guarantees of the outbox through a real Celery worker process, Redis and a real SMTP
server on loopback: sent once, retried until the server is back, exactly once across a SIGKILL
mid-send, rate-limited per domain without loss."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.db import transaction

from accounts.models import Membership
from matchmaker.celery import app
from notifications import ratelimit
from notifications.models import Notification
from notifications.services import match_notifications_create, notify
from notifications.tasks import notification_send, outbox_sweep
from tests.factories import (
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    ResultFactory,
    UserFactory,
)

pytestmark = [pytest.mark.worker, pytest.mark.smtp, pytest.mark.slow]

SITE = "https://mm.example.cn"


@pytest.fixture
def worker_smtp(smtp_server, request, settings):
    """Point the worker that the test starts next (``celery_worker_process``, listed after this
    fixture) at ``smtp_server``, on top of the test's own ``worker_env``; clear leftovers in Redis."""
    marker = request.node.get_closest_marker("worker_env")
    env = {
        **(marker.kwargs if marker else {}),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "10",
        "SITE_URL": SITE,
    }
    request.node.add_marker(pytest.mark.worker_env(**env), append=False)
    settings.SITE_URL = SITE
    app.control.purge()
    ratelimit.reset()
    yield smtp_server
    ratelimit.reset()


def wait_until(predicate, timeout: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def row_of(pk: int) -> Notification:
    return Notification.objects.get(pk=pk)


def review_notification(user, key: str = "review:1") -> Notification:
    with transaction.atomic():
        return notify(
            event_key=key,
            recipient=user,
            template="review_assigned",
            context={"title": "揭榜挂帅：固态电池界面"},
            link=f"{SITE}/challenges/x/",
        )


def test_worker_sends_each_match_email_once_even_when_queued_twice(
    worker_smtp, celery_worker_process
):
    enterprise = OrganizationFactory()
    boss = MembershipFactory(organization=enterprise, role=Membership.Role.OWNER).user
    need = NeedFactory(organization=enterprise, created_by=boss)
    result = ResultFactory()
    professor = result.created_by
    match = MatchFactory(need=need, result=result)

    with transaction.atomic():
        assert match_notifications_create(matches=[match]) == 2
    with transaction.atomic():
        assert match_notifications_create(matches=[match]) == 0  # the same event again
    for row in Notification.objects.all():
        notification_send.delay(row.pk)  # a duplicate message for every row

    messages = worker_smtp.wait_for(2, timeout=30)
    time.sleep(1.5)
    assert sorted(str(m["To"]) for m in worker_smtp.messages) == sorted(
        [boss.email, professor.email]
    )
    assert len(messages) == 2
    wait_until(
        lambda: set(Notification.objects.values_list("status", flat=True)) == {"sent"},
        message="rows marked sent",
    )


@pytest.mark.worker_env(NOTIFICATION_RETRY_BACKOFF="0.5", NOTIFICATION_RETRY_BACKOFF_MAX="1")
def test_smtp_421_is_retried_until_the_server_is_back_and_nothing_is_lost(
    worker_smtp, celery_worker_process
):
    user = UserFactory()
    worker_smtp.reject_with = "421 4.3.2 service not available, try again later"
    row = review_notification(user)

    wait_until(lambda: row_of(row.pk).attempts >= 3, message="three attempts")
    current = row_of(row.pk)
    assert current.status in {"pending", "sending"} and "421" in current.last_error
    assert worker_smtp.messages == []

    worker_smtp.reject_with = None
    wait_until(lambda: row_of(row.pk).status == "sent", message="delivery after recovery")
    time.sleep(1)
    assert [str(m["To"]) for m in worker_smtp.messages] == [user.email]


@pytest.mark.worker_env(NOTIFICATION_CLAIM_TIMEOUT="2")
def test_worker_killed_mid_send_sends_exactly_once_after_restart(
    worker_smtp, celery_worker_process, settings
):
    entered, release = threading.Event(), threading.Event()
    deliver = worker_smtp.handle_DATA

    async def block_first_data(server, session, envelope):
        # The first message hangs in DATA (not accepted) until the worker is dead.
        if not entered.is_set():
            entered.set()
            while not release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.4.2 connection lost"
        return await deliver(server, session, envelope)

    worker_smtp.handle_DATA = block_first_data
    user = UserFactory()
    row = review_notification(user)

    assert entered.wait(30), "the worker never reached DATA"
    claimed = row_of(row.pk)
    assert claimed.status == "sending" and claimed.attempts == 1
    celery_worker_process.kill()  # SIGKILL, mid-send
    release.set()
    assert worker_smtp.messages == []

    # Beat's sweeper, once the dead worker's claim is stale, queues the row again.
    settings.NOTIFICATION_CLAIM_TIMEOUT = 2
    time.sleep(2.5)
    celery_worker_process.start()
    assert outbox_sweep() == 1

    worker_smtp.wait_for(1, timeout=30)
    wait_until(lambda: row_of(row.pk).status == "sent", message="row marked sent")
    time.sleep(1.5)
    assert [str(m["To"]) for m in worker_smtp.messages] == [user.email]
    assert row_of(row.pk).attempts == 2
    assert outbox_sweep() == 0


@pytest.mark.worker_env(NOTIFICATION_DOMAIN_RATE="2", NOTIFICATION_DOMAIN_BURST="1")
def test_per_domain_rate_limit_spaces_sends_and_loses_none(worker_smtp, celery_worker_process):
    arrivals: list[float] = []
    deliver = worker_smtp.handle_DATA

    async def timed(server, session, envelope):
        arrivals.append(time.monotonic())
        return await deliver(server, session, envelope)

    worker_smtp.handle_DATA = timed
    users = [UserFactory(email=f"r{i}@busy.example.cn") for i in range(3)]
    for i, user in enumerate(users):
        review_notification(user, key=f"review:{i}")

    worker_smtp.wait_for(3, timeout=30)
    wait_until(lambda: Notification.objects.filter(status="sent").count() == 3, message="all sent")
    assert sorted(str(m["To"]) for m in worker_smtp.messages) == sorted(u.email for u in users)
    # Burst 1 at 2 per second: the third message cannot leave before ~1 s after the first.
    assert arrivals[-1] - arrivals[0] >= 0.8
