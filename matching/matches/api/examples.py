"""Examples of the matches API on the Swagger page (``/api/docs/``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample

NEED_MATCHES_RESPONSE = OpenApiExample(
    _("一条需求的匹配结果"),
    description=_(
        "按 rank 排序的成果与研发能力。score 为综合得分（0–1）；components 为各项得分"
        "（dense 语义相似度、lexical 关键词、fit 条件契合）；explanation 说明匹配理由："
        "shared_terms 共同术语、evidence 两边最相近的句子、fit 逐条条件（ok 是否满足）。"
    ),
    response_only=True,
    # One item: drf-spectacular wraps the example of a list response in a list.
    value={
        "id": 1021,
        "score": 0.82,
        "rank": 1,
        "candidate": {
            "kind": "result",
            "uuid": "5f0c4e1a-8d2b-4c3e-9a7f-2b1d6e9c0a11",
            "title": "单晶高镍正极原子层沉积包覆技术",
            "organization": "某大学材料学院",
            "url": "https://example.cn/results/5f0c4e1a-8d2b-4c3e-9a7f-2b1d6e9c0a11/",
        },
        "components": {"dense": 0.8, "lexical": 0.7, "fit": 1.0},
        "explanation": {
            "shared_terms": ["高镍正极", "循环寿命"],
            "evidence": [
                {
                    "need": "45℃循环800次后容量保持率低于80%",
                    "candidate": "45℃循环1500次容量保持率达85%",
                    "similarity": 0.4,
                }
            ],
            "fit": [
                {"code": "field_same", "ok": True, "text": "领域一致：新能源电池"},
                {"code": "trl_ok", "ok": True, "text": "成熟度 TRL 6，满足需求的 TRL ≥ 5"},
            ],
        },
        "model_version": "e5s-st-3-len128",
        "updated_at": "2026-11-20T10:15:00+08:00",
    },
)
