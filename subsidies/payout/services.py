"""Services of the payout of an approved run: payment batches (the lines
sent to the bank in one file), payments and failures recorded per batch or
per line; a failed line goes into the next batch. The run becomes paid
when every line is paid or has nothing due.

Every service takes the acting user, checks the permission, runs in one
transaction and raises ``ValidationError`` or ``PermissionDenied`` leaving
nothing changed.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.roles import require_county, require_permission
from common.history import history_record_bulk
from common.money import ZERO
from loans.models import Loan
from subsidies.models import (
    PaymentBatch,
    PaymentRecord,
    SubsidyLine,
    SubsidyRun,
)
from subsidies.runs.services import run_close_if_paid, run_locked

State = SubsidyRun.State
Payment = SubsidyLine.Payment


# The subsidy is paid to the enterprise for an enterprise's loan, to the
# household otherwise: payee_of reads it for one loan, PAYEE_HAS_NO_ACCOUNT
# finds the lines that cannot be paid until the township adds the account.
PAYEE_HAS_NO_ACCOUNT = Q(
    loan__application__enterprise__isnull=True, loan__application__household__account_number=""
) | Q(loan__application__enterprise__isnull=False, loan__application__enterprise__account_number="")


def payee_of(loan: Loan) -> tuple[str, str, str]:
    """(account holder, account number, bank) the subsidy is paid to."""
    application = loan.application
    owner = application.enterprise if application.enterprise_id else application.household
    return owner.account_holder, owner.account_number, owner.bank_name


def payment_batch_issue(*, actor, run: SubsidyRun) -> PaymentBatch:
    """Put every line still to pay (never issued, or failed) with a bank
    account into a new batch. Lines without an account stay pending."""
    require_permission(actor, "subsidies.pay_subsidyrun")
    require_county(actor, run.county_id)
    with transaction.atomic():
        run = run_locked(run)
        if run.state != State.APPROVED:
            raise ValidationError(_("Only an approved run can be paid."))
        payable = list(
            run.lines.filter(payment__in=[Payment.PENDING, Payment.FAILED], amount_due__gt=0)
            .exclude(PAYEE_HAS_NO_ACCOUNT)
            .only("pk", "amount_due")
        )
        if not payable:
            raise ValidationError(_("No line is waiting for payment (with a bank account)."))
        number = (run.batches.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        batch = PaymentBatch(
            run=run,
            county_id=run.county_id,
            number=number,
            created_by=actor,
            line_count=len(payable),
            total=sum((line.amount_due for line in payable), ZERO),
        )
        batch._history_user = actor
        batch.save()
        SubsidyLine.objects.filter(pk__in=[line.pk for line in payable]).update(
            payment=Payment.ISSUED, batch=batch, payment_note=""
        )
        history_record_bulk(SubsidyLine.objects.filter(batch=batch), history_type="~", user=actor)
        PaymentRecord.objects.bulk_create(
            PaymentRecord(
                line=line,
                county_id=run.county_id,
                batch=batch,
                status=Payment.ISSUED,
                actor=actor,
            )
            for line in payable
        )
    return batch


def payment_batch_lines(batch: PaymentBatch):
    """Every line issued in the batch, also one that failed and went into a
    later batch."""
    issued = PaymentRecord.objects.filter(batch=batch, status=Payment.ISSUED)
    return SubsidyLine.objects.filter(pk__in=issued.values("line_id"))


def payment_batch_rows(batch: PaymentBatch) -> list[dict]:
    """The rows of the bank's batch-payment file, one per line of
    ``payment_batch_lines``: the file downloaded again is the file sent."""
    rows = []
    lines = (
        payment_batch_lines(batch)
        .select_related("loan__application__household", "loan__application__enterprise")
        .order_by("township", "loan__contract_no")
    )
    for line in lines:
        holder, account, bank = payee_of(line.loan)
        rows.append(
            {
                "account_holder": holder,
                "account_number": account,
                "bank": bank,
                "amount": line.amount_due,
                "reference": f"{batch.reference}-{line.pk}",
                "contract_no": line.loan.contract_no,
            }
        )
    return rows


def _check_voucher(voucher_no: str, paid_on: datetime.date | None, today) -> dict:
    errors = {}
    if not (voucher_no or "").strip():
        errors["voucher_no"] = _("Enter the payment voucher number.")
    if paid_on is None:
        errors["paid_on"] = _("Enter the date of payment.")
    elif paid_on > today:
        errors["paid_on"] = _("The payment date is in the future.")
    return errors


def payment_batch_record(
    *, actor, batch: PaymentBatch, voucher_no: str, paid_on: datetime.date, today
) -> int:
    """Record the bank's payment of a batch: every line of it still issued
    becomes paid. Answers the number of lines recorded."""
    require_permission(actor, "subsidies.pay_subsidyrun")
    require_county(actor, batch.county_id)
    errors = _check_voucher(voucher_no, paid_on, today)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        run = run_locked(batch.run)
        issued = list(batch.lines.filter(payment=Payment.ISSUED))
        if not issued:
            raise ValidationError(_("No line of this batch is waiting for its payment."))
        recorded = batch.lines.filter(pk__in=[line.pk for line in issued])
        recorded.update(payment=Payment.PAID, voucher_no=voucher_no.strip(), paid_on=paid_on)
        history_record_bulk(recorded, history_type="~", user=actor)
        PaymentRecord.objects.bulk_create(
            PaymentRecord(
                line=line,
                county_id=run.county_id,
                batch=batch,
                status=Payment.PAID,
                voucher_no=voucher_no.strip(),
                paid_on=paid_on,
                actor=actor,
            )
            for line in issued
        )
        run_close_if_paid(run, actor)
    return len(issued)


def payment_line_record(
    *,
    actor,
    line: SubsidyLine,
    paid: bool,
    voucher_no: str = "",
    paid_on: datetime.date | None = None,
    note: str = "",
    today,
) -> SubsidyLine:
    """Record one issued line as paid (voucher and date) or as failed (with
    the bank's reason); a failed line goes into the next batch."""
    require_permission(actor, "subsidies.pay_subsidyrun")
    require_county(actor, line.county_id)
    if paid:
        errors = _check_voucher(voucher_no, paid_on, today)
    else:
        errors = {} if (note or "").strip() else {"note": _("Say why the payment failed.")}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        run = run_locked(line.run)
        line = SubsidyLine.objects.select_for_update().get(pk=line.pk)
        if line.payment != Payment.ISSUED:
            raise ValidationError(
                _("This line is %(status)s; only a line issued to the bank can be recorded.")
                % {"status": line.get_payment_display()}
            )
        if paid:
            line.payment = Payment.PAID
            line.voucher_no = voucher_no.strip()
            line.paid_on = paid_on
        else:
            line.payment = Payment.FAILED
            line.payment_note = note.strip()
        line._history_user = actor
        line.save(update_fields=["payment", "voucher_no", "paid_on", "payment_note"])
        PaymentRecord.objects.create(
            line=line,
            county_id=line.county_id,
            batch=line.batch,
            status=line.payment,
            voucher_no=line.voucher_no,
            paid_on=line.paid_on,
            note=line.payment_note,
            actor=actor,
        )
        run_close_if_paid(run, actor)
    return line
