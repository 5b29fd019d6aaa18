"""Challenges: state machine, sealed bids, eligibility, consortium, review, award, 赛马, milestones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Membership, Organization
from challenges import selectors, services
from challenges.models import (
    Bid,
    Challenge,
    ConsortiumMember,
    Contract,
    ContractMilestone,
    ExpertConflict,
    Payment,
    ReviewAssignment,
)
from challenges.services import TransitionError
from core.models import AuditEvent
from matching.models import Need
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    ExpertProfileFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
    ResultFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def member_of(org, role=Membership.Role.MEMBER):
    return MembershipFactory(organization=org, role=role).user


def after_deadline(challenge, days: int = 1):
    return time_machine.travel(challenge.bid_deadline + dt.timedelta(days=days), tick=False)


def transitions(obj) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(
            target_type=obj._meta.label_lower, target_id=str(obj.pk), action="challenge.transition"
        )
        .order_by("id")
        .values_list("from_state", "to_state")
    )


def reviewed(challenge, bids, expert_scores):
    """Assign one expert per entry of ``expert_scores`` ({bid: [values per criterion]}) after the
    deadline, save and submit their scores; returns the assignments."""
    services.challenge_close_bidding_if_due(challenge=challenge)
    enterprise = challenge.created_by
    criteria = list(challenge.criteria.all())
    assignments = []
    for table in expert_scores:
        expert = ExpertProfileFactory()
        assignment, blocked = services.review_assign_expert(
            challenge=challenge, expert=expert, actor=enterprise
        )
        assert not blocked
        rows = [
            {"bid_id": bid.pk, "criterion_id": c.pk, "value": v}
            for bid, values in table.items()
            for c, v in zip(criteria, values, strict=True)
        ]
        services.review_save_scores(assignment=assignment, actor=expert.user, scores=rows)
        services.review_submit(assignment=assignment, actor=expert.user)
        assignments.append(assignment)
    return assignments


# --- setup and publication ------------------------------------------------------------------------


def test_enterprise_publishes_a_challenge_from_a_need_and_every_step_is_audited():
    need = NeedFactory()
    NeedIndicatorFactory(need=need)
    enterprise = need.created_by
    challenge = services.challenge_create_from_need(need=need, actor=enterprise)
    assert challenge.status == Challenge.Status.DRAFT
    assert list(challenge.criteria.values_list("name", "weight")) == [
        ("技术先进性", 30),
        ("可行性", 30),
        ("团队能力", 20),
        ("经费合理性", 20),
    ]
    due = timezone.localdate() + dt.timedelta(days=90)
    indicator = need.indicators.get()
    services.challenge_update(
        challenge=challenge,
        actor=enterprise,
        reward_total=Decimal("200"),
        eligible_kinds=[Organization.Kind.INSTITUTION],
        milestones=[
            {
                "name": "中试",
                "deliverable": "中试报告",
                "indicator_id": indicator.pk,
                "criterion": "容量保持率≥80%",
                "due_date": due,
                "share": 60,
            },
            {
                "name": "验收",
                "deliverable": "验收报告",
                "criterion": "通过",
                "due_date": due,
                "share": 40,
            },
        ],
    )
    services.challenge_publish(challenge=challenge, actor=enterprise)
    challenge.refresh_from_db()
    need.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN
    assert need.status == Need.Status.IN_CHALLENGE
    assert transitions(challenge) == [("draft", "open")]
    actions = set(
        AuditEvent.objects.filter(target_id=str(challenge.pk)).values_list("action", flat=True)
    )
    assert {"challenge.create", "challenge.update", "challenge.transition"} <= actions


def test_publication_refuses_weights_or_shares_not_summing_to_100_and_changes_nothing():
    need = NeedFactory()
    NeedIndicatorFactory(need=need)
    challenge = services.challenge_create_from_need(need=need, actor=need.created_by)
    services.challenge_update(
        challenge=challenge,
        actor=need.created_by,
        criteria=[{"name": "技术先进性", "weight": 50}, {"name": "可行性", "weight": 40}],
        milestones=[
            {
                "name": "验收",
                "deliverable": "报告",
                "criterion": "通过",
                "due_date": timezone.localdate() + dt.timedelta(days=60),
                "share": 90,
            }
        ],
    )
    with pytest.raises(ValidationError) as exc:
        services.challenge_publish(challenge=challenge, actor=need.created_by)
    assert "criteria" in exc.value.message_dict and "milestones" in exc.value.message_dict
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.DRAFT
    assert transitions(challenge) == []


def test_outsider_cannot_publish_or_edit():
    challenge = ChallengeFactory(status=Challenge.Status.DRAFT)
    outsider = UserFactory()
    with pytest.raises(PermissionDenied):
        services.challenge_publish(challenge=challenge, actor=outsider)
    with pytest.raises(PermissionDenied):
        services.challenge_update(challenge=challenge, actor=outsider, title="x")


def test_illegal_transitions_raise_and_change_nothing():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    enterprise = challenge.created_by
    with pytest.raises(TransitionError):
        services.challenge_publish(challenge=challenge, actor=enterprise)
    with pytest.raises(TransitionError):
        services.challenge_award(challenge=challenge, actor=enterprise, winners=[bid], reason="好")
    with pytest.raises(TransitionError):
        services.challenge_start(challenge=challenge, actor=enterprise)
    with pytest.raises(TransitionError):
        services.challenge_update(challenge=challenge, actor=enterprise, title="改名")
    with pytest.raises(TransitionError):  # deadline not reached
        services.challenge_close_bidding(challenge=challenge, actor=enterprise)
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.OPEN
    assert challenge.title != "改名"
    assert not Contract.objects.exists()
    assert transitions(challenge) == []


# --- sealed bids and the deadline ---------------------------------------------------------------------


def test_bids_are_sealed_before_the_deadline_for_everyone_but_the_bidders():
    challenge = ChallengeFactory(allow_consortium=True)
    bid = BidFactory(challenge=challenge)
    partner = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    ConsortiumMember.objects.create(
        bid=bid, organization=partner, role="测试", share=20, confirmed_at=timezone.now()
    )
    other_bid = BidFactory(challenge=challenge)
    staff = UserFactory(is_staff=True)
    expert = ExpertProfileFactory()
    bidder, partner_user = bid.created_by, member_of(partner)

    def visible(user):
        return set(selectors.bids_visible_to(user=user).values_list("pk", flat=True))

    assert visible(bidder) == {bid.pk}
    assert visible(partner_user) == {bid.pk}
    assert visible(other_bid.created_by) == {other_bid.pk}
    assert visible(challenge.created_by) == set()
    assert visible(staff) == set()
    assert visible(expert.user) == set()
    assert list(selectors.bids_received(challenge=challenge, user=challenge.created_by)) == []

    with after_deadline(challenge):
        assert visible(challenge.created_by) == {bid.pk, other_bid.pk}
        assert visible(staff) == {bid.pk, other_bid.pk}
        assert visible(other_bid.created_by) == {other_bid.pk}
        assert visible(expert.user) == set()


def test_deadline_is_enforced_for_submit_revise_withdraw_and_confirm():
    challenge = ChallengeFactory(allow_consortium=True)
    draft = BidFactory(challenge=challenge, status=Bid.Status.DRAFT)
    submitted = BidFactory(challenge=challenge)
    partner = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    member = ConsortiumMember.objects.create(
        bid=submitted, organization=partner, role="x", share=10
    )
    with after_deadline(challenge):
        with pytest.raises(TransitionError):
            services.bid_submit(bid=draft, actor=draft.created_by)
        with pytest.raises(TransitionError):
            services.bid_update(bid=submitted, actor=submitted.created_by, team="新团队")
        with pytest.raises(TransitionError):
            services.bid_withdraw(bid=submitted, actor=submitted.created_by)
        with pytest.raises(TransitionError):
            services.consortium_confirm(member=member, actor=member_of(partner))
        newcomer = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
        with pytest.raises(TransitionError):
            services.bid_create(
                challenge=challenge, organization=newcomer, actor=member_of(newcomer)
            )
    draft.refresh_from_db()
    submitted.refresh_from_db()
    assert draft.status == Bid.Status.DRAFT
    assert submitted.team != "新团队" and submitted.status == Bid.Status.SUBMITTED


def test_bidder_may_revise_and_withdraw_before_the_deadline():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    services.bid_update(bid=bid, actor=bid.created_by, team="新团队")
    services.bid_withdraw(bid=bid, actor=bid.created_by, reason="另有安排")
    bid.refresh_from_db()
    assert bid.team == "新团队" and bid.status == Bid.Status.WITHDRAWN
    with pytest.raises(TransitionError):
        services.bid_update(bid=bid, actor=bid.created_by, team="再改")


def test_deadline_passing_moves_open_to_review_lazily_and_by_beat():
    lazy = ChallengeFactory()
    beat = ChallengeFactory()
    with after_deadline(lazy):
        services.challenge_close_bidding_if_due(challenge=lazy)
        assert services.challenges_close_due() == 1
    lazy.refresh_from_db()
    beat.refresh_from_db()
    assert lazy.status == beat.status == Challenge.Status.REVIEW
    assert transitions(lazy) == [("open", "review")]
    assert transitions(beat) == [("open", "review")]


# --- eligibility and consortium -------------------------------------------------------------------


def _draft_bid(challenge, org, user, **extra):
    indicators = [
        {"indicator_id": i.pk, "approach": "包覆改性", "expected_value": "90"}
        for i in challenge.indicators.all()
    ]
    schedule = [
        {"milestone_id": m.pk, "planned_date": m.due_date} for m in challenge.milestones.all()
    ]
    return services.bid_create(
        challenge=challenge,
        organization=org,
        actor=user,
        technical_approach="技术路线",
        team="团队",
        indicator_responses=indicators,
        schedule=schedule,
        budget_items=[{"item": "材料费", "amount": "120", "note": ""}],
        **extra,
    )


def test_eligibility_is_checked_at_submission_with_a_clear_reason():
    challenge = ChallengeFactory(eligible_kinds=[Organization.Kind.INSTITUTION])
    company = OrganizationFactory(kind=Organization.Kind.ENTERPRISE)
    user = member_of(company)
    bid = _draft_bid(challenge, company, user)
    with pytest.raises(ValidationError) as exc:
        services.bid_submit(bid=bid, actor=user)
    assert any("只接受以下类型" in m for m in exc.value.messages)
    bid.refresh_from_db()
    assert bid.status == Bid.Status.DRAFT

    Challenge.objects.filter(pk=challenge.pk).update(no_threshold=True)
    bid.challenge.refresh_from_db()
    services.bid_submit(bid=bid, actor=user)
    bid.refresh_from_db()
    assert bid.status == Bid.Status.SUBMITTED


def test_invited_challenge_refuses_an_uninvited_bidder_and_missing_answers():
    challenge = ChallengeFactory(access=Challenge.Access.INVITED)
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    user = member_of(lab)
    challenge.invitations.create(organization=lab, invited_by=challenge.created_by)
    bid = services.bid_create(
        challenge=challenge, organization=lab, actor=user, technical_approach="x", team="y"
    )
    challenge.invitations.all().delete()
    with pytest.raises(ValidationError) as exc:
        services.bid_submit(bid=bid, actor=user)
    text = " ".join(exc.value.messages)
    assert "定向邀请" in text and "请逐项说明" in text and "经费预算" in text


def test_consortium_bid_counts_only_when_every_member_confirmed():
    challenge = ChallengeFactory(allow_consortium=True, consortium_max_members=3)
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    partner = OrganizationFactory(kind=Organization.Kind.ENTERPRISE)
    lead_user, partner_user = member_of(lab), member_of(partner)
    bid = _draft_bid(
        challenge,
        lab,
        lead_user,
        consortium=[{"organization": partner, "role": "中试放大", "share": "30"}],
    )
    services.bid_submit(bid=bid, actor=lead_user)
    assert bid.members.get(is_lead=True).share == 70
    assert list(selectors.bids_counting(challenge=challenge)) == []
    with pytest.raises(PermissionDenied):  # only the member organization itself confirms
        services.consortium_confirm(member=bid.members.get(organization=partner), actor=lead_user)
    services.consortium_confirm(member=bid.members.get(organization=partner), actor=partner_user)
    assert list(selectors.bids_counting(challenge=challenge)) == [bid]


def test_consortium_not_allowed_or_too_large_is_refused():
    challenge = ChallengeFactory(allow_consortium=False)
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    user = member_of(lab)
    bid = _draft_bid(
        challenge,
        lab,
        user,
        consortium=[{"organization": OrganizationFactory(), "role": "x", "share": "10"}],
    )
    with pytest.raises(ValidationError) as exc:
        services.bid_submit(bid=bid, actor=user)
    assert "不接受创新联合体" in " ".join(exc.value.messages)


def test_linked_results_must_belong_to_the_bidder():
    challenge = ChallengeFactory()
    lab = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    user = member_of(lab)
    own = ResultFactory(organization=lab)
    foreign = ResultFactory()
    bid = _draft_bid(challenge, lab, user, result_ids=[own.pk])
    assert list(bid.results.all()) == [own]
    with pytest.raises(ValidationError):
        services.bid_update(bid=bid, actor=user, result_ids=[foreign.pk])


# --- review --------------------------------------------------------------------------------------------


def test_conflict_of_interest_blocks_member_and_declared_affiliation_and_is_recorded():
    challenge = ChallengeFactory(allow_consortium=True)
    bid = BidFactory(challenge=challenge)
    partner = OrganizationFactory(kind=Organization.Kind.INSTITUTION)
    ConsortiumMember.objects.create(
        bid=bid, organization=partner, role="x", share=10, confirmed_at=timezone.now()
    )
    insider = ExpertProfileFactory()
    MembershipFactory(user=insider.user, organization=bid.organization)
    affiliated = ExpertProfileFactory()
    affiliated.affiliations.add(partner)
    clean = ExpertProfileFactory()
    enterprise = challenge.created_by
    with after_deadline(challenge):
        services.challenge_close_bidding_if_due(challenge=challenge)
        a1, blocked1 = services.review_assign_expert(
            challenge=challenge, expert=insider, actor=enterprise
        )
        a2, blocked2 = services.review_assign_expert(
            challenge=challenge, expert=affiliated, actor=enterprise
        )
        a3, blocked3 = services.review_assign_expert(
            challenge=challenge, expert=clean, actor=enterprise
        )
    assert a1 is None and [c.kind for c in blocked1] == [ExpertConflict.Kind.MEMBER]
    assert a2 is None and [(c.kind, c.organization) for c in blocked2] == [
        (ExpertConflict.Kind.AFFILIATION, partner)
    ]
    assert a3 is not None and not blocked3
    assert list(ReviewAssignment.objects.values_list("expert", flat=True)) == [clean.pk]
    audits = AuditEvent.objects.filter(
        action="challenge.expert_blocked", target_id=str(challenge.pk)
    )
    assert audits.count() == 2
    assert {a.data["expert"] for a in audits} == {insider.pk, affiliated.pk}


def test_expert_suggestions_rank_by_expertise_and_show_conflicts():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    fit = ExpertProfileFactory(bio="长期研究高镍三元正极材料的包覆改性与循环寿命衰减机理。")
    ExpertProfileFactory(bio="从事园林景观设计与城市规划。")
    conflicted = ExpertProfileFactory(bio="高镍正极")
    conflicted.affiliations.add(bid.organization)
    suggestions = selectors.expert_suggestions(challenge=challenge)
    assert suggestions[0].expert == fit
    assert next(s for s in suggestions if s.expert == conflicted).conflicts == [
        bid.organization.name
    ]


def test_expert_scores_are_hidden_from_peers_until_they_submit_their_own():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    criteria = list(challenge.criteria.all())
    enterprise = challenge.created_by
    e1, e2 = ExpertProfileFactory(), ExpertProfileFactory()
    with after_deadline(challenge):
        services.challenge_close_bidding_if_due(challenge=challenge)
        a1, _ = services.review_assign_expert(challenge=challenge, expert=e1, actor=enterprise)
        a2, _ = services.review_assign_expert(challenge=challenge, expert=e2, actor=enterprise)
        rows = [{"bid_id": bid.pk, "criterion_id": c.pk, "value": 80} for c in criteria]
        services.review_save_scores(assignment=a1, actor=e1.user, scores=rows)
        with pytest.raises(PermissionDenied):
            services.review_save_scores(assignment=a1, actor=e2.user, scores=rows)
        assert selectors.peer_scores(assignment=a2) == []
        services.review_submit(assignment=a1, actor=e1.user)
        assert selectors.peer_scores(assignment=a2) == []  # e2 has not submitted
        a1.refresh_from_db()
        assert selectors.peer_scores(assignment=a1) == []  # e2's drafts stay hidden from e1
        with pytest.raises(ValidationError):  # incomplete
            services.review_submit(assignment=a2, actor=e2.user)
        services.review_save_scores(
            assignment=a2, actor=e2.user, scores=[{**r, "value": 60} for r in rows]
        )
        services.review_submit(assignment=a2, actor=e2.user)
        a2.refresh_from_db()
        assert {s.value for s in selectors.peer_scores(assignment=a2)} == {80}
        with pytest.raises(TransitionError):
            services.review_save_scores(assignment=a2, actor=e2.user, scores=rows)


def test_weighted_totals_ranking_and_outliers():
    challenge = ChallengeFactory()
    bid1, bid2 = BidFactory(challenge=challenge), BidFactory(challenge=challenge)
    with after_deadline(challenge):
        reviewed(
            challenge,
            [bid1, bid2],
            [
                {bid1: [80, 70, 90, 60], bid2: [60, 60, 60, 60]},
                {bid1: [90, 80, 70, 70], bid2: [70, 50, 80, 40]},
                {bid1: [10, 75, 80, 65], bid2: [65, 55, 70, 50]},
            ],
        )
        ranking = selectors.challenge_ranking(challenge=challenge)
    # Weights 30/30/20/20. bid1: (24+21+18+12)=75, (27+24+14+14)=79, (3+22.5+16+13)=54.5
    # → mean 208.5/3 = 69.50. bid2: 60, (21+15+16+8)=60, (19.5+16.5+14+10)=60 → 60.00.
    assert [r.bid for r in ranking] == [bid1, bid2]
    assert ranking[0].total == Decimal("69.50")
    assert ranking[1].total == Decimal("60.00")
    # The 10 on 技术先进性 is 75 points below the others' median (85).
    assert [(s.value, s.criterion.name) for s in ranking[0].outliers] == [(10, "技术先进性")]
    assert ranking[1].outliers == []


def test_is_outlier_rules():
    assert selectors.is_outlier(50, [80, 82]) is True  # > 25 from the median 81
    assert selectors.is_outlier(70, [80, 82]) is False
    assert selectors.is_outlier(95, [70, 72, 74, 76]) is True  # beyond 1.5 IQR
    assert selectors.is_outlier(78, [70, 72, 74, 76]) is False
    assert selectors.is_outlier(90, []) is False


# --- award and execution -------------------------------------------------------------------------------


def _awarded(challenge, winners, bids):
    with after_deadline(challenge):
        reviewed(challenge, bids, [{b: [80, 80, 80, 80] for b in bids}])
        services.challenge_award(
            challenge=challenge,
            actor=challenge.created_by,
            winners=winners,
            reason="方案最优",
            decline_reason="indicators",
        )
    challenge.refresh_from_db()
    return challenge


def test_award_single_winner_creates_contract_ranks_bids_and_notifies(monkeypatch):
    sent = []
    monkeypatch.setattr("notifications.services.notify", lambda **kw: sent.append(kw) or object())
    challenge = ChallengeFactory()
    win, lose = BidFactory(challenge=challenge), BidFactory(challenge=challenge)
    with after_deadline(challenge):
        reviewed(challenge, [win, lose], [{win: [90, 90, 90, 90], lose: [70, 70, 70, 70]}])
        with pytest.raises(ValidationError):  # single mode: exactly one winner
            services.challenge_award(
                challenge=challenge, actor=challenge.created_by, winners=[win, lose], reason="x"
            )
        with pytest.raises(ValidationError):  # a written reason is required
            services.challenge_award(
                challenge=challenge, actor=challenge.created_by, winners=[win], reason=" "
            )
        with pytest.raises(ValidationError) as coded:  # the bid not selected needs a reason
            services.challenge_award(
                challenge=challenge, actor=challenge.created_by, winners=[win], reason="指标最优"
            )
        assert "decline_reason" in coded.value.message_dict
        services.challenge_award(
            challenge=challenge,
            actor=challenge.created_by,
            winners=[win],
            reason="指标最优",
            decline_reason="indicators",
        )
    challenge.refresh_from_db()
    win.refresh_from_db()
    lose.refresh_from_db()
    assert challenge.status == Challenge.Status.AWARDED and challenge.award_reason == "指标最优"
    assert (win.outcome, win.rank, win.score) == (Bid.Outcome.WON, 1, Decimal("90.00"))
    assert (lose.outcome, lose.rank) == (Bid.Outcome.LOST, 2)
    contract = Contract.objects.get()
    assert contract.bid == win and contract.amount == Decimal("300")
    assert contract.milestones.count() == 3
    assert challenge.need.status == Need.Status.MATCHED
    loser_keys = {kw["event_key"] for kw in sent if kw["recipient"] == lose.created_by}
    assert f"challenge:{challenge.pk}:not-awarded" in loser_keys
    rows = selectors.award_result_for_viewer(challenge=challenge, user=lose.created_by)
    assert [r.organization_name for r in rows] == [
        win.organization.name,
        lose.organization.name,
    ]


def _accept(cm, challenge, note="交付"):
    cm.refresh_from_db()
    services.milestone_submit(cm=cm, actor=cm.contract.bid.created_by, note=note)
    return services.milestone_accept(cm=cm, actor=challenge.created_by, comment="通过")


def test_milestone_reject_then_accept_releases_payments_never_above_the_reward():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    challenge = _awarded(challenge, [bid], [bid])
    enterprise = challenge.created_by
    services.challenge_start(challenge=challenge, actor=enterprise)
    first, second, last = ContractMilestone.objects.order_by("milestone__position")
    with pytest.raises(TransitionError):  # not submitted yet
        services.milestone_accept(cm=first, actor=enterprise)
    services.milestone_submit(cm=first, actor=bid.created_by, note="小试报告", measured_value="86%")
    with pytest.raises(ValidationError):
        services.milestone_reject(cm=first, actor=enterprise, comment="")
    services.milestone_reject(cm=first, actor=enterprise, comment="容量保持率数据不完整")
    first.refresh_from_db()
    assert first.status == ContractMilestone.Status.REJECTED and not Payment.objects.exists()
    _accept(first, challenge)
    with pytest.raises(TransitionError):  # accepting twice pays nothing twice
        services.milestone_accept(cm=first, actor=enterprise)
    _accept(second, challenge)
    _accept(last, challenge)
    assert list(Payment.objects.order_by("pk").values_list("amount", flat=True)) == [
        Decimal("90.00"),
        Decimal("90.00"),
        Decimal("120.00"),
    ]
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.COMPLETED
    assert sum(Payment.objects.values_list("amount", flat=True)) == challenge.reward_total
    assert [t for _f, t in transitions(challenge)] == [
        "review",
        "awarded",
        "in_progress",
        "completed",
    ]
    milestone_audits = AuditEvent.objects.filter(
        action="milestone.transition", target_id=str(first.pk)
    ).values_list("to_state", flat=True)
    assert list(milestone_audits.order_by("id")) == [
        "submitted",
        "rejected",
        "submitted",
        "accepted",
    ]


def test_race_with_two_winners_and_down_selection():
    challenge = ChallengeFactory(award_mode=Challenge.AwardMode.RACE, race_winners=2)
    a, b, c = (BidFactory(challenge=challenge) for _ in range(3))
    enterprise = challenge.created_by
    with after_deadline(challenge):
        reviewed(challenge, [a, b, c], [{a: [90] * 4, b: [85] * 4, c: [50] * 4}])
        with pytest.raises(ValidationError):
            services.challenge_award(challenge=challenge, actor=enterprise, winners=[a], reason="x")
        services.challenge_award(
            challenge=challenge,
            actor=enterprise,
            winners=[a, b],
            reason="两家并行攻关",
            decline_reason="route",
        )
    challenge.refresh_from_db()
    services.challenge_start(challenge=challenge, actor=enterprise)
    ca, cb = Contract.objects.get(bid=a), Contract.objects.get(bid=b)
    assert ca.amount == cb.amount == Decimal("150")
    m1 = challenge.milestones.order_by("position").first()
    with pytest.raises(TransitionError):  # the chosen milestone is not accepted yet
        services.challenge_downselect(
            challenge=challenge, actor=enterprise, keep=ca, after_milestone=m1, reason="x"
        )
    _accept(ca.milestones.get(milestone=m1), challenge)
    _accept(cb.milestones.get(milestone=m1), challenge)
    services.challenge_downselect(
        challenge=challenge, actor=enterprise, keep=ca, after_milestone=m1, reason="甲方案中试更优"
    )
    ca.refresh_from_db()
    cb.refresh_from_db()
    assert cb.status == Contract.Status.STOPPED
    assert set(cb.milestones.exclude(milestone=m1).values_list("status", flat=True)) == {"stopped"}
    assert ca.amount == Decimal("255.00")  # 300 minus the 45 paid to the stopped racer
    with pytest.raises(TransitionError):
        services.challenge_downselect(
            challenge=challenge, actor=enterprise, keep=ca, after_milestone=m1, reason="again"
        )
    for cm in ca.milestones.exclude(milestone=m1).order_by("milestone__position"):
        _accept(cm, challenge)
    paid = list(Payment.objects.order_by("pk").values_list("contract__bid", "amount"))
    assert paid == [
        (a.pk, Decimal("45.00")),
        (b.pk, Decimal("45.00")),
        (a.pk, Decimal("90.00")),
        (a.pk, Decimal("120.00")),
    ]
    assert sum(amount for _bid, amount in paid) == challenge.reward_total
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.COMPLETED
    assert AuditEvent.objects.filter(
        action="challenge.downselect", target_id=str(challenge.pk)
    ).exists()


def test_overdue_milestones_are_flagged_once():
    challenge = ChallengeFactory()
    bid = BidFactory(challenge=challenge)
    challenge = _awarded(challenge, [bid], [bid])
    services.challenge_start(challenge=challenge, actor=challenge.created_by)
    first_due = challenge.milestones.order_by("position").first().due_date
    with time_machine.travel(first_due + dt.timedelta(days=2), tick=False):
        assert services.milestones_flag_overdue() == 1
        assert services.milestones_flag_overdue() == 0
        cm = ContractMilestone.objects.get(overdue_at__isnull=False)
        assert cm.is_overdue
    assert AuditEvent.objects.filter(action="milestone.overdue", target_id=str(cm.pk)).count() == 1


def test_cancel_needs_a_reason_and_reopens_the_need():
    challenge = ChallengeFactory()
    Need.objects.filter(pk=challenge.need_id).update(status=Need.Status.IN_CHALLENGE)
    with pytest.raises(ValidationError):
        services.challenge_cancel(challenge=challenge, actor=challenge.created_by, reason="")
    services.challenge_cancel(challenge=challenge, actor=challenge.created_by, reason="需求变更")
    challenge.refresh_from_db()
    challenge.need.refresh_from_db()
    assert challenge.status == Challenge.Status.CANCELLED
    assert challenge.need.status == Need.Status.PUBLISHED
    assert transitions(challenge) == [("open", "cancelled")]
    with pytest.raises(TransitionError):
        services.challenge_cancel(challenge=challenge, actor=challenge.created_by, reason="again")


def test_invite_from_match_creates_an_invited_draft_then_adds_invitations():
    need = NeedFactory()
    enterprise = need.created_by
    m1 = MatchFactory(need=need, result=ResultFactory())
    m2 = MatchFactory(need=need, result=ResultFactory())
    challenge, created = services.challenge_invite_from_match(match=m1, actor=enterprise)
    assert created and challenge.status == Challenge.Status.DRAFT
    assert challenge.access == Challenge.Access.INVITED
    again, created_again = services.challenge_invite_from_match(match=m2, actor=enterprise)
    assert again == challenge and not created_again
    assert set(challenge.invitations.values_list("organization", flat=True)) == {
        m1.result.organization_id,
        m2.result.organization_id,
    }
    with pytest.raises(PermissionDenied):
        services.challenge_invite_from_match(match=m1, actor=m1.result.created_by)
