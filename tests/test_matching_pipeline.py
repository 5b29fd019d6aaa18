"""The matcher pipeline against real PostgreSQL + pgvector and the default model."""

from __future__ import annotations

import pytest

from matching.matcher import engine, pipeline
from matching.models import (
    Embedding,
    LexicalDocument,
    LexicalTerm,
    Match,
    MatchFeedback,
    Need,
    ObjectKind,
    Result,
)
from tests.factories import NeedFactory, ResultFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_pool_samples():
    engine.clear_pool_samples()
    yield
    engine.clear_pool_samples()


RESULTS = [
    (
        "单晶高镍正极表面包覆改性技术",
        "采用原子层沉积在单晶高镍颗粒表面包覆氧化铝，45℃循环1500次容量保持率达85%。",
        ["高镍正极", "包覆"],
    ),
    (
        "耐高温锂电池隔膜涂覆工艺",
        "陶瓷涂覆聚乙烯隔膜，150℃热收缩率小于2%，已在中试线验证。",
        ["隔膜", "陶瓷涂覆"],
    ),
    (
        "果园喷药无人机路径规划",
        "基于激光雷达点云的果树冠层识别，实现变量喷药，节药30%。",
        ["植保无人机", "变量喷药"],
    ),
    (
        "城市污水厌氧氨氧化脱氮工艺",
        "主流厌氧氨氧化工艺，总氮去除率85%，能耗降低40%。",
        ["厌氧氨氧化", "脱氮"],
    ),
    (
        "工业机器人视觉引导抓取系统",
        "深度学习位姿估计，无序抓取成功率99%，节拍3秒。",
        ["机器视觉", "抓取"],
    ),
]


def make_results(field_code: str = "new_energy.batteries") -> list[Result]:
    from tests.factories import FieldFactory

    field = FieldFactory(code=field_code)
    return [ResultFactory(title=t, abstract=a, keywords=k, field=field) for t, a, k in RESULTS]


def index_all(results, need=None):
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    if need is not None:
        pipeline.index_and_match(kind="need", object_id=need.pk)


def test_need_is_matched_to_the_relevant_result_first():
    results = make_results()
    need = NeedFactory(
        title="三元电池高温循环衰减快",
        description="我司NCM811电芯在45℃下循环800次后容量保持率跌破80%，希望通过正极材料改性把循环寿命提升到1500次。",
    )
    index_all(results, need)
    matches = list(Match.objects.filter(need=need, result__isnull=False).order_by("-score"))
    assert matches[0].result == results[0]
    top = matches[0]
    assert 0 < top.score <= 1
    assert {"dense", "lexical", "field", "fused"} <= set(top.components)
    assert top.explanation["fit"] and top.explanation["public"] is not None


def test_index_skips_unchanged_content_and_reembeds_changed():
    (result, *_rest) = make_results()
    first = pipeline.index_and_match(kind="result", object_id=result.pk)
    again = pipeline.index_and_match(kind="result", object_id=result.pk)
    assert first["embedded"] == 1 and again["embedded"] == 0
    Result.objects.filter(pk=result.pk).update(abstract=result.abstract + "已申请发明专利。")
    changed = pipeline.index_and_match(kind="result", object_id=result.pk)
    assert changed["embedded"] == 1
    assert Embedding.objects.filter(kind="result", object_id=result.pk).count() == 1


def test_match_task_is_idempotent():
    results = make_results()
    need = NeedFactory(
        title="电池隔膜高温收缩", description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。"
    )
    index_all(results, need)
    before = list(
        Match.objects.filter(need=need)
        .order_by("pk")
        .values_list("pk", "result_id", "capability_id", "score")
    )
    pipeline.index_and_match(kind="need", object_id=need.pk)
    after = list(
        Match.objects.filter(need=need)
        .order_by("pk")
        .values_list("pk", "result_id", "capability_id", "score")
    )
    assert before == after and before


def test_withdrawn_result_leaves_the_pool_and_its_matches():
    results = make_results()
    need = NeedFactory(
        title="电池隔膜高温收缩", description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。"
    )
    index_all(results, need)
    separator = results[1]
    assert Match.objects.filter(need=need, result=separator).exists()
    Result.objects.filter(pk=separator.pk).update(status=Result.Status.WITHDRAWN)
    pipeline.index_and_match(kind="result", object_id=separator.pk)
    assert not Match.objects.filter(result=separator).exists()
    assert not LexicalDocument.objects.filter(kind="result", object_id=separator.pk).exists()
    assert not Embedding.objects.filter(kind="result", object_id=separator.pk).exists()


def test_document_frequencies_follow_documents():
    (result, *_rest) = make_results()
    pipeline.index_and_match(kind="result", object_id=result.pk)
    assert LexicalTerm.objects.get(kind="result", term="包覆").df == 1
    Result.objects.filter(pk=result.pk).update(status=Result.Status.WITHDRAWN)
    pipeline.index_and_match(kind="result", object_id=result.pk)
    assert LexicalTerm.objects.get(kind="result", term="包覆").df == 0


def test_batched_lexical_index_keeps_document_frequencies_exact():
    """One batch adds, edits and repeats documents; the stored frequencies equal a recount."""
    from collections import Counter

    from matching.matcher import indexing
    from matching.matcher.documents import MatchDoc

    def doc(object_id: int, text: str) -> MatchDoc:
        return MatchDoc(kind="result", object_id=object_id, text=text)

    def recount() -> dict[str, int]:
        counts: Counter[str] = Counter()
        for tokens in LexicalDocument.objects.filter(kind="result").values_list(
            "tokens", flat=True
        ):
            counts.update(set(tokens))
        return dict(counts)

    def stored() -> dict[str, int]:
        return dict(LexicalTerm.objects.filter(kind="result", df__gt=0).values_list("term", "df"))

    indexing.index_docs("result", [doc(1, "锂电池隔膜涂覆"), doc(2, "锂电池正极包覆")])
    assert stored() == recount()
    assert stored()["锂电"] == 2
    # An edit and a new document in one batch; an unchanged one is skipped.
    indexing.index_docs(
        "result", [doc(1, "锂电池隔膜涂覆"), doc(2, "钠电池负极"), doc(3, "电池隔膜")]
    )
    assert stored() == recount()
    assert stored()["锂电"] == 1 and "包覆" not in stored() and stored()["隔膜"] == 2
    indexing.remove_object("result", 1)
    assert stored() == recount()


def test_rejected_pair_drops_out_of_the_need_matches():
    results = make_results()
    need = NeedFactory(
        title="电池隔膜高温收缩", description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。"
    )
    index_all(results, need)
    match = Match.objects.filter(need=need, result__isnull=False).order_by("-score").first()
    MatchFeedback.objects.create(
        match=match,
        organization=need.organization,
        user=need.created_by,
        verdict=MatchFeedback.Verdict.NOT_RELEVANT,
        reason=MatchFeedback.Reason.WRONG_FIELD,
    )
    pipeline.index_and_match(kind="need", object_id=need.pk)
    ranked = pipeline.rank_for_need(need)[0]
    assert match.result_id not in [c.object_id for c in ranked]


def test_new_result_is_matched_to_existing_open_need():
    results = make_results()
    need = NeedFactory(
        title="污水脱氮能耗高",
        description="市政污水厂总氮不达标，曝气能耗占比高，希望引入低能耗脱氮工艺。",
    )
    index_all(results[:3], need)
    assert not Match.objects.filter(need=need, result=results[3]).exists()
    pipeline.index_and_match(kind="result", object_id=results[3].pk)
    assert Match.objects.filter(need=need, result=results[3]).exists()


def test_private_need_explanation_has_a_public_part_without_its_text():
    results = make_results()
    secret = "独家配方代号X-17的烧结曲线"
    need = NeedFactory(
        title="正极材料循环寿命",
        summary="提升正极材料寿命",
        confidentiality=Need.Confidentiality.SUMMARY,
        description=f"我司{secret}导致高镍正极循环衰减，需要包覆改性。",
    )
    index_all(results, need)
    for match in Match.objects.filter(need=need):
        assert secret not in str(match.explanation["public"])
        assert "X-17" not in str(match.explanation["public"])


def test_reindex_stores_matches_without_emailing_but_a_published_need_notifies():
    from matching.matcher.reindex import reindex
    from notifications.models import Notification

    results = make_results()
    quiet = NeedFactory(
        title="三元电池高温循环衰减快",
        description="我司NCM811电芯在45℃下循环800次后容量保持率跌破80%，希望通过正极材料改性把循环寿命提升到1500次。",
    )
    summary = reindex()
    assert summary["needs_matched"] == 1
    assert Match.objects.filter(need=quiet, result=results[0]).exists()
    assert not Notification.objects.exists()

    fresh = NeedFactory(
        title="高镍正极循环寿命",
        description="NCM811正极在45℃循环后容量保持率低，需要表面包覆改性把循环寿命提升到1500次。",
    )
    pipeline.index_and_match(kind="need", object_id=fresh.pk)
    assert Notification.objects.filter(recipient=fresh.created_by).exists()


def _hnsw_index_kinds(version) -> set[str]:
    """Kinds with a valid HNSW index for ``version``."""
    from django.db import connection

    names = {f"matching_emb_v{version.pk}_{kind}_hnsw": kind for kind in ObjectKind.values}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname = ANY(%s) AND i.indisvalid",
            [list(names)],
        )
        return {names[name] for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)  # indexes of a filled version build CONCURRENTLY
def test_model_change_builds_a_new_version_and_switches_when_complete(settings, tmp_path):
    import json
    from pathlib import Path

    from matching.matcher import indexing, reindex
    from matching.models import EmbeddingVersion

    results = make_results()
    need = NeedFactory(
        title="电池隔膜高温收缩", description="隔膜在130℃以上收缩导致短路，需要耐热隔膜方案。"
    )
    index_all(results, need)
    old = indexing.active_version()
    assert _hnsw_index_kinds(old) == {"need", "result", "capability"}

    # Another model: the default model's files under another build id (a new model id).
    other = tmp_path / "other-model"
    other.mkdir()
    default_dir = Path(settings.MATCHER_MODEL)
    for item in default_dir.iterdir():
        if item.name != "BUILD_INFO.json":
            (other / item.name).symlink_to(item)
    info = json.loads((default_dir / "BUILD_INFO.json").read_text())
    (other / "BUILD_INFO.json").write_text(json.dumps({**info, "build_version": "test-other"}))
    settings.MATCHER_MODEL = str(other)

    new = indexing.version_for_current_model()
    assert new.status == EmbeddingVersion.Status.BUILDING
    assert indexing.serving_version() == old  # the old index keeps serving meanwhile
    assert _hnsw_index_kinds(new) == set()  # built once the version is filled

    # An edit while building is written to both versions; matching still uses the old one.
    Result.objects.filter(pk=results[0].pk).update(abstract=results[0].abstract + "已量产。")
    pipeline.index_and_match(kind="result", object_id=results[0].pk)
    assert Embedding.objects.filter(version=new).count() == 1
    assert Embedding.objects.filter(version=old, kind="result").count() == len(results)
    assert set(Match.objects.filter(need=need).values_list("model_version", flat=True)) == {
        old.model_id
    }

    summary = reindex.reindex()
    assert summary["activated"] and summary["needs_matched"] == 1
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (
        EmbeddingVersion.Status.RETIRED,
        EmbeddingVersion.Status.ACTIVE,
    )
    assert _hnsw_index_kinds(new) == {"need", "result", "capability"}
    assert Embedding.objects.filter(version=new, kind="result").count() == len(results)
    assert set(Match.objects.filter(need=need).values_list("model_version", flat=True)) == {
        new.model_id
    }
