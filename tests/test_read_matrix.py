"""The read-path matrix: every role × every confidentiality level × every read path shows exactly
the need fields that ``matching.catalogue.projections`` allows at the level the role has.

Each need carries a marker in every field (``DESC-SUMMARY`` in the description of the summary-public
need, and so on) and its matches carry explanations whose fit items quote the need's maturity,
cooperation modes and budget. A path passes for a viewer when it shows every marker of the fields
the viewer's level allows (among those the path displays) and none of the others.

``test_every_route_is_in_the_matrix_or_exempt`` makes a new route fail until it is added here: to
``READ_PATHS`` when it shows need data, or to ``NOT_A_NEED_READ`` with the reason it does not.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Organization
from challenges.models import Challenge, ConsortiumMember
from matching.catalogue.projections import (
    NEED_ACCESS_REQUEST_FIELDS,
    NEED_FULL_ONLY_FIELDS,
    NEED_SUMMARY_FIELDS,
    need_fields,
)
from matching.catalogue.visibility import NeedVisibility
from matching.models import CoopMode, Need, NeedAccess
from notifications.emails import render_notification
from notifications.models import Notification
from notifications.services import match_notifications_create
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    ExpertProfileFactory,
    FieldFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
    ResultFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

FULL, SUMMARY, NONE = NeedVisibility.FULL, NeedVisibility.SUMMARY, NeedVisibility.NONE
LEVELS = {
    "public": Need.Confidentiality.PUBLIC,
    "summary": Need.Confidentiality.SUMMARY,
    "private": Need.Confidentiality.PRIVATE,
}

# What each role may see of a published need at each confidentiality level: the specification,
# written out by hand (not computed by the code under test).
EXPECTED: dict[str, dict[str, NeedVisibility]] = {
    "anonymous": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "other_enterprise": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "lab_no_access": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "lab_requested": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "lab_invited_terms_open": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "lab_with_access": {"public": FULL, "summary": FULL, "private": NONE},
    "expert": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "consortium_confirmed": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "consortium_unconfirmed": {"public": FULL, "summary": SUMMARY, "private": NONE},
    "member": {"public": FULL, "summary": FULL, "private": FULL},
    "staff": {"public": FULL, "summary": FULL, "private": FULL},
}
ROLES = list(EXPECTED)
# What each role may see of the challenge (榜单) built from each need: the need's level, except that
# the confirmed members of a bid on it read its full terms (an unconfirmed member does not: finding
# 5). The private need's challenge is 定向邀请 with no invitation: nobody else sees it.
CHALLENGE_EXPECTED = {
    role: dict(levels, **({"summary": FULL} if role == "consortium_confirmed" else {}))
    for role, levels in EXPECTED.items()
}
# Roles whose organization has a published result matched to every need (they get match emails,
# /matches/ and the result-matches API).
LAB_ROLES = ["lab_no_access", "lab_requested", "lab_invited_terms_open", "lab_with_access"]


def markers(kind: str) -> dict[str, str]:
    """The marker each need field carries (ASCII, so no tokeniser or escaping changes it)."""
    tag = kind.upper()
    return {
        "title": f"TITLE-{tag}",
        "summary": f"SUMMARY-{tag}",
        "organization": f"ORG-{tag}",
        "description": f"DESC-{tag}",
        "scenario": f"SCEN-{tag}",
        "industry_chain": f"CHAIN-{tag}",
        "contact_name": f"CONTACT-{tag}",
        "contact_email": f"contact-{kind}@marker.example",
        "terms": f"TERMS-{tag}",
        "indicators": f"IND-{tag}",
    }


def explanation_markers(kind: str) -> dict[str, str]:
    """Markers in a stored explanation, by the need field each reveals."""
    tag = kind.upper()
    return {
        "field": f"FITFIELD-{tag}",
        "trl_min": f"FITTRL-{tag}",
        "coop_modes": f"FITMODE-{tag}",
        "budget_max": f"FITBUDGET-{tag}",
        "description": f"EVIDENCE-{tag}",  # sentence evidence quotes the description
        "shared_terms": f"FULLTERM-{tag}",  # key terms of the full text
        "public_terms": f"PUBTERM-{tag}",  # key terms of the public text
    }


def stored_explanation(kind: str) -> dict:
    m = explanation_markers(kind)
    return {
        "shared_terms": [m["shared_terms"], m["public_terms"]],
        "evidence": [
            {"need": f"需求句 {m['description']}", "candidate": "成果句", "similarity": 0.5}
        ],
        "fit": [
            {"code": "field_same", "ok": True, "text": f"领域一致：{m['field']}", "params": {}},
            {"code": "trl_low", "ok": False, "text": f"需求要求 ≥ 6 {m['trl_min']}", "params": {}},
            {"code": "mode_other", "ok": False, "text": f"需求希望技术入股 {m['coop_modes']}"},
            {"code": "budget_ok", "ok": True, "text": f"在预算内 {m['budget_max']}"},
        ],
        "public": {"shared_terms": [m["public_terms"]]},
    }


@dataclass
class World:
    needs: dict[str, Need]
    users: dict[str, object]
    results: dict[str, object]
    challenges: dict[str, object]


@pytest.fixture
def world(settings) -> World:
    settings.NOTIFICATION_MIN_SCORE = 0.0
    field = FieldFactory()
    member = UserFactory()
    needs = {}
    for kind, confidentiality in LEVELS.items():
        m = markers(kind)
        org = OrganizationFactory(name=m["organization"])
        MembershipFactory(user=member, organization=org, role=Membership.Role.OWNER)
        need = NeedFactory(
            organization=org,
            created_by=member,
            field=field,
            title=m["title"],
            summary=m["summary"],
            description=m["description"],
            scenario=m["scenario"],
            industry_chain=m["industry_chain"],
            contact_name=m["contact_name"],
            contact_email=m["contact_email"],
            terms=m["terms"],
            coop_modes=(CoopMode.EQUITY,),
            confidentiality=confidentiality,
        )
        NeedIndicatorFactory(need=need, name=m["indicators"])
        needs[kind] = need

    def lab(name: str):
        org = OrganizationFactory(name=name, kind=Organization.Kind.INSTITUTION)
        user = MembershipFactory(organization=org, role=Membership.Role.OWNER).user
        return user, org

    users: dict[str, object] = {"anonymous": None, "member": member}
    users["other_enterprise"] = MembershipFactory(organization=OrganizationFactory()).user
    users["expert"] = ExpertProfileFactory().user
    users["staff"] = UserFactory(is_staff=True, is_superuser=True)
    now = timezone.now()
    results = {}
    access = {
        "lab_no_access": None,
        "lab_requested": dict(status=NeedAccess.Status.REQUESTED, terms_accepted_at=now),
        "lab_invited_terms_open": dict(status=NeedAccess.Status.APPROVED, invited=True),
        "lab_with_access": dict(status=NeedAccess.Status.APPROVED, terms_accepted_at=now),
    }
    for role, state in access.items():
        user, org = lab(f"LAB-{role}")
        users[role] = user
        if state:
            for need in needs.values():
                NeedAccess.objects.create(need=need, organization=org, **state)
        result = ResultFactory(organization=org, created_by=user, field=field, title=f"R-{role}")
        results[role] = result
        for kind, need in needs.items():
            MatchFactory(need=need, result=result, score=0.9, explanation=stored_explanation(kind))
    challenges = {
        kind: ChallengeFactory(
            need=need,
            access=Challenge.Access.INVITED if kind == "private" else Challenge.Access.OPEN,
        )
        for kind, need in needs.items()
    }
    # A bid on the summary-public need's challenge by a third lab, with one confirmed and one
    # unconfirmed consortium member.
    bid = BidFactory(challenge=challenges["summary"])
    for role, confirmed in (("consortium_confirmed", True), ("consortium_unconfirmed", False)):
        user, org = lab(f"LAB-{role}")
        users[role] = user
        ConsortiumMember.objects.create(
            bid=bid,
            organization=org,
            role="参与单位",
            share=0,
            confirmed_at=timezone.now() if confirmed else None,
        )
    return World(needs=needs, users=users, results=results, challenges=challenges)


def client_for(world: World, role: str, api: bool = False):
    client = APIClient() if api else Client()
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    return client


# --- checking one output -----------------------------------------------------------------------------


def check_text(
    text: str,
    kind: str,
    level: NeedVisibility,
    shows: set[str],
    where: str,
    also: frozenset[str] = frozenset(),
) -> None:
    """``text`` (a page, a CSV, an email) shows the markers of the fields ``level`` allows among
    ``shows`` (what this path displays of a need it lists), and no marker of any other field
    (``also``: fields this path may show beyond the level, by design)."""
    m = markers(kind)
    allowed = need_fields(level) | also
    for field, marker in m.items():
        if field in allowed and field in shows:
            assert marker in text, f"{where}: {kind} should show {field} at {level.name}"
        if field not in allowed:
            assert marker not in text, f"{where}: {kind} leaks {field} at {level.name}"


def check_explanation_text(text: str, kind: str, level: NeedVisibility, where: str) -> None:
    """An explanation rendered for a viewer at ``level``: FULL shows every fit item, the sentence
    evidence and the full-text terms; SUMMARY only what the summary shows (field, public terms)."""
    m = explanation_markers(kind)
    shown = {
        FULL: {"field", "trl_min", "coop_modes", "budget_max", "description", "shared_terms"},
        SUMMARY: {"field", "public_terms"},
    }[level]
    for key, marker in m.items():
        if key in shown:
            assert marker in text, f"{where}: {kind} explanation should show {key} at {level.name}"
        elif key != "public_terms":
            assert marker not in text, f"{where}: {kind} explanation leaks {key} at {level.name}"
    if level < FULL:
        assert "需求要求" not in text and "需求希望" not in text and "预算" not in text, where


def check_json_need(item: dict, kind: str, level: NeedVisibility, where: str) -> None:
    """A need in the API has exactly the keys its level allows (plus ``visibility``)."""
    keys = set(item) - {"visibility"}
    if level == FULL:
        assert keys <= NEED_SUMMARY_FIELDS | NEED_FULL_ONLY_FIELDS, where
        assert NEED_FULL_ONLY_FIELDS & keys, where
    else:
        assert keys == NEED_SUMMARY_FIELDS, (where, keys ^ NEED_SUMMARY_FIELDS)
    check_text(json.dumps(item, ensure_ascii=False), kind, level, set(markers(kind)), where)


# --- the read paths -------------------------------------------------------------------------------
# Each takes (world, role) and checks every need for that role.


def web_need_list(world: World, role: str) -> None:
    html = client_for(world, role).get(reverse("matching:need-list")).content.decode()
    for kind in world.needs:
        level = EXPECTED[role][kind]
        assert (markers(kind)["title"] in html) is (level > NONE), (role, kind)
        check_text(html, kind, level, {"title", "summary"}, f"need list/{role}")


def web_need_detail(world: World, role: str) -> None:
    client = client_for(world, role)
    for kind, need in world.needs.items():
        level = EXPECTED[role][kind]
        response = client.get(need.get_absolute_url())
        if level == NONE:
            assert response.status_code == 404, (role, kind)
            continue
        assert response.status_code == 200
        shows = {"title", "summary", "description", "scenario", "indicators"}
        # A signed-in organization that may ask for the full text reads the terms it would accept.
        also = NEED_ACCESS_REQUEST_FIELDS if world.users[role] is not None else frozenset()
        html = response.content.decode()
        check_text(html, kind, level, shows, f"need detail/{role}", also)


def _csv(response) -> str:
    assert response.status_code == 200
    return response.content.decode("utf-8-sig")


def web_need_export(world: World, role: str) -> None:
    text = _csv(client_for(world, role).get(reverse("matching:need-export")))
    for kind in world.needs:
        level = EXPECTED[role][kind]
        shows = {"title", "summary", "organization", "description", "scenario", "indicators"}
        check_text(text, kind, level, shows, f"web csv/{role}")
        if level == NONE:
            assert markers(kind)["title"] not in text


def _api_requires_login(world: World, role: str, response) -> bool:
    """The API answers only signed-in callers: anonymous gets 401 and nothing else."""
    if world.users[role] is None:
        assert response.status_code == 401
        return True
    return False


def api_need_list(world: World, role: str) -> None:
    response = client_for(world, role, api=True).get("/api/v1/needs/?page_size=100")
    if _api_requires_login(world, role, response):
        return
    body = response.json()
    items = {item["uuid"]: item for item in body["results"]}
    for kind, need in world.needs.items():
        level = EXPECTED[role][kind]
        item = items.get(str(need.uuid))
        assert (item is not None) is (level > NONE), (role, kind)
        if item is not None:
            check_json_need(item, kind, level, f"api list/{role}/{kind}")


def api_need_detail(world: World, role: str) -> None:
    client = client_for(world, role, api=True)
    for kind, need in world.needs.items():
        level = EXPECTED[role][kind]
        response = client.get(f"/api/v1/needs/{need.uuid}/")
        if _api_requires_login(world, role, response):
            return
        if level == NONE:
            assert response.status_code in (401, 403, 404), (role, kind)
            continue
        assert response.status_code == 200, (role, kind)
        check_json_need(response.json(), kind, level, f"api detail/{role}/{kind}")


def api_need_export(world: World, role: str) -> None:
    response = client_for(world, role, api=True).get("/api/v1/needs/export.csv")
    if _api_requires_login(world, role, response):
        return
    text = _csv(response)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows
    for kind in world.needs:
        level = EXPECTED[role][kind]
        check_text(text, kind, level, set(markers(kind)), f"api csv/{role}")


def api_result_matches(world: World, role: str) -> None:
    if role not in LAB_ROLES:
        return
    result = world.results[role]
    body = client_for(world, role, api=True).get(f"/api/v1/results/{result.uuid}/matches/").json()
    by_title = {item["need"]["title"]: item for item in body}
    for kind in world.needs:
        level = EXPECTED[role][kind]
        item = by_title.get(markers(kind)["title"])
        assert (item is not None) is (level > NONE), (role, kind)
        if item is not None:
            text = json.dumps(item, ensure_ascii=False)
            check_text(text, kind, level, {"title", "organization"}, f"api matches/{role}")
            check_explanation_text(text, kind, level, f"api matches/{role}/{kind}")


def _matched_needs_html(world: World, role: str, html: str, where: str) -> None:
    for kind in world.needs:
        level = EXPECTED[role][kind]
        assert (markers(kind)["title"] in html) is (level > NONE), (where, kind)
        # The page lists all three needs: check the section of this need only.
        section = _section(html, markers(kind)["title"])
        if section:
            check_text(section, kind, level, {"title", "organization"}, where)
            check_explanation_text(section, kind, level, f"{where}/{kind}")


def _section(html: str, title: str) -> str:
    """The ``<article class="match">`` that contains ``title``."""
    for part in html.split('<article class="match"')[1:]:
        part = part.split("</article>")[0]
        if title in part:
            return part
    return ""


def web_my_matches(world: World, role: str) -> None:
    if role not in LAB_ROLES:
        return
    html = client_for(world, role).get(reverse("matches:mine")).content.decode()
    _matched_needs_html(world, role, html, f"/matches/ {role}")


def web_result_detail(world: World, role: str) -> None:
    if role not in LAB_ROLES:
        return
    result = world.results[role]
    html = client_for(world, role).get(result.get_absolute_url()).content.decode()
    _matched_needs_html(world, role, html, f"result page {role}")


def match_emails(world: World, role: str) -> None:
    if role not in LAB_ROLES:
        return
    user = world.users[role]
    matches = list(world.results[role].matches.all())
    with transaction.atomic():
        match_notifications_create(matches=matches)
    rows = Notification.objects.filter(recipient=user)
    emails = [render_notification(row) for row in rows]
    everything = "\n".join(f"{e.subject}\n{e.text}\n{e.html}" for e in emails)
    for kind in world.needs:
        level = EXPECTED[role][kind]
        title = markers(kind)["title"]
        assert (title in everything) is (level > NONE), (role, kind)
        for email in emails:
            if title in email.text:
                text = f"{email.subject}\n{email.text}\n{email.html}"
                check_text(text, kind, level, {"title", "summary"}, f"email/{role}")
                check_explanation_text(text, kind, level, f"email/{role}/{kind}")


def admin_need_change(world: World, role: str) -> None:
    client = client_for(world, role)
    for kind, need in world.needs.items():
        response = client.get(reverse("admin:matching_need_change", args=[need.pk]))
        if role == "staff" and world.users[role].is_superuser:
            check_text(response.content.decode(), kind, FULL, {"title"}, "admin")
        else:
            # Only superusers or staff with model permissions reach the admin pages.
            assert response.status_code in (302, 403), (role, kind)
            assert markers(kind)["description"] not in response.content.decode()


def web_challenge_list(world: World, role: str) -> None:
    html = client_for(world, role).get(reverse("challenges:list")).content.decode()
    for kind in world.challenges:
        level = CHALLENGE_EXPECTED[role][kind]
        # The list shows open challenges to everyone, each as far as its need's level allows.
        check_text(html, kind, level, {"title"}, f"challenge list/{role}")


def web_challenge_detail(world: World, role: str) -> None:
    client = client_for(world, role)
    for kind, challenge in world.challenges.items():
        level = CHALLENGE_EXPECTED[role][kind]
        response = client.get(reverse("challenges:detail", kwargs={"uuid": challenge.uuid}))
        if level == NONE:
            assert response.status_code == 404, (role, kind)
            continue
        assert response.status_code == 200, (role, kind)
        html = response.content.decode()
        check_text(html, kind, level, {"title", "organization"}, f"challenge page/{role}")


def api_challenge_list(world: World, role: str) -> None:
    response = client_for(world, role, api=True).get("/api/v1/challenges/?page_size=100")
    if _api_requires_login(world, role, response):
        return
    body = response.json()
    text = json.dumps(body, ensure_ascii=False)
    for kind in world.challenges:
        level = CHALLENGE_EXPECTED[role][kind]
        check_text(text, kind, level, {"title"}, f"api challenge list/{role}")


def api_challenge_detail(world: World, role: str) -> None:
    client = client_for(world, role, api=True)
    for kind, challenge in world.challenges.items():
        level = CHALLENGE_EXPECTED[role][kind]
        response = client.get(f"/api/v1/challenges/{challenge.uuid}/")
        if _api_requires_login(world, role, response):
            return
        if level == NONE:
            assert response.status_code in (403, 404), (role, kind)
            continue
        assert response.status_code == 200, (role, kind)
        text = json.dumps(response.json(), ensure_ascii=False)
        check_text(text, kind, level, {"title", "organization"}, f"api challenge/{role}")


READ_PATHS: dict[str, Callable[[World, str], None]] = {
    "matching:need-list": web_need_list,
    "matching:need-detail": web_need_detail,
    "matching:need-export": web_need_export,
    "api:need-list": api_need_list,
    "api:need-detail": api_need_detail,
    "api:need-export": api_need_export,
    "api:result-matches": api_result_matches,
    "matches:mine": web_my_matches,
    "matching:result-detail": web_result_detail,
    "email:match": match_emails,
    "admin:matching_need_change": admin_need_change,
    "challenges:list": web_challenge_list,
    "challenges:detail": web_challenge_detail,
    "api:challenge-list": api_challenge_list,
    "api:challenge-detail": api_challenge_detail,
}


@pytest.mark.parametrize("path", list(READ_PATHS))
def test_read_path_shows_exactly_what_the_level_allows(world, path):
    """Every role in turn (one world per path keeps the matrix fast; the message names the role)."""
    for role in ROLES:
        READ_PATHS[path](world, role)


# --- no route escapes the matrix -------------------------------------------------------------------

# Routes that never show a need's fields, with the reason. A route that shows need data belongs
# in READ_PATHS (or in the challenge matrix of tests/test_challenges_trust.py) instead.
NOT_A_NEED_READ: dict[str, str] = {
    "healthz": "service status only",
    "set_language": "POST, language switch",
    "core:home": "landing page without need data",
    "api-schema": "the schema, no data",
    "api-docs": "Swagger UI, no data",
    # accounts: users, organizations and tokens, no need data
    **{
        name: "accounts pages hold no need data"
        for name in (
            "accounts:register accounts:confirm accounts:login accounts:logout "
            "accounts:password-reset accounts:password-reset-done "
            "accounts:password_reset_confirm accounts:password-reset-complete accounts:profile "
            "accounts:tokens accounts:token-revoke accounts:org-create accounts:org-detail "
            "accounts:org-edit accounts:org-members accounts:org-verify accounts:invitation "
            "api:organization-list api:organization-detail api:organization-members"
        ).split()
    },
    # writes (POST/PUT/PATCH/DELETE only, or forms for the need's own organization)
    **{
        name: "a write, or a form for the need's own organization (404 for anyone else)"
        for name in (
            "matching:need-create matching:need-edit matching:need-attachments "
            "matching:need-status matching:need-access-request matching:need-access-invite "
            "matching:need-access-decide matching:result-create matching:result-edit "
            "matching:result-attachments matching:result-status matching:capability-create "
            "matching:capability-edit matching:capability-delete matching:attachment-delete "
            "matches:feedback api:match-feedback api:need-bulk api:need-close api:need-publish "
            "api:need-withdraw api:result-bulk api:result-publish api:result-withdraw "
            "api:match"
        ).split()
    },
    **{
        name: "POST only: one-click renewal by the item's own organization (404/403 for anyone else)"
        for name in (
            "matching:need-renew matching:result-renew api:need-renew api:result-renew"
        ).split()
    },
    "matching:need-quality": "POST that writes nothing: scores the caller's own unsaved form input",
    "matching:result-quality": "POST that writes nothing: scores the caller's own unsaved form input",
    "api:need-matches": "the need's own organization only (tests/test_matching_api.py)",
    "matching:attachment-download": "need attachments: FULL only (tests/test_confidentiality_web.py)",
    "matching:result-list": "results, no need data",
    "api:result-list": "results, no need data",
    "api:result-detail": "a result, no need data",
    "api:capability-list": "capability profiles, no need data",
    "api:capability-detail": "a capability profile, no need data",
    "matching:capability-detail": "a capability profile, no need data",
    "matching:dashboard": "own organization's items; access requests (tests/test_catalogue_trust.py)",
    # ops: aggregates only (counts, amounts, field names), never a need's title or text; platform
    # staff only (FULL everywhere anyway), 403 for everyone else (tests/test_ops_dashboard.py)
    "ops:dashboard": "staff-only aggregates, no need fields (tests/test_ops_dashboard.py)",
    "ops:export-csv": "staff-only aggregates, no need fields (tests/test_ops_dashboard.py)",
    "ops:export-xlsx": "staff-only aggregates, no need fields (tests/test_ops_dashboard.py)",
    "api:ops-funnel": "staff-only aggregates, no need fields (tests/test_ops_dashboard.py)",
    # the contract package of an awarded bid: the challenge's terms and the winning bid, which both
    # parties read in full; the two parties and staff only, 404 for anyone else
    # (tests/test_contract_package.py)
    **{
        name: "contract package: the two parties and staff only (tests/test_contract_package.py)"
        for name in (
            "challenges:contract-docx challenges:contract-pdf challenges:contract-registration "
            "api:contract-docx api:contract-pdf api:contract-registration"
        ).split()
    },
    "notifications:center": "the user's own notifications, built by the email path above",
    "notifications:preferences": "settings, no need data",
    "notifications:unsubscribe": "settings, no need data",
    "api:notification-list": "the user's own notifications, built by the email path above",
    "api:notification-preferences": "settings, no need data",
    # challenges: the enterprise's own pages and actions (404 for anyone else)
    **{
        name: "the challenge's enterprise only (tests/test_challenges*.py)"
        for name in (
            "challenges:mine challenges:create challenges:edit challenges:publish "
            "challenges:cancel challenges:start challenges:invite challenges:invite-from-match "
            "challenges:bids challenges:bids-export challenges:review-manage challenges:award "
            "challenges:downselect challenges:milestone-decide api:challenge-mine "
            "api:challenge-publish api:challenge-close-bidding api:challenge-cancel "
            "api:challenge-award api:challenge-start api:challenge-downselect api:challenge-bids "
            "api:challenge-experts api:challenge-contracts api:milestone-accept "
            "api:milestone-reject challenges:review-recuse api:challenge-expert-recuse"
        ).split()
    },
    # bids, reviews and execution: sealed bid content for bidders, the enterprise after the
    # deadline and assigned experts (tests/test_challenges*.py); no need field beyond the terms
    # their readers see in full
    **{
        name: "bid, review or execution data (sealing: tests/test_challenges*.py)"
        for name in (
            "challenges:execution challenges:bid-edit challenges:bid-detail "
            "challenges:bid-submit challenges:bid-withdraw challenges:bid-attachment-add "
            "challenges:bid-attachment challenges:consortium-confirm challenges:review "
            "challenges:milestone-submit api:challenge-ranking api:bid-list api:bid-detail "
            "api:bid-submit api:bid-withdraw api:bid-confirm api:review-list api:review-scores "
            "api:review-submit api:milestone-submit"
        ).split()
    },
    # coded answers (tests/test_challenges_answers.py): the invited organization's own invitation
    # and its answer, the enterprise's list of invitations and its decline of a bid; dates and
    # coded reasons, no need field
    "challenges:invitation-answer": "POST by the invited organization only (404 for anyone else)",
    "challenges:bid-decline": "POST by the challenge's enterprise only (404 for anyone else)",
    "api:bid-decline": "POST by the challenge's enterprise only (404 for anyone else)",
    "api:challenge-invitations": "the challenge's enterprise only: invited organizations, answers",
    "api:challenge-my-invitation": "the user's organization's own invitation: dates and its answer",
    "challenges:quality": "POST that writes nothing: scores the enterprise's own unsaved 榜单 input",
}


def _route_names(patterns, namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            inner = pattern.namespace
            ns = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            yield from _route_names(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_route_is_in_the_matrix_or_exempt():
    routes = set(_route_names(get_resolver().url_patterns))
    unplaced = {name for name in routes if name not in READ_PATHS and name not in NOT_A_NEED_READ}
    assert not unplaced, f"add these routes to READ_PATHS or NOT_A_NEED_READ: {sorted(unplaced)}"
    stale = (set(READ_PATHS) | set(NOT_A_NEED_READ)) - routes - {"email:match"}
    stale = {name for name in stale if not name.startswith("admin:")}
    assert not stale, f"routes that no longer exist: {sorted(stale)}"


# --- explanations as the matcher writes them ------------------------------------------------------


def test_summary_viewer_sees_no_fit_item_about_hidden_need_fields():
    """A real explanation (``matching.matcher.explain``) of a need asking for TRL ≥ 6, equity and a budget,
    against a TRL-3 result: what a summary-only viewer reads names none of the three (finding 3:
    "需求要求 ≥ 6" and "需求希望技术入股…" reached labs without access)."""
    from matching.catalogue.projections import explanation_for_viewer
    from matching.matcher.documents import MatchDoc
    from matching.matcher.explain import explain

    need = MatchDoc(
        kind="need",
        object_id=1,
        text="高镍正极循环寿命提升。机密描述：产线良率只有71%。",
        public_text="高镍正极循环寿命提升",
        sentences=("机密描述：产线良率只有71%。",),
        field_codes=("energy.battery",),
        trl=6,
        modes=(CoopMode.EQUITY,),
        budget_min=100,
        budget_max=200,
        region="江苏",
    )
    candidate = MatchDoc(
        kind="result",
        object_id=2,
        text="高镍正极包覆技术，循环寿命提升一倍。",
        public_text="高镍正极包覆技术",
        sentences=("高镍正极包覆技术，循环寿命提升一倍。",),
        field_codes=("energy.battery",),
        trl=3,
        modes=(CoopMode.LICENSE,),
        budget_min=300,
        budget_max=400,
        region="江苏",
    )
    stored = explain(need, candidate, {"dense": 0.5}, {"energy.battery": "电池"})
    codes = {item["code"] for item in stored["fit"]}
    assert {"trl_low", "mode_other", "budget_high", "field_same", "region_same"} <= codes
    summary = explanation_for_viewer(stored, SUMMARY)
    text = json.dumps(summary, ensure_ascii=False)
    assert {item["code"] for item in summary["fit"]} == {"field_same", "region_same"}
    assert "需求要求" not in text and "需求希望" not in text and "预算" not in text
    assert "良率" not in text and summary["evidence"] == []
    full = explanation_for_viewer(stored, FULL)
    assert {item["code"] for item in full["fit"]} == codes
