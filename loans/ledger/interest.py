"""Interest as a Chinese bank computes it: daily accrual at annual rate /
basis on the day's balance, from the disbursement date (inclusive) to the
repayment date (exclusive) — 算头不算尾 — settled quarterly on the 20th of
March, June, September and December, each settlement rounded half-up to
the fen (DOMAIN.md section 5).

Pure functions over dates and Decimals, no database: the loan page's
expected schedule and the subsidy run both use them.
"""

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from common.money import ZERO, round_fen

SETTLEMENT_MONTHS = (3, 6, 9, 12)
SETTLEMENT_DAY = 20
ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A settlement period, both ends inclusive, with its interest."""

    start: datetime.date
    end: datetime.date
    raw_interest: Decimal  # exact, before rounding
    interest: Decimal  # rounded half-up to the fen

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def settlement_dates(start: datetime.date, end: datetime.date) -> Iterator[datetime.date]:
    """The quarterly settlement dates from ``start`` to ``end``, both inclusive."""
    for year in range(start.year, end.year + 1):
        for month in SETTLEMENT_MONTHS:
            day = datetime.date(year, month, SETTLEMENT_DAY)
            if start <= day <= end:
                yield day


def period_bounds(
    disbursed_on: datetime.date, last_day: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """Split the accrual days ``disbursed_on`` .. ``last_day`` (inclusive)
    into settlement periods, each ending on a settlement date or on
    ``last_day``."""
    if last_day < disbursed_on:
        return []
    bounds = []
    start = disbursed_on
    for settlement in settlement_dates(disbursed_on, last_day):
        bounds.append((start, settlement))
        start = settlement + ONE_DAY
    if start <= last_day:
        bounds.append((start, last_day))
    return bounds


def balance_segments(
    principal: Decimal,
    repayments: Iterable[tuple[datetime.date, Decimal]],
    start: datetime.date,
    end: datetime.date,
) -> Iterator[tuple[datetime.date, datetime.date, Decimal]]:
    """(first day, last day, balance) runs covering ``start`` .. ``end``.

    A repayment on day d lowers the balance from day d on: the repaid
    amount accrues up to the day before (the repayment date is excluded).
    """
    changes = sorted(repayments)
    balance = principal - sum((amount for day, amount in changes if day <= start), ZERO)
    run_start = start
    for day, amount in changes:
        if day <= start:
            continue
        if day > end:
            break
        if day > run_start:
            yield run_start, day - ONE_DAY, balance
        balance -= amount
        run_start = day
    if run_start <= end:
        yield run_start, end, balance


def accrued(
    principal: Decimal,
    rate: Decimal,
    basis: int,
    start: datetime.date,
    end: datetime.date,
    repayments: Iterable[tuple[datetime.date, Decimal]] = (),
) -> Decimal:
    """Exact interest over ``start`` .. ``end`` inclusive: Σ balance × rate / basis."""
    total = ZERO
    for first, last, balance in balance_segments(principal, repayments, start, end):
        if balance > 0:
            total += balance * ((last - first).days + 1)
    return total * rate / basis


def expected_schedule(
    *,
    principal: Decimal,
    rate: Decimal,
    basis: int,
    disbursed_on: datetime.date,
    ends_on: datetime.date,
    repayments: Iterable[tuple[datetime.date, Decimal]] = (),
) -> list[Period]:
    """The settlements a loan should produce from disbursement to ``ends_on``
    (the maturity or repayment date, itself excluded), given the principal
    repayments posted so far."""
    repayments = list(repayments)
    periods = []
    for start, end in period_bounds(disbursed_on, ends_on - ONE_DAY):
        raw = accrued(principal, rate, basis, start, end, repayments)
        periods.append(Period(start=start, end=end, raw_interest=raw, interest=round_fen(raw)))
    return periods


def payoff_date(
    principal: Decimal, repayments: Iterable[tuple[datetime.date, Decimal]]
) -> datetime.date | None:
    """The day the balance reaches zero, if it has."""
    balance = principal
    for day, amount in sorted(repayments):
        balance -= amount
        if balance <= 0:
            return day
    return None
