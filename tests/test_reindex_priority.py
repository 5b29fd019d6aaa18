"""Live matching keeps priority over a running rebuild (matching/matcher/priority.py): live work
marks itself in (real) Redis, and a rebuild batch waits between its chunks while the mark is held."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core import redis_client
from matching.matcher import engine, indexing, pipeline, priority, reindex
from matching.matcher.documents import doc_for, load_objects
from matching.models import Embedding, ObjectKind, ReindexBatch
from tests.factories import NeedFactory, ResultFactory
from tests.test_reindex_fanout import make_corpus

pytestmark = pytest.mark.slow


@pytest.fixture
def clean_marker():
    redis_client.client().delete(priority.KEY)
    yield
    redis_client.client().delete(priority.KEY)


def test_live_work_is_marked_while_it_runs_and_nested_blocks_add_nothing(clean_marker):
    assert not priority.live_work_running()
    with priority.live():
        assert priority.live_work_running()
        with priority.live():
            assert redis_client.client().zcard(priority.KEY) == 1
        assert priority.live_work_running()
    assert not priority.live_work_running()


def test_the_marker_of_a_worker_that_died_lapses_with_its_lease(clean_marker):
    # A live task killed mid-way never removes its marker; its lease ended a second ago.
    redis_client.client().zadd(priority.KEY, {"dead-worker": time.time() - 1})
    assert not priority.live_work_running()
    assert redis_client.client().zcard(priority.KEY) == 0
    assert priority.yield_to_live() == 0.0


def test_the_rebuild_waits_for_live_work_and_goes_on_when_it_ends(clean_marker, settings):
    settings.REINDEX_YIELD_MAX_SECONDS = 60
    waited: list[float] = []
    release = threading.Event()

    def live_task():
        with priority.live():
            release.wait(30)

    holder = threading.Thread(target=live_task)
    holder.start()
    while not priority.live_work_running():
        time.sleep(0.01)
    rebuild = threading.Thread(target=lambda: waited.append(priority.yield_to_live()))
    rebuild.start()
    rebuild.join(0.5)
    assert rebuild.is_alive(), "the rebuild went on while live work ran"
    release.set()
    holder.join()
    rebuild.join(30)
    assert not rebuild.is_alive() and waited[0] >= 0.5


def test_a_stream_of_live_work_slows_the_rebuild_but_cannot_stop_it(clean_marker, settings):
    settings.REINDEX_YIELD_MAX_SECONDS = 0.2
    with priority.live():
        waited = priority.yield_to_live()
    assert 0.2 <= waited < 10


def test_without_redis_live_work_runs_and_the_rebuild_does_not_wait(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    ran = False
    with priority.live():
        ran = True
    assert ran
    assert priority.yield_to_live() < 5


@pytest.mark.django_db
def test_chunked_encoding_pauses_before_each_chunk_and_gives_the_same_vectors(settings):
    settings.REINDEX_ENCODE_CHUNK = 3
    results = [
        ResultFactory(title=f"固态电池电解质{i}", abstract="硫化物电解质" * (i + 1))
        for i in range(7)
    ]
    ids = [r.pk for r in results]
    objects = load_objects(ObjectKind.RESULT, ids)
    docs = [doc_for(ObjectKind.RESULT, objects[i]) for i in ids]
    pauses: list[int] = []
    assert indexing.index_docs(ObjectKind.RESULT, docs, pause=lambda: pauses.append(1)) == 7
    assert len(pauses) == 3  # 7 texts in chunks of 3

    version = indexing.serving_version()
    stored = dict(
        Embedding.objects.filter(version=version, kind=ObjectKind.RESULT).values_list(
            "object_id", "vector"
        )
    )
    whole = indexing.encode_for(version, [d.text for d in docs], kind=docs[0].embedding_kind)
    for doc, vector in zip(docs, whole, strict=True):
        assert np.allclose(np.asarray(stored[doc.object_id]), vector, atol=1e-4)


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_batch_holds_while_a_need_is_being_matched(clean_marker, settings):
    settings.REINDEX_YIELD_MAX_SECONDS = 60
    settings.REINDEX_ENCODE_CHUNK = 2
    make_corpus(results=6, needs=0)
    version = indexing.version_for_current_model()
    Embedding.objects.filter(version=version).delete()  # the factories' live indexing
    [batch_id] = reindex.plan_index(version, batch_size=10)
    outcome: list[dict] = []
    worker = threading.Thread(target=lambda: outcome.append(reindex.run_batch(batch_id)))

    with priority.live():  # a need being published and matched
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()
        assert not ReindexBatch.objects.get(pk=batch_id).done_at
        assert not Embedding.objects.filter(version=version, kind=ObjectKind.RESULT).exists()

    worker.join(120)
    assert outcome and outcome[0]["computed"] == 6 and outcome[0]["yielded_s"] > 0.5
    assert ReindexBatch.objects.get(pk=batch_id).done_at


@pytest.mark.django_db
def test_publishing_and_ad_hoc_matching_are_live_work(clean_marker, monkeypatch):
    seen: list[bool] = []
    original = indexing.index_docs

    def spy(*args, **kwargs):
        seen.append(priority.live_work_running())
        return original(*args, **kwargs)

    monkeypatch.setattr(indexing, "index_docs", spy)
    need = NeedFactory(title="求高镍正极包覆工艺", description="循环寿命不足，需要表面包覆方案。")
    pipeline.index_and_match(kind=ObjectKind.NEED, object_id=need.pk)
    assert seen and all(seen)

    seen.clear()
    original_rank = engine.rank

    def rank_spy(*args, **kwargs):
        seen.append(priority.live_work_running())
        return original_rank(*args, **kwargs)

    monkeypatch.setattr(engine, "rank", rank_spy)
    pipeline.rank_text(text="高镍正极材料表面包覆")
    assert seen == [True]
    assert not priority.live_work_running()


def test_torch_threads_per_process_follow_the_setting(settings):
    import torch

    from matching.matcher import embedding

    before = torch.get_num_threads()
    settings.MATCHER_TORCH_THREADS = 1
    try:
        embedding._apply_thread_setting()
        assert torch.get_num_threads() == 1
        settings.MATCHER_TORCH_THREADS = 0  # torch's default: left alone
        torch.set_num_threads(before)
        embedding._apply_thread_setting()
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)
