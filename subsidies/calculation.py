"""The subsidy rule of DOMAIN.md section 5 for one loan and one subsidy year.

Pure functions over dates and Decimals, no database: the run computes every
line with ``line_working`` and the line page calls it again, with
``detail=True``, to show the working day by day.

The loan's days inside the subsidy year are cut into runs of days that share
everything the rule looks at (balance, the quota left to it by the
household's earlier loans, the posting that covers them, before or after
maturity or write-off); each run has a reason (eligible, or why not).
Interest is summed per posting as balance × days and multiplied by rate /
basis once per posting, then rounded half-up to the fen, as a bank
does per settlement (step 3).
"""

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from common.money import ZERO, divide_half_up, from_fen, to_fen

ONE_DAY = datetime.timedelta(days=1)

ELIGIBLE = "eligible"
OUTSIDE_YEAR = "outside_year"
OVERDUE = "overdue"
LATE = "late_payment"
WRITTEN_OFF = "written_off"
UNREPORTED = "unreported"


@dataclass(frozen=True)
class EarlierLoan:
    """A loan of the same household in the programme that comes before the
    loan computed (by disbursement date, then contract number): on each day
    its balance uses the household's quota first (step 2).

    A written-off loan stops using the quota on its write-off day, as
    approval leaves written-off loans out of what a household has committed.
    """

    contract_no: str
    principal: Decimal
    disbursed_on: datetime.date
    repayments: tuple[tuple[datetime.date, Decimal], ...] = ()
    written_off_on: datetime.date | None = None

    def balance_on(self, day: datetime.date) -> Decimal:
        if day < self.disbursed_on:
            return ZERO
        if self.written_off_on is not None and day >= self.written_off_on:
            return ZERO
        return max(_balance_on(self.principal, self.repayments, day), ZERO)

    def changes(self) -> set[datetime.date]:
        """The days on which its balance changes."""
        days = {self.disbursed_on, *(day for day, _amount in self.repayments)}
        if self.written_off_on is not None:
            days.add(self.written_off_on)
        return days


@dataclass(frozen=True)
class LoanTerms:
    principal: Decimal
    rate: Decimal
    disbursed_on: datetime.date
    maturity_on: datetime.date
    written_off_on: datetime.date | None = None
    # The household's tier quota; None: no limit below the balance.
    quota: Decimal | None = None
    # The subsidy-rate cap; None: the contract rate.
    cap_rate: Decimal | None = None
    # The household's earlier loans in the programme, whose balances on a
    # day come off the quota this loan may use that day.
    earlier: tuple[EarlierLoan, ...] = ()

    @property
    def subsidised_rate(self) -> Decimal:
        return self.rate if self.cap_rate is None else min(self.rate, self.cap_rate)

    def quota_on(self, day: datetime.date) -> Decimal | None:
        """The quota this loan may use on ``day``: the tier quota less the
        balances of the earlier loans that day, never below zero."""
        if self.quota is None or not self.earlier:
            return self.quota
        used = sum((loan.balance_on(day) for loan in self.earlier), ZERO)
        return max(self.quota - used, ZERO)


@dataclass(frozen=True)
class Rule:
    """The programme's parameters that the calculation needs."""

    basis: int = 360
    ratio: Decimal = Decimal("1")
    grace_days: int = 0
    lose_year_if_overdue: bool = False


@dataclass(frozen=True)
class Posting:
    """One interest payment the co-op posted for a settlement period
    (``period_start`` .. ``period_end``, both inclusive)."""

    txn_id: str
    period_start: datetime.date
    period_end: datetime.date
    due_on: datetime.date
    paid_on: datetime.date
    amount: Decimal

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    def on_time(self, grace_days: int) -> bool:
        return self.paid_on <= self.due_on + datetime.timedelta(days=grace_days)


@dataclass(frozen=True)
class DayRun:
    """Consecutive days inside the year that the rule treats alike."""

    first: datetime.date
    last: datetime.date
    balance: Decimal
    quota: Decimal | None  # the quota this loan may use on these days; None: no limit
    base: Decimal  # min(balance, quota): the balance that earns a subsidy
    reason: str
    txn_id: str | None  # the posting that covers these days, if any

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class PeriodWorking:
    """What one posting contributes to the year (step 4)."""

    posting: Posting
    days_in_year: int
    on_time: bool
    reported: Decimal  # the amount × the share of its days inside the year
    expected: Decimal  # at the contract rate on the balance, for its days inside the year
    eligible: Decimal  # at min(rate, cap) on min(balance, quota), for its eligible days
    subsidised: Decimal  # min(reported, eligible) if paid on time, else nothing


@dataclass(frozen=True)
class LineWorking:
    eligible_days: int
    days_outside_year: int
    days_overdue: int
    days_late: int
    days_written_off: int
    days_unreported: int
    reported_interest: Decimal
    expected_interest: Decimal
    eligible_interest: Decimal
    interest_above_cap: Decimal
    interest_above_quota: Decimal
    paid_on_time: Decimal
    subsidy: Decimal
    # The least quota the loan could use on a day of the year on which it
    # had a balance (the quota of its first day if it had none); None: no limit.
    least_quota: Decimal | None = None
    periods: tuple[PeriodWorking, ...] = ()
    runs: tuple[DayRun, ...] = field(default=(), compare=False)

    @property
    def difference(self) -> Decimal:
        """Reported less expected interest: what the reconciliation looks at."""
        return self.reported_interest - self.expected_interest

    def reconciles(self, tolerance: Decimal) -> bool:
        return abs(self.difference) <= tolerance

    @property
    def has_activity(self) -> bool:
        """Whether the loan had anything in the year: days accruing or postings."""
        return bool(
            self.periods
            or self.eligible_days
            or self.days_overdue
            or self.days_written_off
            or self.days_unreported
        )


class CalculationError(Exception):
    """A loan the rule cannot be applied to, with the reason for the user."""


def _share(amount: int, days: int, of_days: int) -> int:
    """The part of ``amount`` fen for the first ``days`` of ``of_days``, to the fen."""
    if days == of_days:
        return amount
    return divide_half_up(amount * days, of_days) if days else 0


def _balance_on(principal: Decimal, repayments: Sequence[tuple[datetime.date, Decimal]], day):
    return principal - sum((amount for paid, amount in repayments if paid <= day), ZERO)


@functools.cache
def _fraction(value: Decimal) -> tuple[int, int]:
    """A rate or ratio as an exact fraction; a run has a handful of them."""
    return value.as_integer_ratio()


def _start(item) -> int:
    return item[0]


def line_working(
    *,
    terms: LoanTerms,
    rule: Rule,
    year_start: datetime.date,
    year_end: datetime.date,
    postings: Sequence[Posting] = (),
    repayments: Sequence[tuple[datetime.date, Decimal]] = (),
    detail: bool = False,
) -> LineWorking:
    """The subsidy of one loan for the subsidy year ``year_start`` ..
    ``year_end`` (both inclusive), given the interest postings and the
    principal repayments (date, amount) in force.

    Amounts are whole fen (as stored); the working is done in integers:
    days as ordinals, amounts in fen, balance × days in fen-days, each
    rate an exact fraction, so one exact division per posting gives what
    round_fen gives on the same Decimals. It runs once per loan of a
    province, so mind what the inner loop costs."""
    year_first = year_start.toordinal()
    year_last = year_end.toordinal()
    first = max(year_start, terms.disbursed_on).toordinal()
    stop = year_last + 1  # the first day after the year
    maturity = terms.maturity_on.toordinal()
    written_off = None if terms.written_off_on is None else terms.written_off_on.toordinal()
    grace = rule.grace_days

    # The postings that touch the year, by period start: (first day, last
    # day, posting, paid on time).
    periods_in = []
    for posting in postings:
        period_first = posting.period_start.toordinal()
        period_last = posting.period_end.toordinal()
        if period_first <= year_last and period_last >= year_first:
            timely = posting.paid_on.toordinal() <= posting.due_on.toordinal() + grace
            periods_in.append((period_first, period_last, posting, timely))
    if len(periods_in) > 1:
        periods_in.sort(key=_start)
    repaid = sorted((day.toordinal(), to_fen(amount)) for day, amount in repayments)

    balance = to_fen(terms.principal)
    repaid_index = 0
    while repaid_index < len(repaid) and repaid[repaid_index][0] <= first:
        balance -= repaid[repaid_index][1]
        repaid_index += 1

    overdue_all_year = False
    if rule.lose_year_if_overdue and maturity <= year_last:
        overdue_from = max(maturity, year_first)
        written_off_before = written_off is not None and written_off <= overdue_from
        overdue_all_year = not written_off_before and (
            to_fen(terms.principal) - sum(fen for day, fen in repaid if day <= overdue_from) > 0
        )

    cuts = {first, stop, maturity}
    if written_off is not None:
        cuts.add(written_off)
    cuts.update(day for day, _fen in repaid)
    for earlier in terms.earlier:
        cuts.update(day.toordinal() for day in earlier.changes())
    for period_first, period_last, _posting, _timely in periods_in:
        cuts.add(period_first)
        cuts.add(period_last + 1)
    cuts = sorted(day for day in cuts if first <= day <= stop)

    # The quota: none, the tier quota all year, or what the earlier loans
    # leave of it day by day.
    quota = terms.quota
    quota_fen = None if quota is None else to_fen(quota)
    quota_varies = quota is not None and bool(terms.earlier)
    least_quota = None

    # Per posting: balance-days at the contract rate, and eligible base-days.
    count_in = len(periods_in)
    expected_bd = [0] * count_in
    eligible_bd = [0] * count_in
    unposted_bd = 0
    above_quota_bd = 0  # (balance − base) × days on eligible days
    eligible_balance_bd = 0  # balance × days on eligible days
    days_eligible = days_overdue = days_late = days_written_off = days_unreported = 0
    runs = []

    posting_index = 0
    start = cuts[0] if cuts else stop
    for end in cuts[1:]:
        while repaid_index < len(repaid) and repaid[repaid_index][0] <= start:
            balance -= repaid[repaid_index][1]
            repaid_index += 1
        if balance <= 0:
            start = end
            continue  # repaid: nothing accrues
        while posting_index < count_in and periods_in[posting_index][1] < start:
            posting_index += 1
        covering = -1
        if posting_index < count_in and periods_in[posting_index][0] <= start:
            covering = posting_index
        count = end - start
        if quota_varies:
            quota = terms.quota_on(datetime.date.fromordinal(start))
            quota_fen = to_fen(quota)
        if quota is None:
            base = balance
        else:
            base = balance if balance < quota_fen else quota_fen
            least_quota = quota if least_quota is None or quota < least_quota else least_quota
        balance_days = balance * count
        if written_off is not None and start >= written_off:
            reason = WRITTEN_OFF
            days_written_off += count
        else:
            if covering < 0:
                unposted_bd += balance_days
            else:
                expected_bd[covering] += balance_days
            if overdue_all_year or start >= maturity:
                reason = OVERDUE
                days_overdue += count
            elif covering < 0:
                reason = UNREPORTED
                days_unreported += count
            elif not periods_in[covering][3]:
                reason = LATE
                days_late += count
            else:
                reason = ELIGIBLE
                days_eligible += count
                eligible_bd[covering] += base * count
                eligible_balance_bd += balance_days
                above_quota_bd += (balance - base) * count
        if detail:
            runs.append(
                DayRun(
                    first=datetime.date.fromordinal(start),
                    last=datetime.date.fromordinal(end - 1),
                    balance=from_fen(balance),
                    quota=quota,
                    base=from_fen(base),
                    reason=reason,
                    txn_id=None if covering < 0 else periods_in[covering][2].txn_id,
                )
            )
        start = end

    # interest in fen = fen-days × rate / basis = fen-days × numerator / denominator
    rate_numerator, rate_denominator = _fraction(terms.rate)
    rate_denominator *= rule.basis
    capped_numerator, capped_denominator = _fraction(terms.subsidised_rate)
    capped_denominator *= rule.basis
    periods = []
    days_outside_year = 0
    reported_total = expected_total = eligible_total = subsidised_total = paid_on_time = 0
    for index, (period_first, period_last, posting, timely) in enumerate(periods_in):
        # The share of the amount for the year's days, rounded cumulatively
        # so that the shares of a period across two years add up to it.
        days = period_last - period_first + 1
        through = min(period_last, year_last) - period_first + 1
        before = max(year_first - period_first, 0)
        in_year = through - before
        days_outside_year += days - in_year
        amount = to_fen(posting.amount)
        reported = _share(amount, through, days) - _share(amount, before, days)
        expected = divide_half_up(expected_bd[index] * rate_numerator, rate_denominator)
        if timely:
            eligible = divide_half_up(eligible_bd[index] * capped_numerator, capped_denominator)
            subsidised = reported if reported < eligible else eligible
            paid_on_time += reported
        else:
            eligible = subsidised = 0
        periods.append(
            PeriodWorking(
                posting=posting,
                days_in_year=in_year,
                on_time=timely,
                reported=from_fen(reported),
                expected=from_fen(expected),
                eligible=from_fen(eligible),
                subsidised=from_fen(subsidised),
            )
        )
        reported_total += reported
        expected_total += expected
        eligible_total += eligible
        subsidised_total += subsidised
    if unposted_bd:
        expected_total += divide_half_up(unposted_bd * rate_numerator, rate_denominator)
    if least_quota is None:
        least_quota = terms.quota_on(datetime.date.fromordinal(first))
    # Above the cap: fen-days × (rate − capped) / basis, over one denominator
    # (each of the two denominators holds the basis once).
    above_cap_numerator = rate_numerator * capped_denominator - capped_numerator * rate_denominator
    above_cap_denominator = rate_denominator * capped_denominator
    ratio_numerator, ratio_denominator = _fraction(rule.ratio)

    return LineWorking(
        eligible_days=days_eligible,
        days_outside_year=days_outside_year,
        days_overdue=days_overdue,
        days_late=days_late,
        days_written_off=days_written_off,
        days_unreported=days_unreported,
        reported_interest=from_fen(reported_total),
        expected_interest=from_fen(expected_total),
        eligible_interest=from_fen(eligible_total),
        interest_above_cap=from_fen(
            divide_half_up(eligible_balance_bd * above_cap_numerator, above_cap_denominator)
        ),
        interest_above_quota=from_fen(
            divide_half_up(above_quota_bd * capped_numerator, capped_denominator)
        ),
        paid_on_time=from_fen(paid_on_time),
        subsidy=from_fen(divide_half_up(subsidised_total * ratio_numerator, ratio_denominator)),
        least_quota=least_quota,
        periods=tuple(periods),
        runs=tuple(runs),
    )
