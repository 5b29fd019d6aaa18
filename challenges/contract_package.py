"""The contract package after an award: a 技术合同 draft (DOCX and PDF) for each awarded bid, and the
data a 技术合同认定登记 asks for (XLSX).

Everything in it comes from the rows: the challenge (title, intro, indicators, reward split, review
method), the winning bid (technical approach, indicator answers, schedule, budget, consortium), the
contract (amount, milestones, recorded payments) and both parties (names, 统一社会信用代码, kind,
region). What the rows do not hold (legal representative, address, signing date and place, 技术交易额,
IP and liability clauses) is written as ``PENDING`` (“（待填写）”), never guessed.

The contract type follows the need's cooperation modes (``contract_type_for``); the parties may pick
another type for the draft (``?type=`` on the download links). ``statistical_mode`` sorts a contract
into the six modes of the national statistics (ops reads it for money by mode).

Who may download: ``challenges.selectors.contract_get_for_party`` (the two parties and staff).
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from django.conf import settings
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Organization
from challenges.models import Challenge, Contract, ContractMilestone
from matching.models import CoopMode

CENT = Decimal("0.01")


class ContractType(models.TextChoices):
    """The 技术合同 types of the Civil Code (民法典 第二十章) a draft can be written as."""

    DEVELOPMENT = "development", gettext_lazy("技术开发合同")
    TRANSFER = "transfer", gettext_lazy("技术转让合同")
    LICENSE = "license", gettext_lazy("技术许可合同")
    SERVICE = "service", gettext_lazy("技术服务合同")
    CONSULTING = "consulting", gettext_lazy("技术咨询合同")


class StatisticalMode(models.TextChoices):
    """The six modes the national statistics sort technology transfers into."""

    TRANSFER = "transfer", gettext_lazy("转让")
    LICENSE = "license", gettext_lazy("许可")
    EQUITY = "equity", gettext_lazy("作价投资")
    DEVELOPMENT = "development", gettext_lazy("技术开发")
    SERVICE = "service", gettext_lazy("技术服务")
    CONSULTING = "consulting", gettext_lazy("技术咨询")


# A need's cooperation mode → the contract type it is written as. 技术入股 (作价投资) hands the
# technology over against shares: its contract is a 技术转让合同 (the shares are agreed apart).
# “技术服务/咨询” is one mode on the need: the draft is a 技术服务合同 unless the parties pick 咨询.
MODE_TO_TYPE: dict[str, ContractType] = {
    CoopMode.TRANSFER: ContractType.TRANSFER,
    CoopMode.LICENSE: ContractType.LICENSE,
    CoopMode.JOINT_DEV: ContractType.DEVELOPMENT,
    CoopMode.COMMISSIONED: ContractType.DEVELOPMENT,
    CoopMode.JOINT_RESEARCH: ContractType.DEVELOPMENT,
    CoopMode.EQUITY: ContractType.TRANSFER,
    CoopMode.SERVICE: ContractType.SERVICE,
}

PENDING = gettext_lazy("（待填写）")


@dataclass(frozen=True)
class TypeChoice:
    type: ContractType
    subtype: str  # 委托开发 / 合作开发 for a development contract, else ""
    basis: str  # why this type, shown in the draft
    derived: bool  # True when the need's modes decided it, False for a default or the parties' pick


def contract_type_for(challenge: Challenge, requested: str = "") -> TypeChoice:
    """The type of the draft: ``requested`` when it is a valid type (the parties chose it), else
    derived from the need's cooperation modes. A 揭榜挂帅 challenge is a call for R&D: when the modes
    include a development mode, or say nothing or several things, the draft is a 技术开发合同
    (委托开发 unless the need asks for 合作开发 / 联合攻关 only), and the draft says so."""
    modes = list(challenge.need.coop_modes or [])
    mode_labels = "、".join(str(CoopMode(m).label) for m in modes if m in CoopMode.values)
    if CoopMode.COMMISSIONED in modes or not (
        {CoopMode.JOINT_DEV, CoopMode.JOINT_RESEARCH} & set(modes)
    ):
        subtype = _("委托开发")
    else:
        subtype = _("合作开发")
    if requested in ContractType.values:
        chosen = ContractType(requested)
        return TypeChoice(
            type=chosen,
            subtype=subtype if chosen == ContractType.DEVELOPMENT else "",
            basis=_("由当事人选定。需求的合作方式：%(modes)s。")
            % {"modes": mode_labels or _("未填写")},
            derived=False,
        )
    candidates = {MODE_TO_TYPE[m] for m in modes if m in MODE_TO_TYPE}
    if ContractType.DEVELOPMENT in candidates:
        return TypeChoice(
            ContractType.DEVELOPMENT,
            subtype,
            _("依据需求的合作方式（%(modes)s）。") % {"modes": mode_labels},
            derived=True,
        )
    if len(candidates) == 1:
        chosen = candidates.pop()
        return TypeChoice(
            chosen,
            "",
            _("依据需求的合作方式（%(modes)s）。") % {"modes": mode_labels},
            derived=True,
        )
    if candidates:
        basis = _(
            "需求列出多种合作方式（%(modes)s），揭榜挂帅为技术攻关，默认按技术开发合同起草；当事人可改选合同类型。"
        ) % {"modes": mode_labels}
    else:
        basis = _(
            "需求未写明合作方式，揭榜挂帅为技术攻关，默认按技术开发合同起草；当事人可改选合同类型。"
        )
    return TypeChoice(ContractType.DEVELOPMENT, subtype, basis, derived=False)


def statistical_mode(challenge: Challenge) -> StatisticalMode:
    """The statistical mode of a challenge's contracts: its contract type, except a transfer the need
    asked for as 技术入股 only, which counts as 作价投资."""
    choice = contract_type_for(challenge)
    modes = set(challenge.need.coop_modes or [])
    if (
        choice.type == ContractType.TRANSFER
        and CoopMode.EQUITY in modes
        and CoopMode.TRANSFER not in modes
    ):
        return StatisticalMode.EQUITY
    return StatisticalMode(choice.type.value)


# --- the package's data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    role: str  # 委托方（甲方） / 受托方（乙方） / 联合体成员
    name: str
    credit_code: str
    kind: str
    location: str
    note: str = ""


@dataclass(frozen=True)
class MilestoneRow:
    position: int
    name: str
    deliverable: str
    criterion: str
    indicator: str
    due_date: str
    planned_date: str
    share: Decimal
    amount: Decimal
    status: str
    paid: Decimal | None


@dataclass
class ContractPackage:
    contract: Contract
    type_choice: TypeChoice
    title: str
    project: str
    parties: list[Party]
    amount: Decimal
    reward_split: str
    intro: str
    indicators: list[str]
    indicator_answers: list[tuple[str, str, str]]
    approach: str
    team: str
    budget: list[tuple[str, Decimal, str]]
    milestones: list[MilestoneRow]
    review_method: str
    award_date: str
    period: str
    field_name: str
    region: str
    status: str
    generated_at: str
    blocks: list[tuple] = field(default_factory=list)

    @property
    def buyer(self) -> Party:
        return self.parties[0]

    @property
    def seller(self) -> Party:
        return self.parties[1]

    @property
    def filename_stem(self) -> str:
        return f"contract-{self.contract.uuid.hex[:12]}-{self.type_choice.type.value}"


def _text(value) -> str:
    """A value as the draft writes it: empty → （待填写）."""
    text = "" if value is None else str(value).strip()
    return text or str(PENDING)


def _money(value: Decimal | None) -> str:
    return str(PENDING) if value is None else f"{value.quantize(CENT)}"


def _location(org: Organization) -> str:
    parts = [org.region.name if org.region_id else "", org.city]
    return " ".join(p for p in parts if p)


def _party(org: Organization, role: str, note: str = "") -> Party:
    return Party(
        role=role,
        name=org.name,
        credit_code=org.credit_code,
        kind=str(org.get_kind_display()),
        location=_location(org),
        note=note,
    )


def planned_amounts(amount: Decimal, shares: list[Decimal]) -> list[Decimal]:
    """Each milestone's part of ``amount`` by its share; the last takes the rest so they add up."""
    parts = [(amount * share / 100).quantize(CENT, ROUND_HALF_UP) for share in shares]
    if parts:
        parts[-1] = amount - sum(parts[:-1], Decimal(0))
    return parts


def build_package(contract: Contract, requested_type: str = "") -> ContractPackage:
    """Everything the draft and the registration sheet hold, read from the rows (in Chinese: a
    技术合同 is signed and registered in Chinese whatever the reader's interface language)."""
    with translation.override("zh-hans"):
        return _build(contract, requested_type)


def _build(contract: Contract, requested_type: str) -> ContractPackage:
    challenge = contract.challenge
    bid = contract.bid
    choice = contract_type_for(challenge, requested_type)
    buyer = _party(challenge.organization, _("甲方（委托方／技术受让方）"))
    seller = _party(contract.organization, _("乙方（受托方／技术提供方）"))
    parties = [buyer, seller]
    for member in bid.members.select_related("organization__region").filter(
        confirmed_at__isnull=False, is_lead=False
    ):
        parties.append(
            _party(
                member.organization,
                _("乙方联合体成员"),
                note=_("分工：%(role)s；经费份额 %(share)s%%")
                % {"role": member.role, "share": f"{member.share.normalize():f}"},
            )
        )

    cms = list(
        ContractMilestone.objects.filter(contract=contract)
        .select_related("milestone__indicator", "payment")
        .order_by("milestone__position", "milestone__due_date", "id")
    )
    planned = {s.milestone_id: s.planned_date for s in bid.schedule.all()}
    amounts = planned_amounts(contract.amount, [cm.milestone.share for cm in cms])
    milestones = []
    for index, (cm, part) in enumerate(zip(cms, amounts, strict=True), start=1):
        m = cm.milestone
        payment = getattr(cm, "payment", None)
        milestones.append(
            MilestoneRow(
                position=index,
                name=m.name,
                deliverable=m.deliverable,
                criterion=m.criterion,
                indicator=str(m.indicator) if m.indicator_id else "",
                due_date=m.due_date.isoformat(),
                planned_date=planned[m.pk].isoformat() if m.pk in planned else "",
                share=m.share,
                amount=part,
                status=str(cm.get_status_display()),
                paid=payment.amount if payment is not None else None,
            )
        )
    due_dates = [cm.milestone.due_date for cm in cms]
    awarded = timezone.localtime(challenge.awarded_at).date() if challenge.awarded_at else None
    if awarded and due_dates:
        period = _("自 %(start)s 起至 %(end)s 止（以里程碑截止日期为准，签订时确认）") % {
            "start": awarded.isoformat(),
            "end": max(due_dates).isoformat(),
        }
    else:
        period = str(PENDING)
    type_label = str(choice.type.label)
    title = f"{type_label}（{choice.subtype}）" if choice.subtype else type_label
    need = challenge.need
    package = ContractPackage(
        contract=contract,
        type_choice=choice,
        title=title,
        project=challenge.title,
        parties=parties,
        amount=contract.amount,
        reward_split=challenge.reward_split,
        intro=challenge.intro,
        indicators=[str(i) for i in challenge.indicators.all()],
        indicator_answers=[
            (str(r.indicator), r.expected_value, r.approach)
            for r in bid.indicator_responses.select_related("indicator")
        ],
        approach=bid.technical_approach,
        team=bid.team,
        budget=[(b.item, b.amount, b.note) for b in bid.budget_items.all()],
        milestones=milestones,
        review_method=str(challenge.get_review_method_display()),
        award_date=awarded.isoformat() if awarded else "",
        period=period,
        field_name=need.field.name if need.field_id else "",
        region=_location(challenge.organization),
        status=str(contract.get_status_display()),
        generated_at=timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    )
    package.blocks = _blocks(package)
    return package


def _blocks(p: ContractPackage) -> list[tuple]:
    """The draft as a list of blocks both renderers walk: ("title", text), ("subtitle", text),
    ("heading", text), ("para", text), ("small", text), ("list", items), ("table", header, rows)
    and ("kv", header, rows) (a two-column table of labels and values)."""
    pending = str(PENDING)
    blocks: list[tuple] = [
        ("title", p.title),
        ("subtitle", _("（草稿，由揭榜挂帅定榜结果生成，签订前由双方核对补全）")),
        (
            "kv",
            [_("项目"), _("内容")],
            [
                [_("合同编号"), pending],
                [_("项目名称"), p.project],
                [_("合同类型"), p.title],
                [_("类型依据"), p.type_choice.basis],
                [_("签订地点"), pending],
                [_("签订日期"), pending],
                [_("有效期限"), p.period],
                [_("定榜日期"), _text(p.award_date)],
                [_("合同状态"), p.status],
            ],
        ),
        ("heading", _("一、当事人")),
    ]
    for party in p.parties:
        rows = [
            [_("名称"), party.name],
            [_("统一社会信用代码"), _text(party.credit_code)],
            [_("机构类型"), party.kind],
            [_("所在地"), _text(party.location)],
            [_("住所（通讯地址）"), pending],
            [_("法定代表人"), pending],
            [_("项目联系人"), pending],
            [_("联系电话"), pending],
        ]
        if party.note:
            rows.append([_("说明"), party.note])
        blocks.append(("kv", [party.role, ""], rows))

    blocks += [
        ("heading", _("二、项目内容与技术目标")),
        ("para", _text(p.intro)),
        ("para", _("验收技术指标：")),
    ]
    blocks.append(("list", p.indicators) if p.indicators else ("para", _("（榜单未设技术指标）")))
    if p.indicator_answers:
        blocks.append(
            (
                "table",
                [_("技术指标"), _("乙方承诺达到值"), _("达成方式")],
                [[name, _text(value), approach] for name, value, approach in p.indicator_answers],
            )
        )
    blocks += [
        ("heading", _("三、技术路线与研究开发团队（摘自乙方揭榜方案）")),
        ("para", _text(p.approach)),
        ("para", _("团队：") + _text(p.team)),
        ("heading", _("四、进度计划、交付物与验收")),
        (
            "table",
            [
                _("序号"),
                _("里程碑"),
                _("交付物"),
                _("验收标准"),
                _("截止日期"),
                _("乙方计划完成"),
            ],
            [
                [
                    str(m.position),
                    m.name,
                    m.deliverable,
                    m.criterion + (f"（{m.indicator}）" if m.indicator else ""),
                    m.due_date,
                    _text(m.planned_date),
                ]
                for m in p.milestones
            ],
        ),
        ("para", _("验收方式：甲方按各里程碑的验收标准逐项验收；评审方式：%s。") % p.review_method),
        ("heading", _("五、合同金额与支付")),
        (
            "para",
            _("合同金额：人民币 %(wan)s 万元（%(yuan)s 元），按里程碑验收通过后分期支付：")
            % {"wan": _money(p.amount), "yuan": _money(p.amount * 10000)},
        ),
        (
            "table",
            [_("里程碑"), _("付款比例（%）"), _("金额（万元）"), _("状态"), _("已拨付（万元）")],
            [
                [
                    m.name,
                    f"{m.share.normalize():f}",
                    _money(m.amount),
                    m.status,
                    _money(m.paid) if m.paid is not None else "—",
                ]
                for m in p.milestones
            ],
        ),
    ]
    if p.reward_split:
        blocks.append(("para", _("榜单经费拆分说明：") + p.reward_split))
    if p.budget:
        blocks.append(
            (
                "table",
                [_("乙方预算科目"), _("金额（万元）"), _("说明")],
                [[item, _money(amount), note] for item, amount, note in p.budget],
            )
        )
    blocks += [
        ("para", _("技术交易额（万元，合同金额扣除非技术性费用后，供认定登记）：") + pending),
        ("para", _("开户银行及账号：") + pending),
        ("heading", _("六、知识产权归属与成果使用")),
        ("para", pending),
        ("heading", _("七、保密")),
        ("para", pending),
        ("heading", _("八、风险承担、违约责任")),
        ("para", pending),
        ("heading", _("九、争议解决")),
        ("para", pending),
        ("heading", _("十、签章")),
        (
            "table",
            [_("甲方"), _("乙方")],
            [
                [p.buyer.name, p.seller.name],
                [_("（盖章）"), _("（盖章）")],
                [_("法定代表人／委托代理人：") + pending, _("法定代表人／委托代理人：") + pending],
                [_("日期：") + pending, _("日期：") + pending],
            ],
        ),
        (
            "small",
            _(
                "本草稿由平台于 %s 依据平台记录生成；标注“（待填写）”的内容平台未掌握，须由双方补全。"
            )
            % p.generated_at,
        ),
    ]
    return blocks


# --- renderers ----------------------------------------------------------------------------------------


DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def render_docx(package: ContractPackage) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "SimSun"
    normal.font.size = Pt(10.5)
    # East Asian text takes its font from w:eastAsia, not from font.name.
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    for block in package.blocks:
        kind = block[0]
        if kind == "title":
            paragraph = document.add_heading(block[1], level=0)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif kind == "subtitle":
            paragraph = document.add_paragraph(block[1])
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif kind == "heading":
            document.add_heading(block[1], level=2)
        elif kind == "para":
            document.add_paragraph(block[1])
        elif kind == "small":
            run = document.add_paragraph().add_run(block[1])
            run.font.size = Pt(8)
        elif kind == "list":
            for item in block[1]:
                document.add_paragraph(item, style="List Bullet")
        elif kind in ("table", "kv"):
            header, rows = block[1], block[2]
            table = document.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = str(text)
                for run in cell.paragraphs[0].runs:
                    run.bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = str(text)
            document.add_paragraph()
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


class FontMissing(RuntimeError):
    """The PDF font of ``settings.CONTRACT_PDF_FONT`` is not installed."""


@cache
def _pdf_font(path: str) -> str:
    from pathlib import Path

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not Path(path).is_file():
        raise FontMissing(path)
    name = "ContractCJK"
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    return name


def render_pdf(package: ContractPackage) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _pdf_font(settings.CONTRACT_PDF_FONT)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=12)
    styles = {
        "title": ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", parent=body, alignment=TA_CENTER, spaceAfter=6),
        "heading": ParagraphStyle("heading", parent=body, fontSize=12, leading=18, spaceBefore=8),
        "para": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=11),
    }

    def para(text: str, style) -> Paragraph:
        return Paragraph(html.escape(str(text), quote=False).replace("\n", "<br/>"), style)

    width = A4[0] - 36 * mm
    flow = []
    for block in package.blocks:
        kind = block[0]
        if kind == "list":
            flow.extend(para(f"• {item}", body) for item in block[1])
        elif kind in ("table", "kv"):
            header, rows = block[1], block[2]
            data = [[para(h, cell) for h in header]] + [[para(v, cell) for v in r] for r in rows]
            columns = len(header)
            widths = [width * 0.3, width * 0.7] if kind == "kv" else [width / columns] * columns
            table = Table(data, colWidths=widths, repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            flow += [table, Spacer(1, 4 * mm)]
        else:
            flow.append(para(block[1], styles[kind]))
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=package.title,
        author=package.buyer.name,
    ).build(flow)
    return buffer.getvalue()


def render_registration_xlsx(package: ContractPackage) -> bytes:
    """The data a 技术合同认定登记 asks for: the contract, the parties, the milestones and payments."""
    from core.spreadsheet import XlsxBook

    with translation.override("zh-hans"):
        pending = str(PENDING)
        book = XlsxBook()
        sheet = book.sheet(_("合同"), [_("项目"), _("内容")])
        sheet.writerows(
            [
                [_("合同名称"), package.project],
                [_("合同类型"), str(package.type_choice.type.label)],
                [_("技术开发方式"), package.type_choice.subtype or "—"],
                [_("类型依据"), package.type_choice.basis],
                [_("合同编号"), pending],
                [_("签订日期"), pending],
                [_("签订地点"), pending],
                [_("有效期限"), package.period],
                [_("合同金额（万元）"), package.amount],
                [_("技术交易额（万元）"), pending],
                [_("支付方式"), _("按里程碑分期支付（见“里程碑”表）")],
                [_("技术领域"), _text(package.field_name)],
                [_("甲方所在地"), _text(package.region)],
                [_("合同状态"), package.status],
                [_("平台合同编号"), str(package.contract.uuid)],
            ]
        )
        sheet.widths(22, 70)
        parties = book.sheet(
            _("当事人"),
            [
                _("角色"),
                _("名称"),
                _("统一社会信用代码"),
                _("机构类型"),
                _("所在地"),
                _("法定代表人"),
                _("联系人"),
                _("联系电话"),
                _("说明"),
            ],
        )
        for party in package.parties:
            parties.writerow(
                [
                    party.role,
                    party.name,
                    _text(party.credit_code),
                    party.kind,
                    _text(party.location),
                    pending,
                    pending,
                    pending,
                    party.note,
                ]
            )
        parties.widths(24, 30, 22, 16, 16, 14, 14, 14, 30)
        sheet = book.sheet(
            _("里程碑"),
            [
                _("序号"),
                _("里程碑"),
                _("交付物"),
                _("验收标准"),
                _("截止日期"),
                _("付款比例（%）"),
                _("金额（万元）"),
                _("状态"),
                _("已拨付（万元）"),
            ],
        )
        for m in package.milestones:
            sheet.writerow(
                [
                    m.position,
                    m.name,
                    m.deliverable,
                    m.criterion,
                    m.due_date,
                    m.share,
                    m.amount,
                    m.status,
                    m.paid if m.paid is not None else "",
                ]
            )
        sheet.widths(6, 16, 24, 30, 12, 12, 12, 10, 14)
        return book.to_bytes()


# --- one entry for the web and the API ----------------------------------------------------------------

FORMATS = {
    "docx": (render_docx, DOCX_CONTENT_TYPE, "docx"),
    "pdf": (render_pdf, "application/pdf", "pdf"),
    "xlsx": (render_registration_xlsx, None, "xlsx"),
}


@dataclass(frozen=True)
class Rendered:
    content: bytes
    content_type: str
    filename: str


def render_contract_file(contract: Contract, fmt: str, requested_type: str = "") -> Rendered:
    """The draft (``docx``, ``pdf``) or the registration sheet (``xlsx``) of ``contract``. The caller
    has checked access (``challenges.selectors.contract_get_for_party``). ``FontMissing`` when the
    PDF font is not installed."""
    from core.spreadsheet import XLSX_CONTENT_TYPE

    render, content_type, extension = FORMATS[fmt]
    package = build_package(contract, requested_type)
    stem = f"registration-{contract.uuid.hex[:12]}" if fmt == "xlsx" else package.filename_stem
    return Rendered(
        content=render(package),
        content_type=content_type or XLSX_CONTENT_TYPE,
        filename=f"{stem}.{extension}",
    )
