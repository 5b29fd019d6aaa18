"""Celery beat tasks of challenges. Thin and idempotent: each calls a service that claims rows with
filtered updates, so a redelivered run (acks_late) changes and sends nothing twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, name="challenges.close_due_challenges")
def close_due_challenges() -> int:
    """Move open challenges past their bid deadline to review."""
    from challenges import services

    return services.challenges_close_due()


@shared_task(acks_late=True, name="challenges.flag_overdue_milestones")
def flag_overdue_milestones() -> int:
    """Flag (once) and notify open milestones past their due date."""
    from challenges import services

    return services.milestones_flag_overdue()


@shared_task(acks_late=True, name="challenges.remind_bid_deadlines")
def remind_bid_deadlines() -> int:
    """Remind bidders whose bid would not count at a deadline less than a day away."""
    from challenges import services

    return services.challenges_remind_deadlines()


@shared_task(acks_late=True, name="challenges.answers_sweep")
def answers_sweep() -> dict:
    """Remind invited organizations and enterprises of answers due soon; record missed ones."""
    from challenges import services

    return services.challenge_answers_sweep()
