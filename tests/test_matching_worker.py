"""The matcher through Redis and a real Celery worker process."""

from __future__ import annotations

import time

import pytest

from matching.matcher import pipeline
from matching.models import Match
from matching.tasks import index_and_match
from tests.factories import NeedFactory
from tests.test_matching_pipeline import make_results

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def indexed_pool_and_need():
    """Five indexed results and an unindexed need about battery separators (results[1])."""
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(
        title="电池隔膜高温收缩", description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。"
    )
    return results, need


def test_published_need_gets_matches_from_the_worker(celery_worker_process):
    results, need = indexed_pool_and_need()
    index_and_match.delay("need", need.pk)
    assert wait_for(lambda: Match.objects.filter(need=need).exists())
    top = Match.objects.filter(need=need).order_by("-score").first()
    assert top.result == results[1]


@pytest.mark.worker_env(CELERY_VISIBILITY_TIMEOUT="4")
def test_worker_killed_mid_task_loses_nothing(celery_worker_process, settings):
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(
        title="三元电池高温循环衰减快", description="NCM811电芯45℃循环衰减，需要正极包覆改性。"
    )
    celery_worker_process.stop()

    index_and_match.delay("need", need.pk)
    celery_worker_process.start()
    # The fresh worker is loading the model for this task: kill it before it can finish.
    assert wait_for(lambda: "Task matching.index_and_match" in celery_worker_process.log(), 30)
    celery_worker_process.kill()
    assert not Match.objects.filter(need=need).exists()

    celery_worker_process.start()
    assert wait_for(lambda: Match.objects.filter(need=need).exists(), timeout=120)
    first = sorted(Match.objects.filter(need=need).values_list("result_id", flat=True))
    assert first and len(first) == len(set(first))
    # Running it again (a late duplicate delivery) changes nothing.
    index_and_match.delay("need", need.pk).get(timeout=60)
    assert sorted(Match.objects.filter(need=need).values_list("result_id", flat=True)) == first


@pytest.mark.worker_queues("celery")
def test_matching_does_not_wait_behind_queued_email(celery_worker_process, settings):
    """Email tasks go to their own queue: with 200 of them waiting (no mail worker here), a
    need is still matched at once by the matching worker, and the emails stay queued."""
    import redis

    from notifications.tasks import notification_send

    backlog = redis.Redis.from_url(settings.REDIS_URL)
    before = backlog.llen(settings.CELERY_MAIL_QUEUE)
    for outbox_id in range(10**9, 10**9 + 200):
        notification_send.delay(outbox_id)  # no such rows: a mail worker would just skip them
    assert backlog.llen(settings.CELERY_MAIL_QUEUE) == before + 200

    _results, need = indexed_pool_and_need()
    index_and_match.delay("need", need.pk)
    assert wait_for(lambda: Match.objects.filter(need=need).exists(), timeout=60)
    assert backlog.llen(settings.CELERY_MAIL_QUEUE) >= before + 200  # none was taken
    backlog.delete(settings.CELERY_MAIL_QUEUE)
