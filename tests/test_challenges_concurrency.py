"""Real concurrent transactions on PostgreSQL: two threads, each with its own connection, call the
same service at the same moment (a barrier); the row lock lets exactly one succeed."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from challenges import services
from challenges.models import Bid, Challenge, Contract, ContractMilestone, Payment
from challenges.services import TransitionError
from core.models import AuditEvent
from tests.factories import BidFactory, ChallengeFactory, ExpertProfileFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def quiet_side_effects(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with mock.patch("matching.tasks.index_and_match.delay"):
        yield


def race(*calls) -> list[object]:
    """Run each call in its own thread and connection, released together; return results/errors."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what we assert on
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def reviewed_challenge(**kwargs) -> tuple[Challenge, list[Bid]]:
    challenge = ChallengeFactory(**kwargs)
    bids = [BidFactory(challenge=challenge), BidFactory(challenge=challenge)]
    services.challenge_close_bidding_if_due(challenge=challenge)
    expert = ExpertProfileFactory()
    assignment, _ = services.review_assign_expert(
        challenge=challenge, expert=expert, actor=challenge.created_by
    )
    rows = [
        {"bid_id": b.pk, "criterion_id": c.pk, "value": 80}
        for b in bids
        for c in challenge.criteria.all()
    ]
    services.review_save_scores(assignment=assignment, actor=expert.user, scores=rows)
    services.review_submit(assignment=assignment, actor=expert.user)
    return challenge, bids


def test_two_concurrent_awards_award_once():
    deadline = timezone.now() + dt.timedelta(days=7)
    with time_machine.travel(deadline + dt.timedelta(days=1)):
        challenge, (a, b) = reviewed_challenge(bid_deadline=deadline)
        enterprise = challenge.created_by
        outcomes = race(
            lambda: services.challenge_award(
                challenge=challenge,
                actor=enterprise,
                winners=[a],
                reason="甲更优",
                decline_reason="route",
            ),
            lambda: services.challenge_award(
                challenge=challenge,
                actor=enterprise,
                winners=[b],
                reason="乙更优",
                decline_reason="route",
            ),
        )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], TransitionError), outcomes
    assert Contract.objects.filter(challenge=challenge).count() == 1
    assert Bid.objects.filter(challenge=challenge, outcome=Bid.Outcome.WON).count() == 1
    assert (
        AuditEvent.objects.filter(
            action="challenge.transition", target_id=str(challenge.pk), to_state="awarded"
        ).count()
        == 1
    )


def test_two_concurrent_acceptances_pay_once_and_never_above_the_reward():
    deadline = timezone.now() + dt.timedelta(days=7)
    with time_machine.travel(deadline + dt.timedelta(days=1)):
        challenge, (a, b) = reviewed_challenge(
            bid_deadline=deadline,
            award_mode=Challenge.AwardMode.RACE,
            race_winners=2,
        )
        enterprise = challenge.created_by
        services.challenge_award(
            challenge=challenge,
            actor=enterprise,
            winners=[a, b],
            reason="并行攻关",
            decline_reason="route",
        )
        services.challenge_start(challenge=challenge, actor=enterprise)
        first = challenge.milestones.order_by("position").first()
        cm_a = ContractMilestone.objects.get(contract__bid=a, milestone=first)
        cm_b = ContractMilestone.objects.get(contract__bid=b, milestone=first)
        services.milestone_submit(cm=cm_a, actor=a.created_by, note="报告")
        services.milestone_submit(cm=cm_b, actor=b.created_by, note="报告")

        same = race(
            lambda: services.milestone_accept(cm=cm_a, actor=enterprise, comment="通过"),
            lambda: services.milestone_accept(cm=cm_a, actor=enterprise, comment="通过"),
        )
        assert sum(isinstance(o, TransitionError) for o in same) == 1, same
        assert Payment.objects.filter(contract_milestone=cm_a).count() == 1

        # The other racer's milestone, accepted twice at once as well: one payment.
        other = race(
            lambda: services.milestone_accept(cm=cm_b, actor=enterprise, comment="通过"),
            lambda: services.milestone_accept(cm=cm_b, actor=enterprise, comment="通过"),
        )
        assert sum(isinstance(o, TransitionError) for o in other) == 1, other
    total = sum(
        Payment.objects.filter(contract__challenge=challenge).values_list("amount", flat=True)
    )
    assert total == Decimal("90.00") <= challenge.reward_total
