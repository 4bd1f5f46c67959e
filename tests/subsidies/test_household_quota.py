"""A household's quota shared by its loans, day by day (DOMAIN.md section 5,
step 2): the quota a loan may use on a day is the tier quota less the
balances that day of the household's earlier loans in the programme
(earlier by disbursement date, then contract), never below zero.

The figures are worked by hand in the comments: interest of a run of days
is balance × days × 3.45 % ÷ 360, rounded half-up to the fen per period.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from loans.applications.services import application_submit, application_transition
from loans.ledger.interest import expected_schedule
from loans.ledger.services import ledger_post_interest, ledger_post_repayment
from loans.models import Application
from loans.notices.services import notice_publish, notices_release_due
from subsidies.calculation import ELIGIBLE, WRITTEN_OFF, EarlierLoan, LoanTerms, Rule, line_working
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.runs.services import (
    subsidy_run_approve,
    subsidy_run_compute,
    subsidy_run_compute_part,
    subsidy_run_start,
    subsidy_run_submit,
)
from tests.loans.applications.test_flow import contract
from tests.loans.conftest import TODAY, pig_industry
from tests.subsidies.conftest import AFTER_2025
from tests.subsidies.test_calculation import bank_postings, settlement_year

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
YEAR_2024 = settlement_year(2024)  # 2023-12-21 .. 2024-12-20
RATE = Decimal("0.0345")


def loan(principal, disbursed_on, maturity_on, *, quota, earlier=(), written_off_on=None):
    return LoanTerms(
        principal=Decimal(principal),
        rate=RATE,
        disbursed_on=disbursed_on,
        maturity_on=maturity_on,
        written_off_on=written_off_on,
        quota=Decimal(quota),
        earlier=tuple(earlier),
    )


def earlier(contract_no, principal, disbursed_on, repayments=(), written_off_on=None):
    return EarlierLoan(
        contract_no=contract_no,
        principal=Decimal(principal),
        disbursed_on=disbursed_on,
        repayments=tuple((day, Decimal(amount)) for day, amount in repayments),
        written_off_on=written_off_on,
    )


def work(terms, repayments=(), year=YEAR_2024):
    postings = bank_postings(terms, repayments=list(repayments))
    return line_working(
        terms=terms,
        rule=Rule(),
        year_start=year[0],
        year_end=year[1],
        postings=postings,
        repayments=list(repayments) or [(terms.maturity_on, terms.principal)],
        detail=True,
    )


def quota_runs(working):
    """(first, last, quota, base) of each run of days."""
    return [(run.first, run.last, run.quota, run.base) for run in working.runs]


# --- The rule, pure -----------------------------------------------------------


def test_a_loan_after_an_earlier_one_is_repaid_uses_the_whole_quota():
    # The earlier loan, 50,000 on a 50,000 tier, is repaid in full on
    # 2024-03-01. The second, 50,000 from 2024-04-01, owes alone on each of
    # its days: its 2024 periods of 81, 92 and 91 days earn
    #   50,000 × 81 × 3.45 % / 360 = 388.125 → 388.13
    #   50,000 × 92 × 3.45 % / 360 = 440.833… → 440.83
    #   50,000 × 91 × 3.45 % / 360 = 436.041… → 436.04
    # and are subsidised in full: 1,265.00.
    first = earlier("MJ-1", "50000", D(2023, 3, 1), [(D(2024, 3, 1), "50000")])
    second = loan("50000", D(2024, 4, 1), D(2025, 4, 1), quota="50000", earlier=[first])

    line = work(second)

    assert [p.eligible for p in line.periods] == [
        Decimal("388.13"),
        Decimal("440.83"),
        Decimal("436.04"),
    ]
    assert line.subsidy == Decimal("1265.00")
    assert line.interest_above_quota == Decimal("0.00")
    assert line.least_quota == Decimal("50000")
    assert {run.quota for run in line.runs} == {Decimal("50000")}


def test_overlapping_loans_that_fit_the_quota_together_are_subsidised_in_full():
    # 100,000 tier. The first loan, 60,000 from 2024-01-10, repays 30,000 on
    # 2024-06-21. The second, 40,000 from 2024-03-21, may use 100,000 −
    # 60,000 = 40,000 until 2024-06-20 and 100,000 − 30,000 = 70,000 from
    # 2024-06-21: never below its balance of 40,000. Its periods of 92, 92
    # and 91 days earn 40,000 × 92 × 3.45 % / 360 = 352.666… → 352.67 twice
    # and 40,000 × 91 × 3.45 % / 360 = 348.833… → 348.83: 1,054.17.
    first = earlier("MJ-1", "60000", D(2024, 1, 10), [(D(2024, 6, 21), "30000")])
    second = loan("40000", D(2024, 3, 21), D(2026, 3, 21), quota="100000", earlier=[first])

    line = work(second, repayments=[(D(2026, 3, 21), Decimal("40000"))])

    assert quota_runs(line) == [
        (D(2024, 3, 21), D(2024, 6, 20), Decimal("40000"), Decimal("40000")),
        (D(2024, 6, 21), D(2024, 9, 20), Decimal("70000"), Decimal("40000")),
        (D(2024, 9, 21), D(2024, 12, 20), Decimal("70000"), Decimal("40000")),
    ]
    assert line.subsidy == Decimal("352.67") + Decimal("352.67") + Decimal("348.83")
    assert line.subsidy == Decimal("1054.17")
    assert line.least_quota == Decimal("40000")


def test_two_loans_over_the_quota_the_later_one_gets_what_the_earlier_leaves():
    # 100,000 tier. The first loan, 80,000 from 2024-01-10, repays 20,000 on
    # 2024-06-21. The second, 50,000 from 2024-03-21, may use 20,000 until
    # 2024-06-20 and 40,000 from 2024-06-21. Eligible:
    #   20,000 × 92 × 3.45 % / 360 = 176.333… → 176.33
    #   40,000 × 92 × 3.45 % / 360 = 352.666… → 352.67
    #   40,000 × 91 × 3.45 % / 360 = 348.833… → 348.83
    # subsidy 877.83 of its reported 440.83 + 440.83 + 436.04; above the
    # quota: (30,000 × 92 + 10,000 × 183) × 3.45 % / 360 = 439.875 → 439.88.
    first = earlier("MJ-1", "80000", D(2024, 1, 10), [(D(2024, 6, 21), "20000")])
    second = loan("50000", D(2024, 3, 21), D(2026, 3, 21), quota="100000", earlier=[first])

    line = work(second, repayments=[(D(2026, 3, 21), Decimal("50000"))])

    assert [p.reported for p in line.periods] == [
        Decimal("440.83"),
        Decimal("440.83"),
        Decimal("436.04"),
    ]
    assert [p.subsidised for p in line.periods] == [
        Decimal("176.33"),
        Decimal("352.67"),
        Decimal("348.83"),
    ]
    assert line.subsidy == Decimal("877.83")
    assert line.interest_above_quota == Decimal("439.88")
    assert line.least_quota == Decimal("20000")
    assert [run.base for run in line.runs] == [Decimal("20000"), Decimal("40000"), Decimal("40000")]


def test_a_written_off_earlier_loan_stops_using_the_quota_on_its_write_off_day():
    # 50,000 tier. The first loan, 50,000 from 2023-06-21, matures unpaid on
    # 2024-06-21 and is written off on 2024-09-21: its balance uses the whole
    # quota until 2024-09-20 (overdue days included), none from 2024-09-21,
    # as approval leaves written-off loans out of what a household has
    # committed. The second, 50,000 from 2024-03-21, earns nothing on its
    # first two periods and 50,000 × 91 × 3.45 % / 360 = 436.041… → 436.04
    # on its third.
    first = earlier("MJ-1", "50000", D(2023, 6, 21), written_off_on=D(2024, 9, 21))
    second = loan("50000", D(2024, 3, 21), D(2026, 3, 21), quota="50000", earlier=[first])

    line = work(second, repayments=[(D(2026, 3, 21), Decimal("50000"))])

    assert [p.eligible for p in line.periods] == [
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("436.04"),
    ]
    assert line.subsidy == Decimal("436.04")
    assert line.least_quota == Decimal("0")


def test_a_later_loan_written_off_leaves_the_earlier_loans_subsidy_alone():
    # The first loan is computed without its household's later loans: 100,000
    # from 2024-01-10 to 2025-01-10 on a 100,000 tier gets the worked
    # figure of section 5, 3,315.84 for 2024, whatever the later loan does;
    # the later one, written off on 2024-09-21, earns nothing from then.
    first = loan("100000", D(2024, 1, 10), D(2025, 1, 10), quota="100000")
    assert work(first).subsidy == Decimal("3315.84")

    later = loan(
        "50000",
        D(2024, 6, 21),
        D(2026, 6, 21),
        quota="150000",
        earlier=[earlier("MJ-1", "100000", D(2024, 1, 10), [(D(2025, 1, 10), "100000")])],
        written_off_on=D(2024, 9, 21),
    )
    line = work(later, repayments=[(D(2026, 6, 21), Decimal("50000"))])
    # Its 92 days from 2024-06-21 use the 50,000 the first loan leaves:
    # 50,000 × 92 × 3.45 % / 360 = 440.833… → 440.83; then 91 days written off.
    assert line.subsidy == Decimal("440.83")
    assert line.days_written_off == 91
    assert [run.reason for run in line.runs] == [ELIGIBLE, WRITTEN_OFF]


def test_earlier_means_disbursed_first_then_by_contract_number():
    # Two loans disbursed the same day: the service orders them by contract
    # number, so MJ-1 comes first and MJ-2 sees its balance.
    from subsidies.runs.services import _earlier_loans

    rows = [
        {
            "pk": pk,
            "contract_no": number,
            "principal": Decimal("50000"),
            "disbursed_on": D(2024, 3, 21),
            "written_off_on": None,
            "application__household_id": 7,
        }
        for pk, number in ((1, "MJ-2"), (2, "MJ-1"))
    ]
    found = _earlier_loans(rows, {})
    assert found[2] == ()
    assert [loan.contract_no for loan in found[1]] == ["MJ-1"]


# --- The property over any household --------------------------------------------

days_into_2024 = st.integers(min_value=0, max_value=300)
amounts = st.integers(min_value=1, max_value=10).map(lambda n: Decimal(n * 10000))


@st.composite
def households(draw):
    """A tier quota and 1 to 3 loans, each disbursed in 2024 and partly
    repaid some days later (or not)."""
    quota = draw(st.sampled_from([Decimal("50000"), Decimal("100000")]))
    loans = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        disbursed = YEAR_2024[0] + datetime.timedelta(days=draw(days_into_2024))
        principal = draw(amounts)
        repayments = []
        if draw(st.booleans()):
            after = datetime.timedelta(days=draw(st.integers(min_value=1, max_value=200)))
            repayments.append((disbursed + after, principal / 2))
        loans.append((f"MJ-{index}", principal, disbursed, repayments))
    return quota, sorted(loans, key=lambda item: (item[2], item[0]))


@settings(max_examples=150, deadline=None)
@given(households())
def test_on_every_day_the_bases_fit_the_quota_and_each_base_its_balance(household):
    quota, loans = household
    base_on = {}  # day -> the bases of the household's loans that day
    for index, (_number, principal, disbursed, repayments) in enumerate(loans):
        before = [
            earlier(number, amount, day, [(d, str(a)) for d, a in paid])
            for number, amount, day, paid in loans[:index]
        ]
        terms = loan(principal, disbursed, disbursed + datetime.timedelta(days=720), quota=quota)
        terms = LoanTerms(**{**terms.__dict__, "earlier": tuple(before)})
        working = work(
            terms,
            repayments=repayments
            + [(terms.maturity_on, principal - sum(a for _d, a in repayments))],
        )
        for run in working.runs:
            assert run.base <= run.balance
            assert run.quota is not None and run.base <= run.quota
            day = run.first
            while day <= run.last:
                base_on.setdefault(day, []).append(run.base)
                day += ONE_DAY
    assert base_on, "every household has a loan with days in 2024"
    for day, bases in base_on.items():
        assert sum(bases) <= quota, day


# --- The run, through the services ------------------------------------------------


def released_for(cast, programme, borrower, amount) -> Application:
    """An application of ``borrower`` taken through to release by the
    services (township a's officer, then the county)."""
    application = application_submit(
        actor=cast.county,
        programme=programme,
        borrower=borrower,
        amount=Decimal(amount),
        term_months=24,
        industry=pig_industry(),
        purpose="扩大生猪养殖规模",
        today=TODAY,
    )
    for actor, state in (
        (cast.township_officer_a, Application.State.VILLAGE_RECOMMENDED),
        (cast.township_officer_a, Application.State.TOWNSHIP_REVIEWED),
        (cast.county, Application.State.COUNTY_APPROVED),
    ):
        application = application_transition(
            actor=actor, application=application, to_state=state, today=TODAY
        )
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    notices_release_due(actor=cast.county, today=notice.ends_on + ONE_DAY)
    application.refresh_from_db()
    return application


def post_quarters(cast, coop, loan_, *, until, repayments=()):
    """The bank's quarterly interest of the loan up to ``until`` (exclusive),
    each paid on its due date."""
    for period in expected_schedule(
        principal=loan_.principal,
        rate=loan_.annual_rate,
        basis=360,
        disbursed_on=loan_.disbursed_on,
        ends_on=until,
        repayments=list(repayments),
    ):
        ledger_post_interest(
            actor=cast.coop,
            coop=coop,
            loan=loan_,
            txn_id=f"{loan_.contract_no}-{period.end:%Y%m%d}",
            period_start=period.start,
            period_end=period.end,
            due_on=period.end,
            paid_on=period.end,
            amount=period.interest,
        )


def computed_run(cast, programme):
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    return run


def test_the_run_gives_a_second_loan_after_a_repaid_one_its_full_subsidy(
    cast, programme, people, coop
):
    # A household on the 100,000 tier borrows 100,000 on 2025-01-20 and
    # repays it in full on 2025-06-20; approval then lets it borrow 100,000
    # again from 2025-06-21. The first loan's 2025 periods, 60 days to
    # 2025-03-20 and 91 days to 2025-06-19, earn
    #   100,000 × 60 × 3.45 % / 360 = 575.00
    #   100,000 × 91 × 3.45 % / 360 = 872.083… → 872.08   (1,447.08);
    # the second's, 92 days to 09-20 and 91 days to 12-20, earn
    #   100,000 × 92 × 3.45 % / 360 = 881.666… → 881.67
    #   100,000 × 91 × 3.45 % / 360 = 872.083… → 872.08   (1,753.75).
    # Subtracting the first loan's principal for ever gave the second 0.00.
    household = people.household()
    borrower = people.borrower(household=household)
    first = contract(
        cast,
        released_for(cast, programme, borrower, "100000.00"),
        coop,
        contract_no="MJ-2025-0001",
        principal=Decimal("100000.00"),
        disbursed_on=D(2025, 1, 20),
        maturity_on=D(2025, 7, 20),
    )
    repaid = [(D(2025, 6, 20), Decimal("100000.00"))]
    post_quarters(cast, coop, first, until=D(2025, 6, 20), repayments=repaid)
    ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=first,
        txn_id="PRN-MJ-2025-0001",
        paid_on=D(2025, 6, 20),
        amount=Decimal("100000.00"),
    )
    second = contract(
        cast,
        released_for(cast, programme, borrower, "100000.00"),
        coop,
        contract_no="MJ-2025-0002",
        principal=Decimal("100000.00"),
        disbursed_on=D(2025, 6, 21),
        maturity_on=D(2026, 6, 21),
    )
    post_quarters(cast, coop, second, until=D(2025, 12, 21))

    run = computed_run(cast, programme)

    lines = {line.loan_id: line for line in run.lines.all()}
    assert lines[first.pk].subsidy == Decimal("1447.08")
    assert lines[second.pk].subsidy == Decimal("1753.75")
    assert lines[second.pk].quota == Decimal("100000.00")
    assert lines[second.pk].interest_above_quota == Decimal("0.00")
    assert run.total_subsidy == Decimal("3200.83")


@pytest.fixture
def overlapping(cast, programme, people, coop):
    """60,000 and 40,000 of one household on the 100,000 tier, the first
    repaying 30,000 on 2025-06-21."""
    borrower = people.borrower(household=people.household())
    first = contract(
        cast,
        released_for(cast, programme, borrower, "60000.00"),
        coop,
        contract_no="MJ-2025-0001",
        principal=Decimal("60000.00"),
        disbursed_on=D(2025, 1, 20),
        maturity_on=D(2027, 1, 20),
    )
    second = contract(
        cast,
        released_for(cast, programme, borrower, "40000.00"),
        coop,
        contract_no="MJ-2025-0002",
        principal=Decimal("40000.00"),
        disbursed_on=D(2025, 3, 21),
        maturity_on=D(2027, 3, 21),
    )
    repaid = [(D(2025, 6, 21), Decimal("30000.00"))]
    ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=first,
        txn_id="PRN-MJ-2025-0001",
        paid_on=D(2025, 6, 21),
        amount=Decimal("30000.00"),
    )
    post_quarters(cast, coop, first, until=D(2025, 12, 21), repayments=repaid)
    post_quarters(cast, coop, second, until=D(2025, 12, 21))
    return first, second


def test_the_run_lets_overlapping_loans_that_fit_share_the_quota(cast, programme, overlapping):
    # The second loan may use 40,000 until 2025-06-20, then 70,000: its
    # balance of 40,000 fits every day, so its periods of 92, 92 and 91
    # days earn 352.67 + 352.67 + 348.83 = 1,054.17 in full.
    first, second = overlapping
    run = computed_run(cast, programme)

    line = run.lines.get(loan=second)
    assert line.subsidy == Decimal("1054.17")
    assert line.quota == Decimal("40000.00")  # the least over the year
    assert line.interest_above_quota == Decimal("0.00")
    assert run.lines.get(loan=first).interest_above_quota == Decimal("0.00")


def test_the_line_page_shows_the_quota_of_each_run_of_days(client, cast, programme, overlapping):
    _first, second = overlapping
    run = computed_run(cast, programme)
    line = run.lines.get(loan=second)
    client.force_login(cast.county)

    page = client.get(f"/subsidies/lines/{line.pk}/")

    assert page.status_code == 200
    working = page.context["working"]
    assert working.matches_line
    assert [(s.first, s.quota) for s in working.segments] == [
        (D(2025, 3, 21), Decimal("40000.00")),
        (D(2025, 6, 21), Decimal("70000.00")),
        (D(2025, 9, 21), Decimal("70000.00")),
    ]
    html = page.content.decode()
    assert "MJ-2025-0001" in html  # the earlier loan named in the working
    assert "70,000.00" in html and "40,000.00" in html


def test_an_approved_run_stays_as_it_was_and_a_recomputed_one_takes_the_rule(
    cast, programme, overlapping
):
    _first, second = overlapping
    run = computed_run(cast, programme)

    def as_an_earlier_rule_left_it():
        SubsidyLine.objects.filter(run=run, loan=second).update(
            subsidy=Decimal("0.00"), amount_due=F("adjustment"), quota=Decimal("0.00")
        )

    # A computed run recomputed takes the rule.
    as_an_earlier_rule_left_it()
    subsidy_run_compute(actor=cast.county, run=run)
    assert run.lines.get(loan=second).subsidy == Decimal("1054.17")

    # An approved one is frozen: it cannot be recomputed, its lines stay.
    run.refresh_from_db()
    subsidy_run_submit(actor=cast.county, run=run)
    subsidy_run_approve(actor=cast.finance, run=run)
    as_an_earlier_rule_left_it()
    with pytest.raises(ValidationError):
        subsidy_run_compute(actor=cast.county, run=run)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.APPROVED
    assert run.lines.get(loan=second).subsidy == Decimal("0.00")


def test_households_with_several_loans_take_no_more_queries(cast, programme, overlapping, lend):
    run = computed_run(cast, programme)
    township = run.parts.get().township_id

    def queries_for_part():
        SubsidyRun.objects.filter(pk=run.pk).update(state=SubsidyRun.State.COMPUTING)
        with CaptureQueriesContext(connection) as queries:
            subsidy_run_compute_part(run_id=run.pk, generation=run.generation, township_id=township)
        return len(queries)

    few = queries_for_part()
    for number in range(3):
        lend(contract_no="MJ-2025-01%02d" % number)
    many = queries_for_part()
    assert run.lines.count() == 5
    assert many == few
