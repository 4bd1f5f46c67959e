"""Loan pages: the list with balances from the ledger, a loan's statement
(expected settlements beside the posted ledger, repayments, balance
history), and the form county staff use to record a contract.

Every view states the permission it needs; a view that takes a pk fetches
through ``_get_loan_for_user``, so a loan outside the user's township is a
404, never a 403 that would confirm it exists.
"""

import calendar
import datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Role, role_of
from loans.models import Application, Loan

from . import selectors
from .forms import LoanContractForm, add_service_error
from .services import loan_create

PAGE_SIZE = 50


def rate_percent(rate: Decimal) -> str:
    """``0.034500`` → ``3.45%``: two to four decimals, as contracts print rates."""
    percent = (rate * 100).quantize(Decimal("0.0001")).normalize()
    places = max(2, -percent.as_tuple().exponent)
    return "%s%%" % format(percent, ".%df" % places)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def term_in_months(start: datetime.date, end: datetime.date) -> tuple[int, int]:
    """Whole months from ``start`` to ``end`` and the days left over."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if _add_months(start, months) > end:
        months -= 1
    return months, (end - _add_months(start, months)).days


def _today() -> datetime.date:
    """The day balances and due settlements are shown as of (a seam for tests)."""
    return timezone.localdate()


def _may_create(user) -> bool:
    # The co-op holds loans.add_loan for its API; in the browser it only
    # reads, so the contract form is for county staff alone.
    return user.has_perm("loans.add_loan") and role_of(user) != Role.COOP


def _get_loan_for_user(request, pk: int) -> Loan:
    """The loan, if the user may see it; 404 for anyone outside the loan's
    township, exactly as for a loan that does not exist."""
    loan = selectors.loan_for_detail(user=request.user, pk=pk)
    if loan is None:
        raise Http404(_("No such loan."))
    return loan


@login_required
@permission_required("loans.view_loan", raise_exception=True)
def loan_list(request):
    """Loans with balance and interest paid today, filtered by status (with
    counts), programme, township and a search."""
    today = _today()
    listing = selectors.loan_list(user=request.user, params=request.GET, today=today)
    page = Paginator(listing.filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    loans = list(page.object_list)
    for loan in loans:
        loan.rate_percent = rate_percent(loan.annual_rate)
        loan.status_label = selectors.status_label(loan.status)
    return render(
        request,
        "loans/loans/list.html",
        {
            "filter": listing.filter,
            "status_counts": listing.status_counts,
            "total": listing.total,
            "current_status": request.GET.get("status", ""),
            "page": page,
            "loans": loans,
            "today": today,
            "may_create": _may_create(request.user),
        },
    )


@login_required
@permission_required("loans.view_loan", raise_exception=True)
def loan_detail(request, pk: int):
    loan = _get_loan_for_user(request, pk)
    today = _today()
    statement = selectors.loan_statement(loan=loan, today=today)
    months, days = term_in_months(loan.disbursed_on, loan.maturity_on)
    return render(
        request,
        "loans/loans/detail.html",
        {
            "loan": loan,
            "application": loan.application,
            "applicant": loan.application.applicant,
            "statement": statement,
            "status_label": selectors.status_label(statement.position.status),
            "today": today,
            "rate_percent": rate_percent(loan.annual_rate),
            "term_months": months,
            "term_days": days,
            "chart": selectors.balance_chart(
                [(step.on, step.balance) for step in statement.balance_history],
                ends_on=_chart_end(loan, statement),
                today=today,
                maturity_on=loan.maturity_on,
            ),
        },
    )


def _chart_end(loan: Loan, statement: selectors.LoanStatement) -> datetime.date:
    """The contract's term, or up to today for a loan still owing after it."""
    if statement.position.balance > 0 and statement.today > loan.maturity_on:
        return statement.today
    return loan.maturity_on


@login_required
@permission_required("loans.add_loan", raise_exception=True)
def loan_new(request):
    """Record the contract for a released application (``?application=<pk>``
    preselects it and its approved amount)."""
    if not _may_create(request.user):
        raise PermissionDenied
    if request.method == "POST":
        form = LoanContractForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                loan = loan_create(actor=request.user, **form.service_data())
            except ValidationError as error:
                add_service_error(error, form)
            else:
                messages.success(
                    request, _("Contract %(number)s recorded.") % {"number": loan.contract_no}
                )
                return redirect("loans:detail", pk=loan.pk)
        return render(request, "loans/loans/form.html", {"form": form}, status=400)
    application = _lendable_application(request)
    initial = (
        {"application": application.pk, "principal": application.amount} if application else {}
    )
    return render(
        request,
        "loans/loans/form.html",
        {
            "form": LoanContractForm(initial=initial, user=request.user),
            # Say why an application named in the link is not preselected.
            "unavailable_application": request.GET.get("application") if not application else None,
        },
    )


def _lendable_application(request) -> Application | None:
    """The application named in the query string, if the user may record a
    contract for it (released, no loan yet, in their scope)."""
    pk = request.GET.get("application", "")
    if not pk.isdigit():
        return None
    return selectors.released_without_loan(user=request.user).filter(pk=pk).first()
