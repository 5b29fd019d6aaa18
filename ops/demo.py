"""A year of plausible platform activity for the operator dashboard, marked as demo.

``load_history`` writes, for the twelve months up to today, needs published every month in six
fields by demo enterprises, most of them matched to results of demo labs, with feedback; access
requests; challenges with bids, awards, accepted milestones with their payments, and completions.
Every row belongs to a demo organization (name prefix ``演示·``, members ``@demo.example.cn``),
so ``ops.selectors.demo_data_present`` sees it and /ops/ says “演示数据”.

Deterministic (seeded) and idempotent: when the history's needs exist, nothing is written. Rows are
written directly (not through the services): the history is in the past, sends no email and
enqueues no matcher task. ``manage.py load_demo`` calls it; tests call it with a fixed ``today``.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import DEMO_EMAIL_DOMAIN
from accounts.models import Membership, Organization, User
from accounts.validators import credit_code_check_char
from challenges.contract_package import planned_amounts
from challenges.models import (
    Bid,
    Challenge,
    ChallengeMilestone,
    ConsortiumMember,
    Contract,
    ContractMilestone,
    Payment,
    RubricCriterion,
)
from matching.models import (
    CoopMode,
    Match,
    MatchFeedback,
    Need,
    NeedAccess,
    NeedIndicator,
    Result,
)
from taxonomy.models import Field, Region

DEMO_ORG_PREFIX = "演示·"
HISTORY_REF = "ops-history-"
SEED = 15

# (sub-field code, need topics: (title, indicator, operator, target, unit))
TOPICS: list[tuple[str, list[tuple[str, str, str, str, str]]]] = [
    (
        "new_energy.batteries",
        [
            ("高镍正极材料循环寿命提升", "容量保持率", ">=", "85", "%"),
            ("动力电池快充热管理方案", "充电时间", "<=", "15", "min"),
            ("钠离子电池硬碳负极量产工艺", "首效", ">=", "88", "%"),
        ],
    ),
    (
        "ic.packaging",
        [
            ("先进封装晶圆级键合良率提升", "键合良率", ">=", "99.5", "%"),
            ("功率模块低热阻封装材料", "热阻", "<=", "0.2", "K/W"),
        ],
    ),
    (
        "biomedicine.diagnostics",
        [
            ("化学发光检测试剂灵敏度提升", "检出限", "<=", "0.05", "ng/mL"),
            ("POCT 快速检测卡稳定性", "有效期", ">=", "18", "月"),
        ],
    ),
    (
        "new_materials.coatings",
        [
            ("海洋工程防腐涂层寿命提升", "耐盐雾", ">=", "3000", "h"),
            ("光伏玻璃减反射镀膜", "透光率增益", ">=", "2.5", "%"),
        ],
    ),
    (
        "advanced_manufacturing.smart_factory",
        [
            ("注塑产线视觉质检", "漏检率", "<=", "0.1", "%"),
            ("离散制造排产优化系统", "设备综合效率提升", ">=", "10", "%"),
        ],
    ),
    (
        "environment.water",
        [
            ("高盐废水零排放工艺", "回用率", ">=", "95", "%"),
            ("印染废水脱色处理", "色度去除率", ">=", "90", "%"),
        ],
    ),
]
ENTERPRISES = [
    ("苏州恒锂新能源科技有限公司", "江苏省", "苏州"),
    ("无锡芯联封装技术有限公司", "江苏省", "无锡"),
    ("杭州明析生物科技有限公司", "浙江省", "杭州"),
    ("宁波海工防护材料有限公司", "浙江省", "宁波"),
    ("合肥智造装备股份有限公司", "安徽省", "合肥"),
    ("南通清源环保工程有限公司", "江苏省", "南通"),
]
LABS = [
    ("江南材料研究院", "江苏省", "南京"),
    ("东海大学先进制造研究中心", "上海市", "上海"),
    ("钱塘生命科学研究所", "浙江省", "杭州"),
]
# The need's cooperation modes of a challenge, weighted so that every statistical mode shows.
MODES = [
    ([CoopMode.COMMISSIONED], 30),
    ([CoopMode.JOINT_RESEARCH], 15),
    ([CoopMode.TRANSFER], 15),
    ([CoopMode.LICENSE], 15),
    ([CoopMode.EQUITY], 10),
    ([CoopMode.SERVICE], 15),
]
MILESTONES = [("方案设计", 30), ("样机/小试", 30), ("验收交付", 40)]
CRITERIA = [("技术先进性", 30), ("可行性", 30), ("团队能力", 20), ("经费合理性", 20)]


def _credit_code(prefix: str, n: int) -> str:
    body = f"{prefix}320500DEMH{n:05d}"
    return body + credit_code_check_char(body)


def _org(kind: str, name: str, region: str, city: str, n: int, password: str) -> tuple:
    code = _credit_code("91" if kind == Organization.Kind.ENTERPRISE else "12", n)
    org, _ = Organization.objects.update_or_create(
        credit_code=code,
        defaults={
            "name": DEMO_ORG_PREFIX + name,
            "kind": kind,
            "region": Region.objects.filter(name=region).first(),
            "city": city,
            "description": "演示数据：运营看板的一年活动。",
            "verified_at": timezone.now(),
        },
    )
    email = f"ops-history-{n}{DEMO_EMAIL_DOMAIN}"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(email=email, name=f"演示用户{n}", email_confirmed_at=timezone.now())
        user.set_password(password)
        user.save()
    Membership.objects.get_or_create(
        user=user, organization=org, defaults={"role": Membership.Role.OWNER}
    )
    return org, user


def _moment(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(
        datetime.combine(day, time(9 + rng.randint(0, 8), rng.randint(0, 59)))
    )


def _set(model, pk: int, **fields) -> None:
    """Backdate auto_now(_add) columns: they ignore values given at create()."""
    model.objects.filter(pk=pk).update(**fields)


def load_history(*, password: str, today: date | None = None) -> dict[str, int]:
    """Write the demo year once; ``{"demo history needs": n}`` (0 when it is already there)."""
    if Need.objects.filter(external_ref__startswith=HISTORY_REF).exists():
        return {"demo history needs": 0}
    fields = {f.code: f for f in Field.objects.filter(code__in=[c for c, _t in TOPICS])}
    if len(fields) < len(TOPICS):
        return {"demo history needs": 0}  # no taxonomy loaded
    with transaction.atomic():
        return {"demo history needs": _write(password, today or timezone.localdate(), fields)}


def _write(password: str, today: date, fields: dict[str, Field]) -> int:
    rng = random.Random(SEED)
    now = timezone.now()
    enterprises = [
        _org(Organization.Kind.ENTERPRISE, name, region, city, i, password)
        for i, (name, region, city) in enumerate(ENTERPRISES, start=1)
    ]
    labs = [
        _org(Organization.Kind.INSTITUTION, name, region, city, 50 + i, password)
        for i, (name, region, city) in enumerate(LABS, start=1)
    ]
    results = []
    for index, (code, topics) in enumerate(TOPICS):
        lab, lab_user = labs[index % len(labs)]
        result, _ = Result.objects.get_or_create(
            organization=lab,
            external_ref=f"{HISTORY_REF}result-{index}",
            defaults={
                "created_by": lab_user,
                "title": f"{topics[0][0]}关键技术",
                "abstract": f"面向{topics[0][0]}的成套技术，已完成中试验证。",
                "field": fields[code],
                "trl": 6,
                "transfer_modes": [CoopMode.LICENSE, CoopMode.JOINT_DEV],
                "status": Result.Status.PUBLISHED,
                "published_at": now - timedelta(days=400),
                "valid_until": (now + timedelta(days=365)).date(),
            },
        )
        results.append(result)

    made = 0
    for back in range(11, -1, -1):  # the twelve months up to this one, oldest first
        index = today.year * 12 + today.month - 1 - back
        month_start = date(index // 12, index % 12 + 1, 1)
        for _n in range(rng.randint(5, 9)):
            day = month_start + timedelta(days=rng.randint(0, 27))
            if day > today:
                continue
            published = _moment(day, rng)
            if published > now:
                published = now - timedelta(hours=1)
            made += 1
            _need_history(rng, made, published, now, fields, enterprises, labs, results)
    return made


def _need_history(rng, n, published, now, fields, enterprises, labs, results) -> None:
    topic_index = rng.randrange(len(TOPICS))
    code, topics = TOPICS[topic_index]
    title, indicator_name, operator, target, unit = rng.choice(topics)
    org, owner = enterprises[topic_index % len(enterprises)]
    modes = rng.choices([m for m, _w in MODES], weights=[w for _m, w in MODES])[0]
    need = Need.objects.create(
        organization=org,
        created_by=owner,
        title=title,
        summary=f"寻求{title}的技术方案。",
        description=f"{title}：现有工艺指标不足，希望{indicator_name}达到{target}{unit}。",
        field=fields[code],
        region=org.region,
        budget_min=Decimal(rng.choice([50, 100, 200])),
        budget_max=Decimal(rng.choice([300, 500])),
        coop_modes=list(modes),
        trl_min=rng.randint(4, 7),
        confidentiality=Need.Confidentiality.PUBLIC,
        status=Need.Status.PUBLISHED,
        external_ref=f"{HISTORY_REF}{n:04d}",
        published_at=published,
        valid_until=(published + timedelta(days=365)).date(),
    )
    _set(Need, need.pk, created_at=published)
    indicator = NeedIndicator.objects.create(
        need=need, name=indicator_name, operator=operator, target=target, unit=unit
    )
    if rng.random() > 0.85:
        return  # no match yet
    when = published + timedelta(hours=rng.randint(1, 48))
    lab, lab_user = labs[topic_index % len(labs)]
    match = Match.objects.create(
        need=need,
        result=results[topic_index],
        score=round(rng.uniform(0.45, 0.9), 3),
        components={"dense": 0.7, "lexical": 0.5, "fit": 1.0},
        explanation={"shared_terms": [indicator_name], "fit": [], "evidence": []},
        model_version="demo-history",
    )
    _set(Match, match.pk, created_at=when, updated_at=when)
    interested = rng.random() < 0.65
    feedback = MatchFeedback.objects.create(
        match=match,
        organization=org,
        user=owner,
        verdict=MatchFeedback.Verdict.INTERESTED
        if interested
        else MatchFeedback.Verdict.NOT_RELEVANT,
        reason="" if interested else rng.choice(MatchFeedback.Reason.values),
    )
    _set(MatchFeedback, feedback.pk, created_at=when + timedelta(days=1))
    if not interested or rng.random() > 0.75:
        return
    when += timedelta(days=rng.randint(1, 10))
    if when > now:
        return
    access = NeedAccess.objects.create(
        need=need,
        organization=lab,
        status=NeedAccess.Status.APPROVED,
        requested_by=lab_user,
        terms_accepted_at=when,
        terms_accepted_by=lab_user,
        decided_by=owner,
        decided_at=when + timedelta(days=1),
    )
    _set(NeedAccess, access.pk, created_at=when)
    if rng.random() > 0.85:
        return
    when += timedelta(days=rng.randint(5, 20))
    if when > now:
        return
    _challenge_history(rng, need, indicator, when, now, owner, labs, topic_index)


def _challenge_history(rng, need, indicator, published, now, owner, labs, topic_index) -> None:
    reward = Decimal(rng.choice([80, 120, 200, 300, 500]))
    deadline = published + timedelta(days=rng.randint(14, 30))
    challenge = Challenge.objects.create(
        need=need,
        organization=need.organization,
        created_by=owner,
        title=need.title,
        intro=f"揭榜挂帅：{need.title}，{indicator}。",
        status=Challenge.Status.OPEN,
        reward_total=reward,
        reward_split="按里程碑 30% / 30% / 40% 拨付。",
        bid_deadline=deadline,
        published_at=published,
    )
    challenge.indicators.set([indicator])
    RubricCriterion.objects.bulk_create(
        RubricCriterion(challenge=challenge, name=name, weight=weight, position=i)
        for i, (name, weight) in enumerate(CRITERIA)
    )
    milestones = [
        ChallengeMilestone.objects.create(
            challenge=challenge,
            name=name,
            deliverable=f"{name}报告",
            indicator=indicator,
            criterion=f"{name}通过甲方评审",
            due_date=(deadline + timedelta(days=60 * (i + 1))).date(),
            share=share,
            position=i,
        )
        for i, (name, share) in enumerate(MILESTONES)
    ]
    bidders = rng.sample(labs, k=rng.randint(1, len(labs)))
    if rng.random() > 0.85:
        bidders = []
    bids = []
    for lab, lab_user in bidders:
        submitted = published + timedelta(days=rng.randint(2, 12))
        if submitted > now or submitted > deadline:
            continue
        bid = Bid.objects.create(
            challenge=challenge,
            organization=lab,
            created_by=lab_user,
            status=Bid.Status.SUBMITTED,
            technical_approach=f"针对{need.title}的技术路线：材料与工艺协同优化，分三阶段验证。",
            team="研究员2人，博士4人，工程师3人。",
            submitted_at=submitted,
        )
        ConsortiumMember.objects.create(
            bid=bid,
            organization=lab,
            is_lead=True,
            role="牵头单位",
            share=100,
            confirmed_at=submitted,
        )
        bids.append(bid)
    if deadline > now:
        Need.objects.filter(pk=need.pk).update(status=Need.Status.IN_CHALLENGE)
        return
    if not bids:
        Challenge.objects.filter(pk=challenge.pk).update(
            status=Challenge.Status.CANCELLED, cancel_reason="截止时无人揭榜。"
        )
        return
    awarded_at = deadline + timedelta(days=rng.randint(7, 25))
    if awarded_at > now or rng.random() > 0.85:
        Challenge.objects.filter(pk=challenge.pk).update(status=Challenge.Status.REVIEW)
        Need.objects.filter(pk=need.pk).update(status=Need.Status.IN_CHALLENGE)
        return
    winner, *losers = bids
    Bid.objects.filter(pk=winner.pk).update(
        outcome=Bid.Outcome.WON, rank=1, score=Decimal(rng.randint(80, 95))
    )
    for rank, loser in enumerate(losers, start=2):
        Bid.objects.filter(pk=loser.pk).update(
            outcome=Bid.Outcome.LOST, rank=rank, score=Decimal(rng.randint(60, 79))
        )
    contract = Contract.objects.create(
        challenge=challenge, bid=winner, organization=winner.organization, amount=reward
    )
    _set(Contract, contract.pk, created_at=awarded_at)
    parts = planned_amounts(reward, [m.share for m in milestones])
    decided = awarded_at
    accepted = 0
    for milestone, part in zip(milestones, parts, strict=True):
        decided += timedelta(days=rng.randint(25, 70))
        done = decided <= now and rng.random() < 0.85 and accepted == milestones.index(milestone)
        cm = ContractMilestone.objects.create(
            contract=contract,
            milestone=milestone,
            status=ContractMilestone.Status.ACCEPTED if done else ContractMilestone.Status.PENDING,
            deliverable_note=f"{milestone.name}成果已提交。" if done else "",
            submitted_at=decided - timedelta(days=3) if done else None,
            submitted_by=winner.created_by if done else None,
            decided_at=decided if done else None,
            decided_by=owner if done else None,
            decision_comment="验收通过。" if done else "",
        )
        if done:
            accepted += 1
            payment = Payment.objects.create(
                contract_milestone=cm, contract=contract, amount=part, released_by=owner
            )
            _set(Payment, payment.pk, released_at=decided)
    completed = accepted == len(milestones)
    Challenge.objects.filter(pk=challenge.pk).update(
        status=Challenge.Status.COMPLETED if completed else Challenge.Status.IN_PROGRESS,
        awarded_at=awarded_at,
        award_reason="综合得分最高。",
    )
    if completed:
        Contract.objects.filter(pk=contract.pk).update(status=Contract.Status.COMPLETED)
    Need.objects.filter(pk=need.pk).update(status=Need.Status.MATCHED)
