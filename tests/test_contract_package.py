"""The contract package after an award: the 技术合同 draft (DOCX, PDF) and the 认定登记 data (XLSX),
opened with python-docx, pypdf and openpyxl; who may download them; the contract type rules."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import Membership, Organization
from challenges import services
from challenges.contract_package import (
    ContractType,
    StatisticalMode,
    contract_type_for,
    planned_amounts,
    statistical_mode,
)
from challenges.models import Challenge, ConsortiumMember, Contract
from matching.models import CoopMode, Need
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    ExpertProfileFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.test_challenges import _accept, _awarded

pytestmark = pytest.mark.django_db

PENDING = "（待填写）"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def awarded():
    """A challenge (need asking for 委托开发) awarded to a consortium bid whose partner confirmed;
    the first milestone accepted and paid."""
    need = NeedFactory(coop_modes=[CoopMode.COMMISSIONED])
    challenge = ChallengeFactory(need=need, title="高镍正极循环寿命攻关", reward_split="首付30%")
    bid = BidFactory(challenge=challenge, is_consortium=True)
    partner = OrganizationFactory(kind=Organization.Kind.INSTITUTION, name="联合研究院")
    ConsortiumMember.objects.create(
        bid=bid, organization=partner, role="中试验证", share=30, confirmed_at=bid.submitted_at
    )
    challenge = _awarded(challenge, [bid], [bid])
    services.challenge_start(challenge=challenge, actor=challenge.created_by)
    contract = Contract.objects.get(challenge=challenge)
    _accept(contract.milestones.first(), challenge)
    return challenge, contract, partner


def _download(client, user, name, contract, **params):
    client.force_login(user)
    return client.get(reverse(f"challenges:{name}", kwargs={"uuid": contract.uuid}), params)


def _facts(challenge, contract, partner) -> list[str]:
    """What every file must show: parties, credit codes, amount, milestones."""
    enterprise, winner = challenge.organization, contract.organization
    facts = [
        enterprise.name,
        enterprise.credit_code,
        winner.name,
        winner.credit_code,
        partner.name,
        partner.credit_code,
        challenge.title,
    ]
    facts += [cm.milestone.name for cm in contract.milestones.all()]
    facts += [cm.milestone.criterion for cm in contract.milestones.all()]
    return facts


def test_docx_draft_holds_parties_credit_codes_amount_and_milestones(client, awarded):
    challenge, contract, partner = awarded
    response = _download(client, challenge.created_by, "contract-docx", contract)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml"
    )
    assert response["Content-Disposition"].endswith('.docx"')
    document = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    text += "\n" + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    for fact in _facts(challenge, contract, partner):
        assert fact in text, fact
    assert "技术开发合同（委托开发）" in text
    assert "300.00 万元" in text and "3000000.00 元" in text
    # payment shares 30/30/40 of 300 万元, the first one paid
    assert "90.00" in text and "120.00" in text and "已验收" in text
    # nothing we do not hold is invented: the signing date, 技术交易额, legal representative
    assert text.count(PENDING) >= 10
    assert "技术交易额（万元，合同金额扣除非技术性费用后，供认定登记）：" + PENDING in text


def test_pdf_draft_shows_chinese_text(client, awarded):
    challenge, contract, partner = awarded
    response = _download(client, contract.bid.created_by, "contract-pdf", contract)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    compact = "".join(text.split())  # the PDF wraps long lines
    for fact in _facts(challenge, contract, partner):
        assert "".join(fact.split()) in compact, fact
    assert "技术开发合同（委托开发）" in compact and "300.00万元" in compact
    assert PENDING in compact


def test_registration_xlsx_lists_type_amount_parties_and_milestones(client, awarded):
    challenge, contract, partner = awarded
    response = _download(client, _member(partner), "contract-registration", contract)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["合同", "当事人", "里程碑"]
    info = {row[0]: row[1] for row in book["合同"].iter_rows(min_row=2, values_only=True)}
    assert info["合同类型"] == "技术开发合同" and info["技术开发方式"] == "委托开发"
    assert Decimal(str(info["合同金额（万元）"])) == Decimal("300")
    assert info["技术交易额（万元）"] == PENDING and info["签订日期"] == PENDING
    parties = list(book["当事人"].iter_rows(min_row=2, values_only=True))
    assert [(p[1], p[2]) for p in parties] == [
        (challenge.organization.name, challenge.organization.credit_code),
        (contract.organization.name, contract.organization.credit_code),
        (partner.name, partner.credit_code),
    ]
    milestones = list(book["里程碑"].iter_rows(min_row=2, values_only=True))
    assert [m[1] for m in milestones] == ["小试", "中试", "验收"]
    assert [Decimal(str(m[6])) for m in milestones] == [Decimal(90), Decimal(90), Decimal(120)]
    assert Decimal(str(milestones[0][8])) == Decimal(90) and milestones[1][8] is None


def _member(org):
    return MembershipFactory(organization=org, role=Membership.Role.MEMBER).user


def test_only_the_parties_and_staff_may_download(client, awarded):
    challenge, contract, partner = awarded
    allowed = [
        challenge.created_by,
        _member(challenge.organization),
        contract.bid.created_by,
        _member(partner),
        UserFactory(is_staff=True),
    ]
    loser = BidFactory(challenge=ChallengeFactory())  # a bidder elsewhere
    unconfirmed = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    ConsortiumMember.objects.create(
        bid=contract.bid, organization=unconfirmed, role="检测", share=0
    )
    refused = [
        UserFactory(),
        _member(OrganizationFactory()),
        loser.created_by,
        ExpertProfileFactory().user,
        _member(unconfirmed),
    ]
    for name in ("contract-docx", "contract-pdf", "contract-registration"):
        for user in allowed:
            assert _download(client, user, name, contract).status_code == 200, (name, user)
        for user in refused:
            response = _download(client, user, name, contract)
            assert response.status_code == 404, (name, user)
            assert challenge.organization.credit_code not in response.content.decode(
                "utf-8", "replace"
            )
        client.logout()
        response = client.get(reverse(f"challenges:{name}", kwargs={"uuid": contract.uuid}))
        assert response.status_code == 302 and "/login" in response["Location"]


def test_execution_page_links_the_package_and_the_parties_may_pick_the_type(client, awarded):
    challenge, contract, _partner = awarded
    client.force_login(challenge.created_by)
    html = client.get(reverse("challenges:execution", kwargs={"uuid": challenge.uuid})).content
    html = html.decode()
    for name in ("contract-docx", "contract-pdf", "contract-registration"):
        assert reverse(f"challenges:{name}", kwargs={"uuid": contract.uuid}) in html
    response = _download(client, challenge.created_by, "contract-docx", contract, type="license")
    text = "\n".join(p.text for p in Document(io.BytesIO(response.content)).paragraphs)
    assert "技术许可合同" in text and "技术开发合同" not in text
    # an unknown type falls back to the derived one
    response = _download(client, challenge.created_by, "contract-docx", contract, type="x")
    text = "\n".join(p.text for p in Document(io.BytesIO(response.content)).paragraphs)
    assert "技术开发合同（委托开发）" in text


def test_missing_credit_code_is_left_visibly_empty(client, awarded):
    challenge, contract, _partner = awarded
    Organization.objects.filter(pk=contract.organization_id).update(
        kind=Organization.Kind.AGENCY, credit_code=""
    )
    response = _download(client, challenge.created_by, "contract-registration", contract)
    parties = list(load_workbook(io.BytesIO(response.content))["当事人"].values)
    assert parties[2][2] == PENDING


@pytest.mark.parametrize(
    ("modes", "expected", "subtype", "derived", "mode"),
    [
        ([CoopMode.COMMISSIONED], ContractType.DEVELOPMENT, "委托开发", True, "development"),
        ([CoopMode.JOINT_RESEARCH], ContractType.DEVELOPMENT, "合作开发", True, "development"),
        ([CoopMode.LICENSE], ContractType.LICENSE, "", True, "license"),
        ([CoopMode.TRANSFER], ContractType.TRANSFER, "", True, "transfer"),
        ([CoopMode.EQUITY], ContractType.TRANSFER, "", True, "equity"),
        ([CoopMode.SERVICE], ContractType.SERVICE, "", True, "service"),
        (
            [CoopMode.LICENSE, CoopMode.JOINT_DEV],
            ContractType.DEVELOPMENT,
            "合作开发",
            True,
            "development",
        ),
        (
            [CoopMode.LICENSE, CoopMode.TRANSFER],
            ContractType.DEVELOPMENT,
            "委托开发",
            False,
            "development",
        ),
        ([], ContractType.DEVELOPMENT, "委托开发", False, "development"),
    ],
)
def test_contract_type_follows_the_needs_cooperation_modes(modes, expected, subtype, derived, mode):
    challenge = Challenge(need=Need(coop_modes=modes))
    choice = contract_type_for(challenge)
    assert (choice.type, choice.subtype, choice.derived) == (expected, subtype, derived)
    if not derived:
        assert "默认按技术开发合同起草" in choice.basis
    assert statistical_mode(challenge) == StatisticalMode(mode)
    picked = contract_type_for(challenge, "consulting")
    assert picked.type == ContractType.CONSULTING and "由当事人选定" in picked.basis


def test_planned_amounts_add_up_to_the_contract_amount():
    parts = planned_amounts(Decimal("100"), [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")])
    assert sum(parts) == Decimal("100") and parts[0] == Decimal("33.33")


def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_serves_the_package_to_the_parties_and_refuses_others(awarded):
    challenge, contract, partner = awarded
    base = f"/api/v1/contracts/{contract.uuid}"
    listed = _api(challenge.created_by).get(f"/api/v1/challenges/{challenge.uuid}/contracts/")
    assert [c["uuid"] for c in listed.json()] == [str(contract.uuid)]
    winner = _api(contract.bid.created_by)
    docx = winner.get(f"{base}/draft.docx", {"type": "service"})
    assert docx.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "技术服务合同" in text and contract.organization.credit_code in "".join(
        c.text for t in Document(io.BytesIO(docx.content)).tables for r in t.rows for c in r.cells
    )
    pdf = winner.get(f"{base}/draft.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "".join(partner.name.split()) in "".join(
        "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages).split()
    )
    xlsx = _api(UserFactory(is_staff=True)).get(f"{base}/registration.xlsx")
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.content))["当事人"]["C2"].value == (
        challenge.organization.credit_code
    )
    bad = winner.get(f"{base}/draft.docx", {"type": "joint"})
    assert bad.status_code == 400 and "type" in bad.json()
    outsider = _api(_member(OrganizationFactory()))
    for path in ("draft.docx", "draft.pdf", "registration.xlsx"):
        response = outsider.get(f"{base}/{path}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    from rest_framework.test import APIClient

    assert APIClient().get(f"{base}/draft.pdf").status_code in (401, 403)


def test_pdf_without_its_font_answers_503_and_the_other_files_still_work(client, awarded, settings):
    challenge, contract, _partner = awarded
    settings.CONTRACT_PDF_FONT = "/nonexistent/font.ttc"
    response = _download(client, challenge.created_by, "contract-pdf", contract)
    assert response.status_code == 503 and "字体" in response.content.decode()
    assert _download(client, challenge.created_by, "contract-docx", contract).status_code == 200
    api = _api(challenge.created_by).get(f"/api/v1/contracts/{contract.uuid}/draft.pdf")
    assert api.status_code == 503 and api.json()["code"] == "pdf_font_missing"


def test_xlsx_cells_are_escaped_like_csv_cells():
    import datetime as dt

    from core.spreadsheet import XlsxBook, safe_cell

    book = XlsxBook()
    sheet = book.sheet("a/b:c", ["文本", "数"])
    rows = [
        ["=1+1", Decimal("-5.50")],
        ["@SUM(A1)", -3],
        ["\x01控制字符\x1f", dt.date(2026, 1, 2)],
        [None, True],
    ]
    sheet.writerows(rows)
    loaded = load_workbook(io.BytesIO(book.to_bytes()))
    ws = loaded["a b c"]
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert values[0] == ["'=1+1", -5.5] and values[0][0] == safe_cell("=1+1")
    assert values[1] == ["'@SUM(A1)", -3]
    assert values[2][0] == "控制字符" and values[2][1].date() == dt.date(2026, 1, 2)
    assert values[3] == [None, "True"]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
