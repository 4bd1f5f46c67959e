"""The Mojiang demo's applications and loans: 680 households borrow over 40
million yuan through the loan services, and the co-op's ledger tells the
stories a demo needs (late, differing, early-repaid, partly repaid and
overdue loans).

The demo is seeded once for the package (conftest.py).
"""

import datetime
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from beneficiaries.models import Borrower
from common.money import round_fen
from demo.loans import (
    CEILING_RATE,
    RATE,
    REJECTIONS,
    demo_loan_plan,
)
from demo.services import demo_seed
from loans.ledger.interest import accrued, expected_schedule
from loans.ledger.position import loan_position
from loans.ledger.selectors import is_settlement_day
from loans.models import (
    Application,
    ApplicationTransition,
    LedgerEntry,
    Loan,
    LoanStatusChange,
    NoticeEntry,
    Objection,
    Programme,
    PublicNotice,
)
from tests.demo.book.conftest import TODAY

State = Application.State
Kind = LedgerEntry.Kind
COMMITTEE = Borrower.Category.VILLAGE_COMMITTEE
FULL_TIMELINE = [
    State.SUBMITTED,
    State.VILLAGE_RECOMMENDED,
    State.TOWNSHIP_REVIEWED,
    State.COUNTY_APPROVED,
    State.IN_NOTICE,
    State.RELEASED,
]
LOAN_MODELS = (
    Application,
    ApplicationTransition,
    PublicNotice,
    NoticeEntry,
    Objection,
    Loan,
    LedgerEntry,
    LoanStatusChange,
)


@pytest.fixture
def plan(seeded, db):
    return demo_loan_plan(today=TODAY)


def programme(year: int) -> Programme:
    return Programme.objects.get(name="振兴贷", year=year, region_code="530822")


def loans():
    return Loan.objects.filter(programme=programme(2025)).select_related(
        "application__borrower", "application__household", "programme"
    )


def local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def loan_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in LOAN_MODELS}
    for model in LOAN_MODELS:
        if hasattr(model, "history"):
            counts[model.__name__ + " history"] = model.history.count()
    return counts


def ledgers() -> dict[int, list[LedgerEntry]]:
    by_loan = defaultdict(list)
    for entry in LedgerEntry.objects.order_by("paid_on", "pk"):
        by_loan[entry.loan_id].append(entry)
    return by_loan


def repayments_of(entries: list[LedgerEntry]) -> list[tuple[datetime.date, Decimal]]:
    return [(e.paid_on, e.amount) for e in entries if e.kind == Kind.PRINCIPAL]


def test_680_households_borrow_over_40_million_yuan_as_planned(plan):
    rows = list(loans())
    assert len(rows) == 680
    assert len({loan.application.household_id for loan in rows}) == 680
    total = sum(loan.principal for loan in rows)
    assert total > Decimal("40000000")
    assert total == plan.total_principal()
    planned = {h.loan.contract_no: h.loan.principal for h in plan.households}
    assert {loan.contract_no: loan.principal for loan in rows} == planned


def test_no_loan_exceeds_its_approved_amount_or_the_household_quota(plan):
    lowered = 0
    for loan in loans():
        application = loan.application
        quota = Decimal("100000") if application.borrower.category == COMMITTEE else Decimal(50000)
        assert application.quota == quota
        assert loan.principal <= application.amount <= quota
        lowered += loan.principal < application.amount
    assert 1 <= lowered <= 10


def test_amounts_terms_rates_and_dates_are_those_of_a_rural_co_op(plan):
    terms, rates = Counter(), Counter()
    for loan in loans():
        application = loan.application
        amount = application.amount
        assert amount % 1000 == 0
        if application.borrower.category == COMMITTEE:
            assert Decimal("60000") <= amount <= Decimal("100000")
        else:
            assert Decimal("30000") <= amount <= Decimal("50000")
        assert application.industry_id == application.borrower.industry_id
        assert application.purpose.endswith("。")
        terms[application.term_months] += 1
        rates[loan.annual_rate] += 1
        assert re.fullmatch(r"墨信振兴2025-\d{4}", loan.contract_no)
        assert 3 <= (loan.disbursed_on - local_date(application.released_at)).days <= 15
        assert loan.disbursed_on.weekday() < 5
        months = (loan.maturity_on.year - loan.disbursed_on.year) * 12 + (
            loan.maturity_on.month - loan.disbursed_on.month
        )
        assert months == application.term_months
        assert loan.maturity_on.day == loan.disbursed_on.day or loan.maturity_on.day >= 28
    assert set(terms) == {12, 24, 36}
    assert terms[12] < terms[24] and terms[12] < terms[36]
    assert set(rates) == {RATE, CEILING_RATE}
    assert 0 < rates[CEILING_RATE] < rates[RATE] / 10


def test_every_application_has_the_full_timeline_on_the_days_of_the_plan(plan):
    applications = Application.objects.filter(programme=programme(2025))
    assert applications.count() == 680
    assert set(applications.values_list("state", flat=True)) == {State.RELEASED}
    steps = defaultdict(list)
    for step in ApplicationTransition.objects.filter(application__in=applications).select_related(
        "actor"
    ):
        steps[step.application_id].append(step)
    notice_starts = {notice.starts_on for notice in plan.notices}
    by_borrower = {h.borrower_id_number: h for h in plan.households}
    for application in applications.select_related("borrower", "township"):
        timeline = steps[application.pk]
        assert [s.to_state for s in timeline] == FULL_TIMELINE
        assert [s.from_state for s in timeline] == ["", *FULL_TIMELINE[:-1]]
        planned = by_borrower[application.borrower.id_number].application.steps
        days = [local_date(s.at) for s in timeline]
        assert days[:4] == [step.on for step in planned]
        assert days == sorted(days)
        assert days[4] in notice_starts
        assert local_date(application.submitted_at) == days[0]
        actors = [s.actor.username for s in timeline]
        assert actors[3:] == ["county", "county", "county"]
        officer = {"联珠镇": "township", "通关镇": "township2"}.get(application.township.name)
        assert actors[:3] == [officer or "county"] * 3


def test_a_dozen_households_were_turned_down_in_2024_with_the_reason_in_the_timeline(plan):
    rejected = Application.objects.filter(programme=programme(2024))
    assert 10 <= rejected.count() <= 12
    reasons = {reason for options in REJECTIONS.values() for reason in options}
    stopped_at = set()
    for application in rejected:
        assert application.state == State.REJECTED
        last = application.transitions.order_by("at", "pk").last()
        assert last.to_state == State.REJECTED
        assert last.comment in reasons
        assert local_date(last.at).year == 2024
        stopped_at.add(last.from_state)
        # Turned down then, lent to in 2025 like every household.
        assert Loan.objects.filter(application__household=application.household_id).exists()
    assert stopped_at == {State.SUBMITTED, State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED}
    county = rejected.filter(
        transitions__to_state=State.REJECTED, transitions__actor__username="county"
    )
    assert county.exists()


def test_three_notices_ran_their_period_and_objections_were_resolved_before_release(plan):
    notices = list(PublicNotice.objects.filter(programme=programme(2025)).order_by("starts_on"))
    assert [n.starts_on for n in notices] == [n.starts_on for n in plan.notices]
    assert [n.entries.count() for n in notices] == [260, 240, 180]
    for notice in notices:
        assert (notice.ends_on - notice.starts_on).days == 9
        assert notice.closed_at is not None
        released = {local_date(entry.application.released_at) for entry in notice.entries.all()}
        assert released == {notice.ends_on + datetime.timedelta(days=1)}
    objections = list(Objection.objects.select_related("entry__notice", "entry__application"))
    assert len(objections) == 2
    for objection in objections:
        assert objection.upheld is False
        assert objection.resolution
        assert local_date(objection.resolved_at) <= objection.entry.notice.ends_on
        assert objection.entry.application.state == State.RELEASED


def test_interest_is_posted_for_every_settlement_due_by_today_and_nothing_after(plan):
    by_loan = ledgers()
    assert 4000 <= sum(len(entries) for entries in by_loan.values()) <= 6000
    for loan in loans():
        entries = by_loan[loan.pk]
        assert all(e.paid_on <= TODAY for e in entries)
        assert all(local_date(e.posted_at) == e.paid_on for e in entries)
        repayments = repayments_of(entries)
        repaid = sum(amount for _day, amount in repayments)
        closed_on = repayments[-1][0] if repaid == loan.principal else None
        ends_on = closed_on or loan.maturity_on
        periods = expected_schedule(
            principal=loan.principal,
            rate=loan.annual_rate,
            basis=loan.programme.day_count_basis,
            disbursed_on=loan.disbursed_on,
            ends_on=ends_on,
            repayments=repayments,
        )
        # An overdue loan has paid nothing since its maturity.
        overdue = closed_on is None and loan.maturity_on < TODAY
        due = []
        for period in periods:
            due_on = period.end if is_settlement_day(period.end) else ends_on
            if due_on <= TODAY and not (overdue and due_on >= loan.maturity_on):
                due.append((period.start, period.end, due_on))
        posted = [
            (e.period_start, e.period_end, e.due_on) for e in entries if e.kind == Kind.INTEREST
        ]
        assert posted == due, loan.contract_no


def test_the_ledger_holds_late_differing_early_partial_and_overdue_loans(plan):
    by_loan = ledgers()
    late, differing, early, partly, overdue = set(), set(), set(), set(), set()
    for loan in loans():
        entries = by_loan[loan.pk]
        repayments = repayments_of(entries)
        repaid = sum(amount for _day, amount in repayments)
        for entry in entries:
            if entry.kind != Kind.INTEREST:
                continue
            if entry.paid_on > entry.due_on:
                late.add(loan.pk)
                assert 1 <= (entry.paid_on - entry.due_on).days <= 20
            expected = round_fen(
                accrued(
                    loan.principal,
                    loan.annual_rate,
                    loan.programme.day_count_basis,
                    entry.period_start,
                    entry.period_end,
                    repayments,
                )
            )
            if entry.amount != expected:
                differing.add(loan.pk)
                assert Decimal("1.00") < abs(entry.amount - expected) <= Decimal("6.00")
        if repaid == loan.principal and repayments[-1][0] < loan.maturity_on:
            early.add(loan.pk)
        if 0 < repaid < loan.principal:
            partly.add(loan.pk)
        if loan.maturity_on < TODAY and repaid < loan.principal:
            overdue.add(loan.pk)
            assert loan.application.term_months == 12
            # Nothing paid since maturity, but what the co-op recovered on
            # a loan the fund compensated (demo/riskfund.py).
            written_off = loan.written_off_on
            assert all(
                e.paid_on < loan.maturity_on or (written_off and e.paid_on > written_off)
                for e in entries
            )
        elif loan.maturity_on < TODAY:
            assert repayments[-1] == (loan.maturity_on, loan.principal)  # repaid at maturity
    assert 5 <= len(late) <= 10
    assert 4 <= len(differing) <= 8
    assert 8 <= len(early) <= 12
    assert 10 <= len(partly) <= 20
    assert 5 <= len(overdue) <= 10
    assert not (late & differing)


def test_recorded_statuses_match_the_ledger_as_of_today(plan):
    statuses = Counter()
    for loan in loans():
        assert loan.status == loan_position(loan, on=TODAY).status, loan.contract_no
        statuses[loan.status] += 1
    assert statuses[Loan.Status.OVERDUE] >= 5
    assert statuses[Loan.Status.REPAID] >= 50
    assert statuses[Loan.Status.ACTIVE] > 500
    # Each loan fell overdue the day after its maturity, as the daily task records it.
    for change in LoanStatusChange.objects.filter(to_status=Loan.Status.OVERDUE):
        assert change.on == change.loan.maturity_on + datetime.timedelta(days=1)


def test_the_plan_is_pure_deterministic_and_a_later_day_only_adds_to_it(
    seeded, db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        first = demo_loan_plan(today=TODAY)
        second = demo_loan_plan(today=TODAY)
        later = demo_loan_plan(today=TODAY + datetime.timedelta(days=120))
    assert first == second
    assert first.total_principal() == later.total_principal()
    for now, then in zip(first.households, later.households, strict=True):
        assert now.application == then.application
        assert then.loan.postings[: len(now.loan.postings)] == now.loan.postings
    assert len(later.postings()) > len(first.postings())


def test_seeding_again_creates_nothing_and_prints_the_loans(seeded, db, capsys, monkeypatch):
    assert sum(seeded["loans"].created.values()) > 5000
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)
    # The package's seed leaves the smaller counties out: the first command
    # adds them, the second finds everything there.
    call_command("seed_demo")
    assert "created this run: 420 loans, 2 subsidy runs" in capsys.readouterr().out
    before = loan_counts()
    assert before["LedgerEntry"] > 4000
    call_command("seed_demo")
    printed = capsys.readouterr().out
    assert loan_counts() == before
    section = printed.split("Applications and loans")[1].split("Subsidy runs")[0]
    total = sum(Loan.objects.filter(county__code="530822").values_list("principal", flat=True))
    assert f"{total:,.2f} yuan lent" in section
    assert "680 loans to 680 households" in section
    assert "nothing created" in section
    others = printed.split("The other counties of 普洱市")[1].split("Demo logins")[0]
    assert "宁洱哈尼族彝族自治县: 240 loans under 振兴贷" in others
    assert "景东彝族自治县: 180 loans under 普洱市乡村振兴贷" in others
    assert "nothing created" in others


def test_a_later_run_adds_only_what_fell_due_since(seeded, db):
    before = {e.txn_id: (e.amount, e.paid_on) for e in LedgerEntry.objects.all()}
    later = TODAY + datetime.timedelta(days=40)  # past the settlement of 20 December
    created = demo_seed(today=later, others=False)["loans"].created
    made = {kind for kind, count in created.items() if count}
    assert made <= {"interest postings", "principal repayments", "status changes"}
    after = {e.txn_id: (e.amount, e.paid_on) for e in LedgerEntry.objects.all()}
    assert {txn: after[txn] for txn in before} == before
    added = [after[txn][1] for txn in after.keys() - before.keys()]
    assert len(added) > 500
    assert all(TODAY < day <= later for day in added)
