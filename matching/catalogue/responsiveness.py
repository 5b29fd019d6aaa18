"""An organization's responsiveness record: of the requests it had to answer over the last 180
days whose answer was due (or given), the share answered by the deadline and the median time to
answer. Read-only; shown on the organization's public page and in the API through the facts
registry of ``accounts.extensions`` (accounts may not import matching).

Access requests to its needs are counted here. Other apps that ask an organization for coded
answers (challenges: invitations to bid, bids awaiting the enterprise) feed the same record
through ``register_answer_source``: matching sits below them and never imports them."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.models import NeedAccess

WINDOW_DAYS = 180
# Below this many countable requests the record says "数据不足" instead of figures.
MIN_REQUESTS = 5
# How much a poor record lowers an organization's needs in labs' ranked lists (docs/matching.md,
# "Responsiveness in labs' lists"): the sort key is score × (1 − RANK_WEIGHT × share missed).
RANK_WEIGHT = 0.1

# (organization id, started, answered or None, due): one countable request an organization had
# to answer.
AnswerRow = tuple[int, dt.datetime, dt.datetime | None, dt.datetime]
_sources: list[Callable[..., Iterable[AnswerRow]]] = []


def register_answer_source(source: Callable[..., Iterable[AnswerRow]]) -> None:
    """``source(organization_ids=..., since=..., now=...)`` returns the rows the organizations had
    to answer that started at or after ``since`` and were answered or are past due at ``now``
    (registered once at start-up by the app that owns them)."""
    if source not in _sources:
        _sources.append(source)


def _access_rows(*, organization_ids, since: dt.datetime, now: dt.datetime) -> list[AnswerRow]:
    return list(
        NeedAccess.objects.filter(
            need__organization_id__in=organization_ids,
            invited=False,
            respond_by__isnull=False,
            created_at__gte=since,
        )
        .filter(Q(decided_at__isnull=False) | Q(respond_by__lte=now))
        .values_list("need__organization_id", "created_at", "decided_at", "respond_by")
    )


def answer_rows(*, organization_ids, now: dt.datetime) -> dict[int, list[AnswerRow]]:
    """Every countable row of each organization (one query per source, however many)."""
    ids = sorted(set(organization_ids))
    since = now - dt.timedelta(days=WINDOW_DAYS)
    by_org: dict[int, list[AnswerRow]] = {org_id: [] for org_id in ids}
    rows = _access_rows(organization_ids=ids, since=since, now=now)
    for source in _sources:
        rows.extend(source(organization_ids=ids, since=since, now=now))
    for row in rows:
        by_org[row[0]].append(row)
    return by_org


def organization_responsiveness(*, organization_id: int, now: dt.datetime | None = None) -> dict:
    """Countable requests: access requests asked (not invited) in the window, and whatever the
    registered sources count (invitations to bid, bids), with a deadline, and either answered or
    past their deadline. Requests still within their deadline don't count yet."""
    return responsiveness_records([organization_id], now=now)[organization_id]


def responsiveness_records(organization_ids, *, now: dt.datetime | None = None) -> dict[int, dict]:
    """``organization_responsiveness`` of several organizations at once."""
    now = now or timezone.now()
    return {
        org_id: _record(rows)
        for org_id, rows in answer_rows(organization_ids=organization_ids, now=now).items()
    }


def _record(rows: list[AnswerRow]) -> dict:
    record = {
        "window_days": WINDOW_DAYS,
        "requests": len(rows),
        "enough_data": len(rows) >= MIN_REQUESTS,
        "answered_in_time_share": None,
        "median_hours_to_answer": None,
        "label": _("数据不足"),
    }
    if not record["enough_data"]:
        return record
    in_time = sum(1 for _o, _c, decided, due in rows if decided is not None and decided <= due)
    hours = [
        (decided - created).total_seconds() / 3600 for _o, created, decided, _d in rows if decided
    ]
    share = in_time / len(rows)
    median = round(statistics.median(hours), 1) if hours else None
    record |= {
        "answered_in_time_share": round(share, 3),
        "median_hours_to_answer": median,
        "label": _("按时答复 %(share)d%%，答复用时中位数 %(time)s")
        % {"share": round(share * 100), "time": _duration(median)},
    }
    return record


def _duration(hours: float | None) -> str:
    if hours is None:
        return _("无")
    if hours < 48:
        return _("%(n)s 小时") % {"n": round(hours)}
    return _("%(n)s 天") % {"n": round(hours / 24, 1)}


def rank_factor(record: dict) -> float:
    """The multiplier of an organization's needs' scores in labs' lists: 1 without enough data,
    down to ``1 − RANK_WEIGHT`` for an organization that answers nothing in time."""
    if not record["enough_data"] or record["answered_in_time_share"] is None:
        return 1.0
    return 1.0 - RANK_WEIGHT * (1.0 - record["answered_in_time_share"])


def rank_factors(organization_ids, *, now: dt.datetime | None = None) -> dict[int, float]:
    """``rank_factor`` of each organization (a fixed number of queries for any number)."""
    records = responsiveness_records(organization_ids, now=now)
    return {org_id: rank_factor(record) for org_id, record in records.items()}
