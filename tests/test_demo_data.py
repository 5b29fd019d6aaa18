"""The demo loader: loads what fixtures/demo contains, twice without duplicates, enqueues nothing;
every demo need and result validates."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.demo import load_accounts
from core.demo import DEMO_DIR, read_parts
from matching.catalogue.demo import load_matching
from matching.catalogue.services import validate_indicator_rows, validate_patent_rows
from matching.models import CapabilityProfile, Need, NeedIndicator, Patent, Result
from ops.demo import HISTORY_REF
from taxonomy.services import taxonomy_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def accounts(db):
    taxonomy_load(path=DEMO_DIR / "taxonomy.json")
    load_accounts(password="demo12345")


def _snapshot() -> dict[str, int]:
    """The hand-written demo's rows (the demo year of ops/demo.py is tested in test_ops_demo.py)."""
    return {
        "needs": Need.objects.exclude(external_ref__startswith=HISTORY_REF).count(),
        "indicators": NeedIndicator.objects.exclude(
            need__external_ref__startswith=HISTORY_REF
        ).count(),
        "results": Result.objects.exclude(external_ref__startswith=HISTORY_REF).count(),
        "patents": Patent.objects.count(),
        "capabilities": CapabilityProfile.objects.count(),
    }


def test_load_demo_twice_loads_everything_once_and_enqueues_nothing(
    db, django_capture_on_commit_callbacks, capsys
):
    needs, results, capabilities = (read_parts(k) for k in ("needs", "results", "capabilities"))
    assert needs and results and capabilities, "fixtures/demo has no *_partN.json to load"
    expected = {
        "needs": len(needs),
        "indicators": sum(len(n.get("indicators", [])) for n in needs),
        "results": len(results),
        "patents": sum(len(r.get("patents", [])) for r in results),
        "capabilities": len(capabilities),
    }
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("load_demo", "--password", "demo12345")
    assert f"needs {len(needs)}" in capsys.readouterr().out
    assert _snapshot() == expected
    updated_at = dict(
        Need.objects.exclude(external_ref__startswith=HISTORY_REF).values_list("pk", "updated_at")
    )

    with django_capture_on_commit_callbacks() as more:
        counts = load_matching()
    assert counts == {
        "needs": len(needs),
        "results": len(results),
        "capabilities": len(capabilities),
        "demo records skipped": 0,
    }
    assert _snapshot() == expected
    # Nothing changed, so nothing was written again.
    assert (
        dict(
            Need.objects.exclude(external_ref__startswith=HISTORY_REF).values_list(
                "pk", "updated_at"
            )
        )
        == updated_at
    )
    # Loading needs and results enqueues no matcher task (make run reindexes once afterwards); the
    # only ones come from the challenges demo moving its needs through the need services.
    assert more == []
    assert all(cb.func.__self__.name == "matching.index_and_match" for cb in callbacks)
    assert {cb.args[0] for cb in callbacks} <= {"need"}


def _expected_status(entry: dict, unverified: set[str]) -> str:
    """As written, except that an unverified organization's published item loads as a draft:
    unverified organizations can draft but not publish."""
    if entry["status"] == "published" and entry["org"] in unverified:
        return "draft"
    return entry["status"]


def test_demo_records_are_as_in_the_data_and_validate(accounts):
    load_matching()
    unverified = {o["key"] for o in read_parts("organizations") if not o.get("verified", True)}
    assert unverified, "the demo data keeps some unverified organizations on purpose"
    needs = {
        n.external_ref: n
        for n in Need.objects.select_related("field").prefetch_related("indicators")
    }
    for entry in read_parts("needs"):
        need = needs[entry["key"]]
        assert (need.status, need.confidentiality, need.field.code) == (
            _expected_status(entry, unverified),
            entry["confidentiality"],
            entry["field"],
        )
        assert (need.published_at is None) == (need.status == "draft")
        # Foreign keys and check/unique constraints hold: the database enforced them on insert.
        need.full_clean(exclude=FKS, validate_unique=False, validate_constraints=False)
        rows = [
            {
                "name": i.name,
                "operator": i.operator,
                "target": i.target,
                "target_max": i.target_max,
                "unit": i.unit,
            }
            for i in need.indicators.all()
        ]
        assert len(rows) == len(entry.get("indicators", []))
        assert validate_indicator_rows(rows) == [], need.external_ref
        if need.confidentiality == Need.Confidentiality.SUMMARY:
            assert need.summary.strip(), need.external_ref
    results = {r.external_ref: r for r in Result.objects.prefetch_related("patents")}
    for entry in read_parts("results"):
        result = results[entry["key"]]
        assert result.status == _expected_status(entry, unverified)
        assert (result.published_at is None) == (result.status == "draft")
        result.full_clean(exclude=FKS, validate_unique=False, validate_constraints=False)
        rows = [
            {"number": p.number, "kind": p.kind, "status": p.status, "title": p.title}
            for p in result.patents.all()
        ]
        assert validate_patent_rows(rows) == [], result.external_ref


FKS = ["organization", "created_by", "field", "region"]
