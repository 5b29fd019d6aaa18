"""Writes for challenges: setup, the state machine, bids, review, award and milestones, one module
per stage.

Every transition checks the actor's role and the current state under a row lock on the challenge
(``common._lock``), goes through the one state guard (``common._require_state``), writes an audit row
in the same transaction, and queues notifications that are sent after commit. An illegal transition
raises ``TransitionError`` (HTTP 409) and changes nothing; bad input raises ``ValidationError`` with
field messages (HTTP 400).
"""

from challenges.services.answers import (
    bid_decline,
    challenge_answers_sweep,
    invitation_answer,
)
from challenges.services.award import (
    challenge_award,
    challenge_downselect,
    challenge_start,
    challenges_remind_deadlines,
    contract_paid,
    milestone_accept,
    milestone_reject,
    milestone_submit,
    milestones_flag_overdue,
)
from challenges.services.bids import (
    BID_FIELDS,
    BID_RELATIONS,
    bid_attachment_add,
    bid_create,
    bid_eligibility_errors,
    bid_submit,
    bid_update,
    bid_withdraw,
    consortium_confirm,
)
from challenges.services.common import CENT, DEFAULT_CRITERIA, TransitionError
from challenges.services.review import (
    review_assign_expert,
    review_recuse_expert,
    review_save_scores,
    review_submit,
)
from challenges.services.setup import (
    CHALLENGE_EDITABLE,
    CHALLENGE_RELATIONS,
    challenge_cancel,
    challenge_close_bidding,
    challenge_close_bidding_if_due,
    challenge_create_from_need,
    challenge_invite,
    challenge_invite_from_match,
    challenge_publish,
    challenge_update,
    challenges_close_due,
)

__all__ = [
    "BID_FIELDS",
    "BID_RELATIONS",
    "CENT",
    "CHALLENGE_EDITABLE",
    "CHALLENGE_RELATIONS",
    "DEFAULT_CRITERIA",
    "TransitionError",
    "bid_attachment_add",
    "bid_create",
    "bid_decline",
    "bid_eligibility_errors",
    "bid_submit",
    "bid_update",
    "bid_withdraw",
    "challenge_answers_sweep",
    "challenge_award",
    "challenge_cancel",
    "challenge_close_bidding",
    "challenge_close_bidding_if_due",
    "challenge_create_from_need",
    "challenge_downselect",
    "challenge_invite",
    "challenge_invite_from_match",
    "challenge_publish",
    "challenge_start",
    "challenge_update",
    "challenges_close_due",
    "challenges_remind_deadlines",
    "consortium_confirm",
    "invitation_answer",
    "contract_paid",
    "milestone_accept",
    "milestone_reject",
    "milestone_submit",
    "milestones_flag_overdue",
    "review_assign_expert",
    "review_recuse_expert",
    "review_save_scores",
    "review_submit",
]
