"""The fanned-out rebuild (matching/matcher/reindex.py): batches on the `reindex` queue shared by
two real worker processes, each batch done once, resumable, a rerun does nothing."""

from __future__ import annotations

import time

import pytest
from django.db.models import Max, Sum

from core.health import queue_consumers
from matching.matcher import indexing, reindex
from matching.models import Embedding, Match, ObjectKind, ReindexBatch
from matching.tasks import reindex_batch, start_reindex
from tests.conftest import WorkerProcess
from tests.factories import NeedFactory, ResultFactory

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOPICS = [
    ("单晶高镍正极表面包覆", "原子层沉积包覆氧化铝，45℃循环1500次容量保持率85%。"),
    ("耐高温陶瓷涂覆隔膜", "勃姆石涂覆聚乙烯隔膜，150℃热收缩率低于3%。"),
    ("钙钛矿叠层电池封装", "玻璃-玻璃封装配合丁基胶边封，湿热1000小时效率衰减小于5%。"),
    ("工业机器人视觉抓取", "深度相机与位姿估计网络结合，散乱工件抓取成功率99%。"),
    ("污水厌氧氨氧化脱氮", "颗粒污泥厌氧氨氧化工艺，总氮去除率90%，能耗降低40%。"),
    ("大豆蛋白植物肉挤压", "高水分挤压工艺形成纤维结构，口感接近畜肉。"),
]


def make_corpus(results: int = 24, needs: int = 6) -> None:
    for i in range(results):
        title, abstract = TOPICS[i % len(TOPICS)]
        ResultFactory(title=f"{title}（方案{i}）", abstract=f"{abstract}编号{i}。")
    for i in range(needs):
        title, abstract = TOPICS[i % len(TOPICS)]
        NeedFactory(title=f"求{title}", description=f"我司需要{abstract}需求{i}。")


def wait_for(predicate, timeout: float = 180.0, interval: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def two_reindex_workers(transactional_db):
    workers = [WorkerProcess({}, queues=("reindex",)) for _ in range(2)]
    try:
        for worker in workers:
            worker.start()
        assert wait_for(lambda: queue_consumers().get("reindex") == 2, timeout=60)
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def stage_done(version, stage: str) -> bool:
    counts = reindex.progress_counts(version)["stages"].get(stage)
    return bool(counts) and counts["done"] == counts["batches"]


def test_two_workers_share_the_rebuild_each_batch_once_and_a_rerun_is_a_no_op(
    two_reindex_workers,
):
    make_corpus(results=24, needs=6)
    version, sent, index_done = start_reindex(batch_size=4)
    assert sent == 6 + 2  # 24 results and 6 needs in batches of 4 (results first)
    # Every index batch delivered a second time, as a redelivery or a second run would.
    for batch_id in ReindexBatch.objects.filter(version=version).values_list("pk", flat=True):
        reindex_batch.delay(batch_id)

    finished = index_done.get(timeout=300, disable_sync_subtasks=False)
    assert finished["ready"] and finished["match_batches"] == 2
    assert wait_for(lambda: stage_done(version, ReindexBatch.Stage.MATCH))

    batches = list(ReindexBatch.objects.filter(version=version))
    assert len(batches) == 6 + 2 + 2
    assert all(b.done_at is not None and b.attempts == 1 for b in batches)
    # Both workers took part: the queue is shared.
    assert len({b.claimed_by for b in batches}) == 2
    # Every vector computed once: per kind, the batches' counts add up to the pool.
    index = ReindexBatch.objects.filter(version=version, stage=ReindexBatch.Stage.INDEX)
    assert index.filter(kind=ObjectKind.RESULT).aggregate(n=Sum("computed"))["n"] == 24
    assert index.filter(kind=ObjectKind.NEED).aggregate(n=Sum("computed"))["n"] == 6
    assert Embedding.objects.filter(version=version, kind=ObjectKind.RESULT).count() == 24
    assert Embedding.objects.filter(version=version, kind=ObjectKind.NEED).count() == 6
    assert Match.objects.values("need_id").distinct().count() == 6
    progress = reindex.progress_counts(version)["stages"]
    assert progress["index"] == {"batches": 8, "done": 8, "running": 0, "computed": 30}
    assert progress["match"]["done"] == 2 and progress["match"]["computed"] == 6

    # A rerun plans nothing, sends nothing and touches no vector.
    stamp = Embedding.objects.aggregate(t=Max("updated_at"))["t"]
    _version, sent_again, index_done = start_reindex(batch_size=4)
    assert sent_again == 0
    again = index_done.get(timeout=120, disable_sync_subtasks=False)
    assert again["ready"] and again["match_batches"] == 0
    assert Embedding.objects.aggregate(t=Max("updated_at"))["t"] == stamp
    assert (
        list(
            ReindexBatch.objects.filter(version=version)
            .order_by("pk")
            .values_list("attempts", flat=True)
        )
        == [1] * 10
    )


def test_an_interrupted_rebuild_resumes_with_the_batches_not_done(db):
    """Inline (no worker): a batch claimed by a worker that died is taken over after the lease;
    batches done are not planned or done again; new results add batches and re-match needs."""
    make_corpus(results=8, needs=2)
    version = indexing.version_for_current_model()
    pending = reindex.plan_index(version, batch_size=4)
    assert len(pending) == 3
    # The first batch is done, the second claimed by a worker that then died.
    assert not reindex.run_batch(pending[0], worker="w1").get("skipped")
    ReindexBatch.objects.filter(pk=pending[1]).update(
        claimed_by="dead", claimed_at=_now(), attempts=1
    )
    assert reindex.run_batch(pending[1], worker="w2") == {"batch": pending[1], "skipped": True}

    summary = reindex.reindex(batch_size=4)  # resumes: the dead worker's batch is still leased
    assert summary["embedded"][ObjectKind.RESULT] == 0 and summary["needs_matched"] == 0
    assert not reindex.finish_index(version)["ready"]

    from datetime import timedelta

    from django.conf import settings

    ReindexBatch.objects.filter(pk=pending[1]).update(
        claimed_at=_now() - timedelta(seconds=settings.REINDEX_BATCH_LEASE + 1)
    )
    summary = reindex.reindex(batch_size=4)
    assert summary["embedded"][ObjectKind.RESULT] == 4  # only the taken-over batch
    assert summary["needs_matched"] == 2
    assert ReindexBatch.objects.get(pk=pending[1]).attempts == 2
    assert reindex.reindex(batch_size=4) == {
        "embedded": {"result": 0, "capability": 0, "need": 0},
        "activated": False,
        "needs_matched": 0,
    }

    # A new result: one new index batch, and every need is matched again.
    ResultFactory(title="钠离子电池硬碳负极", abstract="生物质硬碳负极首效90%，成本降低30%。")
    summary = reindex.reindex(batch_size=4)
    assert summary["embedded"][ObjectKind.RESULT] == 1 and summary["needs_matched"] == 2


def test_healthz_shows_the_rebuild_progress(client, db):
    make_corpus(results=4, needs=1)
    reindex.reindex(batch_size=2)
    body = client.get("/healthz").json()
    assert body["reindex"]["stages"]["index"] == {
        "batches": 3,
        "done": 3,
        "running": 0,
        "computed": 5,
    }
    assert body["reindex"]["stages"]["match"]["done"] == 1


def _now():
    from django.utils import timezone

    return timezone.now()


def test_reindex_command_inline_status_and_no_worker(db, capsys):
    from django.core.management import CommandError, call_command

    make_corpus(results=3, needs=1)
    call_command("reindex", "--inline", "--batch-size", "2")
    assert "'needs_matched': 1" in capsys.readouterr().out
    call_command("reindex", "--status")
    status = capsys.readouterr().out
    assert "'index': {'batches': 3, 'done': 3, 'running': 0, 'computed': 4}" in status
    # Fanning out needs a worker on the `reindex` queue (none runs in this test).
    with pytest.raises(CommandError, match="reindex"):
        call_command("reindex")


def test_a_batch_that_fails_is_given_back_for_its_retry(db, monkeypatch):
    make_corpus(results=2, needs=0)
    version = indexing.version_for_current_model()
    (batch_id,) = reindex.plan_index(version, batch_size=2)

    def broken(kind, docs, **kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(indexing, "index_docs", broken)
    with pytest.raises(ConnectionError):
        reindex.run_batch(batch_id, worker="w1")
    batch = ReindexBatch.objects.get(pk=batch_id)
    assert (batch.claimed_at, batch.done_at, batch.attempts) == (None, None, 1)

    monkeypatch.undo()
    assert reindex.run_batch(batch_id, worker="w1")["computed"] == 2
    assert ReindexBatch.objects.get(pk=batch_id).attempts == 2
