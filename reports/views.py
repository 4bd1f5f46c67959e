"""The reports pages: ask for a report, watch it being generated, download it.

Who may see a report is ``services.reports_for`` (a township officer their
own township's only); every download of a report that lists people with
their identifiers is logged (``services.IDENTIFYING_KINDS``). The offices
above the county ask for, watch and download their consolidated reports on
pages of their own (``league_views``), which show a report with the same
functions as here (``detail_page``, ``progress_answer``, ``download_answer``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.services import personal_data_export_log
from loans.applications.forms import add_service_error

from . import services
from .forms import ReportRequestForm, county_report_initial
from .models import Report

PAGE_SIZE = 50


def _render_list(request, *, form=None, status=200):
    reports = services.reports_for(request.user)
    kind = request.GET.get("kind")
    if kind in Report.Kind.values:
        reports = reports.filter(kind=kind)
    may_request = request.user.has_perm("reports.request_report")
    if form is None and may_request:
        form = ReportRequestForm(user=request.user, initial=county_report_initial(request.user))
    return render(
        request,
        "reports/list.html",
        {
            "reports": reports.select_related("requested_by")[:PAGE_SIZE],
            "form": form,
            "kinds": Report.Kind.choices,
            "kind": kind,
        },
        status=status,
    )


@login_required
@permission_required("reports.view_report", raise_exception=True)
def report_list(request):
    return _render_list(request)


@login_required
@permission_required("reports.request_report", raise_exception=True)
@require_POST
def report_request_view(request):
    """Queue a report (or find the one being generated) and show its page;
    errors go back to the form, nothing changed."""
    return ask_for_report(request, detail="reports:detail", on_error=_render_list)


def ask_for_report(request, *, detail: str, on_error):
    """The form's report asked for, then its page (``detail``); a bad form
    or a refusal of the service goes back through ``on_error`` with 400."""
    form = ReportRequestForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            report = services.report_request(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("%(report)s has been asked for.") % {"report": report.get_kind_display()},
            )
            return redirect(detail, pk=report.pk)
    return on_error(request, form=form, status=400)


def _get_report(request, pk: int) -> Report:
    return get_object_or_404(services.reports_for(request.user), pk=pk)


def report_urls(report: Report, *, office: bool = False) -> dict[str, str]:
    """Where a report's page links to: a county's reports pages, or an
    office's (``league_views``)."""
    prefix = "reports:office-" if office else "reports:"
    return {
        "list": reverse("reports:league" if office else "reports:list"),
        "request": reverse(prefix + "request"),
        "progress": reverse(prefix + "progress", args=[report.pk]),
        "download": reverse(prefix + "download", args=[report.pk]),
    }


def detail_page(request, report: Report, *, urls: dict[str, str], may_request: bool):
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "urls": urls,
            "stale": services.is_stale(report),
            "may_request": may_request,
            "download_name": services.download_name(report),
            "identifying": report.kind in services.IDENTIFYING_KINDS,
        },
    )


def progress_answer(report: Report) -> JsonResponse:
    """The generation's progress for the page's bar (progress.js)."""
    return JsonResponse(
        {
            "state": report.state,
            "state_label": str(report.get_state_display()),
            "done": report.progress,
            "total": 100,
            "percent": report.progress,
            "stage": report.stage,
            "finished": not report.in_progress,
        }
    )


def download_answer(request, report: Report) -> FileResponse:
    if report.state != Report.State.DONE or not report.file:
        raise Http404(_("This report has no file yet."))
    try:
        handle = report.file.open("rb")
    except FileNotFoundError as error:
        raise Http404(_("The report's file is missing; generate it again.")) from error
    if report.kind in services.IDENTIFYING_KINDS:
        personal_data_export_log(
            request=request,
            what=f"{report.get_kind_display()} #{report.pk} ({report.format})",
            row_count=report.row_count or 0,
            filters=report.key,
        )
    return FileResponse(
        handle,
        as_attachment=True,
        filename=services.download_name(report),
        content_type=CONTENT_TYPES[report.format],
    )


@login_required
@permission_required("reports.view_report", raise_exception=True)
def report_detail(request, pk: int):
    report = _get_report(request, pk)
    return detail_page(
        request,
        report,
        urls=report_urls(report),
        may_request=request.user.has_perm("reports.request_report"),
    )


@login_required
@permission_required("reports.view_report", raise_exception=True)
def report_progress(request, pk: int):
    return progress_answer(_get_report(request, pk))


@login_required
@permission_required("reports.view_report", raise_exception=True)
def report_download(request, pk: int):
    return download_answer(request, _get_report(request, pk))


CONTENT_TYPES = {
    Report.Format.PDF: "application/pdf",
    Report.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
