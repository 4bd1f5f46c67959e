"""The loss on a claimed loan and how the fund and the bank share it
(DOMAIN.md section 8): plain Python over dates and Decimals, no database.

* The loss is the outstanding principal on the claim date, or, where the
  fund says so, that principal plus the contract interest still unpaid up
  to the claim date (the claim date itself excluded, 算头不算尾), accrued on
  the daily balance at the contract rate; never penalty interest.
* Compensation = loss × fund share, half-up to the fen; the bank bears the
  rest, so the two always add up to the loss.
* A recovery on a compensated loan returns recovery × fund share, half-up.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from common.money import ZERO, round_fen
from loans.ledger.interest import ONE_DAY, accrued

PRINCIPAL = "principal"
PRINCIPAL_AND_INTEREST = "principal_interest"


@dataclass(frozen=True)
class UnpaidRun:
    """Days on which contract interest accrued and none was collected."""

    first: datetime.date
    last: datetime.date
    interest: Decimal  # exact

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Loss:
    """The working of a claim, every figure from the one before it."""

    principal: Decimal
    unpaid: tuple[UnpaidRun, ...]
    interest: Decimal  # rounded half-up to the fen
    total: Decimal
    fund_share: Decimal
    compensation: Decimal
    bank_share: Decimal

    @property
    def unpaid_days(self) -> int:
        return sum(run.days for run in self.unpaid)


def unpaid_runs(
    *,
    principal: Decimal,
    rate: Decimal,
    basis: int,
    disbursed_on: datetime.date,
    claimed_on: datetime.date,
    repayments: Iterable[tuple[datetime.date, Decimal]],
    paid_periods: Iterable[tuple[datetime.date, datetime.date]],
) -> list[UnpaidRun]:
    """The runs of days from disbursement to the day before the claim that
    no collected interest period covers, each with its exact interest."""
    repayments = list(repayments)
    last_day = claimed_on - ONE_DAY
    runs = []
    day = disbursed_on
    for start, end in sorted(paid_periods) + [(claimed_on, claimed_on)]:
        gap_last = min(start - ONE_DAY, last_day)
        if day <= gap_last:
            interest = accrued(principal, rate, basis, day, gap_last, repayments)
            if interest > 0:
                runs.append(UnpaidRun(day, gap_last, interest))
        day = max(day, end + ONE_DAY)
        if day > last_day:
            break
    return runs


def split(loss: Decimal, fund_share: Decimal) -> tuple[Decimal, Decimal]:
    """(the fund's compensation, the bank's share) of a loss."""
    compensation = round_fen(loss * fund_share)
    return compensation, loss - compensation


def claim_loss(
    *,
    basis_of_loss: str,
    fund_share: Decimal,
    principal: Decimal,
    rate: Decimal,
    day_count: int,
    disbursed_on: datetime.date,
    claimed_on: datetime.date,
    repayments: Iterable[tuple[datetime.date, Decimal]],
    paid_periods: Iterable[tuple[datetime.date, datetime.date]] = (),
) -> Loss:
    """The loss of a loan claimed on ``claimed_on``: ``repayments`` are the
    principal repayments in force, ``paid_periods`` the settlement periods
    whose interest was collected."""
    repayments = [(day, amount) for day, amount in repayments if day <= claimed_on]
    outstanding = principal - sum((amount for _day, amount in repayments), ZERO)
    runs: list[UnpaidRun] = []
    if basis_of_loss == PRINCIPAL_AND_INTEREST:
        runs = unpaid_runs(
            principal=principal,
            rate=rate,
            basis=day_count,
            disbursed_on=disbursed_on,
            claimed_on=claimed_on,
            repayments=repayments,
            paid_periods=paid_periods,
        )
    interest = round_fen(sum((run.interest for run in runs), ZERO))
    total = outstanding + interest
    compensation, bank = split(total, fund_share)
    return Loss(
        principal=outstanding,
        unpaid=tuple(runs),
        interest=interest,
        total=total,
        fund_share=fund_share,
        compensation=compensation,
        bank_share=bank,
    )


def recovery_share(recovered: Decimal, fund_share: Decimal) -> Decimal:
    """What the fund gets back of an amount recovered after compensation."""
    return round_fen(recovered * fund_share)
