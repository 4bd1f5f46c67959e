import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from loans.ledger.position import loan_balance_history, loan_position
from loans.ledger.services import (
    ledger_post_interest,
    ledger_post_repayment,
    ledger_post_reversal,
    loan_statuses_record,
)
from loans.models import LedgerEntry, Loan, LoanStatusChange
from tests.loans.applications.test_flow import contract, released

D = datetime.date


@pytest.fixture
def loan(cast, programme, people, coop) -> Loan:
    return contract(cast, released(cast, programme, people), coop)


def interest(cast, coop, loan, txn_id="I-1", **extra):
    fields = {
        "actor": cast.coop,
        "coop": coop,
        "loan": loan,
        "txn_id": txn_id,
        "period_start": D(2025, 3, 20),
        "period_end": D(2025, 6, 20),
        "due_on": D(2025, 6, 20),
        "paid_on": D(2025, 6, 20),
        "amount": Decimal("890.92"),
    }
    fields.update(extra)
    return ledger_post_interest(**fields)


def repay(cast, coop, loan, txn_id, paid_on, amount):
    return ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id=txn_id,
        paid_on=paid_on,
        amount=Decimal(amount),
    )


def test_balance_and_status_are_derived_as_of_any_date(cast, coop, loan):
    interest(cast, coop, loan)
    repay(cast, coop, loan, "P-1", D(2026, 3, 20), "40000.00")
    assert loan_position(loan, on=D(2025, 6, 19)).interest_paid == 0
    assert loan_position(loan, on=D(2025, 6, 20)).interest_paid == Decimal("890.92")
    assert loan_position(loan, on=D(2026, 3, 19)).balance == Decimal("100000.00")
    assert loan_position(loan, on=D(2026, 3, 20)).balance == Decimal("60000.00")
    assert loan_position(loan, on=D(2027, 3, 20)).status == Loan.Status.ACTIVE
    assert loan_position(loan, on=D(2027, 3, 21)).status == Loan.Status.OVERDUE
    assert loan_balance_history(loan) == [
        (D(2025, 3, 20), Decimal("100000.00")),
        (D(2026, 3, 20), Decimal("60000.00")),
    ]


def test_the_loan_closes_at_zero_balance(cast, coop, loan):
    repay(cast, coop, loan, "P-1", D(2026, 3, 20), "100000.00")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.REPAID
    change = LoanStatusChange.objects.get(loan=loan)
    assert (change.on, change.from_status, change.to_status) == (D(2026, 3, 20), "active", "repaid")


def test_a_repayment_above_the_balance_is_refused(cast, coop, loan):
    repay(cast, coop, loan, "P-1", D(2026, 3, 20), "60000.00")
    with pytest.raises(ValidationError) as error:
        repay(cast, coop, loan, "P-2", D(2026, 6, 20), "40000.01")
    assert "40,000.00" in error.value.message_dict["amount"][0]
    assert LedgerEntry.objects.count() == 1


def test_an_overlapping_period_is_refused(cast, coop, loan):
    interest(cast, coop, loan)
    with pytest.raises(ValidationError) as error:
        interest(cast, coop, loan, txn_id="I-2", period_start=D(2025, 6, 20))
    assert "I-1" in error.value.message_dict["period_start"][0]


def test_a_paid_date_before_the_period_is_refused(cast, coop, loan):
    with pytest.raises(ValidationError) as error:
        interest(cast, coop, loan, paid_on=D(2025, 3, 19))
    assert "paid_on" in error.value.message_dict


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_a_zero_or_negative_amount_is_refused(cast, coop, loan, amount):
    with pytest.raises(ValidationError):
        interest(cast, coop, loan, amount=Decimal(amount))
    with pytest.raises(ValidationError):
        repay(cast, coop, loan, "P-1", D(2026, 3, 20), amount)
    assert not LedgerEntry.objects.exists()


def test_a_transaction_id_is_used_once_per_coop(cast, coop, loan):
    interest(cast, coop, loan)
    with pytest.raises(ValidationError):
        repay(cast, coop, loan, "I-1", D(2026, 3, 20), "1000.00")


def test_a_reversal_undoes_an_entry_and_the_period_can_be_posted_again(cast, coop, loan):
    interest(cast, coop, loan)
    ledger_post_reversal(
        actor=cast.coop, coop=coop, txn_id="R-1", reverses_txn_id="I-1", reason="金额有误"
    )
    assert loan_position(loan, on=D(2025, 12, 31)).interest_paid == 0
    interest(cast, coop, loan, txn_id="I-2", amount=Decimal("890.93"))
    assert loan_position(loan, on=D(2025, 12, 31)).interest_paid == Decimal("890.93")


def test_a_reversal_of_a_reversal_is_refused(cast, coop, loan):
    interest(cast, coop, loan)
    ledger_post_reversal(
        actor=cast.coop, coop=coop, txn_id="R-1", reverses_txn_id="I-1", reason="x"
    )
    with pytest.raises(ValidationError) as error:
        ledger_post_reversal(
            actor=cast.coop, coop=coop, txn_id="R-2", reverses_txn_id="R-1", reason="x"
        )
    assert "reverses_txn_id" in error.value.message_dict
    with pytest.raises(ValidationError):
        ledger_post_reversal(
            actor=cast.coop, coop=coop, txn_id="R-3", reverses_txn_id="I-1", reason="again"
        )


def test_a_reversed_repayment_reopens_the_balance(cast, coop, loan):
    repay(cast, coop, loan, "P-1", D(2026, 3, 20), "100000.00")
    ledger_post_reversal(
        actor=cast.coop,
        coop=coop,
        txn_id="R-1",
        reverses_txn_id="P-1",
        reason="重复入账",
        paid_on=D(2026, 3, 21),
    )
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert loan_position(loan, on=D(2026, 4, 1)).balance == Decimal("100000.00")


def test_ledger_entries_are_append_only(cast, coop, loan):
    entry = interest(cast, coop, loan)
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_only_accounts_with_the_permission_post(cast, coop, loan):
    for outsider in (cast.township_officer_a, cast.finance, cast.auditor):
        with pytest.raises(PermissionDenied):
            interest(cast, coop, loan, actor=outsider)


def test_the_daily_task_records_a_loan_falling_overdue(cast, coop, loan):
    assert loan_statuses_record(today=D(2027, 3, 20)) == 0
    assert loan_statuses_record(today=D(2027, 3, 21)) == 1
    assert loan_statuses_record(today=D(2027, 3, 22)) == 0
    loan.refresh_from_db()
    assert loan.status == Loan.Status.OVERDUE
