"""Examples of the challenges API on the Swagger page (``/api/docs/``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample

BID_CREATE_REQUEST = OpenApiExample(
    _("揭榜：提交一份投标"),
    description=_(
        "organization 为揭榜（牵头）单位的 uuid，须是调用者所在的机构。indicator_responses 逐条回应"
        "榜单指标（indicator_id 见榜单详情），budget_items 为经费预算，schedule 为各里程碑的计划日期"
        "（milestone_id 见榜单详情）。submit 为 true 时立即提交，否则保存为草稿；截止后不能再提交"
        "（409）。"
    ),
    request_only=True,
    value={
        "organization": "3b9d2f6e-1c4a-4e8b-9f2d-7a6c5e4b3a21",
        "technical_approach": "原子层沉积包覆＋单晶化工艺，抑制界面副反应与晶间开裂。",
        "team": "教授2人，博士5人，中试线1条。",
        "indicator_responses": [
            {"indicator_id": 11, "approach": "ALD 包覆氧化铝 2 nm", "expected_value": "88"},
            {"indicator_id": 12, "approach": "单晶化减少晶界", "expected_value": "1600"},
        ],
        "budget_items": [
            {"item": "材料与测试", "amount": "120.00", "note": "含第三方检测"},
            {"item": "中试", "amount": "150.00"},
        ],
        "schedule": [{"milestone_id": 21, "planned_date": "2027-03-31", "plan": "小试样品"}],
        "submit": False,
    },
)
