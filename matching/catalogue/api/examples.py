"""Examples of the needs API on the Swagger page (``/api/docs/``): what a client sends and gets."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample

NEED_CREATE_REQUEST = OpenApiExample(
    _("发布一条技术需求（草稿）"),
    description=_(
        "title、description、field 必填；field 为领域代码，region 为省级行政区全称。"
        "indicators 为量化指标（operator 为 >=、<=、>、<、= 或 range）。新建的需求是草稿，"
        "用 POST /api/v1/needs/{uuid}/publish/ 发布后才参与匹配。"
    ),
    request_only=True,
    value={
        "title": "高镍正极材料循环寿命提升",
        "summary": "寻求提升高镍三元正极循环寿命的技术方案。",
        "description": "我司高镍三元电池在45℃循环800次后容量保持率低于80%，"
        "需要改性或包覆技术提升至1500次。",
        "field": "new_energy.batteries",
        "region": "江苏省",
        "budget_min": "100.00",
        "budget_max": "300.00",
        "coop_modes": ["license", "joint_dev"],
        "trl_min": 5,
        "deadline": "2027-06-30",
        "confidentiality": "summary",
        "indicators": [
            {"name": "容量保持率", "operator": ">=", "target": "85", "unit": "%"},
            {"name": "循环次数", "operator": ">=", "target": "1500", "unit": "次"},
        ],
    },
)
