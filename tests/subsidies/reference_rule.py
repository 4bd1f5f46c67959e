"""The subsidy rule as it was written before it was made fast: every
amount a Decimal, summed run of days by run of days, rounded with
``round_fen``. Kept here only as an oracle for
tests/subsidies/test_calculation_exact.py, which asserts that
``subsidies.calculation.line_working`` gives the very same working; the
application never imports it.
"""

import datetime
from collections.abc import Sequence
from decimal import Decimal

from common.money import ZERO, round_fen
from subsidies.calculation import (
    ELIGIBLE,
    LATE,
    ONE_DAY,
    OVERDUE,
    UNREPORTED,
    WRITTEN_OFF,
    DayRun,
    LineWorking,
    LoanTerms,
    PeriodWorking,
    Posting,
    Rule,
)


def _share(amount: Decimal, days: int, of_days: int) -> Decimal:
    """The part of ``amount`` for the first ``days`` of ``of_days``, to the fen."""
    if days == of_days:
        return amount
    return round_fen(amount * days / of_days) if days else ZERO


def _balance_on(principal: Decimal, repayments: Sequence[tuple[datetime.date, Decimal]], day):
    return principal - sum((amount for paid, amount in repayments if paid <= day), ZERO)


def reference_line_working(
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
