"""The operator dashboard (/ops/, /api/v1/ops/funnel/): platform staff only, and its numbers are the
ones a person counts by hand from the rows of a small, fully specified history."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.services import api_token_create
from challenges.models import Challenge, ChallengeMilestone, Contract, ContractMilestone
from matching.models import MatchFeedback, Need, NeedAccess
from ops import selectors
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    FieldFactory,
    MatchFactory,
    NeedFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def history(db):
    """n1 goes all the way (field A, January); n2 is only matched (A, January); n3 goes to a
    challenge and a bid without an access request (B, February); n4 has nothing (B, February)."""
    field_a, field_b = (
        FieldFactory(code="ops_energy", name="新能源"),
        FieldFactory(code="ops_bio", name="生物医药"),
    )
    n1 = NeedFactory(field=field_a, published_at=at(1, 10))
    n2 = NeedFactory(field=field_a, published_at=at(1, 20))
    n3 = NeedFactory(field=field_b, published_at=at(2, 5))
    NeedFactory(field=field_b, published_at=at(2, 10))
    NeedFactory(field=field_b, status=Need.Status.DRAFT, published_at=None)

    m1 = MatchFactory(need=n1, score=0.8)
    m2 = MatchFactory(need=n2, score=0.6)
    m3 = MatchFactory(need=n3, score=0.7)
    for match, when in ((m1, at(1, 11)), (m2, at(1, 21)), (m3, at(2, 5))):
        type(match).objects.filter(pk=match.pk).update(created_at=when)
    lab = OrganizationFactory(kind="institution")
    access = NeedAccess.objects.create(need=n1, organization=lab)
    NeedAccess.objects.filter(pk=access.pk).update(created_at=at(1, 12))
    for match, verdict, reason in (
        (m1, MatchFeedback.Verdict.INTERESTED, ""),
        (m2, MatchFeedback.Verdict.NOT_RELEVANT, MatchFeedback.Reason.TOO_EXPENSIVE),
        (m3, MatchFeedback.Verdict.NOT_RELEVANT, MatchFeedback.Reason.WRONG_FIELD),
    ):
        MatchFeedback.objects.create(
            match=match,
            organization=match.need.organization,
            user=match.need.created_by,
            verdict=verdict,
            reason=reason,
        )

    c1 = ChallengeFactory(
        need=n1, published_at=at(1, 15), awarded_at=at(2, 1), status=Challenge.Status.COMPLETED
    )
    bid = BidFactory(challenge=c1, submitted_at=at(1, 20))
    contract = Contract.objects.create(
        challenge=c1, bid=bid, organization=bid.organization, amount=Decimal("200")
    )
    for milestone, when in zip(
        ChallengeMilestone.objects.filter(challenge=c1).order_by("position"),
        (at(2, 10), at(3, 10), at(3, 20)),
        strict=True,
    ):
        ContractMilestone.objects.create(
            contract=contract,
            milestone=milestone,
            status=ContractMilestone.Status.ACCEPTED,
            decided_at=when,
        )
    c3 = ChallengeFactory(need=n3, published_at=at(2, 6))
    BidFactory(challenge=c3, submitted_at=at(2, 8))
    return {"field_a": field_a, "field_b": field_b}


def test_funnel_counts_conversions_and_medians_agree_with_the_rows(history):
    funnel = selectors.funnel()
    total = funnel["total"]
    assert total["counts"] == {
        "published": 4,
        "matched": 3,
        "access": 2,  # n3 passed it on its way to a challenge
        "challenge": 2,
        "bid": 2,
        "awarded": 1,
        "milestone": 1,
        "completed": 1,
    }
    assert total["conversion"]["matched"] == pytest.approx(3 / 4)
    assert total["conversion"]["awarded"] == pytest.approx(1 / 2)
    assert total["median_days"] == {
        "matched": 1.0,  # n1 and n2: one day each
        "access": 1.0,
        "challenge": 3.0,  # n1 only: n3 has no access event
        "bid": 3.5,  # n1 five days, n3 two
        "awarded": 12.0,
        "milestone": 9.0,
        "completed": 38.0,  # first acceptance Feb 10 → last Mar 20
    }
    months = {row["month"]: row["counts"] for row in funnel["months"]}
    assert months["2026-01"] == dict.fromkeys(selectors.STEP_KEYS, 1) | {
        "published": 2,
        "matched": 2,
    }
    assert months["2026-02"] == {
        "published": 2,
        "matched": 1,
        "access": 1,
        "challenge": 1,
        "bid": 1,
        "awarded": 0,
        "milestone": 0,
        "completed": 0,
    }


def test_money_and_feedback_agree_with_the_rows(history):
    money = selectors.money()
    assert [(r["month"], r["committed"], r["paid"]) for r in money["months"]] == [
        ("2026-02", Decimal("200"), Decimal("60.00")),
        ("2026-03", Decimal("0"), Decimal("140.00")),
    ]
    assert money["total"] == {"committed": Decimal("200"), "paid": Decimal("200.00")}
    feedback = selectors.feedback()
    assert feedback["fields"] == [
        {"field": "新能源", "interested": 1, "not_relevant": 1, "interested_share": 0.5},
        {"field": "生物医药", "interested": 0, "not_relevant": 1, "interested_share": 0.0},
    ]
    assert {r["reason"]: r["count"] for r in feedback["reasons"]} == {
        "too_expensive": 1,
        "wrong_field": 1,
    }


def test_filter_by_field_keeps_only_that_fields_needs(history):
    funnel = selectors.funnel(filters=selectors.Filters(field_id=history["field_b"].pk))
    assert funnel["total"]["counts"]["published"] == 2
    assert funnel["total"]["counts"]["awarded"] == 0
    assert (
        selectors.money(filters=selectors.Filters(field_id=history["field_b"].pk))["months"] == []
    )


@pytest.mark.parametrize("route", ["ops:dashboard", "csv", "xlsx"])
def test_only_platform_staff_open_the_dashboard(client, cast, staff, history, route):
    url = {
        "ops:dashboard": reverse("ops:dashboard"),
        "csv": reverse("ops:export-csv", args=["funnel"]),
        "xlsx": reverse("ops:export-xlsx", args=["modes"]),
    }[route]
    assert client.get(url).status_code == 403  # anonymous
    for user in (cast.owner, cast.member, cast.outsider):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_dashboard_shows_the_funnel_and_charts_in_chinese(client, staff, history):
    client.force_login(staff)
    html = client.get(reverse("ops:dashboard")).content.decode()
    assert "转化漏斗" in html and "<svg" in html and "到账金额" in html and "领域不符" in html
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]


def test_dashboard_in_english_leaves_only_the_rows_own_text_in_chinese(client, staff, history):
    client.force_login(staff)
    html = client.get(reverse("ops:dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for english in ("Operations dashboard", "Conversion funnel", "Need published", "Wrong field"):
        assert english in html
    # Left in Chinese: the rows' own text (field names, the factories' default field and user
    # names "用户N") and the language switcher's name for Chinese.
    rows = {"新能源", "生物医药", "动力电池与储能", "用户"}
    assert set(re.findall(r"[\u3400-\u9fff]+", html)) <= rows | {"简体中文"}


def test_csv_export_holds_the_same_numbers(client, staff, history):
    client.force_login(staff)
    response = client.get(reverse("ops:export-csv", args=["money"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1] == ["2026-02", "200.00", "60.00"]
    assert rows[-1][1:] == ["200.00", "200.00"]
    assert client.get(reverse("ops:export-csv", args=["nope"])).status_code == 404


def test_api_funnel_for_staff_tokens_only(cast, staff, history):
    api = APIClient()
    url = reverse("api:ops-funnel")
    assert api.get(url).status_code in (401, 403)
    _token, key = api_token_create(user=cast.owner, name="x")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(url).status_code == 403
    _token, key = api_token_create(user=staff, name="ops")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = api.get(url).json()
    assert body["funnel"]["total"]["counts"] == selectors.funnel()["total"]["counts"]
    assert body["money"]["total"] == {"committed": "200.00", "paid": "200.00"}
    modes = {row["mode"]: row for row in body["money_by_mode"]}
    assert modes["development"]["committed"] == "200.00" and modes["license"]["contracts"] == 0


def test_money_by_mode_sorts_contracts_into_the_six_modes(history):
    """n1 asks for 合作开发 (NeedFactory): its 200 万元 contract is 技术开发, all paid. A second
    contract on a need asking for 技术入股 only counts as 作价投资."""
    equity = NeedFactory(field=history["field_b"], coop_modes=["equity"], published_at=at(3, 1))
    challenge = ChallengeFactory(need=equity, published_at=at(3, 2), awarded_at=at(3, 20))
    bid = BidFactory(challenge=challenge, submitted_at=at(3, 5))
    contract = Contract.objects.create(
        challenge=challenge, bid=bid, organization=bid.organization, amount=Decimal("80")
    )
    first = ChallengeMilestone.objects.filter(challenge=challenge).order_by("position").first()
    ContractMilestone.objects.create(
        contract=contract, milestone=first, status="accepted", decided_at=at(4, 1)
    )
    rows = {row["mode"]: row for row in selectors.money_by_mode()["modes"]}
    assert [row["label"] for row in selectors.money_by_mode()["modes"]] == [
        "转让",
        "许可",
        "作价投资",
        "技术开发",
        "技术服务",
        "技术咨询",
    ]
    assert (rows["development"]["contracts"], rows["development"]["committed"]) == (
        1,
        Decimal("200"),
    )
    assert rows["development"]["paid"] == Decimal("200.00")
    assert (rows["equity"]["committed"], rows["equity"]["paid"]) == (
        Decimal("80"),
        Decimal("24.00"),
    )
    assert all(rows[m]["contracts"] == 0 for m in ("transfer", "license", "service", "consulting"))
    total = selectors.money()["total"]
    assert sum(r["committed"] for r in rows.values()) == total["committed"]
    assert sum(r["paid"] for r in rows.values()) == total["paid"]


@pytest.mark.parametrize("table", ["funnel", "money", "modes", "feedback", "reasons"])
def test_every_table_exports_as_xlsx_with_the_csv_numbers(client, staff, history, table):
    client.force_login(staff)
    csv_rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("ops:export-csv", args=[table])).content.decode("utf-8-sig")
            )
        )
    )
    response = client.get(reverse("ops:export-xlsx", args=[table]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="ops-{table}.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    xlsx_rows = [["" if v is None else str(v) for v in row] for row in sheet.values]
    assert len(xlsx_rows) == len(csv_rows) and xlsx_rows[0] == csv_rows[0]
    for got, want in zip(xlsx_rows[1:], csv_rows[1:], strict=True):
        assert [_number(v) for v in got] == [_number(v) for v in want]


def _number(text: str):
    try:
        return Decimal(text)
    except ArithmeticError:
        return text


def test_xlsx_cells_never_run_as_formulas(client, staff, history):
    history["field_a"].name = '=HYPERLINK("http://evil.example","x")'
    history["field_a"].save()
    client.force_login(staff)
    response = client.get(reverse("ops:export-xlsx", args=["feedback"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if "HYPERLINK" in str(cell.value)]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)
    assert client.get(reverse("ops:export-xlsx", args=["nope"])).status_code == 404
