"""The fund's pages: the funds side by side, a fund's page (its standing,
statement, chart, movements, claims and history) with its PDF and xlsx,
its form, a deposit, the list of claims, a claim with its working and the
forms of its steps.

Every view states the permission it needs and reads through the user's
scope: a fund of none of the user's counties, or a claim of another county
or township, is a 404. Writes go through ``riskfund.services``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import counties_of
from common.money import yuan
from loans.models import CreditCoop, Loan
from loans.programmes.services import home_region

from . import selectors, statement
from .forms import (
    ApproveForm,
    CheckForm,
    ClaimForm,
    FundForm,
    MovementForm,
    StatementForm,
    add_service_error,
)
from .loss import PRINCIPAL_AND_INTEREST
from .models import Claim, Fund
from .services import (
    claim_approve,
    claim_check,
    claim_file_for_contract,
    fund_save,
    loss_of,
    may_configure,
    movement_record,
    programmes_for_region,
)


def _fund_for_user(request, pk: int) -> Fund:
    return get_object_or_404(Fund.objects.for_user(request.user).select_related("region"), pk=pk)


@login_required
@permission_required("riskfund.view_fund", raise_exception=True)
def fund_list(request):
    """Every fund the user sees, side by side: balance, limit, leverage
    used, non-performing rate, claims open (a city or province sees each of
    its counties' funds)."""
    today = timezone.localdate()
    funds = Fund.objects.for_user(request.user).select_related("region")
    rows = [selectors.standing(fund, on=today) for fund in funds]
    region = home_region(request.user)
    return render(
        request,
        "riskfund/fund_list.html",
        {
            "rows": rows,
            "today": today,
            "may_add": request.user.has_perm("riskfund.add_fund")
            and region is not None
            and not Fund.objects.filter(region=region).exists(),
            "may_view_claims": request.user.has_perm("riskfund.view_claim"),
        },
    )


@login_required
@permission_required("riskfund.view_fund", raise_exception=True)
def fund_detail(request, pk: int):
    fund = _fund_for_user(request, pk)
    today = timezone.localdate()
    period_form = StatementForm(request.GET or None)
    start, end = period_form.period(today)
    user = request.user
    return render(
        request,
        "riskfund/fund_detail.html",
        {
            "fund": fund,
            "period_form": period_form,
            "statement": selectors.statement(fund, start=start, end=end),
            "standing": selectors.standing(fund, on=today),
            "chart": statement.fund_chart(fund),
            "programmes": fund.programmes.all(),
            "claims": selectors.claims_for(user).filter(fund=fund)[:50]
            if user.has_perm("riskfund.view_claim")
            else None,
            "history": selectors.fund_history(fund),
            "query": request.GET.urlencode(),
            "may_edit": user.has_perm("riskfund.change_fund") and may_configure(user, fund),
            "may_deposit": user.has_perm("riskfund.add_movement"),
            "may_file": user.has_perm("riskfund.add_claim"),
        },
    )


def _statement_of(request, pk: int):
    fund = _fund_for_user(request, pk)
    form = StatementForm(request.GET or None)
    start, end = form.period(timezone.localdate())
    return selectors.statement(fund, start=start, end=end)


@login_required
@permission_required("riskfund.view_fund", raise_exception=True)
def fund_statement_pdf(request, pk: int):
    result = _statement_of(request, pk)
    response = HttpResponse(statement.statement_pdf(result), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="%s"' % statement.file_name(result, "pdf")
    return response


@login_required
@permission_required("riskfund.view_fund", raise_exception=True)
def fund_statement_xlsx(request, pk: int):
    result = _statement_of(request, pk)
    response = HttpResponse(
        statement.statement_xlsx(result),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="%s"' % statement.file_name(
        result, "xlsx"
    )
    return response


def _fund_form_page(request, *, fund: Fund | None):
    region = fund.region if fund else home_region(request.user)
    programmes = programmes_for_region(region)
    data = request.POST if request.method == "POST" else None
    form = FundForm(data, instance=fund or Fund(region=region), programmes=programmes)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            saved = fund_save(
                actor=request.user,
                fund=fund,
                programmes=form.cleaned_data["programmes"],
                **fields,
            )
        except ValidationError as error:
            add_service_error(error, form)
        else:
            messages.success(request, _("%(fund)s saved.") % {"fund": saved})
            return redirect("riskfund:detail", pk=saved.pk)
    return render(
        request,
        "riskfund/fund_form.html",
        {"form": form, "fund": fund, "region": region},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required("riskfund.add_fund", raise_exception=True)
def fund_create(request):
    if home_region(request.user) is None:
        raise PermissionDenied
    return _fund_form_page(request, fund=None)


@login_required
@permission_required("riskfund.change_fund", raise_exception=True)
def fund_edit(request, pk: int):
    fund = _fund_for_user(request, pk)
    if not may_configure(request.user, fund):
        raise PermissionDenied
    return _fund_form_page(request, fund=fund)


@login_required
@permission_required("riskfund.add_movement", raise_exception=True)
def movement_create(request, pk: int):
    """Finance records a deposit or the account's interest."""
    fund = _fund_for_user(request, pk)
    form = MovementForm(
        request.POST if request.method == "POST" else None, initial={"on": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            recorded = movement_record(actor=request.user, fund=fund, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(error, form)
        else:
            movement = recorded.movement
            messages.success(
                request,
                _("%(kind)s of %(amount)s yuan recorded.")
                % {"kind": movement.get_kind_display(), "amount": yuan(movement.amount)},
            )
            for claim in recorded.claims_paid:
                messages.info(
                    request,
                    _("Claim %(claim)s, waiting for funds, is now paid.") % {"claim": claim},
                )
            return redirect("riskfund:detail", pk=fund.pk)
    return render(
        request,
        "riskfund/movement_form.html",
        {"form": form, "fund": fund, "balance": selectors.balance(fund)},
        status=400 if request.method == "POST" else 200,
    )


# Claims ------------------------------------------------------------------------


@login_required
@permission_required("riskfund.view_claim", raise_exception=True)
def claim_list(request):
    state = request.GET.get("state", "")
    claims = selectors.claims_for(request.user)
    if state in Claim.State.values:
        claims = claims.filter(state=state)
    return render(
        request,
        "riskfund/claim_list.html",
        {
            "claims": claims[:500],
            "states": Claim.State.choices,
            "state": state,
            "may_file": request.user.has_perm("riskfund.add_claim"),
        },
    )


def _coop_of(user) -> CreditCoop | None:
    """The co-op serving the user's county (a co-op account works for one)."""
    return CreditCoop.objects.filter(counties__in=counties_of(user)).order_by("pk").first()


@login_required
@permission_required("riskfund.add_claim", raise_exception=True)
def claim_create(request):
    """The co-op files a claim in the browser: the loan, its own claim id
    and the claim date; the system computes the loss."""
    coop = _coop_of(request.user)
    if coop is None:
        raise PermissionDenied
    form = ClaimForm(
        request.POST if request.method == "POST" else None, initial=request.GET or None
    )
    if request.method == "POST" and form.is_valid():
        try:
            claim, created = claim_file_for_contract(
                actor=request.user,
                coop=coop,
                loans=Loan.objects.for_user(request.user).filter(coop=coop),
                **form.cleaned_data,
            )
        except ValidationError as error:  # a ClaimConflictError too
            add_service_error(error, form)
        else:
            if created:
                messages.success(request, _("Claim %(claim)s filed.") % {"claim": claim})
            else:
                messages.info(request, _("Claim %(claim)s was already filed.") % {"claim": claim})
            return redirect("riskfund:claim", pk=claim.pk)
    return render(
        request,
        "riskfund/claim_form.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def _claim_for_user(request, pk: int) -> Claim:
    return get_object_or_404(selectors.claims_for(request.user), pk=pk)


@login_required
@permission_required("riskfund.view_claim", raise_exception=True)
def claim_detail(request, pk: int):
    """A claim with its working: the principal outstanding, the days of
    contract interest unpaid, the loss and its split, and its steps."""
    return _render_claim(request, _claim_for_user(request, pk))


def _render_claim(request, claim: Claim, *, check_form=None, approve_form=None, status=200):
    """The claim's page; after a refused step, with that step's form as
    posted and its errors (status 400)."""
    user = request.user
    if check_form is None and user.has_perm("riskfund.check_claim"):
        check_form = CheckForm()
    if approve_form is None and user.has_perm("riskfund.approve_claim"):
        approve_form = ApproveForm()
    working = loss_of(claim.loan, claim.fund, claimed_on=claim.claimed_on)
    return render(
        request,
        "riskfund/claim_detail.html",
        {
            "claim": claim,
            "working": working,
            "with_interest": claim.loss_basis == PRINCIPAL_AND_INTEREST,
            "recoveries": claim.movements.exclude(kind="compensation").select_related(
                "ledger_entry"
            ),
            "returned": selectors.returned_so_far(claim),
            "check_form": check_form,
            "approve_form": approve_form,
            "waiting_balance": selectors.balance(claim.fund)
            if claim.state == Claim.State.APPROVED
            else None,
        },
        status=status,
    )


@login_required
@permission_required("riskfund.check_claim", raise_exception=True)
@require_POST
def claim_check_view(request, pk: int):
    claim = _claim_for_user(request, pk)
    form = CheckForm(request.POST)
    if form.is_valid():
        try:
            claim = claim_check(
                actor=request.user,
                claim=claim,
                accept=form.cleaned_data["decision"] == "accept",
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            add_service_error(error, form)
        else:
            messages.success(
                request,
                _("Claim %(claim)s is %(state)s.")
                % {"claim": claim, "state": claim.get_state_display()},
            )
            return redirect("riskfund:claim", pk=claim.pk)
    return _render_claim(request, claim, check_form=form, status=400)


@login_required
@permission_required("riskfund.approve_claim", raise_exception=True)
@require_POST
def claim_approve_view(request, pk: int):
    claim = _claim_for_user(request, pk)
    form = ApproveForm(request.POST)
    if form.is_valid():
        try:
            claim = claim_approve(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(error, form)
        else:
            messages.success(
                request,
                _("Claim %(claim)s is %(state)s.")
                % {"claim": claim, "state": claim.get_state_display()},
            )
            return redirect("riskfund:claim", pk=claim.pk)
    return _render_claim(request, claim, approve_form=form, status=400)
