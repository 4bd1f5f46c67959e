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
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from common.money import ZERO, round_fen

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


def _share(amount: Decimal, days: int, of_days: int) -> Decimal:
    """The part of ``amount`` for the first ``days`` of ``of_days``, to the fen."""
    if days == of_days:
        return amount
    return round_fen(amount * days / of_days) if days else ZERO


def _balance_on(principal: Decimal, repayments: Sequence[tuple[datetime.date, Decimal]], day):
    return principal - sum((amount for paid, amount in repayments if paid <= day), ZERO)


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
    principal repayments (date, amount) in force."""
    repayments = sorted(repayments)
    postings = sorted(
        (p for p in postings if p.period_start <= year_end and p.period_end >= year_start),
        key=lambda p: p.period_start,
    )
    rate = terms.rate
    capped = terms.subsidised_rate
    first = max(year_start, terms.disbursed_on)
    stop = year_end + ONE_DAY  # the first day after the year

    overdue_all_year = False
    if rule.lose_year_if_overdue and terms.maturity_on <= year_end:
        overdue_from = max(terms.maturity_on, year_start)
        written_off_before = terms.written_off_on is not None and (
            terms.written_off_on <= overdue_from
        )
        overdue_all_year = (
            not written_off_before and _balance_on(terms.principal, repayments, overdue_from) > 0
        )

    cuts = {first, stop, terms.maturity_on}
    if terms.written_off_on:
        cuts.add(terms.written_off_on)
    cuts.update(day for day, _amount in repayments)
    for earlier in terms.earlier:
        cuts.update(earlier.changes())
    for posting in postings:
        cuts.add(posting.period_start)
        cuts.add(posting.period_end + ONE_DAY)
    cuts = sorted(day for day in cuts if first <= day <= stop)

    on_time = {p.txn_id: p.on_time(rule.grace_days) for p in postings}
    # Per posting: balance-days at the contract rate, and eligible base-days.
    expected_bd = {p.txn_id: ZERO for p in postings}
    eligible_bd = {p.txn_id: ZERO for p in postings}
    unposted_bd = ZERO
    above_quota_bd = ZERO  # (balance − base) × days on eligible days
    eligible_balance_bd = ZERO  # balance × days on eligible days
    days = {ELIGIBLE: 0, OVERDUE: 0, LATE: 0, WRITTEN_OFF: 0, UNREPORTED: 0}
    runs = []
    least_quota = None

    balance = _balance_on(terms.principal, repayments, first)
    repaid_index = sum(1 for day, _amount in repayments if day <= first)
    posting_index = 0
    for start, end in zip(cuts, cuts[1:], strict=False):
        while repaid_index < len(repayments) and repayments[repaid_index][0] <= start:
            balance -= repayments[repaid_index][1]
            repaid_index += 1
        if balance <= 0:
            continue  # repaid: nothing accrues
        while posting_index < len(postings) and postings[posting_index].period_end < start:
            posting_index += 1
        posting = None
        if posting_index < len(postings) and postings[posting_index].period_start <= start:
            posting = postings[posting_index]
        if terms.written_off_on is not None and start >= terms.written_off_on:
            reason = WRITTEN_OFF
        elif overdue_all_year or start >= terms.maturity_on:
            reason = OVERDUE
        elif posting is None:
            reason = UNREPORTED
        elif not on_time[posting.txn_id]:
            reason = LATE
        else:
            reason = ELIGIBLE
        count = (end - start).days
        days[reason] += count
        quota = terms.quota_on(start)
        if quota is None:
            base = balance
        else:
            base = min(balance, quota)
            least_quota = quota if least_quota is None else min(least_quota, quota)
        balance_days = balance * count
        if reason != WRITTEN_OFF:
            if posting is None:
                unposted_bd += balance_days
            else:
                expected_bd[posting.txn_id] += balance_days
        if reason == ELIGIBLE:
            eligible_bd[posting.txn_id] += base * count
            eligible_balance_bd += balance_days
            above_quota_bd += (balance - base) * count
        if detail:
            runs.append(
                DayRun(
                    first=start,
                    last=end - ONE_DAY,
                    balance=balance,
                    quota=quota,
                    base=base,
                    reason=reason,
                    txn_id=posting.txn_id if posting else None,
                )
            )

    basis = rule.basis
    periods = []
    days_outside_year = 0
    reported_total = expected_total = eligible_total = subsidised_total = paid_on_time = ZERO
    for posting in postings:
        # The share of the amount for the year's days, rounded cumulatively
        # so that the shares of a period across two years add up to it.
        through = (min(posting.period_end, year_end) - posting.period_start).days + 1
        before = max((year_start - posting.period_start).days, 0)
        in_year = through - before
        days_outside_year += posting.days - in_year
        reported = _share(posting.amount, through, posting.days) - _share(
            posting.amount, before, posting.days
        )
        expected = round_fen(expected_bd[posting.txn_id] * rate / basis)
        timely = on_time[posting.txn_id]
        eligible = round_fen(eligible_bd[posting.txn_id] * capped / basis) if timely else ZERO
        subsidised = min(reported, eligible) if timely else ZERO
        periods.append(
            PeriodWorking(
                posting=posting,
                days_in_year=in_year,
                on_time=timely,
                reported=reported,
                expected=expected,
                eligible=eligible,
                subsidised=subsidised,
            )
        )
        reported_total += reported
        expected_total += expected
        eligible_total += eligible
        subsidised_total += subsidised
        if timely:
            paid_on_time += reported
    if unposted_bd:
        expected_total += round_fen(unposted_bd * rate / basis)
    if least_quota is None:
        least_quota = terms.quota_on(first)

    return LineWorking(
        eligible_days=days[ELIGIBLE],
        days_outside_year=days_outside_year,
        days_overdue=days[OVERDUE],
        days_late=days[LATE],
        days_written_off=days[WRITTEN_OFF],
        days_unreported=days[UNREPORTED],
        reported_interest=reported_total,
        expected_interest=expected_total,
        eligible_interest=eligible_total,
        interest_above_cap=round_fen(eligible_balance_bd * (rate - capped) / basis),
        interest_above_quota=round_fen(above_quota_bd * capped / basis),
        paid_on_time=paid_on_time,
        subsidy=round_fen(subsidised_total * rule.ratio),
        least_quota=least_quota,
        periods=tuple(periods),
        runs=tuple(runs),
    )
