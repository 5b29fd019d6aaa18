"""How ready a need, a 榜单 (challenge) or a result is to be matched and answered: a score
(0–100), each missing or weak item named with a suggestion in Chinese, and the matcher's own view
of the text.

The one home of these rules: the web form's live check (``quality_need_check`` view), the page
of a need or result for its organization, the API serializers (``quality`` for the owner and
staff) and the publish warning all call ``need_quality`` / ``result_quality``; the challenges
app builds a ``ChallengeDraft`` from its form or row and calls ``challenge_quality`` (matching
may not import challenges, so the draft is plain data).

The checks read a *draft* (a plain dataclass), so unsaved form input and stored objects are
scored alike; nothing here writes. The matcher's view comes from a reader the matcher registers
at start-up (``register_text_reader``): the catalogue may not import the matcher (import-linter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.catalogue.validators import (
    validate_patent_number,
    validate_software_copyright_number,
)
from matching.models import Need, ObjectKind, Patent, Result

# Publishing below this score is allowed, with a warning.
PUBLISH_THRESHOLD = 60
# A description shorter than this gives the matcher too little to work with.
MIN_NEED_TEXT_CHARS = 100
MIN_RESULT_TEXT_CHARS = 100

# Weights of the items; each family sums to 100.
NEED_WEIGHTS = {
    "indicator": 20,
    "budget": 10,
    "trl": 10,
    "coop_modes": 10,
    "deadline": 10,
    "description": 20,
    "no_contact": 10,
    "matcher": 10,
}
# A 榜单 adds the IP terms (知识产权归属) and takes its budget from the reward.
CHALLENGE_WEIGHTS = {
    "indicator": 20,
    "reward": 10,
    "trl": 10,
    "coop_modes": 5,
    "deadline": 10,
    "ip_terms": 15,
    "description": 15,
    "no_contact": 5,
    "matcher": 10,
}
# IP terms shorter than this say nothing about who owns what.
MIN_IP_TERMS_CHARS = 10
RESULT_WEIGHTS = {
    "trl": 10,
    "transfer_modes": 15,
    "advantage": 20,
    "patents": 10,
    "price": 10,
    "description": 15,
    "no_contact": 10,
    "matcher": 10,
}

# Contact details in public text: mainland mobile and landline numbers, e-mail addresses, QQ and
# WeChat ids. Public text is read by anyone; contact goes through the platform (and the contact
# fields, which only full viewers see).
_CONTACT_PATTERNS = (
    re.compile(r"(?<![\d.])(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?![\d.])"),
    re.compile(r"(?<![\d.])0\d{2,3}[-\s]\d{7,8}(?![\d.])"),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?:qq|ＱＱ|扣扣)\s*(?:号|群)?\s*[:：]?\s*\d{5,11}", re.IGNORECASE),
    re.compile(r"(?:微信|vx|wx|wechat|weixin|v信)\s*号?\s*[:：]\s*[\w-]{5,20}", re.IGNORECASE),
)
# A quantified advantage: a number with a unit or a ratio, near a comparison word.
_COMPARISON = (
    r"(?:提高|提升|降低|减少|缩短|优于|高于|低于|超过|较|比|相比|节约|节省|增加|下降|达到)"
)
_QUANTITY = r"\d+(?:\.\d+)?\s*(?:%|％|倍|个百分点|[a-zA-Zμ°℃Ω/]+|[万亿元吨度秒分钟小时天年次件台米克升瓦伏安])"
_ADVANTAGE = re.compile(
    rf"{_COMPARISON}[^。；;\n]{{0,20}}?{_QUANTITY}|{_QUANTITY}[^。；;\n]{{0,6}}?{_COMPARISON}"
)
_CLAIMS_PATENTS = re.compile(r"专利|著作权")
_NEGOTIABLE = re.compile(r"面议|价格可议|协商")


@dataclass(frozen=True)
class NeedDraft:
    title: str = ""
    summary: str = ""
    description: str = ""
    scenario: str = ""
    indicators: tuple[Mapping, ...] = ()  # name, operator, target, target_max, unit
    budget_min: Decimal | None = None
    budget_max: Decimal | None = None
    funding_mode: str = ""
    coop_modes: tuple[str, ...] = ()
    trl_min: int | None = None
    deadline: dt.date | None = None


@dataclass(frozen=True)
class ChallengeDraft:
    """A 榜单: its own terms, and what it inherits from its need (text, TRL, cooperation modes)."""

    title: str = ""
    intro: str = ""
    need_text: str = ""
    indicators: tuple[Mapping, ...] = ()  # the indicators it will accept against
    reward_total: Decimal | None = None
    trl_min: int | None = None
    coop_modes: tuple[str, ...] = ()
    bid_deadline: dt.datetime | None = None
    ip_terms: str = ""


@dataclass(frozen=True)
class ResultDraft:
    title: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    trl: int | None = None
    transfer_modes: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    team: str = ""
    patents: tuple[Mapping, ...] = ()  # number, kind


@dataclass(frozen=True)
class MatcherView:
    """What the matcher makes of a text: ``verdict`` is ``ok``, ``too_short`` or ``too_generic``."""

    verdict: str
    message: str
    signals: dict = field(default_factory=dict)


TextReader = Callable[[str, str], MatcherView]
_text_reader: TextReader | None = None


def register_text_reader(reader: TextReader) -> None:
    """The matcher registers how it reads a text (``matching.apps``); until then (and in pure
    unit tests) the length-only reader below answers."""
    global _text_reader
    _text_reader = reader


def length_only_view(kind: str, text: str) -> MatcherView:
    chars = len(re.sub(r"\s", "", text))
    if chars < MIN_NEED_TEXT_CHARS:
        return MatcherView("too_short", str(_("文字太短，匹配效果会很差。")), {"chars": chars})
    return MatcherView("ok", str(_("文字长度足以匹配。")), {"chars": chars})


def matcher_view(kind: str, text: str) -> MatcherView:
    return (_text_reader or length_only_view)(kind, text)


# --- drafts from objects and from form input -------------------------------------------------------


def need_draft_from_instance(need: Need) -> NeedDraft:
    return NeedDraft(
        title=need.title,
        summary=need.summary,
        description=need.description,
        scenario=need.scenario,
        indicators=tuple(
            {
                "name": i.name,
                "operator": i.operator,
                "target": i.target,
                "target_max": i.target_max,
                "unit": i.unit,
            }
            for i in need.indicators.all()
        ),
        budget_min=need.budget_min,
        budget_max=need.budget_max,
        funding_mode=need.funding_mode,
        coop_modes=tuple(need.coop_modes),
        trl_min=need.trl_min,
        deadline=need.deadline,
    )


def result_draft_from_instance(result: Result) -> ResultDraft:
    return ResultDraft(
        title=result.title,
        abstract=result.abstract,
        keywords=tuple(result.keywords),
        trl=result.trl,
        transfer_modes=tuple(result.transfer_modes),
        price_min=result.price_min,
        price_max=result.price_max,
        team=result.team,
        patents=tuple({"number": p.number, "kind": p.kind} for p in result.patents.all()),
    )


def _decimal(value) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _text(data: Mapping, name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


def _list(data, name: str) -> tuple[str, ...]:
    values = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
    return tuple(v for v in values if isinstance(v, str))


def _rows(data: Mapping, prefix: str, keys: tuple[str, ...]) -> tuple[dict, ...]:
    """Formset rows (``prefix-N-key``), deleted and empty rows left out. Lenient: a live check of
    half-typed input never fails."""
    total = min(_int(data.get(f"{prefix}-TOTAL_FORMS", 0)) or 0, 100)
    rows = []
    for index in range(total):
        if data.get(f"{prefix}-{index}-DELETE"):
            continue
        row = {key: _text(data, f"{prefix}-{index}-{key}").strip() for key in keys}
        if any(row.values()):
            rows.append(row)
    return tuple(rows)


def need_draft_from_form(data: Mapping) -> NeedDraft:
    """A draft from the need form's raw POST data (``matching/need_form.html``)."""
    return NeedDraft(
        title=_text(data, "title"),
        summary=_text(data, "summary"),
        description=_text(data, "description"),
        scenario=_text(data, "scenario"),
        indicators=_rows(data, "indicators", ("name", "operator", "target", "target_max", "unit")),
        budget_min=_decimal(data.get("budget_min", "")),
        budget_max=_decimal(data.get("budget_max", "")),
        funding_mode=_text(data, "funding_mode"),
        coop_modes=_list(data, "coop_modes"),
        trl_min=_int(data.get("trl_min", "")),
        deadline=_date(data.get("deadline", "")),
    )


def result_draft_from_form(data: Mapping) -> ResultDraft:
    """A draft from the result form's raw POST data (``matching/result_form.html``)."""
    return ResultDraft(
        title=_text(data, "title"),
        abstract=_text(data, "abstract"),
        keywords=tuple(k for k in re.split(r"[,，、;；\s]+", _text(data, "keywords")) if k),
        trl=_int(data.get("trl", "")),
        transfer_modes=_list(data, "transfer_modes"),
        price_min=_decimal(data.get("price_min", "")),
        price_max=_decimal(data.get("price_max", "")),
        team=_text(data, "team"),
        patents=_rows(data, "patents", ("number", "kind")),
    )


# --- checks -------------------------------------------------------------------------------------------


def contact_details_in(*texts: str) -> list[str]:
    """The contact details (phone numbers, e-mail addresses, QQ/WeChat ids) found in ``texts``."""
    found: list[str] = []
    for text in texts:
        for pattern in _CONTACT_PATTERNS:
            found.extend(m.group(0) for m in pattern.finditer(text or ""))
    return found


def _quantified(row: Mapping) -> bool:
    numeric = re.compile(r"^-?\d+(?:\.\d+)?$")
    target = str(row.get("target", "")).strip()
    if not (row.get("name") and row.get("unit") and numeric.match(target)):
        return False
    if row.get("operator") == "range":
        return bool(numeric.match(str(row.get("target_max", "")).strip()))
    return True


def _item(code: str, ok: bool, message: str, suggestion: str, weight: int) -> dict:
    return {
        "code": code,
        "ok": ok,
        "message": message,
        "suggestion": "" if ok else suggestion,
        "weight": weight,
    }


def _report(items: list[dict], view: MatcherView) -> dict:
    score = sum(item["weight"] for item in items if item["ok"])
    return {
        "score": score,
        "threshold": PUBLISH_THRESHOLD,
        "below_threshold": score < PUBLISH_THRESHOLD,
        "items": items,
        "matcher_view": {"verdict": view.verdict, "message": view.message, **view.signals},
    }


def _matcher_item(view: MatcherView, weight: int) -> dict:
    return _item(
        "matcher",
        view.verdict == "ok",
        view.message,
        _("写清楚具体的材料、工艺、设备、场景和指标名称，少用“先进”“高效”“智能化”这类泛泛的词。"),
        weight,
    )


def need_quality(draft: NeedDraft, *, today: dt.date | None = None) -> dict:
    """Score a need (or a 榜单's need) draft. Pure apart from the matcher's reader."""
    w = NEED_WEIGHTS
    today = today or timezone.localdate()
    quantified = [row for row in draft.indicators if _quantified(row)]
    has_budget = draft.budget_min is not None or draft.budget_max is not None
    negotiable = draft.funding_mode == Need.FundingMode.NEGOTIABLE
    text = "\n".join([draft.description, draft.scenario])
    text_chars = len(re.sub(r"\s", "", text))
    contacts = contact_details_in(draft.title, draft.summary, draft.description, draft.scenario)
    deadline_ok = draft.deadline is not None and draft.deadline >= today
    view = matcher_view(
        ObjectKind.NEED,
        "\n".join(
            [draft.title, draft.summary, text, *(str(r.get("name", "")) for r in quantified)]
        ),
    )
    items = [
        _item(
            "indicator",
            bool(quantified),
            _("有 %(n)d 项量化指标。") % {"n": len(quantified)}
            if quantified
            else _("没有带单位的量化指标。"),
            _(
                "至少填写一项指标：名称、关系（≥、≤ 或区间）、目标值和单位，如“循环寿命 ≥ 2000 次”。"
            ),
            w["indicator"],
        ),
        _item(
            "budget",
            has_budget or negotiable,
            _("已填写预算范围。")
            if has_budget
            else (_("经费方式为面议。") if negotiable else _("没有预算，也没有注明面议。")),
            _("填写预算上下限（万元），或把经费方式选为“面议”。"),
            w["budget"],
        ),
        _item(
            "trl",
            draft.trl_min is not None,
            _("已填写期望成熟度。") if draft.trl_min is not None else _("没有期望成熟度（TRL）。"),
            _("选择期望的成熟度：1–3 实验室，4–5 小试，6–7 中试，8–9 产业化。"),
            w["trl"],
        ),
        _item(
            "coop_modes",
            bool(draft.coop_modes),
            _("已选择合作方式。") if draft.coop_modes else _("没有选择合作方式。"),
            _("勾选可以接受的合作方式，如合作开发、技术许可。"),
            w["coop_modes"],
        ),
        _item(
            "deadline",
            deadline_ok,
            _("已填写截止日期。")
            if deadline_ok
            else (_("截止日期已过。") if draft.deadline is not None else _("没有截止日期。")),
            _("填写一个今天以后的截止日期，让对方知道何时需要答复。"),
            w["deadline"],
        ),
        _item(
            "description",
            text_chars >= MIN_NEED_TEXT_CHARS,
            _("问题描述共 %(n)d 字。") % {"n": text_chars},
            _("问题描述至少写 %(min)d 字：现状、卡在哪里、已经试过什么、要达到什么效果。")
            % {"min": MIN_NEED_TEXT_CHARS},
            w["description"],
        ),
        _item(
            "no_contact",
            not contacts,
            _("公开文字里没有联系方式。")
            if not contacts
            else _("公开文字里有联系方式：%(found)s。") % {"found": "、".join(contacts[:3])},
            _("把电话、邮箱、QQ、微信从名称、摘要和描述里删掉，填到“联系方式”一栏。"),
            w["no_contact"],
        ),
        _matcher_item(view, w["matcher"]),
    ]
    return _report(items, view)


def challenge_quality(draft: ChallengeDraft, *, now: dt.datetime | None = None) -> dict:
    """Score a 榜单 draft: the need's items on the challenge's own terms, plus its IP terms.
    Pure apart from the matcher's reader."""
    w = CHALLENGE_WEIGHTS
    now = now or timezone.now()
    quantified = [row for row in draft.indicators if _quantified(row)]
    text = "\n".join([draft.intro, draft.need_text])
    text_chars = len(re.sub(r"\s", "", text))
    ip_chars = len(re.sub(r"\s", "", draft.ip_terms))
    contacts = contact_details_in(draft.title, draft.intro, draft.ip_terms)
    deadline_ok = draft.bid_deadline is not None and draft.bid_deadline > now
    view = matcher_view(
        ObjectKind.NEED,
        "\n".join([draft.title, text, *(str(r.get("name", "")) for r in quantified)]),
    )
    items = [
        _item(
            "indicator",
            bool(quantified),
            _("验收将考核 %(n)d 项量化指标。") % {"n": len(quantified)}
            if quantified
            else _("没有选择带单位的量化验收指标。"),
            _("至少选择一项带单位和目标值的技术指标作为验收依据，如“循环寿命 ≥ 2000 次”。"),
            w["indicator"],
        ),
        _item(
            "reward",
            draft.reward_total is not None and draft.reward_total > 0,
            _("已填写榜单总金额。")
            if draft.reward_total is not None and draft.reward_total > 0
            else _("没有榜单总金额。"),
            _("填写榜单总金额（万元），揭榜方据此做预算。"),
            w["reward"],
        ),
        _item(
            "trl",
            draft.trl_min is not None,
            _("需求已填写期望成熟度。")
            if draft.trl_min is not None
            else _("需求没有期望成熟度（TRL）。"),
            _("在需求里选择期望的成熟度：1–3 实验室，4–5 小试，6–7 中试，8–9 产业化。"),
            w["trl"],
        ),
        _item(
            "coop_modes",
            bool(draft.coop_modes),
            _("需求已选择合作方式。") if draft.coop_modes else _("需求没有选择合作方式。"),
            _("在需求里勾选可以接受的合作方式，如合作开发、技术许可。"),
            w["coop_modes"],
        ),
        _item(
            "deadline",
            deadline_ok,
            _("揭榜截止时间在今后。")
            if deadline_ok
            else (
                _("揭榜截止时间已过。")
                if draft.bid_deadline is not None
                else _("没有揭榜截止时间。")
            ),
            _("填写一个今后的揭榜截止时间，留出准备方案的时间。"),
            w["deadline"],
        ),
        _item(
            "ip_terms",
            ip_chars >= MIN_IP_TERMS_CHARS,
            _("已写明知识产权归属。")
            if ip_chars >= MIN_IP_TERMS_CHARS
            else _("没有写明知识产权归属。"),
            _(
                "写明攻关中产生的专利、软件著作权、技术秘密归谁所有，对方能否继续使用，如“新产生的知识产权归出题单位所有，揭榜方享有免费的非独占科研使用权”。"
            ),
            w["ip_terms"],
        ),
        _item(
            "description",
            text_chars >= MIN_NEED_TEXT_CHARS,
            _("榜单说明与需求描述共 %(n)d 字。") % {"n": text_chars},
            _("榜单说明和需求描述合计至少写 %(min)d 字：现状、卡在哪里、要达到什么效果。")
            % {"min": MIN_NEED_TEXT_CHARS},
            w["description"],
        ),
        _item(
            "no_contact",
            not contacts,
            _("公开文字里没有联系方式。")
            if not contacts
            else _("公开文字里有联系方式：%(found)s。") % {"found": "、".join(contacts[:3])},
            _("把电话、邮箱、QQ、微信从榜单名称、说明和知识产权条款里删掉，通过平台联系。"),
            w["no_contact"],
        ),
        _matcher_item(view, w["matcher"]),
    ]
    return _report(items, view)


def _patent_error(row: Mapping) -> str | None:
    validate = (
        validate_software_copyright_number
        if row.get("kind") == Patent.Kind.SOFTWARE
        else validate_patent_number
    )
    try:
        validate(str(row.get("number", "")))
    except ValidationError as exc:
        return exc.messages[0]
    return None


def result_quality(draft: ResultDraft) -> dict:
    """Score a result draft. Pure apart from the matcher's reader."""
    w = RESULT_WEIGHTS
    text = "\n".join([draft.abstract, draft.team])
    text_chars = len(re.sub(r"\s", "", draft.abstract))
    patent_errors = [e for e in (_patent_error(row) for row in draft.patents) if e]
    claims_without_numbers = not draft.patents and bool(_CLAIMS_PATENTS.search(draft.abstract))
    patents_ok = not patent_errors and not claims_without_numbers
    has_price = draft.price_min is not None or draft.price_max is not None
    negotiable = bool(_NEGOTIABLE.search(text))
    advantage = _ADVANTAGE.search(draft.abstract)
    contacts = contact_details_in(draft.title, draft.abstract, draft.team)
    view = matcher_view(
        ObjectKind.RESULT, "\n".join([draft.title, draft.abstract, "、".join(draft.keywords)])
    )
    if patent_errors:
        patents_message = patent_errors[0]
    elif claims_without_numbers:
        patents_message = _("简介提到专利，但没有填写专利号。")
    elif draft.patents:
        patents_message = _("%(n)d 项专利号格式和校验位正确。") % {"n": len(draft.patents)}
    else:
        patents_message = _("未声明专利。")
    items = [
        _item(
            "trl",
            draft.trl is not None,
            _("已填写成熟度。") if draft.trl is not None else _("没有成熟度（TRL）。"),
            _("选择成熟度：1–3 实验室，4–5 小试，6–7 中试，8–9 产业化。"),
            w["trl"],
        ),
        _item(
            "transfer_modes",
            bool(draft.transfer_modes),
            _("已选择转化方式。") if draft.transfer_modes else _("没有选择转化方式。"),
            _("勾选可以接受的转化方式，如技术转让、技术许可、技术入股。"),
            w["transfer_modes"],
        ),
        _item(
            "advantage",
            bool(advantage),
            _("写明了量化优势：“%(text)s”。") % {"text": advantage.group(0)}
            if advantage
            else _("没有和现有做法相比的量化优势。"),
            _("用数字写出相对现有技术的优势，如“能耗降低 30%”“寿命提高 2 倍”。"),
            w["advantage"],
        ),
        _item(
            "patents",
            patents_ok,
            patents_message,
            _("填写每项专利的申请号（如 202310123456.6），并核对校验位。"),
            w["patents"],
        ),
        _item(
            "price",
            has_price or negotiable,
            _("已填写意向价格。")
            if has_price
            else (_("注明了面议。") if negotiable else _("没有意向价格，也没有注明面议。")),
            _("填写意向价格（万元），或在简介中注明“价格面议”。"),
            w["price"],
        ),
        _item(
            "description",
            text_chars >= MIN_RESULT_TEXT_CHARS,
            _("成果简介共 %(n)d 字。") % {"n": text_chars},
            _("成果简介至少写 %(min)d 字：解决什么问题、原理、关键指标、应用场景。")
            % {"min": MIN_RESULT_TEXT_CHARS},
            w["description"],
        ),
        _item(
            "no_contact",
            not contacts,
            _("公开文字里没有联系方式。")
            if not contacts
            else _("公开文字里有联系方式：%(found)s。") % {"found": "、".join(contacts[:3])},
            _("把电话、邮箱、QQ、微信从名称、简介和团队介绍里删掉，通过平台联系。"),
            w["no_contact"],
        ),
        _matcher_item(view, w["matcher"]),
    ]
    return _report(items, view)


def quality_of(obj: Need | Result) -> dict:
    """The report of a stored need or result."""
    if isinstance(obj, Need):
        return need_quality(need_draft_from_instance(obj))
    return result_quality(result_draft_from_instance(obj))


__all__ = [
    "PUBLISH_THRESHOLD",
    "ChallengeDraft",
    "challenge_quality",
    "MatcherView",
    "NeedDraft",
    "ResultDraft",
    "contact_details_in",
    "need_draft_from_form",
    "need_draft_from_instance",
    "need_quality",
    "quality_of",
    "register_text_reader",
    "result_draft_from_form",
    "result_draft_from_instance",
    "result_quality",
]
