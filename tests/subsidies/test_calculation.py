"""The subsidy rule of DOMAIN.md section 5, ``subsidies.calculation.line_working``.

Postings are built from ``loans.interest.expected_schedule``: the quarterly
settlements a bank makes, each paid on its due date unless a test says
otherwise. The figures asserted are worked by hand in the comments, never
read back from the code under test.
"""

import calendar
import dataclasses
import datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from common.money import round_fen
from loans.ledger.interest import expected_schedule
from subsidies.calculation import (
    ELIGIBLE,
    OVERDUE,
    LoanTerms,
    Posting,
    Rule,
    line_working,
)

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
FEN = Decimal("0.01")


def settlement_year(year: int) -> tuple[datetime.date, datetime.date]:
    """The default subsidy year: 21 December of the previous year to 20 December."""
    return D(year - 1, 12, 21), D(year, 12, 20)


def calendar_year(year: int) -> tuple[datetime.date, datetime.date]:
    return D(year, 1, 1), D(year, 12, 31)


def terms(
    principal="100000",
    rate="0.0345",
    disbursed_on=None,
    maturity_on=None,
    **kwargs,
) -> LoanTerms:
    """The loan of the worked figures (100,000 at 3.45 %, 2024-01-10 ..
    2025-01-10) unless told otherwise."""
    return LoanTerms(
        principal=Decimal(principal),
        rate=Decimal(rate),
        disbursed_on=disbursed_on or D(2024, 1, 10),
        maturity_on=maturity_on or D(2025, 1, 10),
        **kwargs,
    )


def due_date(period_end: datetime.date, ends_on: datetime.date) -> datetime.date:
    """A settlement is due on its settlement day; the last one on the repayment day."""
    return ends_on if period_end + ONE_DAY == ends_on else period_end


def bank_postings(loan: LoanTerms, ends_on=None, repayments=(), late_days=None) -> list[Posting]:
    """One posting per settlement period from disbursement to ``ends_on``
    (default: maturity), with the bank's amount, paid on the due date plus
    ``late_days[i]`` days for period ``i``."""
    ends_on = ends_on or loan.maturity_on
    late_days = late_days or {}
    periods = expected_schedule(
        principal=loan.principal,
        rate=loan.rate,
        basis=360,
        disbursed_on=loan.disbursed_on,
        ends_on=ends_on,
        repayments=repayments,
    )
    postings = []
    for index, period in enumerate(periods):
        due_on = due_date(period.end, ends_on)
        postings.append(
            Posting(
                txn_id=f"T{index + 1}",
                period_start=period.start,
                period_end=period.end,
                due_on=due_on,
                paid_on=due_on + datetime.timedelta(days=late_days.get(index, 0)),
                amount=period.interest,
            )
        )
    return postings


def repaid_at_maturity(loan: LoanTerms) -> list[tuple[datetime.date, Decimal]]:
    return [(loan.maturity_on, loan.principal)]


def work(loan, year, postings, repayments=None, rule=None, detail=False):
    """The line for ``loan`` in ``year`` (a (first, last) pair); by default
    the loan is repaid in full on its maturity date."""
    if repayments is None:
        repayments = repaid_at_maturity(loan)
    return line_working(
        terms=loan,
        rule=rule or Rule(),
        year_start=year[0],
        year_end=year[1],
        postings=postings,
        repayments=repayments,
        detail=detail,
    )


def with_amount(postings, index, amount) -> list[Posting]:
    changed = list(postings)
    changed[index] = dataclasses.replace(changed[index], amount=Decimal(amount))
    return changed


# --- The worked figures of DOMAIN.md section 5 -------------------------------

LOAN_345 = terms()  # 100,000 at 3.45 %, 2024-01-10 .. 2025-01-10
LOAN_QUOTA = terms(principal="80000", maturity_on=D(2025, 1, 9), quota=Decimal("50000"))
LOAN_CAPPED = terms(rate="0.0435", maturity_on=D(2025, 1, 9), cap_rate=Decimal("0.0345"))


def test_the_100000_loan_gets_3315_84_for_2024():
    """Section 5 worked figures: the four 2024 settlements 680.42, 881.67,
    881.67 and 872.08 (71 + 92 + 92 + 91 = 346 days) are all subsidised."""
    postings = bank_postings(LOAN_345)
    assert [p.amount for p in postings] == [
        Decimal("680.42"),
        Decimal("881.67"),
        Decimal("881.67"),
        Decimal("872.08"),
        Decimal("191.67"),
    ]
    line = work(LOAN_345, settlement_year(2024), postings)
    assert line.subsidy == Decimal("3315.84")
    assert line.eligible_days == 346
    assert line.reported_interest == line.expected_interest == Decimal("3315.84")
    assert line.eligible_interest == line.paid_on_time == Decimal("3315.84")
    assert line.difference == Decimal("0.00")
    assert (line.days_outside_year, line.days_overdue, line.days_late) == (0, 0, 0)
    assert (line.days_written_off, line.days_unreported) == (0, 0)
    assert line.interest_above_cap == line.interest_above_quota == Decimal("0.00")
    assert [p.subsidised for p in line.periods] == [p.amount for p in postings[:4]]


def test_the_100000_loan_gets_191_67_for_2025():
    """Section 5 worked figures: 20 days (21 Dec .. 9 Jan) in 2025, and the
    repayment on the maturity date leaves no overdue day."""
    line = work(LOAN_345, settlement_year(2025), bank_postings(LOAN_345))
    assert line.subsidy == Decimal("191.67")
    assert line.eligible_days == 20
    assert line.days_overdue == 0
    assert line.reported_interest == line.expected_interest == Decimal("191.67")


def test_a_50000_quota_subsidises_1748_95_of_2798_33():
    """Section 5 worked figures: 80,000 on a 50,000 quota. Eligible interest
    is on 50,000: 340.21 + 440.83 + 440.83 + 436.04 = 1,657.91 for 2024 and
    19 days = 91.04 for 2025."""
    postings = bank_postings(LOAN_QUOTA)
    assert sum(p.amount for p in postings) == Decimal("2798.33")
    y2024 = work(LOAN_QUOTA, settlement_year(2024), postings)
    y2025 = work(LOAN_QUOTA, settlement_year(2025), postings)
    assert [p.eligible for p in y2024.periods] == [
        Decimal("340.21"),
        Decimal("440.83"),
        Decimal("440.83"),
        Decimal("436.04"),
    ]
    assert y2024.subsidy == Decimal("1657.91")
    assert y2025.subsidy == Decimal("91.04")
    assert y2024.subsidy + y2025.subsidy == Decimal("1748.95")
    assert (y2024.eligible_days, y2025.eligible_days) == (346, 19)
    # 80,000: 544.33 + 705.33 + 705.33 + 697.67, and 19 days = 145.67.
    assert y2024.reported_interest == y2024.expected_interest == Decimal("2652.66")
    assert y2025.reported_interest == y2025.expected_interest == Decimal("145.67")
    # 30,000 above the quota: 30,000 × 346 × 3.45 % / 360 = 994.75; × 19 days = 54.625.
    assert y2024.interest_above_quota == Decimal("994.75")
    assert y2025.interest_above_quota == Decimal("54.63")
    assert y2024.interest_above_cap == Decimal("0.00")


def test_a_345_cap_subsidises_3497_92_of_4410_42():
    """Section 5 worked figures: 100,000 at 4.35 % capped at 3.45 %: the
    eligible interest is the 3.45 % loan's (3,315.84, then 19 days = 182.08)."""
    postings = bank_postings(LOAN_CAPPED)
    assert sum(p.amount for p in postings) == Decimal("4410.42")
    y2024 = work(LOAN_CAPPED, settlement_year(2024), postings)
    y2025 = work(LOAN_CAPPED, settlement_year(2025), postings)
    assert y2024.subsidy == Decimal("3315.84")
    assert y2025.subsidy == Decimal("182.08")
    assert y2024.subsidy + y2025.subsidy == Decimal("3497.92")
    # 857.92 + 1,111.67 + 1,111.67 + 1,099.58; 19 days = 229.58.
    assert y2024.reported_interest == y2024.expected_interest == Decimal("4180.84")
    assert y2025.reported_interest == y2025.expected_interest == Decimal("229.58")
    assert y2024.paid_on_time == Decimal("4180.84")
    # 100,000 × 346 × 0.90 % / 360 = 865.00; × 19 days = 47.50.
    assert y2024.interest_above_cap == Decimal("865.00")
    assert y2025.interest_above_cap == Decimal("47.50")
    assert y2024.interest_above_quota == Decimal("0.00")


# --- Step 4: payment on time, grace days --------------------------------------


def test_a_period_paid_after_its_due_date_and_grace_is_not_subsidised():
    """Step 4: the second settlement (92 days, due 20 June) paid on 25 June
    with 3 grace days is late: its 881.67 drops out of the subsidy."""
    postings = bank_postings(LOAN_345, late_days={1: 5})
    line = work(LOAN_345, settlement_year(2024), postings, rule=Rule(grace_days=3))
    assert line.subsidy == Decimal("2434.17")  # 3,315.84 − 881.67
    assert line.days_late == 92
    assert line.eligible_days == 254
    assert line.paid_on_time == Decimal("2434.17")
    assert line.reported_interest == Decimal("3315.84")
    assert line.eligible_interest == Decimal("2434.17")
    late = line.periods[1]
    assert (late.on_time, late.eligible, late.subsidised) == (False, Decimal("0.00"), 0)


@pytest.mark.parametrize("grace_days", [5, 6])
def test_a_payment_within_the_grace_days_is_on_time(grace_days):
    """Step 4: paid date ≤ due date + grace days counts, the last grace day included."""
    postings = bank_postings(LOAN_345, late_days={1: 5})
    line = work(LOAN_345, settlement_year(2024), postings, rule=Rule(grace_days=grace_days))
    assert line.subsidy == Decimal("3315.84")
    assert line.days_late == 0
    assert line.eligible_days == 346


def test_without_grace_days_a_payment_one_day_late_is_late():
    """Step 4 with the default of 0 grace days."""
    postings = bank_postings(LOAN_345, late_days={0: 1})
    line = work(LOAN_345, settlement_year(2024), postings)
    assert line.subsidy == Decimal("2635.42")  # 3,315.84 − 680.42
    assert line.days_late == 71


# --- Step 2: overdue, written off, unreported ---------------------------------

# 100,000 at 3.45 % due on 10 November 2024, repaid only on 10 January 2025;
# the bank keeps settling interest on the overdue balance.
LOAN_OVERDUE = terms(maturity_on=D(2024, 11, 10))
OVERDUE_REPAYMENTS = [(D(2025, 1, 10), Decimal("100000"))]
OVERDUE_POSTINGS = bank_postings(LOAN_OVERDUE, ends_on=D(2025, 1, 10))


def test_overdue_days_are_excluded_from_the_maturity_date_on():
    """Step 2, overdue treatment "exclude the overdue days": the fourth
    settlement's 50 days before 10 November stay eligible (479.17), its 41
    days from the maturity date on are overdue."""
    line = work(LOAN_OVERDUE, settlement_year(2024), OVERDUE_POSTINGS, OVERDUE_REPAYMENTS)
    assert line.eligible_days == 71 + 92 + 92 + 50
    assert line.days_overdue == 41
    assert line.periods[3].eligible == Decimal("479.17")
    assert line.subsidy == Decimal("2922.93")  # 680.42 + 881.67 + 881.67 + 479.17
    # The bank's 872.08 covers the overdue days too: reported = expected.
    assert line.reported_interest == line.expected_interest == Decimal("3315.84")


def test_a_year_of_only_overdue_days_gets_nothing():
    """Step 2: in 2025 the loan is overdue until its repayment on 10 January."""
    line = work(LOAN_OVERDUE, settlement_year(2025), OVERDUE_POSTINGS, OVERDUE_REPAYMENTS)
    assert line.subsidy == Decimal("0.00")
    assert line.days_overdue == 20
    assert line.eligible_days == 0
    assert line.reported_interest == Decimal("191.67")


def test_lose_the_year_when_any_day_is_overdue_with_a_balance():
    """Section 5 overdue treatment "lose the whole year": one overdue day
    with a balance costs the whole of 2024."""
    rule = Rule(lose_year_if_overdue=True)
    line = work(LOAN_OVERDUE, settlement_year(2024), OVERDUE_POSTINGS, OVERDUE_REPAYMENTS, rule)
    assert line.subsidy == Decimal("0.00")
    assert line.eligible_days == 0
    assert line.days_overdue == 346
    assert line.eligible_interest == Decimal("0.00")
    assert line.reported_interest == line.expected_interest == Decimal("3315.84")


def test_lose_the_year_does_not_touch_a_loan_repaid_on_its_maturity_date():
    """Section 5 "lose the whole year": no day is overdue when the balance is
    repaid on the maturity date."""
    loan = terms(maturity_on=D(2024, 11, 10))
    line = work(
        loan, settlement_year(2024), bank_postings(loan), rule=Rule(lose_year_if_overdue=True)
    )
    assert line.subsidy == Decimal("2922.93")  # 680.42 + 881.67 + 881.67 + 479.17 (50 days)
    assert line.days_overdue == 0


def test_lose_the_year_leaves_the_year_before_maturity_alone():
    """Section 5 "lose the whole year": the loan of the worked figures,
    unpaid at its maturity on 10 January 2025, loses 2025 only."""
    rule = Rule(lose_year_if_overdue=True)
    postings = bank_postings(LOAN_345, ends_on=D(2025, 3, 1))
    unpaid = [(D(2025, 3, 1), Decimal("100000"))]
    assert work(LOAN_345, settlement_year(2024), postings, unpaid, rule).subsidy == Decimal(
        "3315.84"
    )
    y2025 = work(LOAN_345, settlement_year(2025), postings, unpaid, rule)
    assert y2025.subsidy == Decimal("0.00")
    assert y2025.days_overdue == 20 + 50  # 21 Dec .. 28 Feb, all lost
    excluded = work(LOAN_345, settlement_year(2025), postings, unpaid)
    assert excluded.subsidy == Decimal("191.67")  # only 10 Jan .. 28 Feb excluded
    assert excluded.days_overdue == 50


def test_written_off_days_are_excluded_from_the_write_off_on():
    """Step 2: a day counts only if the loan is not written off. Written off
    on 1 August 2024; the third settlement (21 June .. 20 September, 881.67)
    keeps 41 eligible days, 100,000 × 41 × 3.45 % / 360 = 392.92."""
    loan = terms(written_off_on=D(2024, 8, 1))
    postings = bank_postings(loan)[:3]
    line = work(loan, settlement_year(2024), postings, repayments=[])
    assert line.eligible_days == 71 + 92 + 41
    assert line.days_written_off == 142  # 1 August .. 20 December
    assert line.days_unreported == 0
    assert line.periods[2].eligible == Decimal("392.92")
    assert line.subsidy == Decimal("1955.01")  # 680.42 + 881.67 + 392.92
    # Written-off days are expected to earn nothing, so the co-op's 881.67 is 488.75 over.
    assert line.expected_interest == Decimal("1955.01")
    assert line.difference == Decimal("488.75")


def test_days_without_a_posting_are_unreported():
    """Step 3: only posted periods are subsidised; the days of a missing
    settlement are unreported but still expected."""
    postings = bank_postings(LOAN_345)
    del postings[2]  # 21 June .. 20 September, 881.67
    line = work(LOAN_345, settlement_year(2024), postings)
    assert line.days_unreported == 92
    assert line.eligible_days == 254
    assert line.subsidy == Decimal("2434.17")
    assert line.reported_interest == Decimal("2434.17")
    assert line.expected_interest == Decimal("3315.84")
    assert line.difference == Decimal("-881.67")


# --- Step 4: a period straddling the year's end --------------------------------

# 100,000 at 3.45 % from 2024-01-10 to 2025-03-10: the last settlement covers
# 21 December 2024 .. 9 March 2025, 79 days, 757.08.
LOAN_MARCH = terms(maturity_on=D(2025, 3, 10))


def test_a_calendar_year_takes_the_share_of_a_straddling_period_inside_it():
    """Step 4, calendar subsidy year: the last settlement has 11 of its 79
    days in 2024, 757.08 × 11 / 79 = 105.416 → 105.42 (eligible: 105.42)."""
    postings = bank_postings(LOAN_MARCH)
    assert (postings[-1].days, postings[-1].amount) == (79, Decimal("757.08"))
    line = work(LOAN_MARCH, calendar_year(2024), postings)
    assert line.eligible_days == 357  # 10 January .. 31 December
    assert line.days_outside_year == 68
    assert line.periods[-1].days_in_year == 11
    assert line.periods[-1].reported == Decimal("105.42")
    assert line.subsidy == Decimal("3421.26")  # 3,315.84 + 105.42


def test_the_next_calendar_year_takes_the_rest_of_the_straddling_period():
    """Step 4: 757.08 × 68 / 79 = 651.664 → 651.66, below its eligible 651.67."""
    line = work(LOAN_MARCH, calendar_year(2025), bank_postings(LOAN_MARCH))
    assert line.eligible_days == 68
    assert line.days_outside_year == 11
    assert line.periods[0].reported == Decimal("651.66")
    assert line.periods[0].eligible == Decimal("651.67")
    assert line.subsidy == Decimal("651.66")


def test_the_share_of_a_straddling_period_rounds_half_up():
    """Step 4: 1 of 8 days of 76.60 is 9.575 → 9.58 (half-even would give 9.57)."""
    loan = terms(disbursed_on=D(2024, 12, 31), maturity_on=D(2025, 1, 8))
    posting = Posting(
        "T1", D(2024, 12, 31), D(2025, 1, 7), D(2025, 1, 8), D(2025, 1, 8), Decimal("76.60")
    )
    line = work(loan, calendar_year(2024), [posting])
    assert line.periods[0].reported == Decimal("9.58")
    assert line.periods[0].eligible == Decimal("9.58")  # 100,000 × 3.45 % / 360 = 9.583
    assert line.subsidy == Decimal("9.58")


def test_the_year_shares_of_a_straddling_posting_add_up_to_its_amount():
    """Step 5: the subsidy never exceeds the interest the borrower paid, over
    the years too. 76.60 posted for 31 Dec 2024 .. 7 Jan 2025 (eligible
    9.58 a day, so the shares are what is subsidised)."""
    loan = terms(disbursed_on=D(2024, 12, 31), maturity_on=D(2025, 1, 8))
    posting = Posting(
        "T1", D(2024, 12, 31), D(2025, 1, 7), D(2025, 1, 8), D(2025, 1, 8), Decimal("76.60")
    )
    y2024 = work(loan, calendar_year(2024), [posting])
    y2025 = work(loan, calendar_year(2025), [posting])
    assert y2024.reported_interest + y2025.reported_interest == Decimal("76.60")
    assert y2024.subsidy + y2025.subsidy <= Decimal("76.60")


# --- Step 5: the ratio, rounded once ------------------------------------------


def test_a_ratio_of_one_half_is_applied_to_the_sum_and_rounded_once():
    """Step 5: 3,315.84 × 0.5 = 1,657.92; halving each period first would
    give 340.21 + 440.84 + 440.84 + 436.04 = 1,657.93."""
    postings = bank_postings(LOAN_345)
    rule = Rule(ratio=Decimal("0.5"))
    assert work(LOAN_345, settlement_year(2024), postings, rule=rule).subsidy == Decimal("1657.92")
    # 191.67 × 0.5 = 95.835 → 95.84, half-up.
    assert work(LOAN_345, settlement_year(2025), postings, rule=rule).subsidy == Decimal("95.84")


# --- Reconciliation -------------------------------------------------------------


def test_a_report_2_yuan_over_fails_a_1_yuan_tolerance_and_is_capped():
    """Reconciliation tolerance [1.00]: the co-op reports 883.67 for the
    second settlement (bank: 881.67); the subsidy stays at the eligible 881.67."""
    postings = with_amount(bank_postings(LOAN_345), 1, "883.67")
    line = work(LOAN_345, settlement_year(2024), postings)
    assert line.reported_interest == Decimal("3317.84")
    assert line.expected_interest == Decimal("3315.84")
    assert line.difference == Decimal("2.00")
    assert not line.reconciles(Decimal("1.00"))
    assert line.reconciles(Decimal("2.00"))
    assert line.subsidy == Decimal("3315.84")


def test_a_report_2_yuan_under_fails_the_tolerance_and_lowers_the_subsidy():
    """Step 4: min(reported, eligible): 879.67 reported is all that is subsidised."""
    postings = with_amount(bank_postings(LOAN_345), 1, "879.67")
    line = work(LOAN_345, settlement_year(2024), postings)
    assert line.difference == Decimal("-2.00")
    assert not line.reconciles(Decimal("1.00"))
    assert line.subsidy == Decimal("3313.84")


# --- Step 1: a partial repayment (算头不算尾) ---------------------------------


def test_a_partial_repayment_lowers_the_balance_from_its_own_day():
    """Step 1: 40,000 repaid on 1 May 2024 accrues to 30 April. Second
    settlement: (100,000 × 41 + 60,000 × 51) × 3.45 % / 360 = 686.17; then
    60,000 × 92 = 529.00 and × 91 = 523.25."""
    repayments = [(D(2024, 5, 1), Decimal("40000")), (D(2025, 1, 10), Decimal("60000"))]
    postings = bank_postings(LOAN_345, repayments=repayments)
    assert [p.amount for p in postings[:4]] == [
        Decimal("680.42"),
        Decimal("686.17"),
        Decimal("529.00"),
        Decimal("523.25"),
    ]
    line = work(LOAN_345, settlement_year(2024), postings, repayments, detail=True)
    assert line.subsidy == Decimal("2418.84")
    assert line.expected_interest == Decimal("2418.84")
    assert line.eligible_days == 346
    second = [run for run in line.runs if run.txn_id == "T2"]
    assert [(run.first, run.last, run.balance) for run in second] == [
        (D(2024, 3, 21), D(2024, 4, 30), Decimal("100000")),
        (D(2024, 5, 1), D(2024, 6, 20), Decimal("60000")),
    ]


def test_a_repayment_below_the_quota_brings_the_whole_balance_into_the_subsidy():
    """Step 2: min(balance, quota). The 80,000 loan on a 50,000 quota repays
    40,000 on 1 May: 50,000 × 41 + 40,000 × 51 days → 391.96 for the second
    settlement (80,000 × 41 + 40,000 × 51: 509.83 reported)."""
    repayments = [(D(2024, 5, 1), Decimal("40000")), (D(2025, 1, 9), Decimal("40000"))]
    postings = bank_postings(LOAN_QUOTA, repayments=repayments)
    line = work(LOAN_QUOTA, settlement_year(2024), postings, repayments)
    assert postings[1].amount == Decimal("509.83")
    assert line.periods[1].eligible == Decimal("391.96")
    assert line.periods[1].subsidised == Decimal("391.96")
    # 40,000 × 92 and × 91 are under the quota: eligible = reported, 352.67 and 348.83.
    assert [p.subsidised for p in line.periods[2:]] == [Decimal("352.67"), Decimal("348.83")]


# --- Properties -------------------------------------------------------------------


def add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return D(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def decimal_places(low: str, high: str, places: int):
    """Decimals between ``low`` and ``high`` with exactly ``places`` places."""
    scale = 10**places
    return st.integers(int(Decimal(low) * scale), int(Decimal(high) * scale)).map(
        lambda n: Decimal(n).scaleb(-places)
    )


rates = st.sampled_from([4, 5, 6]).flatmap(lambda places: decimal_places("0.01", "0.08", places))
principals = st.one_of(st.integers(1000, 500_000).map(Decimal), decimal_places("1000", "500000", 2))


@st.composite
def loans(draw, overdue=False, eventful=True):
    """A loan with its postings: the bank's settlements, some amounts moved
    by up to ±5 yuan, some paid up to 10 days late; repaid at maturity.

    ``eventful``: maybe a partial repayment before maturity, the rest repaid
    up to 120 days late, a write-off. ``overdue``: never repaid, settled
    until the end of 2026."""
    disbursed_on = draw(st.dates(D(2023, 1, 1), D(2025, 12, 31)))
    maturity_on = add_months(disbursed_on, draw(st.integers(3, 36)))
    principal = draw(principals)
    written_off_on = None
    repayments = [] if overdue else [(maturity_on, principal)]
    if eventful:
        days_late = draw(st.just(0) | st.integers(1, 120))
        repayments = [(maturity_on + datetime.timedelta(days=days_late), principal)]
        if draw(st.booleans()):
            share = round_fen(principal * draw(st.integers(1, 99)) / 100)
            day = draw(st.dates(disbursed_on + ONE_DAY, maturity_on - ONE_DAY))
            repayments = [(day, share), (repayments[0][0], principal - share)]
        written_off_on = draw(st.none() | st.dates(disbursed_on + ONE_DAY, repayments[-1][0]))
    loan = LoanTerms(
        principal=principal,
        rate=draw(rates),
        disbursed_on=disbursed_on,
        maturity_on=maturity_on,
        written_off_on=written_off_on,
        quota=draw(st.none() | st.integers(1000, 500_000).map(Decimal)),
        cap_rate=draw(st.none() | decimal_places("0.01", "0.08", 4)),
    )
    ends_on = D(2027, 1, 1) if overdue else repayments[-1][0]
    postings = []
    for posting in bank_postings(loan, ends_on=ends_on, repayments=repayments):
        moved = draw(st.just(0) | st.integers(-500, 500))
        late = draw(st.just(0) | st.integers(1, 10))
        postings.append(
            dataclasses.replace(
                posting,
                amount=max(posting.amount + Decimal(moved) / 100, Decimal("0.00")),
                paid_on=posting.paid_on + datetime.timedelta(days=late),
            )
        )
    return loan, postings, repayments


@st.composite
def years_of(draw, loan, bounds=None):
    """A subsidy year the loan has days in, settlement or calendar bounds."""
    bounds = bounds or draw(st.sampled_from([settlement_year, calendar_year]))
    year = draw(st.integers(loan.disbursed_on.year, loan.maturity_on.year + 1))
    return bounds(year)


ratios = st.integers(0, 100).map(lambda n: Decimal(n).scaleb(-2))
rules = st.builds(
    Rule, ratio=ratios, grace_days=st.integers(0, 5), lose_year_if_overdue=st.booleans()
)

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(st.data(), loans(), rules)
def test_the_subsidy_never_exceeds_the_interest_paid_on_time_nor_the_eligible(data, loan, rule):
    """Step 5: never more than the borrower paid (on time), step 4: never
    more than the eligible interest."""
    terms_, postings, repayments = loan
    year = data.draw(years_of(terms_))
    line = work(terms_, year, postings, repayments, rule)
    assert line.subsidy <= line.paid_on_time <= line.reported_interest
    assert line.subsidy <= line.eligible_interest
    assert Decimal("0.00") <= line.subsidy


@PROPERTY_SETTINGS
@given(st.data(), loans(), rules)
def test_the_subsidy_is_the_ratio_of_the_full_subsidy_rounded_once(data, loan, rule):
    """Step 5: at ratio 1 the subsidy is exactly the sum of the periods'
    subsidised fen amounts, so at ratio r it is exactly round_fen(that × r)."""
    terms_, postings, repayments = loan
    year = data.draw(years_of(terms_))
    full = work(terms_, year, postings, repayments, dataclasses.replace(rule, ratio=Decimal(1)))
    assert full.subsidy == sum((p.subsidised for p in full.periods), Decimal("0.00"))
    line = work(terms_, year, postings, repayments, rule)
    assert line.subsidy == round_fen(full.subsidy * rule.ratio)


@PROPERTY_SETTINGS
@given(st.data(), loans(), rules, decimal_places("0.01", "0.08", 4))
def test_lowering_the_cap_never_raises_the_subsidy(data, loan, rule, lower_cap):
    """Step 2: eligible interest is at min(contract rate, cap)."""
    terms_, postings, repayments = loan
    higher_cap = terms_.cap_rate
    assume(higher_cap is None or lower_cap <= higher_cap)
    year = data.draw(years_of(terms_))
    before = work(terms_, year, postings, repayments, rule)
    lowered = dataclasses.replace(terms_, cap_rate=lower_cap)
    after = work(lowered, year, postings, repayments, rule)
    assert after.subsidy <= before.subsidy
    assert after.eligible_interest <= before.eligible_interest


@PROPERTY_SETTINGS
@given(st.data(), loans(overdue=True, eventful=False), rules)
def test_a_loan_overdue_all_year_gets_nothing(data, loan, rule):
    """Step 2: no day on or after the maturity date is eligible, under
    either overdue treatment."""
    terms_, postings, repayments = loan
    assume(terms_.maturity_on.year < 2026)
    bounds = data.draw(st.sampled_from([settlement_year, calendar_year]))
    year = data.draw(st.integers(terms_.maturity_on.year + 1, 2026).map(bounds))
    assume(terms_.maturity_on < year[0])
    line = work(terms_, year, postings, repayments, rule)
    assert line.subsidy == Decimal("0.00")
    assert line.eligible_days == 0
    assert line.days_overdue == (year[1] - year[0]).days + 1
    assert line.eligible_interest == Decimal("0.00")


@PROPERTY_SETTINGS
@given(st.data(), loans(eventful=False))
def test_splitting_a_posting_moves_the_subsidy_by_at_most_a_fen(data, loan):
    """Step 3: rounding per settlement. One posting split at a day into two
    postings whose amounts add up to it (in proportion to their days, the
    balance being the same over the period) moves the subsidy by at most
    0.01. Settlement-year bounds, so no posting straddles the year; ratio 1."""
    terms_, postings, repayments = loan
    year = data.draw(years_of(terms_, bounds=settlement_year))
    in_year = [
        i
        for i, p in enumerate(postings)
        if p.days > 1 and year[0] <= p.period_start and p.period_end <= year[1]
    ]
    assume(in_year)
    index = data.draw(st.sampled_from(in_year))
    original = postings[index]
    first_days = data.draw(st.integers(1, original.days - 1))
    first_amount = round_fen(original.amount * first_days / original.days)
    halves = [
        dataclasses.replace(
            original,
            txn_id=original.txn_id + "a",
            period_end=original.period_start + datetime.timedelta(days=first_days - 1),
            amount=first_amount,
        ),
        dataclasses.replace(
            original,
            txn_id=original.txn_id + "b",
            period_start=original.period_start + datetime.timedelta(days=first_days),
            amount=original.amount - first_amount,
        ),
    ]
    split = postings[:index] + halves + postings[index + 1 :]
    rule = data.draw(st.builds(Rule, grace_days=st.integers(0, 5)))
    whole = work(terms_, year, postings, repayments, rule)
    parts = work(terms_, year, split, repayments, rule)
    assert parts.reported_interest == whole.reported_interest
    assert abs(parts.subsidy - whole.subsidy) <= FEN


@PROPERTY_SETTINGS
@given(st.data(), loans(), rules)
def test_the_subsidy_is_a_non_negative_amount_in_fen(data, loan, rule):
    """Step 5: rounded half-up to the fen."""
    terms_, postings, repayments = loan
    year = data.draw(years_of(terms_))
    line = work(terms_, year, postings, repayments, rule)
    assert isinstance(line.subsidy, Decimal)
    assert line.subsidy.as_tuple().exponent == -2
    assert line.subsidy >= 0


@PROPERTY_SETTINGS
@given(st.data(), loans(eventful=False))
def test_correct_postings_reconcile_exactly(data, loan):
    """Reconciliation: the bank's own settlements, unmoved, give reported =
    expected within each settlement year, and every day before maturity is
    eligible when all are paid on time."""
    terms_, postings, repayments = loan
    exact = bank_postings(terms_)
    year = data.draw(years_of(terms_, bounds=settlement_year))
    line = work(terms_, year, exact, repayments)
    assert line.difference == Decimal("0.00")
    first, last = max(year[0], terms_.disbursed_on), min(year[1], terms_.maturity_on - ONE_DAY)
    assert line.eligible_days == max((last - first).days + 1, 0)
    assert line.days_overdue == line.days_late == line.days_unreported == 0


def test_runs_name_the_reason_for_each_day():
    """Section 5 step 6: the working day by day, for the overdue loan."""
    line = work(
        LOAN_OVERDUE, settlement_year(2024), OVERDUE_POSTINGS, OVERDUE_REPAYMENTS, detail=True
    )
    assert [(run.first, run.last, run.reason) for run in line.runs[-2:]] == [
        (D(2024, 9, 21), D(2024, 11, 9), ELIGIBLE),
        (D(2024, 11, 10), D(2024, 12, 20), OVERDUE),
    ]
    assert sum(run.days for run in line.runs) == 346
