"""The demo challenges: one in every state, consistent, and loading twice duplicates nothing."""

from __future__ import annotations

import pytest

from accounts.demo import load_accounts
from challenges.demo import load_challenges
from challenges.models import Bid, Challenge, Contract, Payment, ReviewAssignment
from core.demo import DEMO_DIR
from matching.catalogue.demo import load_matching
from taxonomy.services import taxonomy_load

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_challenges_cover_every_state_and_load_idempotently(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    taxonomy_load(path=DEMO_DIR / "taxonomy.json")
    load_accounts(password="demo12345")
    load_matching()
    assert load_challenges() == {"demo challenges": 7}
    counts = (
        Challenge.objects.count(),
        Bid.objects.count(),
        Contract.objects.count(),
        Payment.objects.count(),
        ReviewAssignment.objects.count(),
    )
    load_matching()
    assert load_challenges() == {"demo challenges": 0}
    assert counts == (
        Challenge.objects.count(),
        Bid.objects.count(),
        Contract.objects.count(),
        Payment.objects.count(),
        ReviewAssignment.objects.count(),
    )
    assert set(Challenge.objects.values_list("status", flat=True)) == set(Challenge.Status.values)
    review = Challenge.objects.get(status="review")
    assert review.assignments.filter(
        expert__user__email="expert@demo.example.cn", submitted_at__isnull=True
    ).exists()
    assert Challenge.objects.get(status="awarded").conflicts.exists()
    assert Bid.objects.filter(
        members__organization__memberships__user__email="lab@demo.example.cn",
        members__confirmed_at__isnull=True,
    ).exists()
    completed = Challenge.objects.get(status="completed")
    paid = sum(
        Payment.objects.filter(contract__challenge=completed).values_list("amount", flat=True)
    )
    assert paid == completed.reward_total
    for challenge in Challenge.objects.exclude(status__in=["draft", "cancelled"]):
        assert challenge.need.status in ("in_challenge", "matched")
