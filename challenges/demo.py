"""Demo challenges in every state, built through the services from the demo enterprise's published
needs, so a newcomer can click through the whole flow as enterprise@, lab@ and expert@demo.example.cn.

Idempotent: a need that already has a demo challenge is left alone (only its status is put back in
line with the challenge, since the needs loader resets it). Deadlines in the past are made by moving
the deadline back after bidding (``_close``), which only demo data may do. No email is sent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import organization_keys
from accounts.models import ExpertProfile, Membership, Organization, User
from challenges import notify, services
from challenges.models import Bid, Challenge, ContractMilestone
from matching.models import Need

ENTERPRISE = "enterprise@demo.example.cn"
LAB = "lab@demo.example.cn"
EXPERT = "expert@demo.example.cn"
# Experts with no tie to the bidding institutions below (see fixtures/demo/experts_part1.json).
OTHER_EXPERTS = ("zhanghr.exp@demo.example.cn", "kongly.exp@demo.example.cn")
PLAN = ("draft", "open", "review", "awarded", "in_progress", "completed", "cancelled")
NEED_STATUS = {
    "draft": Need.Status.PUBLISHED,
    "cancelled": Need.Status.PUBLISHED,
    "open": Need.Status.IN_CHALLENGE,
    "review": Need.Status.IN_CHALLENGE,
    "awarded": Need.Status.MATCHED,
    "in_progress": Need.Status.MATCHED,
    "completed": Need.Status.MATCHED,
}


def load_challenges() -> dict[str, int]:
    users = {
        u.email: u for u in User.objects.filter(email__in=[ENTERPRISE, LAB, EXPERT, *OTHER_EXPERTS])
    }
    orgs = organization_keys()
    enterprise_org, lab_org = orgs.get("ent-p1-01"), orgs.get("inst-p1-01")
    if ENTERPRISE not in users or enterprise_org is None or lab_org is None:
        return {"demo challenges": 0}
    candidates = list(
        Need.objects.filter(
            organization=enterprise_org,
            status__in=Need.OPEN_STATUSES + (Need.Status.MATCHED,),
            confidentiality__in=[Need.Confidentiality.PUBLIC, Need.Confidentiality.SUMMARY],
        )
        .exclude(indicators__isnull=True)
        .distinct()
        .order_by("external_ref", "pk")
    )
    public = [n for n in candidates if n.confidentiality == Need.Confidentiality.PUBLIC]
    # Bidders must see the full terms, so challenges with bids use public needs; the draft (which
    # has none yet) takes a summary-public one when there is one.
    summary = [n for n in candidates if n.confidentiality == Need.Confidentiality.SUMMARY]
    draft_need = (summary or public[len(PLAN) - 1 :] or [None])[0]
    needs = [draft_need, *public[: len(PLAN) - 1]]
    demo = _Demo(users=users, orgs=orgs, enterprise=users[ENTERPRISE])
    created = 0
    with notify.muted():
        for state, need in zip(PLAN, needs, strict=False):
            if need is None:
                continue
            existing = Challenge.objects.filter(need=need).first()
            if existing is None:
                with transaction.atomic():
                    getattr(demo, f"make_{state}")(need)
                created += 1
                existing = Challenge.objects.get(need=need)
            Need.objects.filter(pk=need.pk).update(status=NEED_STATUS[existing.status])
    return {"demo challenges": created}


class _Demo:
    def __init__(self, *, users: dict[str, User], orgs: dict[str, Organization], enterprise: User):
        self.users, self.orgs, self.enterprise = users, orgs, enterprise

    # --- helpers -----------------------------------------------------------------------------------

    def _owner(self, key: str) -> User:
        org = self.orgs[key]
        membership = (
            Membership.objects.filter(organization=org).order_by("-role", "pk").first()
            if key != "inst-p1-01"
            else Membership.objects.get(organization=org, user=self.users[LAB])
        )
        return membership.user

    def _challenge(self, need: Need, **terms) -> Challenge:
        # The draft below leaves its IP terms open, so the demo shows a 榜单 quality gap.
        terms.setdefault(
            "ip_terms",
            "攻关中新产生的专利和技术秘密归出题单位所有；揭榜单位保留署名权，并享有免费的非独占科研使用权。",
        )
        today = timezone.localdate()
        indicators = list(need.indicators.all())
        budget = need.budget_max or need.budget_min or Decimal("200")
        milestones = [
            {
                "name": "方案与小试验证",
                "deliverable": "小试报告与关键指标测试数据",
                "indicator_id": indicators[0].pk,
                "criterion": f"小试达到“{indicators[0]}”",
                "due_date": today + dt.timedelta(days=75),
                "share": Decimal("30"),
            },
            {
                "name": "中试与样品",
                "deliverable": "中试样品及第三方检测报告",
                "indicator_id": indicators[-1].pk,
                "criterion": f"样品通过“{indicators[-1]}”检测",
                "due_date": today + dt.timedelta(days=180),
                "share": Decimal("40"),
            },
            {
                "name": "验收与交付",
                "deliverable": "全套技术资料、工艺文件和培训",
                "indicator_id": None,
                "criterion": "全部指标复测通过，资料齐全",
                "due_date": today + dt.timedelta(days=300),
                "share": Decimal("30"),
            },
        ]
        challenge = services.challenge_create_from_need(
            need=need,
            actor=self.enterprise,
            reward_total=Decimal(budget),
            reward_split="按里程碑付款：小试30%、中试40%、验收30%。",
            bid_deadline=timezone.now() + dt.timedelta(days=21),
            milestones=milestones,
            **terms,
        )
        return challenge

    def _bid(
        self, challenge: Challenge, key: str, *, submit: bool = True, consortium=(), confirm=True
    ) -> Bid:
        org = self.orgs[key]
        user = self._owner(key)
        approach = (
            f"{org.name}拟采用“机理分析—小试验证—中试放大”的路线攻关「{challenge.title}」："
            "先建立关键失效机理模型，再以正交试验优化工艺窗口，最后在合作产线完成中试验证。"
        )
        bid = services.bid_create(
            challenge=challenge,
            organization=org,
            actor=user,
            technical_approach=approach,
            team=f"{org.name}课题组：首席1人、骨干6人、研究生10余人，配套中试平台。",
            indicator_responses=[
                {
                    "indicator_id": i.pk,
                    "approach": f"针对“{i.name}”设计专项实验并由第三方检测",
                    "expected_value": i.target,
                }
                for i in challenge.indicators.all()
            ],
            schedule=[
                {"milestone_id": m.pk, "planned_date": m.due_date, "plan": m.deliverable}
                for m in challenge.milestones.all()
            ],
            budget_items=[
                {"item": item, "amount": (challenge.reward_total * part).quantize(Decimal("0.01"))}
                for item, part in (
                    ("设备与材料费", Decimal("0.5")),
                    ("测试化验加工费", Decimal("0.2")),
                    ("劳务费", Decimal("0.2")),
                )
            ],
            consortium=[
                {"organization": self.orgs[k], "role": role, "share": share}
                for k, role, share in consortium
            ],
            submit=submit,
        )
        if confirm:
            for member in bid.members.filter(confirmed_at__isnull=True):
                services.consortium_confirm(
                    member=member, actor=self._owner_of(member.organization)
                )
        return bid

    def _owner_of(self, org: Organization) -> User:
        key = next(k for k, o in self.orgs.items() if o.pk == org.pk)
        return self._owner(key)

    def _close(self, challenge: Challenge) -> Challenge:
        """Demo only: move the deadline into the past, then close bidding through the service."""
        Challenge.objects.filter(pk=challenge.pk).update(
            bid_deadline=timezone.now() - dt.timedelta(days=3)
        )
        challenge.refresh_from_db()
        return services.challenge_close_bidding(challenge=challenge, actor=self.enterprise)

    def _review(self, challenge: Challenge, scores: dict[Bid, int], experts=OTHER_EXPERTS) -> None:
        criteria = list(challenge.criteria.all())
        for n, email in enumerate(experts):
            expert = ExpertProfile.objects.filter(user__email=email).first()
            if expert is None:
                continue
            assignment, _blocked = services.review_assign_expert(
                challenge=challenge, expert=expert, actor=self.enterprise
            )
            if assignment is None:
                continue
            rows = [
                {
                    "bid_id": bid.pk,
                    "criterion_id": c.pk,
                    "value": max(0, min(100, base + (i * 3 - 4) + n * 2)),
                    "comment": "技术路线清晰，指标承诺有依据。"
                    if base >= 80
                    else "方案可行性论证不足。",
                }
                for bid, base in scores.items()
                for i, c in enumerate(criteria)
            ]
            services.review_save_scores(assignment=assignment, actor=expert.user, scores=rows)
            services.review_submit(assignment=assignment, actor=expert.user)

    def _milestone(self, cm: ContractMilestone, *, accept: bool | None) -> None:
        bidder = self._owner_of(cm.contract.organization)
        services.milestone_submit(
            cm=cm,
            actor=bidder,
            note=f"已完成“{cm.milestone.deliverable}”，附检测报告。",
            measured_value="达标",
        )
        if accept is True:
            services.milestone_accept(
                cm=cm, actor=self.enterprise, comment="对照验收标准核验通过。"
            )
        elif accept is False:
            services.milestone_reject(
                cm=cm, actor=self.enterprise, comment="检测报告缺少第三方盖章，请补充后重新提交。"
            )

    # --- one challenge per state -------------------------------------------------------------------

    def make_draft(self, need: Need) -> None:
        challenge = self._challenge(need, access=Challenge.Access.INVITED, ip_terms="")
        services.challenge_invite(
            challenge=challenge, organization=self.orgs["inst-p1-01"], actor=self.enterprise
        )

    def make_open(self, need: Need) -> None:
        challenge = self._challenge(need, allow_consortium=True, consortium_max_members=3)
        services.challenge_publish(challenge=challenge, actor=self.enterprise)
        # Another institution's consortium bid waits for the lab to confirm its place.
        self._bid(
            challenge,
            "inst-p1-03",
            consortium=[("inst-p1-01", "器件工艺验证与可靠性测试", Decimal("30"))],
            confirm=False,
        )
        self._bid(challenge, "inst-p1-04")

    def make_review(self, need: Need) -> None:
        challenge = self._challenge(need)
        services.challenge_publish(challenge=challenge, actor=self.enterprise)
        strong = self._bid(challenge, "inst-p1-02")
        weak = self._bid(challenge, "inst-p1-03")
        challenge = self._close(challenge)
        self._review(challenge, {strong: 86, weak: 71}, experts=OTHER_EXPERTS[:1])
        expert = ExpertProfile.objects.filter(user__email=EXPERT).first()
        if expert is not None:  # left to score: log in as expert@demo.example.cn
            services.review_assign_expert(challenge=challenge, expert=expert, actor=self.enterprise)

    def make_awarded(self, need: Need) -> None:
        challenge = self._challenge(need)
        services.challenge_publish(challenge=challenge, actor=self.enterprise)
        lab_bid = self._bid(challenge, "inst-p1-01")
        other = self._bid(challenge, "inst-p1-02")
        challenge = self._close(challenge)
        expert = ExpertProfile.objects.filter(user__email=EXPERT).first()
        if expert is not None:  # declared affiliation with the lab: blocked and recorded
            services.review_assign_expert(challenge=challenge, expert=expert, actor=self.enterprise)
        self._review(challenge, {lab_bid: 88, other: 79})
        services.challenge_award(
            challenge=challenge,
            actor=self.enterprise,
            winners=[lab_bid],
            reason="申江微纳电子研究院的工艺路线与我司产线匹配度最高，指标承诺有小试数据支撑。",
            decline_reason="route",
            decline_note="工艺路线与我司产线不兼容。",
        )

    def make_in_progress(self, need: Need) -> None:
        challenge = self._challenge(
            need, award_mode=Challenge.AwardMode.RACE, race_winners=2, downselect_after_index=0
        )
        services.challenge_publish(challenge=challenge, actor=self.enterprise)
        lab_bid = self._bid(challenge, "inst-p1-01")
        other = self._bid(challenge, "inst-p1-04")
        third = self._bid(challenge, "inst-p1-02")
        challenge = self._close(challenge)
        self._review(challenge, {lab_bid: 85, other: 82, third: 70})
        services.challenge_award(
            challenge=challenge,
            actor=self.enterprise,
            winners=[lab_bid, other],
            reason="赛马制：两家技术路线不同、各有优势，并行攻关至小试后择优。",
            decline_reason="indicators",
        )
        services.challenge_start(challenge=challenge, actor=self.enterprise)
        first = challenge.milestones.order_by("position").first()
        self._milestone(lab_bid.contract.milestones.get(milestone=first), accept=True)
        self._milestone(other.contract.milestones.get(milestone=first), accept=None)

    def make_completed(self, need: Need) -> None:
        challenge = self._challenge(need)
        services.challenge_publish(challenge=challenge, actor=self.enterprise)
        lab_bid = self._bid(challenge, "inst-p1-01")
        other = self._bid(challenge, "inst-p1-04")
        challenge = self._close(challenge)
        self._review(challenge, {lab_bid: 90, other: 76})
        services.challenge_award(
            challenge=challenge,
            actor=self.enterprise,
            winners=[lab_bid],
            reason="综合得分第一。",
            decline_reason="indicators",
        )
        services.challenge_start(challenge=challenge, actor=self.enterprise)
        for i, cm in enumerate(lab_bid.contract.milestones.order_by("milestone__position")):
            if i == 1:  # one rejection on the way, then accepted
                self._milestone(cm, accept=False)
            self._milestone(cm, accept=True)

    def make_cancelled(self, need: Need) -> None:
        challenge = self._challenge(need)
        services.challenge_publish(challenge=challenge, actor=self.enterprise)
        self._bid(challenge, "inst-p1-02")
        services.challenge_cancel(
            challenge=challenge,
            actor=self.enterprise,
            reason="产品路线调整，该需求转为内部研发，感谢各单位参与。",
        )
