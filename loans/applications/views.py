"""Pages of the application workflow: the list by state, a new application,
an application's detail with its timeline, and its steps.

Every view states the permission it needs; every view that takes a pk
fetches through ``_get_application_for_user``, so an application outside the
user's township is a 404, never a 403 that would confirm it exists. Writes go
through ``loans.services``, which check role and township again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loans.models import Application

from . import selectors
from .forms import (
    ApplicantChoiceForm,
    ApplicationFilterForm,
    ApplicationForm,
    StepForm,
    add_service_error,
)
from .services import application_submit, application_transition

PAGE_SIZE = 50


def _get_application_for_user(request, pk: int) -> Application:
    """The application, if the user may see it; 404 for anyone outside its
    township, exactly as for an application that does not exist."""
    application = selectors.application_for_detail(user=request.user, pk=pk)
    if application is None:
        raise Http404(_("No such application."))
    return application


@login_required
@permission_required("loans.view_application", raise_exception=True)
def application_list(request):
    """Applications by state, with the count of each state and filters."""
    form = ApplicationFilterForm(request.GET or None, user=request.user)
    listing = selectors.application_list(user=request.user, **form.filters())
    page = Paginator(listing.applications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "loans/applications/list.html",
        {
            "form": form,
            "listing": listing,
            "current_state": form.cleaned_data.get("state", "") if form.is_bound else "",
            "page": page,
            "applications": page.object_list,
        },
    )


@login_required
@permission_required("loans.add_application", raise_exception=True)
def application_create(request):
    """A new application in two steps: choose the programme and the borrower
    (or come from the borrower's page with ?borrower=<pk>), then, seeing the
    household's quota, give the amount, term, industry and purpose."""
    today = timezone.localdate()
    if request.method == "POST":
        form = ApplicationForm(request.POST, user=request.user)
        valid = form.is_valid()
        # Read before the service's errors go onto the form and drop them.
        programme = form.cleaned_data.get("programme")
        borrower = form.cleaned_data.get("borrower")
        if valid:
            data = form.cleaned_data
            try:
                application = application_submit(
                    actor=request.user,
                    programme=data["programme"],
                    borrower=data["borrower"],
                    amount=data["amount"],
                    term_months=data["term_months"],
                    industry=data["industry"],
                    purpose=data["purpose"],
                    comment=data["comment"],
                    today=today,
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _("Application of %(name)s submitted.") % {"name": application.applicant},
                )
                return redirect("applications:detail", pk=application.pk)
        if programme is None or borrower is None:
            # The hidden choices were tampered with or fell out of scope: start again.
            return redirect("applications:create")
        return _render_application_form(request, form, programme, borrower, today, status=400)

    search = request.GET.get("q", "").strip()
    chosen = "borrower" in request.GET and "find" not in request.GET
    programme = selectors.default_programme(today, user=request.user)
    data = request.GET.copy()
    if programme is not None:
        # A link from the borrower's page names the borrower only.
        data.setdefault("programme", str(programme.pk))
    chooser = ApplicantChoiceForm(
        data if chosen else None,
        user=request.user,
        search=search,
        initial={**data.dict(), "q": search},
    )
    if chosen and chooser.is_valid():
        programme = chooser.cleaned_data["programme"]
        borrower = chooser.cleaned_data["borrower"]
        form = ApplicationForm(
            initial={"programme": programme, "borrower": borrower, "industry": borrower.industry},
            user=request.user,
        )
        return _render_application_form(request, form, programme, borrower, today)
    return render(
        request,
        "loans/applications/choose.html",
        {"chooser": chooser, "search": search, "has_programme": programme is not None},
    )


def _render_application_form(request, form, programme, borrower, today, status=200):
    household = borrower.household
    return render(
        request,
        "loans/applications/form.html",
        {
            "form": form,
            "programme": programme,
            "borrower": borrower,
            "household": household,
            "quota": selectors.quota_position(programme=programme, household=household, on=today),
            "committed": selectors.household_open_applications(
                household=household, programme=programme
            ),
        },
        status=status,
    )


@login_required
@permission_required("loans.view_application", raise_exception=True)
def application_detail(request, pk: int):
    application = _get_application_for_user(request, pk)
    return _render_detail(request, application)


def _render_detail(request, application: Application, step_form=None, status=200):
    today = timezone.localdate()
    steps = selectors.application_steps(user=request.user, application=application)
    entry = selectors.application_notice_entry(application=application)
    quota = None
    if application.household is not None:
        quota = selectors.quota_position(
            programme=application.programme, household=application.household, on=today
        )
    stop_error = step_form is not None and step_form.is_stop
    return render(
        request,
        "loans/applications/detail.html",
        {
            "application": application,
            "applicant": application.applicant,
            "quota": quota,
            "timeline": selectors.application_timeline(application=application),
            "entry": entry,
            "loan": selectors.application_loan(application=application),
            "forward_steps": [s for s in steps if s.to_state in selectors.FORWARD_STEPS],
            "stop_steps": [s for s in steps if s.to_state in selectors.STOP_STEPS],
            "step_form": step_form if step_form is not None and not stop_error else None,
            "stop_form": step_form if stop_error else None,
        },
        status=status,
    )


@login_required
@permission_required("loans.view_application", raise_exception=True)
@require_POST
def application_step(request, pk: int):
    """Take one step (recommend, review, approve, reject, withdraw). The
    service refuses a step the user may not take (403) or that the state
    machine does not allow (shown on the page; nothing changes)."""
    application = _get_application_for_user(request, pk)
    form = StepForm(request.POST)
    if form.is_valid():
        to_state = Application.State(form.cleaned_data["to_state"])
        try:
            application_transition(
                actor=request.user,
                application=application,
                to_state=to_state,
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("The application is now: %(state)s.") % {"state": to_state.label},
            )
            return redirect("applications:detail", pk=application.pk)
    return _render_detail(request, application, step_form=form, status=400)
