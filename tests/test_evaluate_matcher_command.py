"""``manage.py evaluate_matcher`` on a tiny split: metrics as the last line, and a clear error
(not a database traceback) when the database has not been migrated."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from matching.matcher.models import RankingConfiguration

pytestmark = pytest.mark.django_db

DEMANDS = [
    {"id": "d1", "title": "高镍正极材料循环寿命不足", "description": "需要正极表面包覆工艺。"},
    {"id": "d2", "title": "污水脱氮能耗高", "description": "希望采用厌氧氨氧化工艺降低能耗。"},
]
RESULTS = [
    {"id": "r1", "title": "单晶高镍正极原子层沉积包覆", "abstract": "45℃循环1500次容量保持率85%。"},
    {"id": "r2", "title": "颗粒污泥厌氧氨氧化脱氮工艺", "abstract": "总氮去除率90%，能耗降低40%。"},
    {"id": "r3", "title": "大豆蛋白高水分挤压植物肉", "abstract": "纤维结构口感接近畜肉。"},
]
QRELS = [
    {"demand_id": "d1", "result_id": "r1", "relevance": 2},
    {"demand_id": "d2", "result_id": "r2", "relevance": 2},
]


@pytest.fixture
def split(tmp_path):
    for name, rows in (("demands", DEMANDS), ("results", RESULTS), ("qrels", QRELS)):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return tmp_path


def test_prints_the_metrics_as_its_last_line(split):
    out = StringIO()
    call_command("evaluate_matcher", data=str(split), stdout=out, stderr=StringIO())
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["ndcg@10"] == pytest.approx(1.0)
    assert summary["n_results"] == 3


def test_an_unmigrated_database_gets_a_clear_error(split):
    # Dropped inside the test's transaction, which rolls back (PostgreSQL DDL is transactional).
    with connection.schema_editor() as editor:
        editor.delete_model(RankingConfiguration)
    with pytest.raises(CommandError, match="manage.py migrate"):
        call_command("evaluate_matcher", data=str(split), stdout=StringIO(), stderr=StringIO())
