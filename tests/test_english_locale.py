"""The English interface (locale/en): its catalogue translates every message the code and templates
mark, keeps their placeholders, holds the same messages as the zh_Hans one, and the pages and
reports added after the first translation come out in English."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from accounts.models import Membership, Organization
from matching.catalogue.quality import (
    ChallengeDraft,
    NeedDraft,
    ResultDraft,
    challenge_quality,
    need_quality,
    result_quality,
)
from matching.matcher import active
from tests.factories import (
    FieldFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    ResultFactory,
)

LOCALE = Path(settings.BASE_DIR) / "locale"
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|%%|\{[a-z_]+\}")


def _catalogue(language: str) -> list[dict]:
    """The entries of ``locale/<language>/LC_MESSAGES/django.po`` (header and obsolete ones left
    out), each as {"flags", "msgctxt", "msgid", "msgid_plural", "msgstr": [...]}."""
    text = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = []
    for block in text.split("\n\n"):
        entry: dict = {"flags": set(), "msgctxt": None, "msgid_plural": None, "msgstr": []}
        key = None
        for line in block.splitlines():
            if line.startswith("#~"):
                key = None
                break
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                value = ast.literal_eval(line)
                if key == "msgstr":
                    entry["msgstr"][-1] += value
                else:
                    entry[key] += value
            else:
                word, _space, quoted = line.partition(" ")
                value = ast.literal_eval(quoted)
                if word.startswith("msgstr"):
                    key = "msgstr"
                    entry["msgstr"].append(value)
                else:
                    key = word
                    entry[key] = value
        if key is not None and entry.get("msgid"):
            entries.append(entry)
    return entries


def test_english_catalogue_translates_every_message_and_keeps_its_placeholders():
    entries = _catalogue("en")
    assert len(entries) > 1000
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == [] and fuzzy == []
    for entry in entries:
        if not entry["flags"] & {"python-format", "python-brace-format"}:
            continue
        wanted = sorted(PLACEHOLDER.findall(entry["msgid"]))
        for msgstr in entry["msgstr"]:
            assert sorted(PLACEHOLDER.findall(msgstr)) == wanted, entry["msgid"]


def test_both_catalogues_hold_the_same_messages_and_chinese_stays_the_source():
    english, chinese = _catalogue("en"), _catalogue("zh_Hans")
    assert {(e["msgctxt"], e["msgid"]) for e in english} == {
        (e["msgctxt"], e["msgid"]) for e in chinese
    }
    # The msgids are the Chinese text: the zh_Hans catalogue translates nothing.
    assert [e["msgid"] for e in chinese if any(e["msgstr"])] == []


def _han_in(*texts: str) -> set[str]:
    return {run for text in texts for run in HAN.findall(text)}


@pytest.mark.django_db
def test_quality_reports_come_out_in_english():
    today = dt.date(2025, 6, 1)
    with translation.override("en"):
        reports = [
            need_quality(
                NeedDraft(title="x", description="y", funding_mode="lump_sum"), today=today
            ),
            result_quality(ResultDraft(title="x", abstract="y")),
            challenge_quality(
                ChallengeDraft(title="x", intro="y"),
                now=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
            ),
        ]
    for report in reports:
        assert any(not item["ok"] for item in report["items"])
        texts = [report["matcher_view"]["message"]]
        texts += [item["message"] for item in report["items"]]
        texts += [item["suggestion"] for item in report["items"]]
        # The price check reads the Chinese words of the summary: its hint quotes the one to write.
        assert _han_in(*texts) <= {"价格面议"}, texts


@pytest.fixture
def _fresh_matcher():
    active.clear_cache()
    yield
    active.clear_cache()


@pytest.mark.django_db
def test_grouped_matches_page_in_english(client, _fresh_matcher):
    """Every word of the interface is English; the rows' own text is English here, so any Chinese
    left on the page is an untranslated interface string."""
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION, name="Test University Lab")
    user = MembershipFactory(
        organization=lab, role=Membership.Role.MEMBER, user__name="Lab Member"
    ).user
    result = ResultFactory(
        organization=lab, title="Coated cathode", abstract="ALD coating.", keywords=["cathode"]
    )
    need = NeedFactory(
        organization=OrganizationFactory(name="Acme Batteries"),
        field=FieldFactory(code="energy", name="Energy"),
        title="Longer cycle life",
        summary="Cycle life of cathodes.",
        description="Cathode cycle life at 45 C.",
    )
    MatchFactory(  # 0.3 is below the legacy threshold 0.5: a weak candidate
        need=need,
        result=result,
        score=0.3,
        explanation={
            "shared_terms": ["cathode"],
            "fit": [{"code": "field_same", "text": "Same field: Energy", "ok": True}],
            "evidence": [{"need": "cycle life", "candidate": "cycle life", "similarity": 0.4}],
            "public": {"shared_terms": ["cathode"]},
        },
    )
    client.force_login(user)
    body = client.get(reverse("matches:mine"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for english in ("No strong matches yet", "Weak candidate", "1 match", "All fields"):
        assert english in body
    # Only the language switcher's own name stays in Chinese.
    assert _han_in(body) == {"简体中文"}
