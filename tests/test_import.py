"""import_needs / import_results: CSV and XLSX in the documented template, all rows or none, every
bad row reported by number and column, idempotent by 外部编号."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from matching.catalogue import import_templates, importers
from matching.models import Need, NeedIndicator, Patent, Result
from tests.factories import FieldFactory, RegionFactory

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "fixtures" / "templates"
NEED_HEADER = [c.header for c in importers.NEED_COLUMNS]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def taxonomy(db):
    FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    RegionFactory(name="江苏省")


def need_row(ref: str, **cells) -> list[str]:
    values = {
        "外部编号": ref,
        "需求名称": f"需求{ref}",
        "问题描述": "问题描述",
        "技术领域": "new_energy.batteries",
        "所在地区": "江苏省",
        "预算下限": "100",
        "预算上限": "300",
        "合作方式": "合作开发;委托开发",
        "期望成熟度": "6",
        "技术指标": "良率>=99.5%;功耗<=2W;厚度2~4μm",
        "状态": "已发布",
    }
    values.update(cells)
    return [values.get(h, "") for h in NEED_HEADER]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding="utf-8-sig") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run(kind: str, path: Path, cast, *extra) -> None:
    call_command(
        f"import_{kind}",
        str(path),
        "--org",
        cast.org.credit_code,
        "--user",
        cast.owner.email,
        *extra,
    )


def test_csv_import_creates_publishes_and_parses_cells(tmp_path, cast, capsys):
    path = write_csv(
        tmp_path / "needs.csv", NEED_HEADER, [need_row("A-1"), need_row("A-2", 状态="草稿")]
    )
    run("needs", path, cast)
    assert "2 created, 0 updated" in capsys.readouterr().out
    need = Need.objects.get(organization=cast.org, external_ref="A-1")
    assert need.status == Need.Status.PUBLISHED and need.published_at is not None
    assert need.coop_modes == ["joint_dev", "commissioned"] and need.trl_min == 6
    assert [
        (i.name, i.operator, i.target, i.target_max, i.unit) for i in need.indicators.all()
    ] == [
        ("良率", ">=", "99.5", "", "%"),
        ("功耗", "<=", "2", "", "W"),
        ("厚度", "range", "2", "4", "μm"),
    ]
    assert Need.objects.get(external_ref="A-2").status == Need.Status.DRAFT


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_one_bad_row_imports_nothing_and_reports_row_and_column(tmp_path, cast, capsys, fmt):
    rows = [
        need_row("A-1"),
        need_row("A-2", 预算下限="500", 预算上限="100"),
        need_row("A-3"),
        need_row("A-4", 技术指标="良率>=很高", 期望成熟度="12"),
    ]
    writer = write_csv if fmt == "csv" else write_xlsx
    path = writer(tmp_path / f"needs.{fmt}", NEED_HEADER, rows)
    with pytest.raises(CommandError, match="nothing was imported"):
        run("needs", path, cast)
    err = capsys.readouterr().err
    assert "第3行 预算上限：" in err  # the header is row 1, so the second data row is 第3行
    assert "第5行 技术指标：第1项：" in err
    assert "第5行 期望成熟度：" in err
    assert "第2行" not in err and "第4行" not in err
    assert not Need.objects.exists() and not NeedIndicator.objects.exists()


def test_xlsx_cells_typed_by_excel_are_read(tmp_path, cast):
    import datetime as dt

    row = need_row("X-1")
    header = NEED_HEADER
    row[header.index("预算下限")] = 100
    row[header.index("预算上限")] = 300.5
    row[header.index("期望成熟度")] = 6
    row[header.index("截止日期")] = dt.datetime(2026, 6, 30)
    path = write_xlsx(tmp_path / "needs.xlsx", header, [row])
    run("needs", path, cast)
    need = Need.objects.get(external_ref="X-1")
    assert (need.budget_min, str(need.budget_max), need.trl_min) == (100, "300.50", 6)
    assert need.deadline == dt.date(2026, 6, 30)


def test_reimport_updates_and_never_duplicates(tmp_path, cast, capsys):
    path = write_csv(tmp_path / "needs.csv", NEED_HEADER, [need_row("A-1"), need_row("A-2")])
    run("needs", path, cast)
    write_csv(
        path,
        NEED_HEADER,
        [
            need_row("A-1", 需求名称="新标题", 技术指标="良率>=99.9%"),
            need_row("A-2"),
            need_row("A-3"),
        ],
    )
    run("needs", path, cast)
    assert "1 created, 2 updated" in capsys.readouterr().out.splitlines()[-1]
    assert Need.objects.filter(organization=cast.org).count() == 3
    need = Need.objects.get(external_ref="A-1")
    assert need.title == "新标题"
    assert [i.target for i in need.indicators.all()] == ["99.9"]
    run("needs", path, cast)
    assert Need.objects.filter(organization=cast.org).count() == 3
    assert NeedIndicator.objects.filter(need=need).count() == 1


def test_dry_run_writes_nothing(tmp_path, cast, capsys):
    path = write_csv(tmp_path / "needs.csv", NEED_HEADER, [need_row("A-1")])
    run("needs", path, cast, "--dry-run")
    assert "would import 1" in capsys.readouterr().out
    assert not Need.objects.exists()


def test_gbk_csv_and_header_variants(tmp_path, cast):
    header = [h if h != "预算上限" else "预算上限（万元）" for h in NEED_HEADER]
    path = write_csv(tmp_path / "needs.csv", header, [need_row("G-1")], encoding="gb18030")
    run("needs", path, cast)
    assert Need.objects.get(external_ref="G-1").budget_max == 300


def test_unknown_or_missing_columns_are_reported(tmp_path, cast, capsys):
    header = [h for h in NEED_HEADER if h != "问题描述"] + ["备注栏"]
    path = write_csv(tmp_path / "needs.csv", header, [["A-1"]])
    with pytest.raises(CommandError):
        run("needs", path, cast)
    err = capsys.readouterr().err
    assert "备注栏" in err and "问题描述" in err


def test_duplicate_external_ref_in_one_file(tmp_path, cast, capsys):
    path = write_csv(tmp_path / "needs.csv", NEED_HEADER, [need_row("A-1"), need_row("A-1")])
    with pytest.raises(CommandError):
        run("needs", path, cast)
    assert "第3行 外部编号：" in capsys.readouterr().err
    assert not Need.objects.exists()


def test_non_member_cannot_import(tmp_path, cast):
    path = write_csv(tmp_path / "needs.csv", NEED_HEADER, [need_row("A-1")])
    with pytest.raises(CommandError, match="not a member"):
        call_command(
            "import_needs", str(path), "--org", str(cast.org.uuid), "--user", cast.outsider.email
        )
    assert not Need.objects.exists()


# --- results ----------------------------------------------------------------------------------------

RESULT_HEADER = [c.header for c in importers.RESULT_COLUMNS]


def result_row(ref: str, **cells) -> list[str]:
    values = {
        "外部编号": ref,
        "成果名称": f"成果{ref}",
        "成果简介": "简介",
        "关键词": "固态电池;界面",
        "技术领域": "new_energy.batteries",
        "成熟度": "5",
        "职务科技成果": "是",
        "转化方式": "技术许可",
        "专利": "202310123456.6|发明|已授权|一种方法;2023SR0123456|软件著作权|已授权",
        "状态": "已发布",
    }
    values.update(cells)
    return [values.get(h, "") for h in RESULT_HEADER]


@pytest.fixture
def lab_cast(cast):
    # cast.other_org is an institution owned by cast.outsider: the lab that publishes results.
    class LabCast:
        org = cast.other_org
        owner = cast.outsider

    return LabCast


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_results_bad_patent_row_imports_nothing(tmp_path, lab_cast, capsys, fmt):
    writer = write_csv if fmt == "csv" else write_xlsx
    rows = [result_row("R-1"), result_row("R-2", 专利="202310123456.7|发明|已授权")]
    path = writer(tmp_path / f"results.{fmt}", RESULT_HEADER, rows)
    with pytest.raises(CommandError):
        run("results", path, lab_cast)
    err = capsys.readouterr().err
    assert "第3行 专利：第1项：" in err and "校验位" in err
    assert not Result.objects.exists() and not Patent.objects.exists()


def test_results_import_and_reimport(tmp_path, lab_cast):
    path = write_csv(tmp_path / "results.csv", RESULT_HEADER, [result_row("R-1")])
    run("results", path, lab_cast)
    run("results", path, lab_cast)
    result = Result.objects.get()
    assert result.status == Result.Status.PUBLISHED and result.keywords == ["固态电池", "界面"]
    assert sorted((p.number, p.kind, p.status) for p in result.patents.all()) == [
        ("202310123456.6", "invention", "granted"),
        ("2023SR0123456", "software", "granted"),
    ]


# --- the shipped templates --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["needs_template.csv", "needs_template.xlsx"])
def test_needs_templates_match_the_importer_and_import_cleanly(name, cast):
    path = TEMPLATES / name
    header = importers.read_table(path)[0][1]
    assert header == NEED_HEADER
    run("needs", path, cast)
    assert Need.objects.filter(organization=cast.org).count() == 2


@pytest.mark.parametrize("name", ["results_template.csv", "results_template.xlsx"])
def test_results_templates_match_the_importer_and_import_cleanly(name, lab_cast):
    path = TEMPLATES / name
    assert importers.read_table(path)[0][1] == RESULT_HEADER
    run("results", path, lab_cast)
    assert Result.objects.count() == 2 and Patent.objects.count() == 3


def test_templates_are_what_the_importer_writes(tmp_path):
    for kind in ("needs", "results"):
        for suffix in (".csv", ".xlsx"):
            fresh = tmp_path / f"{kind}{suffix}"
            import_templates.write_template(kind, fresh)
            shipped = TEMPLATES / f"{kind}_template{suffix}"
            assert importers.read_table(fresh) == importers.read_table(shipped), shipped
    assert load_workbook(TEMPLATES / "needs_template.xlsx").active["A1"].value == "外部编号"


def test_indicator_cell_parsing():
    assert importers.parse_indicators("良率>=99.5%；温度≥-40℃\n厚度=2~4μm;说不清") == [
        {"name": "良率", "operator": ">=", "target": "99.5", "unit": "%"},
        {"name": "温度", "operator": "≥", "target": "-40", "unit": "℃"},
        {"name": "厚度", "operator": "range", "target": "2", "target_max": "4", "unit": "μm"},
        {"name": "说不清", "operator": "", "target": ""},
    ]


def test_owners_api_export_reimports_unchanged(tmp_path, cast, capsys):
    from rest_framework.test import APIClient

    from accounts.services import api_token_create

    path = write_csv(
        tmp_path / "needs.csv",
        NEED_HEADER,
        [need_row("E-1"), need_row("E-2", 公开方式="摘要公开", 公开摘要="摘要", 状态="草稿")],
    )
    run("needs", path, cast)
    before = {
        n.external_ref: (
            n.title,
            n.budget_max,
            n.coop_modes,
            n.confidentiality,
            n.status,
            [str(i) for i in n.indicators.all()],
        )
        for n in Need.objects.prefetch_related("indicators")
    }
    _token, key = api_token_create(user=cast.owner, name="export")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    exported = tmp_path / "export.csv"
    exported.write_bytes(client.get("/api/v1/needs/export.csv").content)
    run("needs", exported, cast)
    assert "0 created, 2 updated" in capsys.readouterr().out.splitlines()[-1]
    after = {
        n.external_ref: (
            n.title,
            n.budget_max,
            n.coop_modes,
            n.confidentiality,
            n.status,
            [str(i) for i in n.indicators.all()],
        )
        for n in Need.objects.prefetch_related("indicators")
    }
    assert after == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_the_same_new_refs_create_each_once(tmp_path, cast):
    """Two imports of one file at the same moment: both succeed (the second waits for the
    first and then updates its rows), and every 外部编号 exists once."""
    from tests.test_challenges_concurrency import race

    path = write_csv(tmp_path / "needs.csv", NEED_HEADER, [need_row("C-1"), need_row("C-2")])
    outcomes = race(lambda: run("needs", path, cast), lambda: run("needs", path, cast))
    assert outcomes == [None, None]
    refs = sorted(Need.objects.filter(organization=cast.org).values_list("external_ref", flat=True))
    assert refs == ["C-1", "C-2"]
