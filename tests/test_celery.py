import pytest

from core.tasks import ping
from matchmaker.celery import app

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_task_round_trips_through_redis_and_a_real_worker(celery_worker_process):
    result = ping.delay("揭榜挂帅")
    assert result.get(timeout=30) == "揭榜挂帅"


def test_tasks_are_configured_for_at_least_once_delivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > app.conf.task_time_limit > app.conf.task_soft_time_limit


def test_email_tasks_have_their_own_queue():
    route = app.amqp.router.route
    assert route({}, "notifications.send")["queue"].name == "mail"
    assert route({}, "notifications.digests_build")["queue"].name == "mail"
    assert route({}, "matching.index_and_match")["queue"].name == "celery"
    assert route({}, "challenges.close_due_challenges")["queue"].name == "celery"


def test_rebuild_batches_have_their_own_queue_and_live_matching_keeps_the_default():
    route = app.amqp.router.route
    for name in (
        "matching.reindex_all",
        "matching.reindex_batch",
        "matching.reindex_index_done",
        "matching.ensure_index_current",
    ):
        assert route({}, name)["queue"].name == "reindex", name
    assert route({}, "matching.index_and_match")["queue"].name == "celery"
