"""The operator dashboard: platform staff only (403 for everyone else, signed in or not)."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.selectors import user_is_staff
from core.spreadsheet import XLSX_CONTENT_TYPE, csv_writer, xlsx_bytes
from ops import selectors
from ops.charts import grouped_bar_chart, hbar_chart
from ops.forms import OpsFilterForm


def staff_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not user_is_staff(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def _filters(request) -> tuple[OpsFilterForm, selectors.Filters]:
    form = OpsFilterForm(request.GET or None)
    return form, form.filters()


@staff_required
def dashboard(request):
    form, filters = _filters(request)
    funnel = selectors.funnel(filters=filters)
    money = selectors.money(filters=filters)
    feedback = selectors.feedback(filters=filters)
    by_mode = selectors.money_by_mode(filters=filters)
    total = funnel["total"]
    steps = funnel["steps"]
    funnel_chart = hbar_chart(
        title=_("转化漏斗"),
        rows=[
            (
                step["label"],
                total["counts"][step["key"]],
                _percent(total["conversion"].get(step["key"])),
            )
            for step in steps
        ],
    )
    months = [row["month"] for row in funnel["months"]]
    monthly_chart = grouped_bar_chart(
        title=_("每月需求与定榜"),
        categories=months,
        series=[
            (_("需求发布"), [row["counts"]["published"] for row in funnel["months"]]),
            (_("获得匹配"), [row["counts"]["matched"] for row in funnel["months"]]),
            (_("定榜"), [row["counts"]["awarded"] for row in funnel["months"]]),
        ],
    )
    money_chart = grouped_bar_chart(
        title=_("合同金额与到账金额（万元）"),
        categories=[row["month"] for row in money["months"]],
        series=[
            (_("合同金额"), [float(row["committed"]) for row in money["months"]]),
            (_("到账金额"), [float(row["paid"]) for row in money["months"]]),
        ],
    )
    mode_chart = grouped_bar_chart(
        title=_("按转化方式的合同金额与到账金额（万元）"),
        categories=[row["label"] for row in by_mode["modes"]],
        series=[
            (_("合同金额"), [float(row["committed"]) for row in by_mode["modes"]]),
            (_("到账金额"), [float(row["paid"]) for row in by_mode["modes"]]),
        ],
    )
    feedback_chart = grouped_bar_chart(
        title=_("匹配反馈（按领域）"),
        categories=[row["field"] for row in feedback["fields"]],
        series=[
            (_("感兴趣"), [row["interested"] for row in feedback["fields"]]),
            (_("不相关"), [row["not_relevant"] for row in feedback["fields"]]),
        ],
        stacked=True,
    )
    return render(
        request,
        "ops/dashboard.html",
        {
            "form": form,
            "funnel": funnel,
            "funnel_rows": [
                {
                    **step,
                    "count": total["counts"][step["key"]],
                    "conversion": _percent(total["conversion"].get(step["key"])),
                    "median_days": total["median_days"].get(step["key"]),
                }
                for step in steps
            ],
            "month_rows": [
                {"month": row["month"], "counts": [row["counts"][s["key"]] for s in steps]}
                for row in funnel["months"]
            ],
            "money": money,
            "by_mode": by_mode,
            "feedback": feedback,
            "feedback_rows": [
                {**row, "share": _percent(row["interested_share"])} for row in feedback["fields"]
            ],
            "funnel_chart": funnel_chart,
            "monthly_chart": monthly_chart,
            "money_chart": money_chart,
            "mode_chart": mode_chart,
            "demo": selectors.demo_data_present(),
            "feedback_chart": feedback_chart,
            "query": request.GET.urlencode(),
        },
    )


def table_rows(table: str, filters: selectors.Filters) -> tuple[list[str], list[list]]:
    """The rows of one dashboard table, as its CSV and XLSX hold them."""
    if table == "funnel":
        funnel = selectors.funnel(filters=filters)
        steps = funnel["steps"]
        header = [_("月份")] + [s["label"] for s in steps]
        rows = [
            [row["month"]] + [row["counts"][s["key"]] for s in steps] for row in funnel["months"]
        ]
        rows.append([_("合计")] + [funnel["total"]["counts"][s["key"]] for s in steps])
        return header, rows
    if table == "money":
        money = selectors.money(filters=filters)
        header = [_("月份"), _("合同金额（万元）"), _("到账金额（万元）")]
        rows = [[r["month"], r["committed"], r["paid"]] for r in money["months"]]
        rows.append([_("合计"), money["total"]["committed"], money["total"]["paid"]])
        return header, rows
    if table == "modes":
        by_mode = selectors.money_by_mode(filters=filters)
        header = [_("转化方式"), _("合同数"), _("合同金额（万元）"), _("到账金额（万元）")]
        return header, [
            [r["label"], r["contracts"], r["committed"], r["paid"]] for r in by_mode["modes"]
        ]
    if table == "feedback":
        feedback = selectors.feedback(filters=filters)
        header = [_("技术领域"), _("感兴趣"), _("不相关")]
        return header, [
            [r["field"], r["interested"], r["not_relevant"]] for r in feedback["fields"]
        ]
    if table == "reasons":
        feedback = selectors.feedback(filters=filters)
        return [_("原因"), _("次数")], [[r["label"], r["count"]] for r in feedback["reasons"]]
    raise Http404


@staff_required
def export_csv(request, table: str):
    _form, filters = _filters(request)
    header, rows = table_rows(table, filters)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ops-{table}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read UTF-8
    writer = csv_writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return response


@staff_required
def export_xlsx(request, table: str):
    _form, filters = _filters(request)
    header, rows = table_rows(table, filters)
    response = HttpResponse(xlsx_bytes(header, rows, title=table), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="ops-{table}.xlsx"'
    return response
