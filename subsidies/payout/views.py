"""The payout page of an approved subsidy run: what is left to pay, the lines
that cannot be paid for want of a bank account, the payment batches with
their bank files, and each line's payment.

The county, the finance bureau and the auditor see it (a township officer
sees the lines of their township only); only the finance bureau
(``subsidies.pay_subsidyrun``) issues batches and records payments. Every
write is one payout service; a refused one changes nothing, and the page
is shown again with the message beside its field (or at the top, for a
refusal no field explains). Every download of a bank file (it holds whole
account numbers) is logged before it is sent.
"""

import datetime
from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import township_q
from accounts.services import personal_data_export_log
from common.money import ZERO, yuan
from loans.ledger.forms import add_service_error
from subsidies.models import PaymentBatch, PaymentRecord, SubsidyLine, SubsidyRun

from . import files as payout_files
from . import services
from .forms import BatchPaymentForm, LineFailedForm, LinePaidForm
from .selectors import batches_for_user

VIEW_PERMISSIONS = ("subsidies.view_subsidyrun", "subsidies.view_paymentbatch")
PAY_PERMISSION = "subsidies.pay_subsidyrun"
PAGE_SIZE = 50
Payment = SubsidyLine.Payment

WAITING = (Payment.PENDING, Payment.FAILED)
# Listed with the line's payment status; the first is the page's default.
TABS = (
    ("", gettext_lazy("All lines")),
    (Payment.PENDING, Payment.PENDING.label),
    (Payment.ISSUED, Payment.ISSUED.label),
    (Payment.FAILED, Payment.FAILED.label),
    (Payment.PAID, Payment.PAID.label),
    (Payment.NOTHING_DUE, Payment.NOTHING_DUE.label),
)


def _today() -> datetime.date:
    """The day a payment date may not lie after (a seam for tests)."""
    return timezone.localdate()


def _get_run(user, pk: int) -> SubsidyRun:
    """A run of the user's county; another county's is a 404."""
    run = (
        SubsidyRun.objects.for_user(user)
        .select_related("programme", "approved_by")
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise Http404(_("No such subsidy run."))
    return run


def _lines_for_user(user, run: SubsidyRun):
    """The run's lines the user may see: a township officer, their township's."""
    return SubsidyLine.objects.for_user(user).filter(run=run)


def _may_pay(user, run: SubsidyRun) -> bool:
    return user.has_perm(PAY_PERMISSION) and run.state == SubsidyRun.State.APPROVED


def _may_download(user, batch: PaymentBatch) -> bool:
    """A bank file lists every line of its batch: only for a user who may see
    all of them (a township officer only if the batch is their township's)."""
    lines = services.payment_batch_lines(batch)
    return lines.for_user(user).count() == lines.count()


def _back(request) -> QueryDict:
    """The list's filter and page the form was posted from, to return to."""
    return QueryDict(request.POST.get("back", ""), mutable=True)


def _payout_url(run: SubsidyRun, back: QueryDict | None = None, anchor: str = "") -> str:
    url = reverse("subsidies:payout", args=[run.pk])
    if back:
        url += "?" + back.urlencode()
    return url + ("#" + anchor if anchor else "")


# The page -------------------------------------------------------------------------


def _summary(lines) -> dict:
    """Count and amount of the lines by payment status, and the figures the
    page heads with."""
    by_status = {
        row["payment"]: (row["count"], row["amount"] or ZERO)
        for row in lines.order_by()
        .values("payment")
        .annotate(count=Count("pk"), amount=Sum("amount_due"))
    }

    def figure(*statuses):
        count = sum(by_status.get(status, (0, ZERO))[0] for status in statuses)
        amount = sum((by_status.get(status, (0, ZERO))[1] for status in statuses), ZERO)
        return {"count": count, "amount": amount}

    return {
        "due": figure(Payment.PENDING, Payment.ISSUED, Payment.PAID, Payment.FAILED),
        "waiting": figure(*WAITING),
        "issued": figure(Payment.ISSUED),
        "paid": figure(Payment.PAID),
        "failed": figure(Payment.FAILED),
        "nothing_due": figure(Payment.NOTHING_DUE),
        "counts": {status: count for status, (count, _amount) in by_status.items()},
    }


def _with_payee(lines) -> list[SubsidyLine]:
    lines = list(lines)
    for line in lines:
        line.account_holder, line.account_number, line.bank = services.payee_of(line.loan)
    return lines


def _line_rows(lines):
    return lines.order_by("township__code", "loan__contract_no").select_related(
        "township",
        "batch__run",
        "loan__application__borrower",
        "loan__application__household__village_group__parent",
        "loan__application__enterprise",
    )


def _render(request, run: SubsidyRun, *, batch_form=None, line_form=None, status=200):
    """The payout page. ``batch_form`` and ``line_form`` are bound forms whose
    errors to show: (batch id, form) and (line id, outcome, form)."""
    user = request.user
    lines = _lines_for_user(user, run)
    summary = _summary(lines)
    may_pay = _may_pay(user, run)

    params = request.GET if request.method == "GET" else _back(request)
    current = params.get("payment", "")
    if current not in dict(TABS):
        current = ""
    listed = lines.filter(payment=current) if current else lines
    page = Paginator(_line_rows(listed), PAGE_SIZE).get_page(params.get("page"))
    page_lines = list(page.object_list)
    if line_form and line_form[0] not in {line.pk for line in page_lines}:
        # The line the user acted on stays in view with its error.
        page_lines.insert(0, _line_rows(lines).get(pk=line_form[0]))
    page_lines = _with_payee(page_lines)
    back = params.urlencode()
    for line in page_lines:
        line.paid_form = line.failed_form = None
        line.open_form = ""
        if may_pay and line.payment == Payment.ISSUED:
            line.paid_form = LinePaidForm(prefix="line%d" % line.pk)
            line.failed_form = LineFailedForm(prefix="line%d" % line.pk)
            if line_form and line_form[0] == line.pk:
                outcome, form = line_form[1], line_form[2]
                setattr(line, "%s_form" % outcome, form)
                line.open_form = outcome

    missing = _with_payee(
        _line_rows(
            lines.filter(services.PAYEE_HAS_NO_ACCOUNT, payment__in=WAITING, amount_due__gt=0)
        )
    )
    missing_amount = sum((line.amount_due for line in missing), ZERO)
    # What the next batch takes: the lines waiting that have an account.
    summary["waiting"] = {
        "count": summary["waiting"]["count"] - len(missing),
        "amount": summary["waiting"]["amount"] - missing_amount,
    }

    # A failed line moves on to the next batch: its failure is counted from
    # the payment records, where the batch it failed in stays. Counted, like
    # everything on the page, over the lines the user may see.
    by_batch = Counter(
        {
            (row["batch"], row["payment"]): row["count"]
            for row in SubsidyLine.objects.for_user(user)
            .filter(batch__run=run)
            .order_by()
            .values("batch", "payment")
            .annotate(count=Count("pk"))
        }
    )
    failed = Counter(
        dict(
            PaymentRecord.objects.filter(
                township_q(user, "line__township_id"), batch__run=run, status=Payment.FAILED
            )
            .order_by()
            .values("batch")
            .annotate(count=Count("line", distinct=True))
            .values_list("batch", "count")
        )
    )
    batches = batches_for_user(user, run)
    for batch in batches:
        batch.run = run
        batch.issued_count = by_batch[batch.pk, Payment.ISSUED]
        batch.paid_count = by_batch[batch.pk, Payment.PAID]
        batch.failed_count = failed[batch.pk]
        batch.may_download = _may_download(user, batch)
        batch.form = None
        if may_pay and batch.issued_count:
            batch.form = BatchPaymentForm(prefix="batch%d" % batch.pk)
            if batch_form and batch_form[0] == batch.pk:
                batch.form = batch_form[1]

    tabs = [
        {
            "value": value,
            "label": label,
            "count": summary["counts"].get(value, 0) if value else sum(summary["counts"].values()),
            "current": value == current,
        }
        for value, label in TABS
    ]
    return render(
        request,
        "subsidies/payout.html",
        {
            "run": run,
            "summary": summary,
            "missing": missing,
            "batches": batches,
            "may_pay": may_pay,
            "missing_amount": missing_amount,
            "may_issue": may_pay and summary["waiting"]["count"] > 0,
            "tabs": tabs,
            "current": current,
            "page": page,
            "lines": page_lines,
            "back": back,
            "today": _today(),
            "show_account": user.has_perm("beneficiaries.view_personal_data"),
        },
        status=status,
    )


@login_required
@permission_required(VIEW_PERMISSIONS, raise_exception=True)
@require_GET
def payout(request, pk: int):
    run = _get_run(request.user, pk)
    if not run.is_frozen:
        messages.info(
            request,
            _("The run is %(state)s: payment starts once the finance bureau approves it.")
            % {"state": run.get_state_display()},
        )
        return redirect("subsidies:run", pk=run.pk)
    return _render(request, run)


# Writes ---------------------------------------------------------------------------


def _refused(request, error: ValidationError, url: str):
    """A refusal that belongs to no field of a form on the page (the batch or
    line is no longer waiting, the run is not approved): said at the top."""
    for message in error.messages:
        messages.error(request, message)
    return redirect(url)


@login_required
@permission_required(PAY_PERMISSION, raise_exception=True)
@require_POST
def batch_issue(request, pk: int):
    run = _get_run(request.user, pk)
    try:
        batch = services.payment_batch_issue(actor=request.user, run=run)
    except ValidationError as error:
        return _refused(request, error, _payout_url(run))
    message = _("Batch %(reference)s issued: %(count)s lines, %(total)s yuan.") % {
        "reference": batch.reference,
        "count": batch.line_count,
        "total": yuan(batch.total),
    }
    messages.success(request, message + " " + _("Download its file for the bank."))
    return redirect(_payout_url(run, anchor="batch-%d" % batch.number))


@login_required
@permission_required(VIEW_PERMISSIONS, raise_exception=True)
@require_GET
def batch_file(request, pk: int, fmt: str):
    """The bank's file of a batch, logged as an export of personal data."""
    if fmt not in payout_files.FORMATS:
        raise Http404(_("No such file format."))
    batch = PaymentBatch.objects.for_user(request.user).select_related("run").filter(pk=pk).first()
    if batch is None or not _may_download(request.user, batch):
        raise Http404(_("No such payment batch."))
    rows = services.payment_batch_rows(batch)
    content = payout_files.WRITERS[fmt](batch, rows)
    personal_data_export_log(
        request=request,
        what="subsidy payment batch %s (%s)" % (batch.reference, fmt),
        row_count=len(rows),
        filters="run=%d&batch=%d" % (batch.run_id, batch.number),
    )
    response = HttpResponse(content, content_type=payout_files.FORMATS[fmt])
    response["Content-Disposition"] = content_disposition_header(
        True, payout_files.filename(batch, fmt)
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(PAY_PERMISSION, raise_exception=True)
@require_POST
def batch_record(request, pk: int):
    batch = PaymentBatch.objects.for_user(request.user).select_related("run").filter(pk=pk).first()
    if batch is None:
        raise Http404(_("No such payment batch."))
    run = _get_run(request.user, batch.run_id)
    form = BatchPaymentForm(request.POST, prefix="batch%d" % batch.pk)
    if form.is_valid():
        try:
            count = services.payment_batch_record(
                actor=request.user, batch=batch, today=_today(), **form.payment()
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                return _refused(request, error, _payout_url(run, _back(request)))
            add_service_error(error, form)
        else:
            messages.success(
                request,
                _("Batch %(reference)s: %(count)s lines recorded as paid.")
                % {"reference": batch.reference, "count": count},
            )
            return redirect(_payout_url(run, _back(request), "batch-%d" % batch.number))
    return _render(request, run, batch_form=(batch.pk, form), status=400)


@login_required
@permission_required(PAY_PERMISSION, raise_exception=True)
@require_POST
def line_record(request, pk: int):
    line = SubsidyLine.objects.for_user(request.user).select_related("loan").filter(pk=pk).first()
    if line is None:
        raise Http404(_("No such subsidy line."))
    run = _get_run(request.user, line.run_id)
    paid = request.POST.get("outcome") == "paid"
    form_class = LinePaidForm if paid else LineFailedForm
    form = form_class(request.POST, prefix="line%d" % line.pk)
    if form.is_valid():
        fields = form.payment() if paid else {"note": form.cleaned_data["note"]}
        try:
            services.payment_line_record(
                actor=request.user, line=line, paid=paid, today=_today(), **fields
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                return _refused(request, error, _payout_url(run, _back(request)))
            add_service_error(error, form)
        else:
            if paid:
                message = _("Line %(contract)s recorded as paid.")
            else:
                message = _("Line %(contract)s recorded as failed; it goes into the next batch.")
            messages.success(request, message % {"contract": line.loan.contract_no})
            return redirect(_payout_url(run, _back(request), "line-%d" % line.pk))
    outcome = "paid" if paid else "failed"
    return _render(request, run, line_form=(line.pk, outcome, form), status=400)
