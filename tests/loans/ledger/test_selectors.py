"""The loan pages' reads: the expected schedule set against the posted
ledger, the balance history and chart, and the list's ledger totals."""

import datetime
from decimal import Decimal

import pytest

from loans.applications.services import application_transition
from loans.ledger import selectors as loan_selectors
from loans.ledger.interest import Period
from loans.ledger.position import loan_position
from loans.ledger.selectors import balance_chart, loan_statement, match_period, with_ledger_totals
from loans.ledger.services import ledger_post_interest, ledger_post_repayment, ledger_post_reversal
from loans.models import Application, LedgerEntry, Loan, Programme
from loans.notices.services import notice_publish, notices_release_due
from tests.loans.applications.test_flow import contract, submit
from tests.loans.conftest import TODAY

D = datetime.date

# DOMAIN.md section 5: 100,000 at 3.45 % from 2024-01-10 to 2025-01-10.
WORKED_INTEREST = ["680.42", "881.67", "881.67", "872.08", "191.67"]
WORKED_DAYS = [71, 92, 92, 91, 20]
WORKED_PERIODS = [
    (D(2024, 1, 10), D(2024, 3, 20)),
    (D(2024, 3, 21), D(2024, 6, 20)),
    (D(2024, 6, 21), D(2024, 9, 20)),
    (D(2024, 9, 21), D(2024, 12, 20)),
    (D(2024, 12, 21), D(2025, 1, 9)),
]


def release(cast, programme, people, township=None) -> Application:
    """An application of a new borrower in ``township`` (default township a),
    recommended and reviewed by that township's officer, approved by the
    county, noticed and released."""
    township = township or cast.township_a
    officer = cast.township_officer_a if township == cast.township_a else cast.township_officer_b
    application = submit(cast.county, programme, people.borrower(township=township))
    for actor, state in (
        (officer, Application.State.VILLAGE_RECOMMENDED),
        (officer, Application.State.TOWNSHIP_REVIEWED),
        (cast.county, Application.State.COUNTY_APPROVED),
    ):
        application = application_transition(
            actor=actor, application=application, to_state=state, today=TODAY
        )
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    notices_release_due(actor=cast.county, today=notice.ends_on + datetime.timedelta(days=1))
    application.refresh_from_db()
    return application


def worked_loan(cast, programme, people, coop, contract_no="MJ-2024-0001", township=None) -> Loan:
    """The worked example as a contract made through the services: an
    application taken to release, then ``loan_create`` (12 months lies in
    the programme's 6 to 36)."""
    return contract(
        cast,
        release(cast, programme, people, township),
        coop,
        contract_no=contract_no,
        principal=Decimal("100000.00"),
        annual_rate=Decimal("0.034500"),
        disbursed_on=D(2024, 1, 10),
        maturity_on=D(2025, 1, 10),
    )


def post_interest(cast, coop, loan, txn_id, period, amount, paid_on=None, due_on=None):
    start, end = period
    return ledger_post_interest(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id=txn_id,
        period_start=start,
        period_end=end,
        due_on=due_on or end,
        paid_on=paid_on or end,
        amount=Decimal(amount),
    )


def repay(cast, coop, loan, txn_id, paid_on, amount):
    return ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id=txn_id,
        paid_on=paid_on,
        amount=Decimal(amount),
    )


def reverse(cast, coop, txn_id, original, paid_on, reason="重复入账"):
    return ledger_post_reversal(
        actor=cast.coop,
        coop=coop,
        txn_id=txn_id,
        reverses_txn_id=original,
        reason=reason,
        paid_on=paid_on,
    )


@pytest.fixture
def loan(cast, programme, people, coop) -> Loan:
    return worked_loan(cast, programme, people, coop)


AFTER_MATURITY = D(2025, 3, 1)


def statement_of(loan: Loan, today=AFTER_MATURITY):
    loan = Loan.objects.select_related("programme").get(pk=loan.pk)
    return loan_statement(loan=loan, today=today)


# --- The schedule ---------------------------------------------------------------


def test_the_worked_example_settles_the_domain_figures(loan):
    statement = statement_of(loan)
    assert [row.period.interest for row in statement.schedule] == [
        Decimal(x) for x in WORKED_INTEREST
    ]
    assert [row.period.days for row in statement.schedule] == WORKED_DAYS
    assert [(r.period.start, r.period.end) for r in statement.schedule] == WORKED_PERIODS
    assert statement.expected_total == Decimal("3507.51")
    assert statement.ends_on == D(2025, 1, 10)


def test_quarterly_periods_are_due_on_the_20th_and_the_last_on_the_day_the_loan_ends(loan):
    dues = [row.due_on for row in statement_of(loan).schedule]
    assert dues == [D(2024, 3, 20), D(2024, 6, 20), D(2024, 9, 20), D(2024, 12, 20), D(2025, 1, 10)]


def test_periods_due_without_an_entry_are_missing_and_later_ones_pending(cast, coop, loan):
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "680.42")
    statement = statement_of(loan, today=D(2024, 9, 20))
    assert [row.state for row in statement.schedule] == [
        "posted",
        "missing",
        "missing",  # due today and not in
        "pending",
        "pending",
    ]
    assert statement.missing_count == 2
    assert statement.due_expected_total == Decimal("2443.76")


# --- Matching posted entries to periods ---------------------------------------


def test_an_entry_for_the_exact_period_is_matched_with_no_difference(cast, coop, loan):
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "680.42")
    post_interest(cast, coop, loan, "I-2", WORKED_PERIODS[1], "881.67")
    statement = statement_of(loan)
    first, second = statement.schedule[0].posted, statement.schedule[1].posted
    assert [p.entry.txn_id for p in first] == ["I-1"]
    assert [p.entry.txn_id for p in second] == ["I-2"]
    assert first[0].exact_period and first[0].difference == 0
    assert not first[0].beyond_tolerance and not first[0].late
    assert statement.posted_total == Decimal("1562.09")
    assert statement.posted_difference == 0


def test_an_entry_for_another_period_goes_to_the_one_it_overlaps_most(cast, coop, loan):
    # The co-op settled the first quarter up to the end of March.
    entry = post_interest(cast, coop, loan, "I-1", (D(2024, 1, 10), D(2024, 3, 31)), "785.83")
    statement = statement_of(loan)
    posted = statement.schedule[0].posted
    assert [p.entry for p in posted] == [entry]
    assert not posted[0].exact_period
    # Compared with what its own 82 days earn: 100,000 × 3.45 % × 82 / 360.
    assert posted[0].expected == Decimal("785.83")
    assert posted[0].difference == 0
    assert statement.schedule[1].posted == []


def test_match_period_prefers_the_same_bounds_then_the_largest_overlap():
    periods = [
        Period(start=s, end=e, raw_interest=Decimal(0), interest=Decimal(0))
        for s, e in WORKED_PERIODS
    ]

    def entry(start, end):
        return LedgerEntry(period_start=start, period_end=end)

    assert match_period(entry(*WORKED_PERIODS[2]), periods) == 2
    assert match_period(entry(D(2024, 3, 1), D(2024, 6, 20)), periods) == 1
    assert match_period(entry(D(2024, 3, 10), D(2024, 3, 31)), periods) == 0
    assert match_period(entry(D(2025, 2, 1), D(2025, 3, 20)), periods) is None


def test_a_difference_beyond_the_tolerance_is_flagged(cast, coop, loan):
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "681.42")  # exactly 1.00 over
    post_interest(cast, coop, loan, "I-2", WORKED_PERIODS[1], "880.66")  # 1.01 under
    first, second = (row.posted[0] for row in statement_of(loan).schedule[:2])
    assert (first.difference, first.beyond_tolerance) == (Decimal("1.00"), False)
    assert (second.difference, second.beyond_tolerance) == (Decimal("-1.01"), True)


def test_a_payment_after_its_due_date_and_the_grace_days_is_late(cast, coop, loan):
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "680.42", paid_on=D(2024, 3, 20))
    post_interest(cast, coop, loan, "I-2", WORKED_PERIODS[1], "881.67", paid_on=D(2024, 6, 23))
    rows = statement_of(loan).schedule
    assert (rows[0].posted[0].late, rows[1].posted[0].late) == (False, True)

    Programme.objects.filter(pk=loan.programme_id).update(grace_days=3)
    rows = statement_of(loan).schedule
    assert rows[1].posted[0].late is False


def test_a_reversed_entry_stays_in_its_period_with_the_reversal(cast, coop, loan):
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "680.42")
    post_interest(cast, coop, loan, "I-2", WORKED_PERIODS[1], "900.00")
    reversal = reverse(cast, coop, "R-1", "I-2", paid_on=D(2024, 6, 25))
    statement = statement_of(loan)
    row = statement.schedule[1]
    assert [p.entry.txn_id for p in row.posted] == ["I-2"]
    assert row.posted[0].is_reversed and row.posted[0].reversal == reversal
    assert row.state == "missing"  # nothing in force for a period that is due
    assert row.line_count == 3  # the entry, its reversal, and "missing"
    assert statement.posted_total == Decimal("680.42")

    post_interest(cast, coop, loan, "I-2b", WORKED_PERIODS[1], "881.67")
    row = statement_of(loan).schedule[1]
    assert [(p.entry.txn_id, p.is_reversed) for p in row.posted] == [
        ("I-2", True),
        ("I-2b", False),
    ]
    assert row.state == "posted" and row.line_count == 3
    assert row.posted_amount == Decimal("881.67")


def test_interest_outside_every_expected_period_is_listed_apart(cast, coop, loan):
    post_interest(cast, coop, loan, "I-9", (D(2025, 2, 1), D(2025, 3, 20)), "100.00")
    statement = statement_of(loan)
    assert [p.entry.txn_id for p in statement.unmatched] == ["I-9"]
    assert all(row.posted == [] for row in statement.schedule)
    assert statement.posted_total == Decimal("100.00")


# --- Principal and balance ---------------------------------------------------------


def test_a_repayment_lowers_the_later_settlements_and_shows_in_the_balance_history(
    cast, coop, loan
):
    repay(cast, coop, loan, "P-1", D(2024, 6, 21), "40000.00")
    statement = statement_of(loan)
    assert [row.period.interest for row in statement.schedule] == [
        Decimal("680.42"),
        Decimal("881.67"),
        Decimal("529.00"),  # 60,000 × 3.45 % × 92 / 360
        Decimal("523.25"),
        Decimal("115.00"),
    ]
    assert [(s.on, s.change, s.balance, s.is_disbursement) for s in statement.balance_history] == [
        (D(2024, 1, 10), Decimal("100000.00"), Decimal("100000.00"), True),
        (D(2024, 6, 21), Decimal("-40000.00"), Decimal("60000.00"), False),
    ]
    assert [line.entry.txn_id for line in statement.repayments] == ["P-1"]
    assert statement.position.balance == Decimal("60000.00")
    assert statement.payoff_date is None


def test_an_early_payoff_ends_the_schedule_on_the_payoff_date(cast, coop, loan):
    repay(cast, coop, loan, "P-1", D(2024, 8, 1), "100000.00")
    statement = statement_of(loan)
    assert statement.payoff_date == statement.ends_on == D(2024, 8, 1)
    assert [(r.period.end, r.due_on) for r in statement.schedule] == [
        (D(2024, 3, 20), D(2024, 3, 20)),
        (D(2024, 6, 20), D(2024, 6, 20)),
        (D(2024, 7, 31), D(2024, 8, 1)),
    ]
    assert statement.position.status == Loan.Status.REPAID
    assert [(c.from_status, c.to_status) for c in statement.status_changes] == [
        ("active", "repaid")
    ]


def test_a_reversed_repayment_is_kept_with_its_reversal_and_no_longer_counts(cast, coop, loan):
    repay(cast, coop, loan, "P-1", D(2024, 6, 21), "40000.00")
    reverse(cast, coop, "R-P-1", "P-1", paid_on=D(2024, 6, 22), reason="金额录入错误")
    statement = statement_of(loan)
    assert [(line.entry.txn_id, line.reversal.txn_id) for line in statement.repayments] == [
        ("P-1", "R-P-1")
    ]
    assert statement.position.balance == Decimal("100000.00")
    assert len(statement.balance_history) == 1


def test_the_balance_chart_steps_down_at_each_repayment():
    chart = balance_chart(
        [(D(2024, 1, 1), Decimal("100000")), (D(2024, 7, 1), Decimal("40000"))],
        ends_on=D(2025, 1, 1),
        today=D(2024, 10, 1),
    )
    left, right = loan_selectors.CHART_LEFT, loan_selectors.CHART_WIDTH - loan_selectors.CHART_RIGHT
    bottom = loan_selectors.CHART_HEIGHT - loan_selectors.CHART_BOTTOM
    top = loan_selectors.CHART_TOP
    # 1 July is 182 of 366 days along; 40,000 is 40 % of the height up.
    mid_x = "%.1f" % (left + (right - left) * 182 / 366)
    low_y = "%.1f" % (bottom - (bottom - top) * 0.4)
    assert chart.path == f"M {left:.1f} {top:.1f} H {mid_x} V {low_y} H {right:.1f}"
    assert chart.points == [(f"{left:.1f}", f"{top:.1f}"), (mid_x, low_y)]
    assert [label.text for label in chart.y_labels] == ["100,000", "50,000", "0"]
    assert [label.text for label in chart.x_labels] == ["2024-01-01", "2025-01-01"]
    assert chart.today_x is not None


def test_the_balance_chart_leaves_out_today_outside_the_term():
    chart = balance_chart(
        [(D(2024, 1, 1), Decimal("100000"))], ends_on=D(2025, 1, 1), today=D(2026, 1, 1)
    )
    assert chart.today_x is None
    assert balance_chart([], ends_on=D(2025, 1, 1)) is None


# --- The list's ledger totals ----------------------------------------------------------


def test_the_list_totals_equal_loan_position_for_each_loan_and_day(
    cast, programme, people, coop, loan
):
    second = worked_loan(cast, programme, people, coop, contract_no="MJ-2024-0002")
    third = worked_loan(
        cast, programme, people, coop, contract_no="MJ-2024-0003", township=cast.township_b
    )
    post_interest(cast, coop, loan, "A-I-1", WORKED_PERIODS[0], "680.42")
    post_interest(cast, coop, loan, "A-I-2", WORKED_PERIODS[1], "881.67")
    repay(cast, coop, loan, "A-P-1", D(2024, 6, 21), "40000.00")
    repay(cast, coop, loan, "A-P-2", D(2024, 10, 1), "10000.00")
    reverse(cast, coop, "A-R-1", "A-P-2", paid_on=D(2024, 10, 2))
    post_interest(cast, coop, second, "B-I-1", WORKED_PERIODS[0], "700.00")
    reverse(cast, coop, "B-R-1", "B-I-1", paid_on=D(2024, 3, 25))
    post_interest(cast, coop, second, "B-I-1b", WORKED_PERIODS[0], "680.42", D(2024, 3, 26))
    repay(cast, coop, second, "B-P-1", D(2024, 12, 1), "100000.00")

    for day in (D(2024, 1, 9), D(2024, 3, 20), D(2024, 6, 21), D(2024, 10, 1), D(2025, 3, 1)):
        annotated = {row.pk: row for row in with_ledger_totals(Loan.objects.all(), on=day)}
        assert set(annotated) == {loan.pk, second.pk, third.pk}
        for each in (loan, second, third):
            position = loan_position(each, on=day)
            row = annotated[each.pk]
            assert (row.balance, row.principal_repaid, row.interest_paid) == (
                position.balance,
                position.principal_repaid,
                position.interest_paid,
            ), (each.contract_no, day)
    final = with_ledger_totals(Loan.objects.all(), on=D(2025, 3, 1))
    assert {row.contract_no: row.balance for row in final} == {
        "MJ-2024-0001": Decimal("60000.00"),
        "MJ-2024-0002": Decimal("0.00"),
        "MJ-2024-0003": Decimal("100000.00"),
    }
