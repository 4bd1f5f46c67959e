import datetime
from decimal import Decimal

import pytest

from loans.ledger.interest import expected_schedule
from loans.ledger.services import ledger_post_interest, ledger_post_repayment
from riskfund.models import Fund
from riskfund.services import claim_approve, claim_check, claim_file, fund_save, movement_record
from tests.loans import conftest as loans_fixtures
from tests.loans.applications.test_flow import contract, released

programme = loans_fixtures.programme
coop = loans_fixtures.coop
groups = loans_fixtures.groups
people = loans_fixtures.people

D = datetime.date
MATURITY = D(2026, 3, 20)
CLAIM_DAY = MATURITY + datetime.timedelta(days=91)  # 19 June 2026
DEPOSIT_DAY = D(2025, 1, 10)


@pytest.fixture
def fund(cast, programme) -> Fund:
    """振兴贷 2025's fund in Mojiang, with the defaults of section 8."""
    return fund_save(actor=cast.county, name="墨江县振兴贷风险补偿金", programmes=[programme])


def deposit(cast, fund, amount, voucher="D-1", on=DEPOSIT_DAY, kind="deposit"):
    return movement_record(
        actor=cast.finance, fund=fund, kind=kind, on=on, amount=Decimal(amount), voucher=voucher
    )


def overdue_loan(cast, programme, people, coop, number="MJ-2025-0001"):
    """Section 8's loan: 50,000 at 4.35 % for a year, 10,000 repaid on
    20 September, every settlement's interest collected to maturity, then
    nothing."""
    loan = contract(
        cast,
        released(cast, programme, people),
        coop,
        contract_no=number,
        principal=Decimal("50000.00"),
        annual_rate=Decimal("0.043500"),
        disbursed_on=D(2025, 3, 20),
        maturity_on=MATURITY,
    )
    repayments = [(D(2025, 9, 20), Decimal("10000.00"))]
    ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id=f"{number}-P1",
        paid_on=D(2025, 9, 20),
        amount=Decimal("10000.00"),
    )
    for index, period in enumerate(
        expected_schedule(
            principal=loan.principal,
            rate=loan.annual_rate,
            basis=360,
            disbursed_on=loan.disbursed_on,
            ends_on=loan.maturity_on,
            repayments=repayments,
        )
    ):
        ledger_post_interest(
            actor=cast.coop,
            coop=coop,
            loan=loan,
            txn_id=f"{number}-I{index}",
            period_start=period.start,
            period_end=period.end,
            due_on=period.end,
            paid_on=period.end,
            amount=period.interest,
        )
    return loan


def file(cast, coop, loan, claim_id="C-1", on=CLAIM_DAY):
    return claim_file(actor=cast.coop, coop=coop, claim_id=claim_id, loan=loan, claimed_on=on)[0]


def checked_and_approved(cast, claim, voucher="P-1", on=CLAIM_DAY):
    claim = claim_check(actor=cast.county, claim=claim, accept=True)
    return claim_approve(actor=cast.finance, claim=claim, voucher=voucher, on=on)
