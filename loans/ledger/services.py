"""Services of loans and the co-op's ledger: the contract for a released
application, interest settlements, principal repayments and reversals
(append-only), and the loan statuses recorded each day.

Each takes the acting user as ``actor``, checks role and township, runs in
one transaction and raises ``ValidationError`` (keyed by field, in the
user's language) or ``PermissionDenied``, leaving nothing changed.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import require_permission
from common.history import history_record_bulk, save_traced
from common.money import yuan
from loans import signals
from loans.models import (
    Application,
    CreditCoop,
    LedgerEntry,
    Loan,
    LoanStatusChange,
)

from .position import loan_position

State = Application.State


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@transaction.atomic
def loan_create(
    *,
    actor,
    application: Application,
    coop: CreditCoop,
    contract_no: str,
    principal: Decimal,
    annual_rate: Decimal,
    disbursed_on: datetime.date,
    maturity_on: datetime.date,
) -> Loan:
    """Record the co-op's contract for a released application."""
    require_permission(actor, "loans.add_loan")
    application = Application.objects.select_for_update().get(pk=application.pk)
    programme = application.programme
    errors: dict[str, list[str]] = {}
    if application.state != State.RELEASED:
        errors["application"] = [_("Only an application released to the co-op can be lent.")]
    elif Loan.objects.filter(application=application).exists():
        errors["application"] = [_("This application already has a loan.")]
    if not coop.counties.filter(pk=application.county_id).exists():
        errors["coop"] = [
            _("%(coop)s does not lend in %(county)s.")
            % {"coop": coop.name, "county": application.county.name}
        ]
    if Loan.objects.filter(coop=coop, contract_no=contract_no).exists():
        errors["contract_no"] = [
            _("Contract number %(number)s is already used.") % {"number": contract_no}
        ]
    if principal is not None and principal > application.amount:
        errors["principal"] = [
            _("The principal exceeds the approved amount of %(amount)s yuan.")
            % {"amount": yuan(application.amount)}
        ]
    if annual_rate is not None and annual_rate > programme.rate_ceiling:
        errors["annual_rate"] = [
            _("The rate exceeds the programme's ceiling of %(rate)s.")
            % {"rate": f"{programme.rate_ceiling * 100:.4f}%"}
        ]
    if disbursed_on and maturity_on:
        earliest = _add_months(disbursed_on, programme.min_term_months)
        latest = _add_months(disbursed_on, programme.max_term_months)
        if not earliest <= maturity_on <= latest:
            errors["maturity_on"] = [
                _(
                    "The maturity must fall from %(earliest)s to %(latest)s (a term of %(min)d to "
                    "%(max)d months)."
                )
                % {
                    "earliest": earliest.isoformat(),
                    "latest": latest.isoformat(),
                    "min": programme.min_term_months,
                    "max": programme.max_term_months,
                }
            ]
    if errors:
        raise ValidationError(errors)
    loan = Loan(
        application=application,
        coop=coop,
        contract_no=contract_no,
        principal=principal,
        annual_rate=annual_rate,
        disbursed_on=disbursed_on,
        maturity_on=maturity_on,
        programme=programme,
        township_id=application.township_id,
        county_id=application.county_id,
    )
    return save_traced(loan, actor=actor)


def _effective_interest(loan: Loan):
    """Interest entries of the loan that no reversal has undone."""
    return LedgerEntry.objects.filter(
        loan=loan, kind=LedgerEntry.Kind.INTEREST, reversed_by__isnull=True
    )


def interest_entry_errors(
    *,
    loan: Loan,
    period_start: datetime.date,
    period_end: datetime.date,
    paid_on: datetime.date,
    amount: Decimal,
) -> dict[str, list[str]]:
    """What is wrong with an interest posting, by field (empty if nothing)."""
    errors: dict[str, list[str]] = {}
    if amount is not None and amount <= 0:
        errors["amount"] = [_("The amount must be more than zero.")]
    if period_end < period_start:
        errors["period_end"] = [_("The period ends before it starts.")]
    elif paid_on < period_start:
        errors["paid_on"] = [_("The paid date is before the period starts.")]
    if period_start < loan.disbursed_on:
        errors["period_start"] = [_("The period starts before the loan was disbursed.")]
    overlapping = _effective_interest(loan).filter(
        period_start__lte=period_end, period_end__gte=period_start
    )
    if overlapping.exists():
        other = overlapping.first()
        errors["period_start"] = [
            _("The period overlaps %(start)s to %(end)s, already posted as %(txn)s.")
            % {"start": other.period_start, "end": other.period_end, "txn": other.txn_id}
        ]
    return errors


@transaction.atomic
def ledger_post_interest(
    *,
    actor,
    coop: CreditCoop,
    loan: Loan,
    txn_id: str,
    period_start: datetime.date,
    period_end: datetime.date,
    due_on: datetime.date,
    paid_on: datetime.date,
    amount: Decimal,
) -> LedgerEntry:
    require_permission(actor, "loans.add_ledgerentry")
    Loan.objects.select_for_update().get(pk=loan.pk)
    errors = interest_entry_errors(
        loan=loan, period_start=period_start, period_end=period_end, paid_on=paid_on, amount=amount
    )
    if errors:
        raise ValidationError(errors)
    entry = LedgerEntry(
        coop=coop,
        txn_id=txn_id,
        loan=loan,
        kind=LedgerEntry.Kind.INTEREST,
        amount=amount,
        paid_on=paid_on,
        period_start=period_start,
        period_end=period_end,
        due_on=due_on,
        posted_by=actor,
    )
    save_traced(entry, actor=actor)
    signals.ledger_posted.send(sender=LedgerEntry, entries=[entry])
    return entry


@transaction.atomic
def ledger_post_repayment(
    *,
    actor,
    coop: CreditCoop,
    loan: Loan,
    txn_id: str,
    paid_on: datetime.date,
    amount: Decimal,
) -> LedgerEntry:
    require_permission(actor, "loans.add_ledgerentry")
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if amount <= 0:
        raise ValidationError({"amount": [_("The amount must be more than zero.")]})
    if paid_on < loan.disbursed_on:
        raise ValidationError({"paid_on": [_("The loan was not disbursed yet on that date.")]})
    balance = loan_position(loan, on=datetime.date.max).balance
    if amount > balance:
        raise ValidationError(
            {
                "amount": [
                    _("The repayment exceeds the balance of %(balance)s yuan.")
                    % {"balance": yuan(balance)}
                ]
            }
        )
    entry = LedgerEntry(
        coop=coop,
        txn_id=txn_id,
        loan=loan,
        kind=LedgerEntry.Kind.PRINCIPAL,
        amount=amount,
        paid_on=paid_on,
        posted_by=actor,
    )
    save_traced(entry, actor=actor)
    loan_status_record(loan, on=paid_on)
    signals.ledger_posted.send(sender=LedgerEntry, entries=[entry])
    return entry


@transaction.atomic
def ledger_post_reversal(
    *,
    actor,
    coop: CreditCoop,
    txn_id: str,
    reverses_txn_id: str,
    reason: str,
    paid_on: datetime.date | None = None,
) -> LedgerEntry:
    """Undo an earlier entry of the same co-op by a reversal that points at it."""
    require_permission(actor, "loans.add_ledgerentry")
    original = (
        LedgerEntry.objects.select_for_update().filter(coop=coop, txn_id=reverses_txn_id).first()
    )
    if original is None:
        raise ValidationError(
            {"reverses_txn_id": [_("No entry %(txn)s to reverse.") % {"txn": reverses_txn_id}]}
        )
    if original.kind == LedgerEntry.Kind.REVERSAL:
        raise ValidationError({"reverses_txn_id": [_("A reversal cannot be reversed.")]})
    if LedgerEntry.objects.filter(reverses=original).exists():
        raise ValidationError({"reverses_txn_id": [_("This entry is already reversed.")]})
    if not reason.strip():
        raise ValidationError({"reason": [_("Give the reason.")]})
    entry = LedgerEntry(
        coop=coop,
        txn_id=txn_id,
        loan=original.loan,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=original.amount,
        paid_on=paid_on or timezone.localdate(),
        reverses=original,
        reason=reason,
        posted_by=actor,
    )
    save_traced(entry, actor=actor)
    loan_status_record(original.loan, on=entry.paid_on)
    signals.ledger_reversed.send(sender=LedgerEntry, reversal=entry)
    return entry


def loan_status_record(loan: Loan, *, on: datetime.date) -> bool:
    """Store the loan's status as of ``on`` and record a change; True if
    changed. The services call it after each posting; the daily task for
    every loan."""
    status = loan_position(loan, on=on).status
    if status == loan.status:
        return False
    LoanStatusChange.objects.create(loan=loan, on=on, from_status=loan.status, to_status=status)
    Loan.objects.filter(pk=loan.pk).update(status=status, updated_at=timezone.now())
    # update() skips save(): record the change in the history here.
    history_record_bulk(Loan.objects.filter(pk=loan.pk), history_type="~")
    loan.status = status
    return True


def loan_statuses_record(*, today: datetime.date, county=None) -> int:
    """The daily task: record every loan (of ``county`` alone, if given)
    whose status changed by ``today`` (a loan falls overdue the day after
    maturity with principal left)."""
    changed = 0
    loans = Loan.objects.exclude(status__in=[Loan.Status.REPAID, Loan.Status.WRITTEN_OFF])
    if county is not None:
        loans = loans.filter(county=county)
    for loan in loans:
        with transaction.atomic():
            changed += loan_status_record(loan, on=today)
    return changed
