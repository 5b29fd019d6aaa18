"""A year of plausible platform activity for the operator dashboard's browser test and screenshot:
needs published every month in four fields, most matched, some going on to a challenge, bids, an
award, accepted milestones and completion, with feedback on the matches. Deterministic (seeded)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from challenges.models import Challenge, ChallengeMilestone, Contract, ContractMilestone
from matching.models import Match, MatchFeedback, NeedAccess
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    FieldFactory,
    MatchFactory,
    NeedFactory,
    OrganizationFactory,
)

TZ = ZoneInfo("Asia/Shanghai")
FIELDS = [
    ("ops_energy", "新能源"),
    ("ops_bio", "生物医药"),
    ("ops_ic", "集成电路"),
    ("ops_mat", "新材料"),
]


def year_of_activity(*, seed: int = 15, start: datetime | None = None) -> int:
    rng = random.Random(seed)
    start = start or datetime(2025, 1, 1, 9, 0, tzinfo=TZ)
    fields = [FieldFactory(code=code, name=name) for code, name in FIELDS]
    lab = OrganizationFactory(kind="institution", name="江南材料研究院")
    made = 0
    for month in range(12):
        for _ in range(rng.randint(4, 9)):
            published = start + timedelta(
                days=30 * month + rng.randint(0, 27), hours=rng.randint(0, 8)
            )
            need = NeedFactory(field=rng.choice(fields), published_at=published)
            made += 1
            if rng.random() > 0.8:
                continue
            match = MatchFactory(need=need, score=round(rng.uniform(0.3, 0.9), 2))
            when = published + timedelta(days=rng.randint(0, 3))
            Match.objects.filter(pk=match.pk).update(created_at=when)
            interested = rng.random() < 0.6
            MatchFeedback.objects.create(
                match=match,
                organization=need.organization,
                user=need.created_by,
                verdict=MatchFeedback.Verdict.INTERESTED
                if interested
                else MatchFeedback.Verdict.NOT_RELEVANT,
                reason="" if interested else rng.choice(MatchFeedback.Reason.values),
            )
            if rng.random() > 0.6:
                continue
            when += timedelta(days=rng.randint(1, 10))
            access = NeedAccess.objects.create(need=need, organization=lab)
            NeedAccess.objects.filter(pk=access.pk).update(created_at=when)
            if rng.random() > 0.7:
                continue
            when += timedelta(days=rng.randint(5, 20))
            challenge = ChallengeFactory(
                need=need, published_at=when, reward_total=Decimal(rng.choice([100, 200, 300, 500]))
            )
            bid_at = when + timedelta(days=rng.randint(3, 15))
            if rng.random() > 0.8:
                continue
            bid = BidFactory(challenge=challenge, submitted_at=bid_at)
            if rng.random() > 0.6:
                continue
            awarded = bid_at + timedelta(days=rng.randint(10, 30))
            contract = Contract.objects.create(
                challenge=challenge,
                bid=bid,
                organization=bid.organization,
                amount=challenge.reward_total,
            )
            accepted = 0
            decided = awarded
            milestones = list(
                ChallengeMilestone.objects.filter(challenge=challenge).order_by("position")
            )
            for milestone in milestones:
                decided += timedelta(days=rng.randint(20, 60))
                if decided > start + timedelta(days=365) or rng.random() > 0.8:
                    break
                ContractMilestone.objects.create(
                    contract=contract,
                    milestone=milestone,
                    status=ContractMilestone.Status.ACCEPTED,
                    decided_at=decided,
                )
                accepted += 1
            status = (
                Challenge.Status.COMPLETED
                if accepted == len(milestones)
                else Challenge.Status.IN_PROGRESS
            )
            Challenge.objects.filter(pk=challenge.pk).update(awarded_at=awarded, status=status)
    return made
