"""Pages of the yearly subsidy run: the list of runs with the county's form
to start one, a run's page (parameters, timeline, totals, exceptions,
lines, adjustments and the actions of each role), its progress while it
computes, and one line's working day by day.

Every view states the permission it needs and every change goes through
``subsidies.services``, which checks it again. Runs are county-wide; their
lines are confined to the user's township, so a line outside it is a 404.
"""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loans.applications.forms import add_service_error
from subsidies.models import SubsidyLine, SubsidyRun

from . import selectors
from .forms import LineFilterForm, ReasonForm, RunFilterForm, RunStartForm
from .services import (
    subsidy_run_approve,
    subsidy_run_cancel,
    subsidy_run_compute,
    subsidy_run_send_back,
    subsidy_run_start,
    subsidy_run_submit,
)

PAGE_SIZE = 50
EXCEPTIONS_SHOWN = 20
State = SubsidyRun.State


def _today() -> datetime.date:
    """The day that decides which subsidy years are over (a seam for tests)."""
    return timezone.localdate()


def _get_run_for_user(request, pk: int) -> SubsidyRun:
    """The run; runs are county-wide, so every role of the county that may
    view runs sees each of them (a township officer only their own lines in
    it); another county's is a 404."""
    run = selectors.run_for_detail(user=request.user, pk=pk)
    if run is None:
        raise Http404(_("No such subsidy run."))
    return run


def _get_line_for_user(request, pk: int) -> SubsidyLine:
    """The line, if it lies in the user's township; 404 otherwise, exactly as
    for a line that does not exist."""
    line = selectors.line_for_user(user=request.user, pk=pk)
    if line is None:
        raise Http404(_("No such subsidy line."))
    return line


# --- The list -----------------------------------------------------------------


def _start_form(user, data=None) -> RunStartForm:
    return RunStartForm(
        data,
        programmes=selectors.startable_programmes(user),
        initial=selectors.start_defaults(user=user, today=_today()),
    )


def _render_list(request, start_form=None, status=200):
    user = request.user
    filter_form = RunFilterForm(
        request.GET or None, programmes=selectors.filter_programmes(request.user)
    )
    may_start = user.has_perm("subsidies.compute_subsidyrun")
    if may_start and start_form is None:
        start_form = _start_form(user)
    rows = selectors.run_rows(user=user, **filter_form.filters())
    return render(
        request,
        "subsidies/run_list.html",
        {
            "filter_form": filter_form,
            "start_form": start_form if may_start else None,
            "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
            "scoped": selectors.is_township_bound(user),
        },
        status=status,
    )


@login_required
@permission_required("subsidies.view_subsidyrun", raise_exception=True)
def run_list(request):
    return _render_list(request)


@login_required
@permission_required("subsidies.compute_subsidyrun", raise_exception=True)
@require_POST
def run_start(request):
    """Start (or recompute the draft of) a programme's run for a finished
    subsidy year; errors go back to the list's form, nothing changed."""
    form = _start_form(request.user, request.POST)
    if form.is_valid():
        try:
            run = subsidy_run_start(
                actor=request.user,
                programme=form.cleaned_data["programme"],
                year=form.cleaned_data["year"],
                today=_today(),
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if not _failed_to_start(request, run):
                messages.success(
                    request,
                    _("The subsidy run of %(programme)s for %(year)s has started.")
                    % {"year": run.year, "programme": run.programme.name},
                )
            return redirect("subsidies:run", pk=run.pk)
    return _render_list(request, start_form=form, status=400)


def _failed_to_start(request, run: SubsidyRun) -> bool:
    """Whether the computation just launched has failed already (the task
    queue is down, or an eager computation failed): its error is shown
    instead of the success message."""
    run.refresh_from_db(fields=["state", "error"])
    if run.state != State.FAILED:
        return False
    messages.error(request, run.error)
    return True


# --- A run --------------------------------------------------------------------


def _actions(user, run: SubsidyRun) -> dict:
    """Which buttons the page shows; the services decide again on POST."""
    state = run.state
    may_compute = user.has_perm("subsidies.compute_subsidyrun")
    may_approve = user.has_perm("subsidies.approve_subsidyrun")
    return {
        "may_compute": may_compute and state in (State.DRAFT, State.COMPUTED, State.FAILED),
        "may_submit": user.has_perm("subsidies.submit_subsidyrun") and state == State.COMPUTED,
        "may_cancel": may_compute and not run.is_frozen and state != State.CANCELLED,
        # Four eyes: the submitter is never offered the approval.
        "may_approve": may_approve and state == State.SUBMITTED and run.submitted_by_id != user.pk,
        "submitted_by_you": state == State.SUBMITTED and run.submitted_by_id == user.pk,
        "may_send_back": may_approve and state == State.SUBMITTED,
        "may_see_payout": run.is_frozen and user.has_perm("subsidies.view_paymentbatch"),
    }


def _render_detail(request, run: SubsidyRun, *, reason_forms=None, status=200):
    user = request.user
    results = selectors.run_has_results(run)
    context = {
        "run": run,
        "parameters": selectors.run_parameters(run),
        "timeline": selectors.run_timeline(run),
        "results": results,
        "scoped": selectors.is_township_bound(user),
        "send_back_form": ReasonForm(prefix="send-back"),
        "cancel_form": ReasonForm(prefix="cancel"),
        **(reason_forms or {}),
        **_actions(user, run),
    }
    if run.state == State.COMPUTING:
        context["progress"] = selectors.run_progress(run)
    if results:
        line_filter = LineFilterForm(
            request.GET or None, townships=selectors.line_townships(run=run, user=user)
        )
        exceptions = selectors.exception_lines(run=run, user=user)
        lines = selectors.run_lines(run=run, user=user, **line_filter.filters())
        page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            totals=selectors.run_totals(run=run, user=user),
            townships=selectors.township_totals(run=run, user=user),
            exceptions=selectors.decorate(exceptions[:EXCEPTIONS_SHOWN]),
            line_filter=line_filter,
            page=page,
            lines=selectors.decorate(page.object_list),
            adjustments=selectors.carried_adjustments(run=run, user=user),
        )
    return render(request, "subsidies/run_detail.html", context, status=status)


@login_required
@permission_required("subsidies.view_subsidyrun", raise_exception=True)
def run_detail(request, pk: int):
    return _render_detail(request, _get_run_for_user(request, pk))


@login_required
@permission_required("subsidies.view_subsidyrun", raise_exception=True)
def run_progress(request, pk: int):
    """The computation's progress for the page's bar (progress.js)."""
    run = _get_run_for_user(request, pk)
    return JsonResponse(selectors.run_progress(run).as_json())


def _act(request, run: SubsidyRun, service, done: str, *, launches=False, **kwargs):
    """Call a service on the run: its success message and back to the run,
    or its refusal shown on the run's page (nothing changed). ``launches``:
    the service queues a computation, which may have failed to start."""
    try:
        service(actor=request.user, run=run, **kwargs)
    except PermissionDenied as error:
        # A refusal with a reason (the submitter approving); a bare one is
        # a role's missing permission, which the decorators already caught.
        messages.error(request, str(error) or _("You may not do this."))
        return _render_detail(request, _get_run_for_user(request, run.pk), status=403)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return _render_detail(request, _get_run_for_user(request, run.pk), status=400)
    if not (launches and _failed_to_start(request, run)):
        messages.success(request, done)
    return redirect("subsidies:run", pk=run.pk)


@login_required
@permission_required("subsidies.compute_subsidyrun", raise_exception=True)
@require_POST
def run_compute(request, pk: int):
    run = _get_run_for_user(request, pk)
    return _act(request, run, subsidy_run_compute, _("The run is being recomputed."), launches=True)


@login_required
@permission_required("subsidies.submit_subsidyrun", raise_exception=True)
@require_POST
def run_submit(request, pk: int):
    run = _get_run_for_user(request, pk)
    return _act(request, run, subsidy_run_submit, _("The run is submitted to the finance bureau."))


@login_required
@permission_required("subsidies.approve_subsidyrun", raise_exception=True)
@require_POST
def run_approve(request, pk: int):
    run = _get_run_for_user(request, pk)
    return _act(
        request, run, subsidy_run_approve, _("The run is approved; its figures are now frozen.")
    )


def _with_reason(request, run: SubsidyRun, service, *, prefix: str, done: str):
    """Send back or cancel: the reason's error goes next to its field."""
    form = ReasonForm(request.POST, prefix=prefix)
    form_name = prefix.replace("-", "_") + "_form"
    if form.is_valid():
        try:
            service(actor=request.user, run=run, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, done)
            return redirect("subsidies:run", pk=run.pk)
    return _render_detail(request, run, reason_forms={form_name: form}, status=400)


@login_required
@permission_required("subsidies.approve_subsidyrun", raise_exception=True)
@require_POST
def run_send_back(request, pk: int):
    run = _get_run_for_user(request, pk)
    return _with_reason(
        request,
        run,
        subsidy_run_send_back,
        prefix="send-back",
        done=_("The run is sent back to the county programme office."),
    )


@login_required
@permission_required("subsidies.compute_subsidyrun", raise_exception=True)
@require_POST
def run_cancel(request, pk: int):
    run = _get_run_for_user(request, pk)
    return _with_reason(
        request, run, subsidy_run_cancel, prefix="cancel", done=_("The run is cancelled.")
    )


# --- One line -----------------------------------------------------------------


@login_required
# The co-op reads its lines through the API only (view_subsidyline alone).
@permission_required(
    ["subsidies.view_subsidyrun", "subsidies.view_subsidyline"], raise_exception=True
)
def line_detail(request, pk: int):
    """A line's figures and its working: the periods, the runs of days and,
    with ``?days=all``, every day."""
    line = _get_line_for_user(request, pk)
    each_day = request.GET.get("days") == "all"
    return render(
        request,
        "subsidies/line_detail.html",
        {
            "line": line,
            "run": line.run,
            "loan": line.loan,
            "borrower_name": selectors.borrower_name(line.loan),
            "village_name": selectors.village_name(line.loan),
            "flags": selectors.line_flags(line),
            "working": selectors.line_working_page(line, each_day=each_day),
            "each_day": each_day,
        },
    )
