"""The operator's numbers, computed from the rows (staff only: the views check ``user_is_staff``).

The funnel follows each published need through its steps. A need *reached* a step when it has that
step's event or any later one (a public need goes to a challenge without an access request, and it
has still passed that step); the time of a step is the first event of that step. Conversion is the
share of needs at one step that reached the next; the median time between two steps is taken over
the needs that have both events. Needs are grouped by the month they were published, in the
platform's time zone.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.demo import DEMO_EMAIL_DOMAIN
from accounts.models import Organization, User
from challenges.contract_package import StatisticalMode, statistical_mode
from challenges.models import (
    Bid,
    Challenge,
    ChallengeInvitation,
    Contract,
    ContractMilestone,
)
from matching.models import Match, MatchFeedback, Need, NeedAccess

STEPS: list[tuple[str, str]] = [
    ("published", _("需求发布")),
    ("matched", _("获得匹配")),
    ("access", _("申请查看/邀请")),
    ("challenge", _("发布榜单")),
    ("bid", _("收到揭榜方案")),
    ("awarded", _("定榜")),
    ("milestone", _("里程碑验收")),
    ("completed", _("完成")),
]
STEP_KEYS = [key for key, _label in STEPS]


@dataclass(frozen=True)
class Filters:
    field_id: int | None = None
    region_id: int | None = None
    org_kind: str = ""

    def apply(self, needs: QuerySet[Need]) -> QuerySet[Need]:
        if self.field_id:
            needs = needs.filter(field_id=self.field_id)
        if self.region_id:
            needs = needs.filter(region_id=self.region_id)
        if self.org_kind:
            needs = needs.filter(organization__kind=self.org_kind)
        return needs


def month_of(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m")


def _first(target: dict[int, datetime], need_id: int, moment: datetime | None) -> None:
    if moment is not None and (need_id not in target or moment < target[need_id]):
        target[need_id] = moment


def need_step_times(*, filters: Filters = Filters()) -> dict[int, dict[str, datetime]]:
    """For each published need (after filters): the first time of each step it has an event for."""
    needs = filters.apply(Need.objects.filter(published_at__isnull=False))
    times: dict[str, dict[int, datetime]] = {key: {} for key in STEP_KEYS}
    for pk, published_at in needs.values_list("pk", "published_at"):
        times["published"][pk] = published_at
    ids = list(times["published"])

    min_score = settings.MATCHER_MIN_SCORE
    for need_id, moment in Match.objects.filter(need_id__in=ids, score__gte=min_score).values_list(
        "need_id", "created_at"
    ):
        _first(times["matched"], need_id, moment)
    for need_id, moment in NeedAccess.objects.filter(need_id__in=ids).values_list(
        "need_id", "created_at"
    ):
        _first(times["access"], need_id, moment)
    for need_id, moment in ChallengeInvitation.objects.filter(
        challenge__need_id__in=ids
    ).values_list("challenge__need_id", "created_at"):
        _first(times["access"], need_id, moment)
    for need_id, published_at, awarded_at in Challenge.objects.filter(
        need_id__in=ids, published_at__isnull=False
    ).values_list("need_id", "published_at", "awarded_at"):
        _first(times["challenge"], need_id, published_at)
        _first(times["awarded"], need_id, awarded_at)
    for need_id, moment in Bid.objects.filter(
        challenge__need_id__in=ids, submitted_at__isnull=False
    ).values_list("challenge__need_id", "submitted_at"):
        _first(times["bid"], need_id, moment)
    accepted = ContractMilestone.objects.filter(
        contract__challenge__need_id__in=ids,
        status=ContractMilestone.Status.ACCEPTED,
        decided_at__isnull=False,
    ).values_list("contract__challenge__need_id", "decided_at", "contract__challenge__status")
    last_accepted: dict[int, datetime] = {}
    for need_id, moment, challenge_status in accepted:
        _first(times["milestone"], need_id, moment)
        if challenge_status == Challenge.Status.COMPLETED:
            # No completion timestamp is stored: a challenge completes with its last acceptance.
            if need_id not in last_accepted or moment > last_accepted[need_id]:
                last_accepted[need_id] = moment
    times["completed"] = last_accepted

    return {
        need_id: {key: times[key][need_id] for key in STEP_KEYS if need_id in times[key]}
        for need_id in ids
    }


def reached(events: dict[str, datetime], step: str) -> bool:
    index = STEP_KEYS.index(step)
    return any(key in events for key in STEP_KEYS[index:])


@dataclass
class FunnelRow:
    month: str
    counts: dict[str, int] = field(default_factory=dict)

    def conversion(self, step: str) -> float | None:
        index = STEP_KEYS.index(step)
        if index == 0:
            return None
        before = self.counts[STEP_KEYS[index - 1]]
        return self.counts[step] / before if before else None


def funnel(*, filters: Filters = Filters()) -> dict:
    """Counts per month and in total, conversions and median days between consecutive steps."""
    per_need = need_step_times(filters=filters)
    months: dict[str, FunnelRow] = {}
    total = FunnelRow(month="total", counts={key: 0 for key in STEP_KEYS})
    gaps: dict[str, list[float]] = defaultdict(list)
    for events in per_need.values():
        month = month_of(events["published"])
        row = months.setdefault(month, FunnelRow(month=month, counts={k: 0 for k in STEP_KEYS}))
        for key in STEP_KEYS:
            if reached(events, key):
                row.counts[key] += 1
                total.counts[key] += 1
        for before, after in zip(STEP_KEYS, STEP_KEYS[1:], strict=False):
            if before in events and after in events:
                gaps[after].append((events[after] - events[before]).total_seconds() / 86400)
    rows = [months[m] for m in sorted(months)]
    return {
        "steps": [{"key": key, "label": str(label)} for key, label in STEPS],
        "months": [
            {
                "month": row.month,
                "counts": row.counts,
                "conversion": {key: row.conversion(key) for key in STEP_KEYS[1:]},
            }
            for row in rows
        ],
        "total": {
            "counts": total.counts,
            "conversion": {key: total.conversion(key) for key in STEP_KEYS[1:]},
            "median_days": {
                key: (round(statistics.median(gaps[key]), 1) if gaps[key] else None)
                for key in STEP_KEYS[1:]
            },
        },
    }


def money(*, filters: Filters = Filters()) -> dict:
    """Reward committed (contract amounts, by month of the award) and paid (each accepted milestone
    releases its share of its contract's amount, by month of acceptance), in 万元."""
    need_ids = filters.apply(Need.objects.filter(published_at__isnull=False)).values("pk")
    committed: dict[str, Decimal] = defaultdict(Decimal)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for amount, created_at, awarded_at in Contract.objects.filter(
        challenge__need_id__in=need_ids
    ).values_list("amount", "created_at", "challenge__awarded_at"):
        committed[month_of(awarded_at or created_at)] += amount
    for amount, share, decided_at in ContractMilestone.objects.filter(
        contract__challenge__need_id__in=need_ids,
        status=ContractMilestone.Status.ACCEPTED,
        decided_at__isnull=False,
    ).values_list("contract__amount", "milestone__share", "decided_at"):
        paid[month_of(decided_at)] += (amount * share / 100).quantize(Decimal("0.01"))
    months = sorted(set(committed) | set(paid))
    return {
        "months": [
            {"month": m, "committed": committed.get(m, Decimal(0)), "paid": paid.get(m, Decimal(0))}
            for m in months
        ],
        "total": {
            "committed": sum(committed.values(), Decimal(0)),
            "paid": sum(paid.values(), Decimal(0)),
        },
    }


def money_by_mode(*, filters: Filters = Filters()) -> dict:
    """Contracts, committed and paid (万元, as in ``money``) by the six modes of the national
    statistics (转让, 许可, 作价投资, 技术开发, 技术服务, 技术咨询); a contract's mode follows its
    need's cooperation modes (``challenges.contract_package.statistical_mode``)."""
    need_ids = filters.apply(Need.objects.filter(published_at__isnull=False)).values("pk")
    counts: Counter = Counter()
    committed: dict[str, Decimal] = defaultdict(Decimal)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    mode_of: dict[int, str] = {}
    for contract in Contract.objects.filter(challenge__need_id__in=need_ids).select_related(
        "challenge__need"
    ):
        mode = statistical_mode(contract.challenge).value
        mode_of[contract.pk] = mode
        counts[mode] += 1
        committed[mode] += contract.amount
    for contract_id, amount, share in ContractMilestone.objects.filter(
        contract_id__in=list(mode_of),
        status=ContractMilestone.Status.ACCEPTED,
        decided_at__isnull=False,
    ).values_list("contract_id", "contract__amount", "milestone__share"):
        paid[mode_of[contract_id]] += (amount * share / 100).quantize(Decimal("0.01"))
    return {
        "modes": [
            {
                "mode": key,
                "label": str(label),
                "contracts": counts[key],
                "committed": committed.get(key, Decimal(0)),
                "paid": paid.get(key, Decimal(0)),
            }
            for key, label in StatisticalMode.choices
        ]
    }


def demo_data_present() -> bool:
    """Demo rows are in the database (``manage.py load_demo``): the dashboard says so."""
    return User.objects.filter(email__endswith=DEMO_EMAIL_DOMAIN).exists()


def feedback(*, filters: Filters = Filters()) -> dict:
    """Shares of 感兴趣 / 不相关 by the need's field, and the decline reasons, most frequent first."""
    need_ids = filters.apply(Need.objects.filter(published_at__isnull=False)).values("pk")
    rows = MatchFeedback.objects.filter(match__need_id__in=need_ids).values_list(
        "match__need__field__name", "verdict", "reason"
    )
    by_field: dict[str, Counter] = defaultdict(Counter)
    reasons: Counter = Counter()
    for field_name, verdict, reason in rows:
        by_field[field_name][verdict] += 1
        if verdict == MatchFeedback.Verdict.NOT_RELEVANT:
            reasons[reason or MatchFeedback.Reason.OTHER] += 1
    fields = []
    for name in sorted(by_field):
        counts = by_field[name]
        total = (
            counts[MatchFeedback.Verdict.INTERESTED] + counts[MatchFeedback.Verdict.NOT_RELEVANT]
        )
        fields.append(
            {
                "field": name,
                "interested": counts[MatchFeedback.Verdict.INTERESTED],
                "not_relevant": counts[MatchFeedback.Verdict.NOT_RELEVANT],
                "interested_share": counts[MatchFeedback.Verdict.INTERESTED] / total
                if total
                else None,
            }
        )
    labels = dict(MatchFeedback.Reason.choices)
    return {
        "fields": fields,
        "reasons": [
            {"reason": key, "label": str(labels.get(key, key)), "count": count}
            for key, count in reasons.most_common()
        ],
    }


def filter_choices() -> dict:
    from taxonomy.models import Field, Region

    return {
        "fields": list(Field.objects.order_by("code").values_list("pk", "name")),
        "regions": list(Region.objects.order_by("position", "name").values_list("pk", "name")),
        "org_kinds": list(Organization.Kind.choices),
    }
