"""The demo year for the operator dashboard (ops/demo.py, loaded by ``manage.py load_demo``): twelve
months with activity at every step, marked as demo, loaded once however often load_demo runs."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse

from challenges.models import Challenge, Contract, ContractMilestone, Payment
from core.demo import DEMO_DIR
from matching.models import Need, NeedAccess
from ops import selectors
from ops.demo import DEMO_ORG_PREFIX, HISTORY_REF, load_history
from taxonomy.services import taxonomy_load
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _last_twelve_months(today: date) -> list[str]:
    index = today.year * 12 + today.month - 1
    return [f"{(i // 12):04d}-{(i % 12) + 1:02d}" for i in range(index - 11, index + 1)]


def test_load_demo_gives_the_dashboard_twelve_months_of_activity_marked_as_demo(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("load_demo", "--password", "demo12345")
    # the history enqueues no matcher task (only the challenges demo does, through the services)
    history_needs = Need.objects.filter(external_ref__startswith=HISTORY_REF)
    assert {cb.args[1] for cb in callbacks if cb.args} & set(
        history_needs.values_list("pk", flat=True)
    ) == set()
    assert all(n.organization.name.startswith(DEMO_ORG_PREFIX) for n in history_needs)

    funnel = selectors.funnel()
    months = {row["month"]: row["counts"] for row in funnel["months"]}
    last_twelve = _last_twelve_months(date.today())
    for month in last_twelve:
        assert months.get(month, {}).get("published", 0) > 0, month
    assert sum(months[m]["matched"] for m in last_twelve) > 0
    total = funnel["total"]["counts"]
    for step in selectors.STEP_KEYS:
        assert total[step] > 0, step
    assert NeedAccess.objects.filter(need__in=history_needs).exists()
    assert Challenge.objects.filter(status=Challenge.Status.COMPLETED).exists()
    history_contracts = Contract.objects.filter(challenge__need__in=history_needs)
    accepted = ContractMilestone.objects.filter(contract__in=history_contracts, status="accepted")
    assert accepted.exists()
    # every accepted milestone has its payment, and payments never exceed the contract
    assert Payment.objects.filter(contract__in=history_contracts).count() == accepted.count()
    for contract in history_contracts:
        assert sum(p.amount for p in contract.payments.all()) <= contract.amount
    money = selectors.money()
    assert money["total"]["committed"] > 0 and money["total"]["paid"] > 0
    by_mode = {row["mode"]: row for row in selectors.money_by_mode()["modes"]}
    assert sum(1 for row in by_mode.values() if row["contracts"]) >= 3

    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    html = client.get(reverse("ops:dashboard")).content.decode()
    assert "演示数据" in html
    for month in last_twelve:
        assert f"<td>{month}</td>" in html

    # idempotent: a second load writes no history
    counts = {
        "needs": history_needs.count(),
        "contracts": history_contracts.count(),
        "payments": Payment.objects.count(),
    }
    call_command("load_demo", "--password", "demo12345")
    assert {
        "needs": history_needs.count(),
        "contracts": history_contracts.count(),
        "payments": Payment.objects.count(),
    } == counts


def test_history_is_deterministic_and_needs_the_taxonomy(db):
    assert load_history(password="x", today=date(2026, 6, 15)) == {"demo history needs": 0}
    taxonomy_load(path=DEMO_DIR / "taxonomy.json")
    first = load_history(password="x", today=date(2026, 6, 15))["demo history needs"]
    assert first > 12 * 4
    published = Need.objects.filter(external_ref__startswith=HISTORY_REF).values_list(
        "published_at", flat=True
    )
    assert min(published).date() >= date(2025, 7, 1)
    assert load_history(password="x", today=date(2026, 6, 15)) == {"demo history needs": 0}


def test_no_demo_marker_without_demo_rows(client):
    client.force_login(UserFactory(is_staff=True))
    assert "演示数据" not in client.get(reverse("ops:dashboard")).content.decode()
