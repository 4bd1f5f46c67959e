"""Reading the ledger: a loan's balance and status as of any date."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from common.money import ZERO
from loans.models import LedgerEntry, Loan


@dataclass(frozen=True)
class LoanPosition:
    on: datetime.date
    balance: Decimal
    principal_repaid: Decimal
    interest_paid: Decimal
    status: str


def effective_entries(loan: Loan):
    """The loan's interest and principal entries that no reversal has undone."""
    return LedgerEntry.objects.filter(
        loan=loan,
        kind__in=[LedgerEntry.Kind.INTEREST, LedgerEntry.Kind.PRINCIPAL],
        reversed_by__isnull=True,
    )


def loan_status(loan: Loan, *, on: datetime.date, balance: Decimal) -> str:
    if loan.written_off_on and loan.written_off_on <= on:
        return Loan.Status.WRITTEN_OFF
    if balance <= 0:
        return Loan.Status.REPAID
    if on > loan.maturity_on:
        return Loan.Status.OVERDUE
    return Loan.Status.ACTIVE


def loan_position(loan: Loan, *, on: datetime.date) -> LoanPosition:
    """Balance, totals and status at the end of day ``on``."""
    totals = dict(
        effective_entries(loan)
        .filter(paid_on__lte=on)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    repaid = totals.get(LedgerEntry.Kind.PRINCIPAL) or ZERO
    balance = loan.principal - repaid
    return LoanPosition(
        on=on,
        balance=balance,
        principal_repaid=repaid,
        interest_paid=totals.get(LedgerEntry.Kind.INTEREST) or ZERO,
        status=loan_status(loan, on=on, balance=balance),
    )


def loan_repayments(loan: Loan) -> list[tuple[datetime.date, Decimal]]:
    """(date, amount) of every principal repayment still in force."""
    return list(
        effective_entries(loan)
        .filter(kind=LedgerEntry.Kind.PRINCIPAL)
        .order_by("paid_on", "pk")
        .values_list("paid_on", "amount")
    )


def loan_balance_history(loan: Loan) -> list[tuple[datetime.date, Decimal]]:
    """The balance after disbursement and after each repayment."""
    history = [(loan.disbursed_on, loan.principal)]
    balance = loan.principal
    for day, amount in loan_repayments(loan):
        balance -= amount
        history.append((day, balance))
    return history
