"""Taking in what the co-op posts, exactly once.

Every ledger record carries the co-op's ``txn_id`` (unique per co-op in the
database). A batch is all-or-nothing:

1. every row is parsed, then checked against the stored ledger and against
   the earlier rows of the same batch; every bad row is reported (index,
   field, code, message) and nothing is written;
2. a row whose ``txn_id`` is already stored with the same content is
   "already_exists" and changes nothing; with different content it is a
   ``txn_id_conflict`` (409);
3. the new rows are inserted with one ``bulk_create`` (and one for their
   history rows) in the same transaction.

Lookups are made in bulk, one query each: the loans by contract number
(locked, in id order, so that two batches touching the same loans run one
after the other and never deadlock), the stored entries by txn_id, the
posted periods or repaid principal of those loans.

The rules are those of ``loans.services.interest_entry_errors`` and
``ledger_post_repayment``, which check one record at a time with a query
each; here they run against the prefetched rows. ``tests/api/
test_ledger_posts.py`` posts the same bad records through both and compares
the fields they blame, so the two cannot drift apart unnoticed.
"""

import bisect
import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers
from simple_history.utils import bulk_create_with_history

from common.money import ZERO, yuan
from loans import signals
from loans.ledger.services import ledger_post_reversal, loan_create, loan_status_record
from loans.models import Application, LedgerEntry, Loan

from .exceptions import ApiError, errors_of_detail
from .serializers import InterestPaymentSerializer, RepaymentSerializer, quick_parser

BATCH_LIMIT = 5000
CREATED = "created"
ALREADY_EXISTS = "already_exists"
# A batch that lost a race (another request inserted one of its txn_ids
# first, or the database broke a deadlock) is checked again from the start:
# the second time it sees the other request's rows as stored.
ATTEMPTS = 3
_RETRYABLE_PGCODES = {"40001", "40P01"}  # serialization failure, deadlock detected

Kind = LedgerEntry.Kind


class RejectedError(Exception):
    """The request changed nothing; ``errors`` says why, row by row."""

    def __init__(self, errors: Iterable[ApiError]):
        self.errors = sorted(errors, key=lambda e: -1 if e.index is None else e.index)
        super().__init__(self.errors)


@dataclass(frozen=True)
class RowOutcome:
    index: int
    txn_id: str
    status: str


@dataclass
class BatchResult:
    rows: list[RowOutcome] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The response body (``BatchResultSerializer``'s shape), built
        directly: a serializer costs more than the rest for 5,000 rows."""
        return {
            "created": self.created,
            "already_exists": self.already_exists,
            "results": [
                {"index": row.index, "txn_id": row.txn_id, "status": row.status}
                for row in self.rows
            ],
        }

    @property
    def created(self) -> int:
        return sum(row.status == CREATED for row in self.rows)

    @property
    def already_exists(self) -> int:
        return sum(row.status == ALREADY_EXISTS for row in self.rows)


# What a co-op may see --------------------------------------------------------


def coop_applications(*, actor, coop):
    """Applications of the counties the co-op's key reaches (the actor is
    narrowed to them when the key is checked)."""
    return Application.objects.for_user(actor).filter(county__in=coop.counties.all())


def coop_loans(*, actor, coop):
    """The co-op's own loans."""
    return Loan.objects.for_user(actor).filter(coop=coop)


# Contracts ---------------------------------------------------------------------

_LOAN_FIELDS = ("application", "principal", "annual_rate", "disbursed_on", "maturity_on")
_LOAN_CODES = {
    "contract_no": "contract_no_used",
    "principal": "principal_above_approved",
    "annual_rate": "rate_above_ceiling",
    "maturity_on": "maturity_outside_term",
}


def loan_post(
    *,
    actor,
    coop,
    application: int,
    contract_no: str,
    principal: Decimal,
    annual_rate: Decimal,
    disbursed_on: datetime.date,
    maturity_on: datetime.date,
) -> tuple[Loan, bool]:
    """Record a contract once: (loan, True) when created; (loan, False) when
    the same contract number was already recorded with the same content.
    Different content raises ``RejectedError`` with ``contract_conflict`` rows."""
    posted = {
        "application": application,
        "principal": principal,
        "annual_rate": annual_rate,
        "disbursed_on": disbursed_on,
        "maturity_on": maturity_on,
    }
    existing = Loan.objects.filter(coop=coop, contract_no=contract_no).first()
    if existing is not None:
        return _same_loan(existing, posted), False
    candidate = coop_applications(actor=actor, coop=coop).filter(pk=application).first()
    if candidate is None:
        message = _("There is no application %(id)s in this county.") % {"id": application}
        raise RejectedError([ApiError("unknown_application", message, "application")])
    try:
        with transaction.atomic():
            loan = loan_create(
                actor=actor,
                application=candidate,
                coop=coop,
                contract_no=contract_no,
                principal=principal,
                annual_rate=annual_rate,
                disbursed_on=disbursed_on,
                maturity_on=maturity_on,
            )
    except (IntegrityError, DjangoValidationError) as error:
        # Another request may have recorded this contract meanwhile.
        existing = Loan.objects.filter(coop=coop, contract_no=contract_no).first()
        if existing is not None:
            return _same_loan(existing, posted), False
        if isinstance(error, IntegrityError):
            raise
        raise RejectedError(_loan_errors(error, candidate)) from None
    return loan, True


def _same_loan(loan: Loan, posted: dict) -> Loan:
    stored = {name: getattr(loan, name) for name in _LOAN_FIELDS if name != "application"}
    stored["application"] = loan.application_id
    errors = [
        ApiError(
            field=name,
            code="contract_conflict",
            message=_("Contract %(number)s is already recorded with %(field)s %(value)s.")
            % {"number": loan.contract_no, "field": name, "value": stored[name]},
        )
        for name in _LOAN_FIELDS
        if stored[name] != posted[name]
    ]
    if errors:
        raise RejectedError(errors)
    return loan


def _loan_errors(error: DjangoValidationError, application: Application) -> list[ApiError]:
    if not hasattr(error, "error_dict"):
        return [ApiError(code="invalid", message=message) for message in error.messages]
    errors = []
    for name, messages in error.message_dict.items():
        if name == "application":
            released = application.state == Application.State.RELEASED
            code = "application_already_lent" if released else "application_not_released"
        else:
            code = _LOAN_CODES.get(name, "invalid")
        field_name = None if name == "__all__" else name
        errors += [ApiError(field=field_name, code=code, message=m) for m in messages]
    return errors


# Ledger batches ------------------------------------------------------------------


@dataclass
class _Spec:
    """What differs between interest and repayment batches."""

    kind: str
    parser: type[serializers.Serializer]
    fields: tuple[str, ...]
    prefetch: Callable[[list[Loan], list[dict]], dict]
    check: Callable[[int, dict, Loan, dict], list[ApiError]]
    entry_fields: tuple[str, ...]


def interest_payments_post(
    *, actor, coop, rows: list, ip_address: str | None = None
) -> BatchResult:
    """Post interest collected for settlement periods (see the module docstring)."""
    return _post_batch(actor=actor, coop=coop, rows=rows, spec=_INTEREST, ip_address=ip_address)


def repayments_post(*, actor, coop, rows: list, ip_address: str | None = None) -> BatchResult:
    """Post principal repayments; each must fit the balance left after the
    batch's earlier repayments of the same loan."""
    return _post_batch(actor=actor, coop=coop, rows=rows, spec=_PRINCIPAL, ip_address=ip_address)


def _parse(parser: type[serializers.Serializer], rows: list) -> tuple[list, list[ApiError]]:
    child = parser()
    quick = quick_parser(child)
    parsed, errors = [], []
    for index, row in enumerate(rows):
        value = quick(row)
        if value is None:
            try:
                value = child.run_validation(row)
            except serializers.ValidationError as error:
                errors += errors_of_detail(error.detail, index=index)
        parsed.append(value)
    return parsed, errors


def _post_batch(*, actor, coop, rows: list, spec: _Spec, ip_address) -> BatchResult:
    parsed, parse_errors = _parse(spec.parser, rows)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _post_batch_once(
                    actor=actor,
                    coop=coop,
                    parsed=parsed,
                    parse_errors=parse_errors,
                    spec=spec,
                    ip_address=ip_address,
                )
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
        except OperationalError as error:
            if attempt == ATTEMPTS or _pgcode(error) not in _RETRYABLE_PGCODES:
                raise
    raise AssertionError("unreachable")


def _pgcode(error: Exception) -> str | None:
    return getattr(error.__cause__, "pgcode", None)


def _post_batch_once(*, actor, coop, parsed, parse_errors, spec: _Spec, ip_address):
    good = [(index, row) for index, row in enumerate(parsed) if row is not None]
    loans = {
        loan.contract_no: loan
        for loan in Loan.objects.select_for_update()
        .filter(coop=coop, contract_no__in={row["contract_no"] for _, row in good})
        .order_by("pk")
    }
    # Read after the locks: a batch that waited for another one sees its rows.
    stored = {
        entry["txn_id"]: entry
        for entry in LedgerEntry.objects.filter(
            coop=coop, txn_id__in={row["txn_id"] for _, row in good}
        ).values("txn_id", "kind", "loan__contract_no", *spec.entry_fields)
    }

    errors = list(parse_errors)
    outcomes: list[RowOutcome] = []
    candidates: list[tuple[int, dict, Loan]] = []
    first_seen: dict[str, tuple[int, dict]] = {}
    for index, row in good:
        txn_id = row["txn_id"]
        if txn_id in stored:
            error = _stored_conflict(index, row, stored[txn_id], spec)
            if error:
                errors.append(error)
            else:
                outcomes.append(RowOutcome(index, txn_id, ALREADY_EXISTS))
            continue
        if txn_id in first_seen:
            earlier_index, earlier = first_seen[txn_id]
            if all(earlier[name] == row[name] for name in spec.fields):
                outcomes.append(RowOutcome(index, txn_id, ALREADY_EXISTS))
            else:
                message = _(
                    "Transaction %(txn)s appears twice in this batch with different content "
                    "(first at row %(index)d)."
                ) % {"txn": txn_id, "index": earlier_index}
                errors.append(ApiError("duplicate_txn_id", message, "txn_id", index))
            continue
        first_seen[txn_id] = (index, row)
        loan = loans.get(row["contract_no"])
        if loan is None:
            message = _("There is no loan with contract number %(number)s.") % {
                "number": row["contract_no"]
            }
            errors.append(ApiError("unknown_contract", message, "contract_no", index))
            continue
        candidates.append((index, row, loan))

    # The rules, in batch order, for the rows that would be new.
    new_rows: list[tuple[dict, Loan]] = []
    if candidates:
        state = spec.prefetch(
            list({loan.pk: loan for _, _, loan in candidates}.values()),
            [row for _, row, _ in candidates],
        )
        for index, row, loan in candidates:
            row_errors = spec.check(index, row, loan, state)
            if row_errors:
                errors += row_errors
            else:
                outcomes.append(RowOutcome(index, row["txn_id"], CREATED))
                new_rows.append((row, loan))

    if errors:
        raise RejectedError(errors)
    _write(actor=actor, coop=coop, new_rows=new_rows, spec=spec, ip_address=ip_address)
    outcomes.sort(key=lambda outcome: outcome.index)
    return BatchResult(rows=outcomes)


def _stored_conflict(index: int, row: dict, entry: dict, spec: _Spec) -> ApiError | None:
    """None when the stored entry has the row's content; the conflict otherwise."""
    if entry["kind"] != spec.kind:
        message = _("Transaction %(txn)s is already recorded as another kind of entry (%(kind)s).")
        values = {"txn": entry["txn_id"], "kind": Kind(entry["kind"]).label}
        return ApiError("txn_id_conflict", message % values, "txn_id", index)
    entry = {**entry, "contract_no": entry["loan__contract_no"]}
    differing = [name for name in spec.fields if entry[name] != row[name]]
    if not differing:
        return None
    message = _("Transaction %(txn)s is already recorded with different content (%(fields)s).")
    values = {"txn": entry["txn_id"], "fields": ", ".join(differing)}
    return ApiError("txn_id_conflict", message % values, "txn_id", index)


def _write(*, actor, coop, new_rows, spec: _Spec, ip_address) -> None:
    if not new_rows:
        return
    entries = [
        LedgerEntry(
            coop_id=coop.pk,
            loan_id=loan.pk,
            county_id=loan.county_id,
            kind=spec.kind,
            posted_by_id=actor.pk,
            **{name: row[name] for name in spec.entry_fields},
        )
        for row, loan in new_rows
    ]
    # One INSERT for the entries and one for their "+" history rows, with the
    # API account as the history user and the client's address.
    entries = bulk_create_with_history(
        entries,
        LedgerEntry,
        batch_size=1000,
        default_user=actor,
        default_change_reason="api: %s" % spec.kind,
        custom_historical_attrs={"ip_address": ip_address},
    )
    touched = {loan.pk: loan for _, loan in new_rows}
    # The loans' totals changed: let ?updated_since= find them.
    Loan.objects.filter(pk__in=touched).update(updated_at=timezone.now())
    if spec.kind == Kind.PRINCIPAL:
        last_paid: dict[int, datetime.date] = {}
        for row, loan in new_rows:
            last_paid[loan.pk] = max(row["paid_on"], last_paid.get(loan.pk, row["paid_on"]))
        for pk, day in last_paid.items():
            loan_status_record(touched[pk], on=day)
    signals.ledger_posted.send(sender=LedgerEntry, entries=entries)


# Interest ----------------------------------------------------------------------


@dataclass
class _Periods:
    """One loan's periods, disjoint and sorted by start, with who posted them."""

    starts: list[datetime.date] = field(default_factory=list)
    items: list[tuple[datetime.date, datetime.date, str, int | None]] = field(default_factory=list)

    def add(self, start, end, txn_id, index=None):
        position = bisect.bisect_left(self.starts, start)
        self.starts.insert(position, start)
        self.items.insert(position, (start, end, txn_id, index))

    def overlapping(self, start, end):
        """The period with the latest start on or before ``end``, if it reaches ``start``."""
        position = bisect.bisect_right(self.starts, end)
        if position and self.items[position - 1][1] >= start:
            return self.items[position - 1]
        return None


def _interest_prefetch(loans: list[Loan], rows: list[dict]) -> dict:
    """The posted periods of these loans that could overlap one of the rows
    (those reaching into the span from the earliest start to the latest end)."""
    periods: dict[int, _Periods] = defaultdict(_Periods)
    effective = LedgerEntry.objects.filter(
        loan__in=loans,
        kind=Kind.INTEREST,
        reversed_by__isnull=True,
        period_start__lte=max(row["period_end"] for row in rows),
        period_end__gte=min(row["period_start"] for row in rows),
    ).values_list("loan_id", "period_start", "period_end", "txn_id")
    for loan_id, start, end, txn_id in effective:
        periods[loan_id].add(start, end, txn_id)
    return periods


def _interest_check(index: int, row: dict, loan: Loan, periods: dict) -> list[ApiError]:
    # The rules of loans.services.interest_entry_errors, on prefetched periods.
    errors = []
    start, end, paid_on = row["period_start"], row["period_end"], row["paid_on"]
    if row["amount"] <= 0:
        message = _("The amount must be more than zero.")
        errors.append(ApiError("amount_not_positive", message, "amount", index))
    if end < start:
        message = _("The period ends before it starts.")
        errors.append(ApiError("period_end_before_start", message, "period_end", index))
    elif paid_on < start:
        message = _("The paid date is before the period starts.")
        errors.append(ApiError("paid_before_period_start", message, "paid_on", index))
    if start < loan.disbursed_on:
        message = _("The period starts before the loan was disbursed.")
        errors.append(ApiError("period_before_disbursement", message, "period_start", index))
    other = periods[loan.pk].overlapping(start, end)
    if other is not None:
        other_start, other_end, other_txn, other_index = other
        values = {"start": other_start, "end": other_end, "txn": other_txn}
        if other_index is None:
            message = _("The period overlaps %(start)s to %(end)s, already posted as %(txn)s.")
            errors.append(ApiError("period_overlap", message % values, "period_start", index))
        else:
            message = _(
                "The period overlaps %(start)s to %(end)s of row %(index)d (%(txn)s) in this batch."
            )
            values["index"] = other_index
            errors.append(
                ApiError("period_overlap_in_batch", message % values, "period_start", index)
            )
    if not errors:
        periods[loan.pk].add(start, end, row["txn_id"], index)
    return errors


# Repayments --------------------------------------------------------------------


def _principal_prefetch(loans: list[Loan], rows: list[dict]) -> dict:
    repaid = dict(
        LedgerEntry.objects.filter(loan__in=loans, kind=Kind.PRINCIPAL, reversed_by__isnull=True)
        .values("loan_id")
        .annotate(total=Sum("amount"))
        .values_list("loan_id", "total")
    )
    return {loan.pk: loan.principal - (repaid.get(loan.pk) or ZERO) for loan in loans}


def _principal_check(index: int, row: dict, loan: Loan, balances: dict) -> list[ApiError]:
    # The rules of loans.services.ledger_post_repayment, on prefetched balances.
    errors = []
    amount = row["amount"]
    if amount <= 0:
        message = _("The amount must be more than zero.")
        errors.append(ApiError("amount_not_positive", message, "amount", index))
    if row["paid_on"] < loan.disbursed_on:
        message = _("The loan was not disbursed yet on that date.")
        errors.append(ApiError("paid_before_disbursement", message, "paid_on", index))
    balance = balances[loan.pk]
    if amount > balance:
        message = _("The repayment exceeds the balance of %(balance)s yuan.") % {
            "balance": yuan(balance)
        }
        errors.append(ApiError("repayment_above_balance", message, "amount", index))
    if not errors:
        balances[loan.pk] = balance - amount
    return errors


_INTEREST = _Spec(
    kind=Kind.INTEREST,
    parser=InterestPaymentSerializer,
    fields=("contract_no", "period_start", "period_end", "due_on", "paid_on", "amount"),
    prefetch=_interest_prefetch,
    check=_interest_check,
    entry_fields=("txn_id", "period_start", "period_end", "due_on", "paid_on", "amount"),
)
_PRINCIPAL = _Spec(
    kind=Kind.PRINCIPAL,
    parser=RepaymentSerializer,
    fields=("contract_no", "paid_on", "amount"),
    prefetch=_principal_prefetch,
    check=_principal_check,
    entry_fields=("txn_id", "paid_on", "amount"),
)


# Reversals ---------------------------------------------------------------------


def reversal_post(
    *,
    actor,
    coop,
    txn_id: str,
    reverses_txn_id: str,
    reason: str,
    paid_on: datetime.date | None = None,
) -> tuple[LedgerEntry, bool]:
    """Undo an earlier entry once: (entry, True) when created, (entry, False)
    when this reversal was already recorded with the same content."""
    posted = {"reverses_txn_id": reverses_txn_id, "reason": reason, "paid_on": paid_on}
    existing = _stored_entry(coop, txn_id)
    if existing is not None:
        return _same_reversal(existing, posted), False
    try:
        with transaction.atomic():
            entry = ledger_post_reversal(
                actor=actor,
                coop=coop,
                txn_id=txn_id,
                reverses_txn_id=reverses_txn_id,
                reason=reason,
                paid_on=paid_on,
            )
            Loan.objects.filter(pk=entry.loan_id).update(updated_at=timezone.now())
    except (IntegrityError, DjangoValidationError) as error:
        existing = _stored_entry(coop, txn_id)
        if existing is not None:
            return _same_reversal(existing, posted), False
        if isinstance(error, IntegrityError):
            raise
        raise RejectedError(_reversal_errors(error, coop, reverses_txn_id)) from None
    return entry, True


def _stored_entry(coop, txn_id: str) -> LedgerEntry | None:
    return (
        LedgerEntry.objects.select_related("loan", "reverses")
        .filter(coop=coop, txn_id=txn_id)
        .first()
    )


def _same_reversal(entry: LedgerEntry, posted: dict) -> LedgerEntry:
    if entry.kind != Kind.REVERSAL:
        message = _("Transaction %(txn)s is already recorded as another kind of entry (%(kind)s).")
        values = {"txn": entry.txn_id, "kind": entry.get_kind_display()}
        raise RejectedError([ApiError("txn_id_conflict", message % values, "txn_id")])
    stored = {
        "reverses_txn_id": entry.reverses.txn_id,
        "reason": entry.reason,
        "paid_on": entry.paid_on if posted["paid_on"] is not None else None,
    }
    differing = [name for name in posted if stored[name] != posted[name]]
    if differing:
        message = _(
            "Transaction %(txn)s is already recorded with different content (%(fields)s)."
        ) % {"txn": entry.txn_id, "fields": ", ".join(differing)}
        raise RejectedError([ApiError("txn_id_conflict", message, "txn_id")])
    return entry


def _reversal_errors(error: DjangoValidationError, coop, reverses_txn_id: str) -> list[ApiError]:
    if not hasattr(error, "error_dict"):
        return [ApiError(code="invalid", message=message) for message in error.messages]
    errors = []
    for name, messages in error.message_dict.items():
        code = "invalid"
        if name == "reverses_txn_id":
            original = LedgerEntry.objects.filter(coop=coop, txn_id=reverses_txn_id).first()
            if original is None:
                code = "unknown_txn_id"
            elif original.kind == Kind.REVERSAL:
                code = "cannot_reverse_reversal"
            else:
                code = "already_reversed"
        elif name == "reason":
            code = "reason_required"
        field_name = None if name == "__all__" else name
        errors += [ApiError(field=field_name, code=code, message=m) for m in messages]
    return errors
