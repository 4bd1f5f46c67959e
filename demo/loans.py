"""The Mojiang demo's applications and loans: each of the 680 borrower
households applies in 振兴贷 2025, is recommended, reviewed, approved,
publicly noticed and released to the county co-op, borrows, and pays its
interest each quarter (DOMAIN.md section 4).

Two steps, as for the registry (demo/generator.py). ``demo_loan_plan()``
decides everything from a fixed seed and fixed dates without the database;
its ``today`` only cuts the story off, so that nothing dated after it is
written, and a later run adds what has fallen due since and changes
nothing else. ``demo_loans_seed()`` writes what of the plan is missing
through the loan services, the calls the pages and the co-op's API make,
so that quota, budget, term, rate ceiling and ledger rules hold for the
demo as for real data.

The figures of the plan (checked by tests/demo/book/test_loans.py):

* 680 loans, one per borrower household, applied for by its first
  borrower: 60,000 to 100,000 yuan for a village committee household,
  30,000 to 50,000 for the others, together over 40 million yuan and
  within the programme's budget of 45 million. Terms of 24 and 36 months,
  and 12 for some; 3.45 % a year, 4.35 % (the ceiling) for a few; a few
  contracts below the approved amount.
* Three public notices (6 January, 10 February and 10 March 2025), an
  objection in each of the first two, found groundless.
* Twelve households were first turned down in 振兴贷 2024, at the village,
  the township or the county, with the reason in the timeline.
* Interest posted by the co-op for every quarterly settlement (the 20th
  of March, June, September and December) due by today; a few periods
  paid late, a few posted a few yuan away from the expected interest (for
  the subsidy run's reconciliation), a few loans repaid early, some in
  part, the 12-month loans repaid at maturity except a few left overdue.
"""

import datetime
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from unittest import mock

from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from beneficiaries.models import Borrower, Industry
from common.money import ZERO
from loans.applications.services import application_submit, application_transition
from loans.ledger.interest import expected_schedule
from loans.ledger.selectors import is_settlement_day
from loans.ledger.services import (
    ledger_post_interest,
    ledger_post_repayment,
    loan_create,
    loan_statuses_record,
)
from loans.models import (
    Application,
    CreditCoop,
    LedgerEntry,
    Loan,
    NoticeEntry,
    Objection,
    Programme,
    PublicNotice,
)
from loans.notices.services import (
    notice_publish,
    notices_release_due,
    objection_record,
    objection_resolve,
)

from .generator import COMMITTEE, DEFAULT_QUOTA, QUOTA_BY_CATEGORY, DemoPlan, demo_plan

State = Application.State

SEED = 5308220
PROGRAMME_NAME = "振兴贷"
REGION_CODE = "530822"
YEAR = 2025
EARLIER_YEAR = 2024  # the year the rejected applications were made
PROGRAMME_BUDGET = Decimal("45000000.00")  # 振兴贷 2025 as shipped (loans migration 0002)
COOP_CODE = "mojiang-rcc"
CONTRACT_PREFIX = "墨信振兴2025-"
TXN_PREFIX = "MJ"

# Amounts applied for, in yuan, with their weights: most households ask for
# (nearly) their whole quota, which takes the total over 40 million.
COMMITTEE_AMOUNTS = (
    (60_000, 1), (65_000, 1), (70_000, 2), (75_000, 2), (80_000, 3),
    (85_000, 3), (90_000, 4), (95_000, 4), (100_000, 8),
)  # fmt: skip
OTHER_AMOUNTS = ((30_000, 1), (35_000, 1), (40_000, 2), (45_000, 2), (50_000, 5))
TERMS = ((12, 64), (24, 300), (36, 316))  # months → households
RATE = Decimal("0.034500")
CEILING_RATE = Decimal("0.043500")

# How many loans tell each story.
HIGHER_RATE_LOANS = 20
LOWER_PRINCIPAL_LOANS = 6
OVERDUE_LOANS = 8  # 12-month loans left unpaid at maturity
EARLY_REPAID_LOANS = 10
PARTLY_REPAID_LOANS = 15
LATE_PAID_LOANS = 8
DIFFERING_LOANS = 6
REJECTED_EARLIER = 12

# The three batches of 2025: when the applications were submitted, how
# many, and the first day of the notice they go into.
BATCHES = (
    ((datetime.date(2024, 11, 18), datetime.date(2024, 12, 12)), 260, datetime.date(2025, 1, 6)),
    ((datetime.date(2024, 12, 16), datetime.date(2025, 1, 16)), 240, datetime.date(2025, 2, 10)),
    ((datetime.date(2025, 1, 20), datetime.date(2025, 2, 13)), 180, datetime.date(2025, 3, 10)),
)
EARLIER_WINDOW = (datetime.date(2024, 3, 4), datetime.date(2024, 5, 31))
PARTIAL_REPAYMENT_WINDOW = (datetime.date(2025, 6, 2), datetime.date(2026, 10, 30))
EARLY_REPAYMENT_WINDOW = (datetime.date(2026, 2, 2), datetime.date(2026, 10, 30))
# A late or differing payment falls in a period due by then, so that a
# demo loaded since shows it.
ODD_PERIOD_DUE_BY = datetime.date(2026, 6, 20)

NOTICE_TITLES = (
    "墨江县2025年“振兴贷”第一批拟贷款对象公示",
    "墨江县2025年“振兴贷”第二批拟贷款对象公示",
    "墨江县2025年“振兴贷”第三批拟贷款对象公示",
)
STEP_COMMENTS = {
    State.VILLAGE_RECOMMENDED: "经村民代表会议研究，同意推荐。",
    State.TOWNSHIP_REVIEWED: "经乡镇实地核查，产业真实、材料齐全，同意上报。",
    State.COUNTY_APPROVED: "经县委组织部、县农村信用社联审，同意发放。",
}
# Reasons of the 2024 rejections, by the state the application was in.
REJECTIONS = {
    State.SUBMITTED: (
        "未通过村民代表会议推荐。",
        "村民代表会议认为其产业项目尚未落地，暂不推荐。",
    ),
    State.VILLAGE_RECOMMENDED: (
        "经营主体规模不足，暂不符合申报条件。",
        "经实地核查，圈舍尚未建成，暂不通过。",
    ),
    State.TOWNSHIP_REVIEWED: (
        "家庭已有未结清贷款，暂不予审批。",
        "征信报告显示有逾期记录，暂不予审批。",
    ),
}
OBJECTIONS = (
    (
        "村民（匿名）",
        "反映该户养殖场实际存栏数量少于申报数量。",
        "经乡镇干部实地核查，存栏数量与申报一致，异议不成立。",
    ),
    (
        "同村村民",
        "反映借款人家庭在其他银行有未结清贷款。",
        "经查询征信报告，借款人家庭无未结清贷款，异议不成立。",
    ),
)
# What a loan is for, by industry kind: the co-op's usual wording.
PURPOSES = {
    "生猪": ("扩建猪舍，购进仔猪和饲料。", "购买能繁母猪，扩大生猪养殖规模。"),
    "肉牛": ("购进架子牛育肥，扩建牛圈。", "购买肉牛犊和青贮饲草。"),
    "山羊": ("购进黑山羊种羊，修建羊圈。", "扩大山羊养殖规模，购买饲草料。"),
    "家禽": ("扩建鸡舍，购进鸡苗和饲料。", "购买蛋鸡和养殖设备。"),
    "中蜂": ("购买蜂箱和蜂种，扩大中蜂养殖。", "添置摇蜜机，扩建蜂场。"),
    "林下养鸡": ("林下生态鸡养殖，购进鸡苗、搭建围栏。", "扩大林下土鸡养殖规模。"),
    "紫米": ("购买紫米种子和化肥，流转土地扩大种植。", "紫米基地田间管理和烘干设备。"),
    "茶叶": ("茶园提质改造，购置茶叶初制加工设备。", "新建茶叶初制所，收购鲜叶。"),
    "核桃": ("核桃提质增效，购买肥料和修剪管护。", "购置核桃脱皮烘干设备。"),
    "生物药材": ("购买重楼种苗，搭建遮阳棚。", "扩大白及、砂仁种植面积。"),
    "咖啡": ("咖啡园管护和鲜果初加工设备。", "更新咖啡品种，扩大种植面积。"),
    "蔬菜": ("高原蔬菜基地购买种苗和滴灌设备。", "建设蔬菜大棚，扩大冬早蔬菜种植。"),
    "林下中药材": ("购买林下中药材种苗及管护。", "扩大林下石斛种植规模。"),
    "林下食用菌": ("购买菌种、菌棒，搭建林下菌棚。", "扩大林下香菇种植。"),
    "茶旅融合": ("茶园农家乐改造，完善接待设施。", "建设茶园观光步道和体验场所。"),
}


# The plan: plain data, no database.


@dataclass(frozen=True)
class StepPlan:
    """One step of an application: the state it moves to, when (Mojiang
    wall time), why, and whether the county takes it (else the township's
    officer, where the demo has one)."""

    to_state: str
    at: datetime.datetime
    comment: str = ""
    by_county: bool = False

    @property
    def on(self) -> datetime.date:
        return self.at.date()


@dataclass(frozen=True)
class ApplicationPlan:
    year: int
    amount: Decimal
    term_months: int
    purpose: str
    steps: tuple[StepPlan, ...]  # from submission; the notice steps are the notices'


@dataclass(frozen=True)
class PostingPlan:
    """A ledger entry the co-op posts: interest for a settlement period, or
    a principal repayment (no period)."""

    kind: str
    txn_id: str
    paid_on: datetime.date
    amount: Decimal
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    due_on: datetime.date | None = None
    expected: Decimal | None = None  # the interest the period's days earn

    @property
    def is_late(self) -> bool:
        return self.due_on is not None and self.paid_on > self.due_on

    @property
    def differs(self) -> bool:
        return self.expected is not None and self.amount != self.expected


@dataclass(frozen=True)
class LoanPlan:
    sequence: int
    principal: Decimal
    annual_rate: Decimal
    disbursed_on: datetime.date
    maturity_on: datetime.date
    story: str  # "regular", "overdue", "early_repaid" or "partly_repaid"
    postings: tuple[PostingPlan, ...]  # those paid by today, in order

    @property
    def contract_no(self) -> str:
        return "%s%04d" % (CONTRACT_PREFIX, self.sequence)

    def principal_repaid(self) -> Decimal:
        return sum((p.amount for p in self.postings if p.kind == LedgerEntry.Kind.PRINCIPAL), ZERO)


@dataclass(frozen=True)
class ObjectionPlan:
    raised_by: str
    content: str
    resolution: str
    recorded_at: datetime.datetime
    resolved_at: datetime.datetime


@dataclass(frozen=True)
class HouseholdLoanPlan:
    index: int  # the household's place in the registry plan
    borrower_id_number: str
    township_code: str
    category: str
    quota: Decimal
    industry: tuple[str, str]
    batch: int
    application: ApplicationPlan
    loan: LoanPlan
    rejected: ApplicationPlan | None = None  # the 2024 application turned down
    objection: ObjectionPlan | None = None


@dataclass(frozen=True)
class NoticePlan:
    title: str
    starts_on: datetime.date
    days: int  # the programme's notice period

    @property
    def ends_on(self) -> datetime.date:
        return self.starts_on + datetime.timedelta(days=self.days - 1)

    @property
    def release_on(self) -> datetime.date:
        """The first day after the notice: the day its entries are released."""
        return self.ends_on + datetime.timedelta(days=1)


@dataclass(frozen=True)
class LoanDemoPlan:
    today: datetime.date
    notices: tuple[NoticePlan, ...]
    households: tuple[HouseholdLoanPlan, ...]

    def total_principal(self) -> Decimal:
        return sum((h.loan.principal for h in self.households), ZERO)

    def postings(self) -> list[PostingPlan]:
        return [p for h in self.households for p in h.loan.postings]


def _workday(day: datetime.date) -> datetime.date:
    """The day, or the Monday after it if it falls on a weekend."""
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` later, or the month's last day if it has none."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _in_window(rng: random.Random, window: tuple[datetime.date, datetime.date]) -> datetime.date:
    first, last = window
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def _office_hours(rng: random.Random, day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(rng.randint(9, 16), rng.randrange(60)))


def _steps(rng, start, to_states, *, county_from: str) -> list[StepPlan]:
    """Steps to ``to_states`` on working days a few days apart from
    ``start``; the county takes them from ``county_from`` on."""
    steps = []
    day = _workday(start)
    by_county = False
    for number, to_state in enumerate(to_states):
        if number:
            day = _workday(day + datetime.timedelta(days=rng.randint(2, 6)))
        by_county = by_county or to_state == county_from
        steps.append(
            StepPlan(
                to_state,
                _office_hours(rng, day),
                STEP_COMMENTS.get(to_state, ""),
                by_county,
            )
        )
    return steps


def _loan_postings(
    *,
    sequence: int,
    principal: Decimal,
    rate: Decimal,
    basis: int,
    disbursed_on: datetime.date,
    maturity_on: datetime.date,
    story: str,
    ends_on: datetime.date,
    partial: list[tuple[datetime.date, Decimal]],
    late: tuple[int, int] | None,
    differing: tuple[int, Decimal] | None,
) -> list[PostingPlan]:
    """Everything the co-op posts for one loan over its whole life: the
    interest of each settlement period (the closing one on the day the loan
    ends, with the principal), and the principal repayments."""
    periods = expected_schedule(
        principal=principal,
        rate=rate,
        basis=basis,
        disbursed_on=disbursed_on,
        ends_on=ends_on,
        repayments=partial,
    )
    postings = []
    for index, period in enumerate(periods):
        due_on = period.end if is_settlement_day(period.end) else ends_on
        if story == "overdue" and due_on >= maturity_on:
            continue  # the borrower stopped paying at maturity
        paid_on, amount = due_on, period.interest
        if late and late[0] == index:
            paid_on += datetime.timedelta(days=late[1])
        if differing and differing[0] == index:
            amount += differing[1]
        postings.append(
            PostingPlan(
                kind=LedgerEntry.Kind.INTEREST,
                txn_id="%s-I-%04d-%s" % (TXN_PREFIX, sequence, period.end.strftime("%Y%m%d")),
                paid_on=paid_on,
                amount=amount,
                period_start=period.start,
                period_end=period.end,
                due_on=due_on,
                expected=period.interest,
            )
        )
    repayments = list(partial)
    if story != "overdue":
        repayments.append((ends_on, principal - sum((amount for _d, amount in partial), ZERO)))
    postings += [
        PostingPlan(
            kind=LedgerEntry.Kind.PRINCIPAL,
            txn_id="%s-P-%04d-%s" % (TXN_PREFIX, sequence, day.strftime("%Y%m%d")),
            paid_on=day,
            amount=amount,
        )
        for day, amount in repayments
    ]
    # On the closing day the interest is settled before the principal.
    postings.sort(key=lambda p: (p.paid_on, p.kind != LedgerEntry.Kind.INTEREST))
    return postings


def _odd_period(rng, periods_due: list[datetime.date]) -> int:
    """A whole quarter (neither the first period nor the closing one) due by
    ODD_PERIOD_DUE_BY."""
    candidates = [i for i, due in enumerate(periods_due[:-1]) if i and due <= ODD_PERIOD_DUE_BY]
    return rng.choice(candidates)


def demo_loan_plan(
    *,
    today: datetime.date,
    basis: int = 360,
    notice_days: int = 10,
    registry: DemoPlan | None = None,
) -> LoanDemoPlan:
    """Invent the applications, loans and ledgers of the Mojiang demo, cut off
    at ``today`` (nothing dated after it). Pure: the database is not read,
    and every call with the same arguments returns the same plan; the draws
    do not depend on ``today``, so a later ``today`` only adds to the story.
    ``basis`` and ``notice_days`` are the programme's day-count basis and
    notice period (360 and 10 as shipped)."""
    registry = registry or demo_plan()
    rng = random.Random(SEED)
    households = registry.borrower_households
    count = len(households)

    # Amounts, terms and batches, in household order.
    amounts = []
    for household in households:
        table = COMMITTEE_AMOUNTS if household.category == COMMITTEE else OTHER_AMOUNTS
        values, weights = zip(*table, strict=True)
        amounts.append(Decimal(rng.choices(values, weights)[0]).quantize(Decimal("0.01")))
    terms = [months for months, n in TERMS for _ in range(n)]
    batches = [batch for batch, (_w, n, _s) in enumerate(BATCHES) for _ in range(n)]
    if len(terms) != count or len(batches) != count:
        raise ValueError("The demo's terms and batches must cover %d households." % count)
    rng.shuffle(terms)
    rng.shuffle(batches)

    # Who tells which story.
    short = [i for i in range(count) if terms[i] == 12]
    long = [i for i in range(count) if terms[i] != 12]
    overdue = set(rng.sample(short, OVERDUE_LOANS))
    picked = rng.sample(
        long, EARLY_REPAID_LOANS + PARTLY_REPAID_LOANS + LATE_PAID_LOANS + DIFFERING_LOANS
    )
    early = set(picked[:EARLY_REPAID_LOANS])
    partly = set(picked[EARLY_REPAID_LOANS : EARLY_REPAID_LOANS + PARTLY_REPAID_LOANS])
    odd = picked[EARLY_REPAID_LOANS + PARTLY_REPAID_LOANS :]
    late, differing = set(odd[:LATE_PAID_LOANS]), set(odd[LATE_PAID_LOANS:])
    higher_rate = set(rng.sample(range(count), HIGHER_RATE_LOANS))
    lower_principal = set(
        rng.sample([i for i in range(count) if amounts[i] >= 60_000], LOWER_PRINCIPAL_LOANS)
    )
    rejected = rng.sample(range(count), REJECTED_EARLIER)
    objected = [rng.choice([i for i in range(count) if batches[i] == b]) for b in (0, 1)]

    notices = tuple(
        NoticePlan(title, starts_on, notice_days)
        for title, (_window, _n, starts_on) in zip(NOTICE_TITLES, BATCHES, strict=True)
    )

    # Each household's 2025 application and its contract.
    drafts = []
    for index, household in enumerate(households):
        borrower = household.borrowers[0]
        kind = borrower.industry[1]
        window, _n, notice_starts = BATCHES[batches[index]]
        steps = _steps(
            rng,
            _in_window(rng, window),
            [
                State.SUBMITTED,
                State.VILLAGE_RECOMMENDED,
                State.TOWNSHIP_REVIEWED,
                State.COUNTY_APPROVED,
            ],
            county_from=State.COUNTY_APPROVED,
        )
        if steps[-1].on >= notice_starts:
            raise ValueError("An application of batch %d is approved too late." % batches[index])
        application = ApplicationPlan(
            year=YEAR,
            amount=amounts[index],
            term_months=terms[index],
            purpose=rng.choice(PURPOSES[kind]),
            steps=tuple(steps),
        )
        release_on = notices[batches[index]].release_on
        disbursed_on = _workday(release_on + datetime.timedelta(days=rng.randint(3, 13)))
        principal = amounts[index]
        if index in lower_principal:
            principal -= Decimal(rng.choice((5_000, 10_000)))
        drafts.append((index, household, application, disbursed_on, principal))

    # Contracts are numbered in the order the co-op disbursed them.
    drafts.sort(key=lambda draft: (draft[3], draft[0]))
    plans = []
    for sequence, (index, household, application, disbursed_on, principal) in enumerate(
        drafts, start=1
    ):
        rate = CEILING_RATE if index in higher_rate else RATE
        maturity_on = _add_months(disbursed_on, application.term_months)
        story, ends_on, partial = "regular", maturity_on, []
        if index in overdue:
            story = "overdue"
        elif index in early:
            story, ends_on = "early_repaid", _workday(_in_window(rng, EARLY_REPAYMENT_WINDOW))
            if ends_on >= maturity_on:
                raise ValueError("Loan %d would be repaid early after its maturity." % sequence)
        elif index in partly:
            story = "partly_repaid"
            repayments = rng.randint(1, 2)
            days = sorted(
                {_workday(_in_window(rng, PARTIAL_REPAYMENT_WINDOW)) for _ in range(repayments)}
            )
            share = Decimal(rng.choice((5_000, 10_000, 15_000)))
            while share * len(days) > principal / 2:
                share -= 5_000
            partial = [(day, share) for day in days]
        periods_due = [
            period.end if is_settlement_day(period.end) else ends_on
            for period in expected_schedule(
                principal=principal,
                rate=rate,
                basis=basis,
                disbursed_on=disbursed_on,
                ends_on=ends_on,
                repayments=partial,
            )
        ]
        late_payment = differing_payment = None
        if index in late:
            late_payment = (_odd_period(rng, periods_due), rng.randint(1, 20))
        if index in differing:
            delta = Decimal(rng.randint(150, 600)) / 100
            differing_payment = (_odd_period(rng, periods_due), delta * rng.choice((1, -1)))
        postings = _loan_postings(
            sequence=sequence,
            principal=principal,
            rate=rate,
            basis=basis,
            disbursed_on=disbursed_on,
            maturity_on=maturity_on,
            story=story,
            ends_on=ends_on,
            partial=partial,
            late=late_payment,
            differing=differing_payment,
        )
        loan = LoanPlan(
            sequence=sequence,
            principal=principal,
            annual_rate=rate,
            disbursed_on=disbursed_on,
            maturity_on=maturity_on,
            story=story,
            postings=tuple(p for p in postings if p.paid_on <= today),
        )

        earlier = None
        if index in rejected:
            # Turned down at the village, the township or the county.
            stage = rejected.index(index) % 3
            to_states = [State.SUBMITTED, State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED]
            to_states = to_states[: stage + 1]
            steps = _steps(
                rng,
                _in_window(rng, EARLIER_WINDOW),
                [*to_states, State.REJECTED],
                county_from=State.COUNTY_APPROVED if stage < 2 else State.REJECTED,
            )
            reason = rng.choice(REJECTIONS[to_states[-1]])
            steps[-1] = StepPlan(State.REJECTED, steps[-1].at, reason, steps[-1].by_county)
            earlier = ApplicationPlan(
                year=EARLIER_YEAR,
                amount=application.amount,
                term_months=application.term_months,
                purpose=application.purpose,
                steps=tuple(steps),
            )

        objection = None
        if index in objected:
            raised_by, content, resolution = OBJECTIONS[objected.index(index)]
            notice = notices[batches[index]]
            # Raised early in the notice, settled by a visit before its end.
            recorded_on = min(notice.starts_on + datetime.timedelta(days=2), notice.ends_on)
            resolved_on = max(recorded_on, notice.ends_on - datetime.timedelta(days=3))
            objection = ObjectionPlan(
                raised_by=raised_by,
                content=content,
                resolution=resolution,
                recorded_at=datetime.datetime.combine(recorded_on, datetime.time(10, 20)),
                resolved_at=datetime.datetime.combine(resolved_on, datetime.time(16, 40)),
            )

        category = household.category
        plans.append(
            HouseholdLoanPlan(
                index=index,
                borrower_id_number=household.borrowers[0].person.id_number,
                township_code=household.village.township_code,
                category=category,
                quota=QUOTA_BY_CATEGORY.get(category, DEFAULT_QUOTA),
                industry=household.borrowers[0].industry,
                batch=batches[index],
                application=application,
                loan=loan,
                rejected=earlier,
                objection=objection,
            )
        )
    plans.sort(key=lambda plan: plan.index)
    plan = LoanDemoPlan(today=today, notices=notices, households=tuple(plans))
    _check(plan)
    return plan


def _check(plan: LoanDemoPlan) -> None:
    """The programme's headline figures and its rules hold for the plan."""
    total = plan.total_principal()
    if not Decimal("40000000") < total <= PROGRAMME_BUDGET:
        raise ValueError("The demo lends %s yuan, not over 40 million within the budget." % total)
    for household in plan.households:
        application, loan = household.application, household.loan
        if not loan.principal <= application.amount <= household.quota:
            raise ValueError("Household %d borrows beyond its quota." % household.index)


# Writing the plan.


@contextmanager
def _clock(moment: datetime.datetime):
    """Date what the services record inside the block at ``moment``
    (Mojiang wall time).

    The services stamp each step, posting and history row with
    ``timezone.now()`` and take no date for it. The demo's story runs from
    2024 to today: with the real clock every timeline would say it all
    happened in the second the demo was loaded. Wrap one service call at a
    time, and nothing else.
    """
    frozen = timezone.make_aware(moment, timezone.get_default_timezone()).astimezone(datetime.UTC)
    with mock.patch.object(timezone, "now", lambda: frozen):
        yield


def _morning(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(9, 0))


@dataclass
class LoanSeedResult:
    """What this run created, by kind (0 everywhere on a second run)."""

    created: Counter = field(default_factory=Counter)


class _Seeder:
    """Writes one plan: reads what is there once, then takes each household's
    story as far as the plan and today allow, one service call at a time."""

    def __init__(self, *, plan, programme, earlier, coop, county, coop_user, officers, result):
        self.plan = plan
        self.today = plan.today
        self.programmes = {YEAR: programme, EARLIER_YEAR: earlier}
        self.coop = coop
        self.county = county
        self.coop_user = coop_user
        self.officers = officers
        self.result = result
        self.industries = {
            (kind.parent.name, kind.name): kind
            for kind in Industry.objects.filter(parent__isnull=False).select_related("parent")
        }
        self.borrowers = {
            b.id_number: b
            for b in Borrower.objects.filter(
                id_number__in=[h.borrower_id_number for h in plan.households]
            )
        }
        years = {programme.pk: YEAR, earlier.pk: EARLIER_YEAR}
        self.applications: dict[tuple[int, int], Application] = {}
        for application in Application.objects.filter(
            programme__in=[programme, earlier], household__isnull=False
        ).order_by("-pk"):
            key = (years[application.programme_id], application.household_id)
            self.applications[key] = application  # the first one made wins

    def households(self):
        """The plan's households whose borrower is in the registry, with it."""
        for household in self.plan.households:
            borrower = self.borrowers.get(household.borrower_id_number)
            if borrower is not None:
                yield household, borrower

    def actor(self, step: StepPlan, township_code: str):
        return self.county if step.by_county else self.officers.get(township_code, self.county)

    def application(self, household, borrower, planned: ApplicationPlan) -> Application | None:
        """Take the application as far along its steps as today allows."""
        key = (planned.year, borrower.household_id)
        application = self.applications.get(key)
        steps = planned.steps
        if application is None:
            first = steps[0]
            if first.on > self.today:
                return None
            with _clock(first.at):
                application = application_submit(
                    actor=self.actor(first, household.township_code),
                    programme=self.programmes[planned.year],
                    borrower=borrower,
                    amount=planned.amount,
                    term_months=planned.term_months,
                    industry=self.industries[household.industry],
                    purpose=planned.purpose,
                    today=first.on,
                )
            self.applications[key] = application
            self.result.created["applications"] += 1
        states = [step.to_state for step in steps]
        if application.state not in states:
            return application  # gone past its planned steps, or stopped by someone
        for step in steps[states.index(application.state) + 1 :]:
            if step.on > self.today:
                break
            with _clock(step.at):
                application = application_transition(
                    actor=self.actor(step, household.township_code),
                    application=application,
                    to_state=step.to_state,
                    comment=step.comment,
                    today=step.on,
                )
            self.applications[key] = application
            self.result.created["review and approval steps"] += 1
        return application

    def applications_seed(self) -> None:
        for household, borrower in self.households():
            with transaction.atomic():
                if household.rejected is not None:
                    self.application(household, borrower, household.rejected)
                self.application(household, borrower, household.application)

    def notices_seed(self) -> None:
        programme = self.programmes[YEAR]
        by_batch: dict[int, list[tuple[HouseholdLoanPlan, Application]]] = {}
        for household, borrower in self.households():
            application = self.applications.get((YEAR, borrower.household_id))
            if application is not None:
                by_batch.setdefault(household.batch, []).append((household, application))
        for batch, planned in enumerate(self.plan.notices):
            if planned.starts_on > self.today:
                break
            members = by_batch.get(batch, [])
            if not PublicNotice.objects.filter(
                programme=programme, starts_on=planned.starts_on
            ).exists():
                waiting = [a for _h, a in members if a.state == State.COUNTY_APPROVED]
                if waiting:
                    with _clock(_morning(planned.starts_on)):
                        notice_publish(
                            actor=self.county,
                            programme=programme,
                            starts_on=planned.starts_on,
                            applications=waiting,
                            title=planned.title,
                        )
                    self.result.created["notices"] += 1
            for household, application in members:
                if household.objection is not None:
                    self.objection_seed(household.objection, application)
            if planned.release_on <= self.today:
                with _clock(_morning(planned.release_on)):
                    released = notices_release_due(actor=self.county, today=planned.release_on)
                self.result.created["releases"] += released

    def objection_seed(self, planned: ObjectionPlan, application: Application) -> None:
        entry = NoticeEntry.objects.filter(application=application).first()
        if entry is None or planned.recorded_at.date() > self.today:
            return
        objection = entry.objections.first()
        if objection is None:
            with _clock(planned.recorded_at):
                objection = objection_record(
                    actor=self.county,
                    entry=entry,
                    raised_by=planned.raised_by,
                    content=planned.content,
                )
            self.result.created["objections"] += 1
        if objection.is_open and planned.resolved_at.date() <= self.today:
            with _clock(planned.resolved_at):
                objection_resolve(
                    actor=self.county,
                    objection=objection,
                    upheld=False,
                    resolution=planned.resolution,
                )

    def loans_seed(self) -> None:
        loans = {
            loan.application_id: loan
            for loan in Loan.objects.filter(programme=self.programmes[YEAR], coop=self.coop)
        }
        posted = set(
            LedgerEntry.objects.filter(
                coop=self.coop, txn_id__startswith=TXN_PREFIX + "-"
            ).values_list("txn_id", flat=True)
        )
        # The notices have moved the applications on since they were read.
        states = dict(
            Application.objects.filter(programme=self.programmes[YEAR]).values_list("pk", "state")
        )
        for household, borrower in self.households():
            application = self.applications.get((YEAR, borrower.household_id))
            planned = household.loan
            if application is None:
                continue
            with transaction.atomic():
                loan = loans.get(application.pk)
                if loan is None:
                    released = states[application.pk] == State.RELEASED
                    if not released or planned.disbursed_on > self.today:
                        continue
                    with _clock(_morning(planned.disbursed_on)):
                        loan = loan_create(
                            actor=self.coop_user,
                            application=application,
                            coop=self.coop,
                            contract_no=planned.contract_no,
                            principal=planned.principal,
                            annual_rate=planned.annual_rate,
                            disbursed_on=planned.disbursed_on,
                            maturity_on=planned.maturity_on,
                        )
                    self.result.created["loans"] += 1
                for posting in planned.postings:
                    if posting.txn_id not in posted:
                        self.post(loan, posting)

    def post(self, loan: Loan, posting: PostingPlan) -> None:
        with _clock(datetime.datetime.combine(posting.paid_on, datetime.time(16, 30))):
            if posting.kind == LedgerEntry.Kind.INTEREST:
                ledger_post_interest(
                    actor=self.coop_user,
                    coop=self.coop,
                    loan=loan,
                    txn_id=posting.txn_id,
                    period_start=posting.period_start,
                    period_end=posting.period_end,
                    due_on=posting.due_on,
                    paid_on=posting.paid_on,
                    amount=posting.amount,
                )
                self.result.created["interest postings"] += 1
            else:
                ledger_post_repayment(
                    actor=self.coop_user,
                    coop=self.coop,
                    loan=loan,
                    txn_id=posting.txn_id,
                    paid_on=posting.paid_on,
                    amount=posting.amount,
                )
                self.result.created["principal repayments"] += 1

    def statuses_seed(self) -> None:
        """Record the statuses as the daily task would have: on the day after
        an overdue loan's maturity, then today.

        A past day is replayed only while a loan falling overdue on it is
        still recorded as performing: replayed later, it would record the
        loans that fell overdue after it as performing again.
        """
        overdue = [h.loan for h, _b in self.households() if h.loan.story == "overdue"]
        recorded = dict(
            Loan.objects.filter(
                coop=self.coop, contract_no__in=[loan.contract_no for loan in overdue]
            ).values_list("contract_no", "status")
        )
        days = sorted(
            {
                loan.maturity_on + datetime.timedelta(days=1)
                for loan in overdue
                if recorded.get(loan.contract_no) == Loan.Status.ACTIVE
            }
        )
        for day in days:
            if day < self.today:
                with _clock(datetime.datetime.combine(day, datetime.time(1, 0))):
                    self.result.created["status changes"] += loan_statuses_record(today=day)
        self.result.created["status changes"] += loan_statuses_record(today=self.today)


def demo_loans_seed(
    *,
    county,
    coop_user,
    township_officers: dict,
    today: datetime.date,
    registry: DemoPlan | None = None,
) -> LoanSeedResult:
    """Write whatever of the loan plan is missing, cut off at ``today``. The
    county officer approves and runs the notices, the township officers
    (``township_officers``: township code → user) take their township's
    applications to the county, and the co-op's account (``coop_user``)
    lends and posts. Households whose borrower is not in the registry are
    passed over. All or nothing."""
    result = LoanSeedResult()
    if not Borrower.objects.exists():
        return result  # no registry: nothing to lend to
    programme = Programme.objects.get(name=PROGRAMME_NAME, year=YEAR, region_code=REGION_CODE)
    earlier = Programme.objects.get(name=PROGRAMME_NAME, year=EARLIER_YEAR, region_code=REGION_CODE)
    plan = demo_loan_plan(
        today=today,
        basis=programme.day_count_basis,
        notice_days=programme.notice_days,
        registry=registry,
    )
    with transaction.atomic():
        seeder = _Seeder(
            plan=plan,
            programme=programme,
            earlier=earlier,
            coop=CreditCoop.objects.get(code=COOP_CODE),
            county=county,
            coop_user=coop_user,
            officers=township_officers,
            result=result,
        )
        seeder.applications_seed()
        seeder.notices_seed()
        seeder.loans_seed()
        seeder.statuses_seed()
    return result


def demo_loans_figures() -> dict:
    """What the database holds of the Mojiang programme now, for
    ``seed_demo`` to print."""
    applications = Application.objects.filter(
        programme__name=PROGRAMME_NAME, programme__region_code=REGION_CODE
    )
    loans = Loan.objects.filter(programme__name=PROGRAMME_NAME, programme__region_code=REGION_CODE)
    entries = LedgerEntry.objects.filter(loan__in=loans, reversed_by__isnull=True)
    interest = entries.filter(kind=LedgerEntry.Kind.INTEREST)
    principal = entries.filter(kind=LedgerEntry.Kind.PRINCIPAL)
    early = (
        loans.filter(status=Loan.Status.REPAID)
        .annotate(
            paid_off=Max("ledger__paid_on", filter=Q(ledger__kind=LedgerEntry.Kind.PRINCIPAL))
        )
        .filter(paid_off__lt=F("maturity_on"))
    )
    return {
        "applications by year and state": Counter(
            {
                (year, state): n
                for year, state, n in applications.values_list("programme__year", "state")
                .annotate(n=Count("pk"))
                .values_list("programme__year", "state", "n")
            }
        ),
        "loans": loans.count(),
        "households": loans.values("application__household").distinct().count(),
        "loans by status": Counter(
            dict(loans.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        ),
        "principal": loans.aggregate(total=Sum("principal"))["total"] or ZERO,
        "principal repaid": principal.aggregate(total=Sum("amount"))["total"] or ZERO,
        "interest posted": interest.aggregate(total=Sum("amount"))["total"] or ZERO,
        "interest postings": interest.count(),
        "principal repayments": principal.count(),
        "late postings": interest.filter(paid_on__gt=F("due_on")).count(),
        "early repaid loans": early.count(),
        "notices": PublicNotice.objects.filter(
            programme__name=PROGRAMME_NAME, programme__region_code=REGION_CODE
        ).count(),
        "objections": Objection.objects.filter(entry__application__in=applications).count(),
    }
