"""The CSV/XLSX import templates (fixtures/templates/) with their example rows, and the indicator
cell format shared by the templates and the needs export."""

from __future__ import annotations

import csv
from pathlib import Path

from matching.catalogue.importers import NEED_COLUMNS, RESULT_COLUMNS
from matching.models import Need, NeedIndicator

# --- templates --------------------------------------------------------------------------------------

NEED_EXAMPLES = [
    {
        "external_ref": "JS-2025-0001",
        "title": "锂电池隔膜涂覆良率提升",
        "summary": "寻求提升锂电池隔膜陶瓷涂覆良率的工艺或设备改造方案。",
        "description": "我司湿法隔膜陶瓷涂覆线良率约97%，主要缺陷为漏涂和划痕，需要在不降低车速"
        "（80 m/min）的前提下将良率提升到99.5%以上。",
        "scenario": "动力电池隔膜量产线",
        "field": "new_energy.batteries",
        "industry_chain": "动力电池—隔膜",
        "region": "江苏省",
        "budget_min": "100",
        "budget_max": "300",
        "funding_mode": "按里程碑支付",
        "coop_modes": "合作开发;委托开发",
        "trl_min": "6",
        "deadline": "2026-06-30",
        "contact_name": "张工",
        "contact_phone": "0512-12345678",
        "contact_email": "",
        "confidentiality": "公开",
        "terms": "",
        "indicators": "良率>=99.5%;涂覆厚度2~4μm;车速>=80m/min",
        "status": "已发布",
    },
    {
        "external_ref": "JS-2025-0002",
        "title": "高镍正极材料循环寿命提升",
        "summary": "寻求提升高镍三元正极循环寿命的包覆或掺杂技术。",
        "description": "高镍三元电池45℃循环800次后容量保持率低于80%，希望通过改性或包覆提升至1500次。",
        "scenario": "",
        "field": "new_energy.batteries",
        "industry_chain": "动力电池—正极材料",
        "region": "江苏省",
        "budget_min": "",
        "budget_max": "",
        "funding_mode": "面议",
        "coop_modes": "技术转让、技术许可",
        "trl_min": "5",
        "deadline": "",
        "contact_name": "",
        "contact_phone": "",
        "contact_email": "",
        "confidentiality": "摘要公开",
        "terms": "查看全文前须签署保密协议，不得向第三方披露我司工艺参数。",
        "indicators": "容量保持率>=80%;循环次数>=1500次",
        "status": "草稿",
    },
]

RESULT_EXAMPLES = [
    {
        "external_ref": "NJU-2025-001",
        "title": "单晶高镍正极表面原子层沉积包覆技术",
        "abstract": "采用原子层沉积在单晶高镍颗粒表面包覆氧化铝，45℃循环1500次容量保持率达85%。",
        "keywords": "高镍正极;包覆;循环寿命",
        "field": "new_energy.batteries",
        "industry_chain": "动力电池—正极材料",
        "trl": "6",
        "is_service_invention": "是",
        "transfer_modes": "技术许可;合作开发",
        "price_min": "150",
        "price_max": "250",
        "team": "某教授团队，核心成员6人",
        "application_fields": "动力电池;储能电池",
        "patents": "202310123456.6|发明|已授权|一种高镍正极材料的包覆方法;"
        "202320456789.6|实用新型|申请中",
        "status": "已发布",
    },
    {
        "external_ref": "NJU-2025-002",
        "title": "电池健康状态在线评估软件",
        "abstract": "基于充电曲线片段估计电池健康状态，误差小于2%，适用于储能电站在线监测。",
        "keywords": "健康状态;储能;在线监测",
        "field": "new_energy.batteries",
        "industry_chain": "储能—电池管理",
        "trl": "7",
        "is_service_invention": "是",
        "transfer_modes": "技术许可",
        "price_min": "",
        "price_max": "",
        "team": "",
        "application_fields": "储能电站",
        "patents": "2023SR0123456|软件著作权|已授权|电池健康状态评估软件V1.0",
        "status": "草稿",
    },
]


def template_rows(kind: str) -> tuple[list[str], list[list[str]]]:
    columns = NEED_COLUMNS if kind == "needs" else RESULT_COLUMNS
    examples = NEED_EXAMPLES if kind == "needs" else RESULT_EXAMPLES
    header = [c.header for c in columns]
    return header, [[example.get(c.key, "") for c in columns] for example in examples]


def write_template(kind: str, path: Path) -> None:
    """Write the CSV (UTF-8 with BOM, so Excel opens it) or XLSX template with its example rows."""
    header, rows = template_rows(kind)
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        return
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "需求" if kind == "needs" else "成果"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    columns = NEED_COLUMNS if kind == "needs" else RESULT_COLUMNS
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        sheet.column_dimensions[cell.column_letter].width = 18
    # Text cells, so Excel keeps "202310123456.6" and "0512-…" as typed.
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "@"
    sheet.freeze_panes = "A2"
    workbook.save(path)


def indicator_cell(need: Need) -> str:
    """A need's indicators in the template's cell format (for exports)."""
    parts = []
    for i in need.indicators.all():
        if i.operator == NeedIndicator.Operator.RANGE:
            parts.append(f"{i.name}{i.target}~{i.target_max}{i.unit}")
        else:
            parts.append(f"{i.name}{i.operator}{i.target}{i.unit}")
    return ";".join(parts)
