"""Pages that configure the programmes: the list by year with each budget's
position, a programme's parameters and history, its form with the quota
table, the copy to the next year, and the LPR table.

Programmes are county-wide configuration: every staff role with
``loans.view_programme`` reads them, only the county office changes them.
Every view states the permission it needs; writes go through
``loans.programme_services``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import counties_of, township_of
from divisions.models import Division
from loans.models import LprRate, Programme

from . import selectors
from .forms import (
    CountyBudgetForm,
    LprRateForm,
    ProgrammeFilterForm,
    ProgrammeForm,
    add_service_error,
    quota_formset,
)
from .services import (
    home_region,
    lpr_rate_save,
    may_configure,
    programme_copy_to_year,
    programme_save,
)


def _get_programme_for_user(request, pk: int) -> Programme:
    """The programme, if it runs in one of the user's counties (its own, its
    city's or its province's); another county's programme is a 404."""
    return get_object_or_404(Programme.objects.for_user(request.user), pk=pk)


def _configurable(request, pk: int) -> Programme:
    """The programme, if the user's office runs it: a county office reads
    its city's programme but only the city changes it (403)."""
    programme = _get_programme_for_user(request, pk)
    if not may_configure(request.user, programme):
        raise PermissionDenied
    return programme


@login_required
@permission_required("loans.view_programme", raise_exception=True)
def programme_list(request):
    """Programmes by year with quotas, terms, ceiling and budget used."""
    filter_form = ProgrammeFilterForm(
        request.GET or None, years=selectors.programme_years(user=request.user)
    )
    return render(
        request,
        "loans/programmes/list.html",
        {
            "filter_form": filter_form,
            "groups": selectors.programme_overview(user=request.user, **filter_form.filters()),
            "may_add": request.user.has_perm("loans.add_programme"),
        },
    )


@login_required
@permission_required("loans.view_programme", raise_exception=True)
def programme_detail(request, pk: int):
    programme = _get_programme_for_user(request, pk)
    user = request.user
    return render(
        request,
        "loans/programmes/detail.html",
        {
            "programme": programme,
            "parameters": selectors.programme_parameters(programme, today=timezone.localdate()),
            "budget": selectors.programme_budget_line(programme=programme, user=user),
            "application_counts": selectors.programme_application_counts(
                programme=programme, user=user
            ),
            "loan_counts": selectors.programme_loan_counts(programme=programme, user=user),
            # Township officers count their own township's applications only.
            "counts_township": township_of(user),
            "history": selectors.programme_history(programme=programme),
            "may_edit": user.has_perm("loans.change_programme") and may_configure(user, programme),
            "may_copy": user.has_perm("loans.add_programme") and may_configure(user, programme),
        },
    )


def _programme_form_page(request, *, programme: Programme | None):
    """The form for a new programme (``programme=None``) or a change to one."""
    data = request.POST if request.method == "POST" else None
    # The form writes what was typed onto its instance: give it its own copy,
    # so that the page's title and links keep the saved values.
    instance = Programme() if programme is None else Programme.objects.get(pk=programme.pk)
    region = home_region(request.user)
    form = ProgrammeForm(data, instance=instance, region=region)
    quotas = quota_formset(data, programme=programme)
    # A city's or province's programme: a budget for each of its counties.
    county_form = None
    if "budget" not in form.fields:
        counties = Division.objects.filter(pk__in=counties_of(request.user)).order_by("code")
        county_form = CountyBudgetForm(data, counties=counties, programme=programme)
    forms_valid = [
        form.is_valid(),
        quotas.is_valid(),
        county_form is None or county_form.is_valid(),
    ]
    # Validate them all, so that every mistake shows at once.
    if request.method == "POST" and all(forms_valid):
        try:
            saved = programme_save(
                actor=request.user,
                programme=programme,
                quotas=quotas.quota_data(),
                county_budgets=county_form.budget_data() if county_form else None,
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_service_error(error, form, quotas, county_form)
        else:
            messages.success(request, _("%(programme)s saved.") % {"programme": saved})
            return redirect("programmes:detail", pk=saved.pk)
    return render(
        request,
        "loans/programmes/form.html",
        {"form": form, "quotas": quotas, "county_form": county_form, "programme": programme},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required("loans.add_programme", raise_exception=True)
def programme_create(request):
    return _programme_form_page(request, programme=None)


@login_required
@permission_required("loans.change_programme", raise_exception=True)
def programme_edit(request, pk: int):
    return _programme_form_page(request, programme=_configurable(request, pk))


@login_required
@permission_required("loans.add_programme", raise_exception=True)
@require_POST
def programme_copy(request, pk: int):
    """Copy the programme with its quotas to the next year, inactive, and
    open the copy's form so the county office checks its figures."""
    programme = _configurable(request, pk)
    try:
        copy = programme_copy_to_year(actor=request.user, programme=programme)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("programmes:detail", pk=programme.pk)
    messages.success(
        request,
        _("%(copy)s created from %(programme)s. It stays inactive until you activate it here.")
        % {"copy": copy, "programme": programme},
    )
    return redirect("programmes:edit", pk=copy.pk)


# --- LPR table -------------------------------------------------------------------


@login_required
@permission_required("loans.view_lprrate", raise_exception=True)
def lpr_list(request):
    """The one-year LPR table; the county office adds a rate on the same page."""
    may_add = request.user.has_perm("loans.add_lprrate")
    form = None
    status = 200
    if request.method == "POST":
        if not may_add:
            raise PermissionDenied
        form = LprRateForm(request.POST)
        if form.is_valid():
            try:
                rate = lpr_rate_save(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_error(error, form)
            else:
                messages.success(
                    request,
                    _("LPR of %(rate)s from %(date)s recorded.")
                    % {
                        "rate": selectors.percent_text(rate.one_year_rate),
                        "date": rate.effective_on.isoformat(),
                    },
                )
                return redirect("programmes:lpr")
        status = 400
    elif may_add:
        form = LprRateForm()
    return render(
        request,
        "loans/programmes/lpr.html",
        {
            "lines": selectors.lpr_lines(today=timezone.localdate()),
            "form": form,
            "may_edit": request.user.has_perm("loans.change_lprrate"),
        },
        status=status,
    )


@login_required
@permission_required("loans.change_lprrate", raise_exception=True)
def lpr_edit(request, pk: int):
    rate = get_object_or_404(LprRate, pk=pk)
    # A copy for the form, which writes what was typed onto its instance.
    form = LprRateForm(request.POST or None, instance=LprRate.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            rate = lpr_rate_save(actor=request.user, rate=rate, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(error, form)
        else:
            messages.success(request, _("LPR from %(date)s saved.") % {"date": rate.effective_on})
            return redirect("programmes:lpr")
    return render(
        request,
        "loans/programmes/lpr_form.html",
        {"form": form, "rate": rate},
        status=400 if request.method == "POST" else 200,
    )
