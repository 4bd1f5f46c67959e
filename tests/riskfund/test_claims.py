"""A claim from filing to payment, and what it changes: the loan written
off, the fund's balance, recoveries returned (DOMAIN.md section 8)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loans.ledger.services import ledger_post_repayment, ledger_post_reversal
from loans.models import Loan
from reports.work_queue import work_for
from riskfund import selectors
from riskfund.models import Claim, Movement
from riskfund.services import ClaimConflictError, claim_approve, claim_check, claim_file, fund_save
from subsidies.models import SubsidyLine
from subsidies.runs.services import subsidy_run_start
from tests.riskfund.conftest import (
    CLAIM_DAY,
    MATURITY,
    checked_and_approved,
    deposit,
    file,
    overdue_loan,
)

D = datetime.date
State = Claim.State


@pytest.fixture
def loan(cast, programme, people, coop, fund):
    """Section 8's loan, approved while the fund held 20,000 (leverage 10:
    up to 200,000 of principal)."""
    deposit(cast, fund, "20000.00", voucher="D-0")
    return overdue_loan(cast, programme, people, coop)


def test_a_claim_computes_the_principal_loss_and_is_paid(cast, coop, fund, loan):
    deposit(cast, fund, "1980000.00")
    claim = file(cast, coop, loan)
    assert (claim.days_overdue, claim.principal_loss, claim.loss) == (
        91,
        Decimal("40000.00"),
        Decimal("40000.00"),
    )
    assert (claim.compensation, claim.bank_share) == (Decimal("32000.00"), Decimal("8000.00"))
    claim = checked_and_approved(cast, claim)
    assert claim.state == State.PAID
    assert claim.paid_on == CLAIM_DAY
    assert selectors.balance(fund) == Decimal("1968000.00")
    paid = Movement.objects.get(kind=Movement.Kind.COMPENSATION)
    assert (paid.amount, paid.voucher, paid.claim) == (Decimal("-32000.00"), "P-1", claim)
    loan.refresh_from_db()
    assert loan.written_off_on == CLAIM_DAY
    assert loan.status == Loan.Status.WRITTEN_OFF


def test_the_principal_and_interest_loss(cast, coop, fund, loan):
    fund = fund_save(
        actor=cast.county,
        fund=fund,
        programmes=list(fund.programmes.all()),
        loss_basis="principal_interest",
    )
    claim = file(cast, coop, loan)
    assert (claim.unpaid_days, claim.interest_loss, claim.loss) == (
        91,
        Decimal("439.83"),
        Decimal("40439.83"),
    )
    assert (claim.compensation, claim.bank_share) == (Decimal("32351.86"), Decimal("8087.97"))


def test_a_claim_above_the_balance_waits_until_a_deposit_covers_it(cast, coop, fund, loan):
    claim = checked_and_approved(cast, file(cast, coop, loan))
    assert claim.state == State.APPROVED
    assert selectors.balance(fund) == Decimal("20000.00")
    loan.refresh_from_db()
    assert loan.written_off_on == CLAIM_DAY  # the county accepted the loss
    deposit(cast, fund, "11999.99", voucher="D-2", on=D(2026, 7, 1))
    claim.refresh_from_db()
    assert claim.state == State.APPROVED
    deposit(cast, fund, "0.01", voucher="D-3", on=D(2026, 7, 2), kind="interest")
    claim.refresh_from_db()
    assert (claim.state, claim.paid_on) == (State.PAID, D(2026, 7, 2))
    assert selectors.balance(fund) == Decimal("0.00")


def test_a_recovery_returns_the_funds_share_and_its_reversal_takes_it_back(cast, coop, fund, loan):
    deposit(cast, fund, "1980000.00")
    claim = checked_and_approved(cast, file(cast, coop, loan))
    entry = ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id="R-1",
        paid_on=D(2026, 8, 1),
        amount=Decimal("5000.00"),
    )
    returned = Movement.objects.get(kind=Movement.Kind.RECOVERY)
    assert (returned.amount, returned.ledger_entry, returned.claim, returned.recorded_by) == (
        Decimal("4000.00"),
        entry,
        claim,
        cast.coop,  # who posted the repayment
    )
    assert selectors.balance(fund) == Decimal("1972000.00")
    ledger_post_reversal(
        actor=cast.coop, coop=coop, txn_id="R-1-X", reverses_txn_id="R-1", reason="错账"
    )
    undone = Movement.objects.get(kind=Movement.Kind.RECOVERY_REVERSAL)
    assert (undone.amount, undone.recorded_by) == (Decimal("-4000.00"), cast.coop)
    assert selectors.balance(fund) == Decimal("1968000.00")
    assert selectors.returned_so_far(claim) == 0


def test_recoveries_returned_never_exceed_the_compensation(cast, coop, fund, loan):
    deposit(cast, fund, "1980000.00")
    claim = checked_and_approved(cast, file(cast, coop, loan))
    for number in range(4):  # 4 × 10,000 × 0.8 = 32,000 = the compensation
        ledger_post_repayment(
            actor=cast.coop,
            coop=coop,
            loan=loan,
            txn_id=f"R-{number}",
            paid_on=D(2026, 8, 1 + number),
            amount=Decimal("10000.00"),
        )
    assert selectors.returned_so_far(claim) == claim.compensation


def test_before_compensation_a_repayment_is_not_a_recovery(cast, coop, fund, loan):
    ledger_post_repayment(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id="R-1",
        paid_on=D(2026, 5, 1),
        amount=Decimal("1000.00"),
    )
    assert not Movement.objects.filter(kind=Movement.Kind.RECOVERY).exists()


@pytest.mark.parametrize(
    "on, field, words",
    [
        (MATURITY + datetime.timedelta(days=89), "claimed_on", "89"),
        (D(2030, 1, 1), "claimed_on", "future"),
    ],
)
def test_a_claim_too_early_or_in_the_future_is_refused(cast, coop, fund, loan, on, field, words):
    with pytest.raises(ValidationError) as error:
        file(cast, coop, loan, on=on)
    assert field in error.value.message_dict
    assert not Claim.objects.exists()


def test_a_loan_claimed_once_cannot_be_claimed_again(cast, coop, fund, loan):
    file(cast, coop, loan)
    with pytest.raises(ValidationError) as error:
        file(cast, coop, loan, claim_id="C-2")
    assert "C-1" in error.value.message_dict["contract_no"][0]


def test_a_rejected_claim_may_be_filed_again(cast, coop, fund, loan):
    claim_check(actor=cast.county, claim=file(cast, coop, loan), accept=False, comment="材料不全")
    assert file(cast, coop, loan, claim_id="C-2").state == State.FILED


def test_a_claim_id_is_taken_once(cast, coop, fund, loan):
    claim = file(cast, coop, loan)
    again, created = claim_file(
        actor=cast.coop, coop=coop, claim_id="C-1", loan=loan, claimed_on=CLAIM_DAY
    )
    assert (again, created) == (claim, False)
    with pytest.raises(ClaimConflictError):
        claim_file(
            actor=cast.coop,
            coop=coop,
            claim_id="C-1",
            loan=loan,
            claimed_on=CLAIM_DAY + datetime.timedelta(days=1),
        )
    assert Claim.objects.count() == 1


def test_a_loan_no_fund_covers_is_refused(cast, coop, programme, people):
    loan = overdue_loan(cast, programme, people, coop)
    with pytest.raises(ValidationError) as error:
        file(cast, coop, loan)
    assert "contract_no" in error.value.message_dict


def test_the_checker_may_not_approve(cast, coop, fund, loan):
    claim = file(cast, coop, loan)
    claim = claim_check(actor=cast.county, claim=claim, accept=True)
    claim.checked_by = cast.finance  # as if finance had checked it
    claim.save()
    with pytest.raises(ValidationError) as error:
        claim_approve(actor=cast.finance, claim=claim, voucher="P-1")
    assert "须由另一人审批" in " ".join(error.value.messages)
    claim.refresh_from_db()
    assert claim.state == State.CHECKED


def test_who_may_take_each_step(cast, coop, fund, loan):
    with pytest.raises(PermissionDenied):
        claim_file(actor=cast.county, coop=coop, claim_id="C-1", loan=loan, claimed_on=CLAIM_DAY)
    claim = file(cast, coop, loan)
    with pytest.raises(PermissionDenied):
        claim_check(actor=cast.finance, claim=claim, accept=True)
    claim = claim_check(actor=cast.county, claim=claim, accept=True)
    with pytest.raises(PermissionDenied):
        claim_approve(actor=cast.county, claim=claim, voucher="P-1")


def test_a_deposit_is_positive_with_a_voucher_used_once(cast, fund):
    deposit(cast, fund, "1000.00")
    for amount, voucher, field in (
        ("0", "D-2", "amount"),
        ("-5", "D-2", "amount"),
        ("5", "D-1", "voucher"),
        ("5", "", "voucher"),
    ):
        with pytest.raises(ValidationError) as error:
            deposit(cast, fund, amount, voucher=voucher)
        assert field in error.value.message_dict
    with pytest.raises(PermissionDenied):
        from riskfund.services import movement_record

        movement_record(
            actor=cast.county,
            fund=fund,
            kind="deposit",
            on=D(2025, 1, 1),
            amount=Decimal("1"),
            voucher="D-9",
        )
    assert fund.movements.count() == 1


def test_the_subsidy_run_counts_the_compensated_loans_days_from_the_claim_date_written_off(
    cast, coop, programme, fund, loan, monkeypatch
):
    # The computation launched on commit, at once (the test never commits).
    monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
    deposit(cast, fund, "1980000.00")
    checked_and_approved(cast, file(cast, coop, loan))
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2026, today=D(2027, 1, 5))
    run.refresh_from_db()
    line = SubsidyLine.objects.get(run=run, loan=loan)
    # From the claim day, 19 June, to the end of the subsidy year (the
    # bank's: 20 December 2026), both counted.
    _first, last = programme.subsidy_year_bounds(2026)
    assert line.days_written_off == (last - CLAIM_DAY).days + 1 == 185


class _RollbackError(Exception):
    """Undoes one example's postings: the claim is paid once, for all."""


@pytest.fixture
def paid_claim(cast, coop, fund, loan):
    deposit(cast, fund, "1980000.00")
    return checked_and_approved(cast, file(cast, coop, loan))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.decimals(min_value="0.01", max_value="10000.00", places=2),
            st.booleans(),  # reversed afterwards
        ),
        min_size=1,
        max_size=4,  # at most the 40,000 owed
    )
)
def test_any_recoveries_and_reversals_keep_the_balance_the_sum_and_the_returns_capped(
    cast, coop, fund, loan, paid_claim, steps
):
    claim = paid_claim
    try:
        with transaction.atomic():
            for number, (amount, undo) in enumerate(steps):
                ledger_post_repayment(
                    actor=cast.coop,
                    coop=coop,
                    loan=loan,
                    txn_id=f"R-{number}",
                    paid_on=D(2026, 8, 1 + number),
                    amount=amount,
                )
                if undo:
                    ledger_post_reversal(
                        actor=cast.coop,
                        coop=coop,
                        txn_id=f"R-{number}-X",
                        reverses_txn_id=f"R-{number}",
                        reason="错账",
                    )
            movements = list(fund.movements.values_list("amount", flat=True))
            assert selectors.balance(fund) == sum(movements, Decimal("0.00")) >= 0
            returned = selectors.returned_so_far(claim)
            assert 0 <= returned <= claim.compensation
            kept = [amount for amount, undo in steps if not undo]
            expected = min(
                sum(((a * Decimal("0.8")).quantize(Decimal("0.01")) for a in kept), Decimal(0)),
                claim.compensation,
            )
            # Capped at the compensation; each share half-up to the fen.
            assert returned == expected
            raise _RollbackError
    except _RollbackError:
        pass


def test_each_step_of_a_claim_waits_in_the_right_work_queue(cast, coop, fund, loan):
    def waiting(user):
        return {item.key: item.count for item in work_for(user, today=CLAIM_DAY)}

    claim = file(cast, coop, loan)
    assert waiting(cast.county).get("claims_to_check") == 1
    assert "claims_to_approve" not in waiting(cast.finance)
    claim = claim_check(actor=cast.county, claim=claim, accept=True)
    assert "claims_to_check" not in waiting(cast.county)
    assert waiting(cast.finance).get("claims_to_approve") == 1
    claim_approve(actor=cast.finance, claim=claim, voucher="P-1", on=CLAIM_DAY)  # 20,000 < 32,000
    assert waiting(cast.finance).get("claims_waiting") == 1
    assert "claims_to_approve" not in waiting(cast.finance)
    assert not {"claims_to_check", "claims_to_approve", "claims_waiting"} & set(
        waiting(cast.township_officer_a)
    )
