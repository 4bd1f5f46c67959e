"""Pages for the borrower workbook: upload and preview (always a dry run
first), confirm, the annotated workbook, the export and the template.

The upload waits under MEDIA_ROOT between the preview and the
confirmation; the session holds only its token and file name, so one
user cannot reach another's upload.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.services import personal_data_export_log

from . import services as transfer
from .forms import UploadLimitHandler, WorkbookUploadForm

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SESSION_KEY = "borrower_import"
IMPORT_PERMISSION = "beneficiaries.import_borrowers"
EXPORT_PERMISSIONS = ("beneficiaries.export_borrowers", "beneficiaries.view_personal_data")


def _xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _pending_upload(request) -> dict | None:
    """The upload this session previewed, if its file is still there."""
    pending = request.session.get(SESSION_KEY)
    if not pending or not transfer.upload_path(pending.get("token")).exists():
        return None
    return pending


def _forget_upload(request) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if pending:
        transfer.upload_discard(pending.get("token"))


def _borrower_list_url() -> str | None:
    try:
        return reverse("borrowers:list")
    except NoReverseMatch:
        return None


def _render_preview(request, report: transfer.ImportReport, *, at_confirm: bool = False):
    return render(
        request,
        "beneficiaries/transfer/preview.html",
        {"report": report, "at_confirm": at_confirm, "form": WorkbookUploadForm()},
    )


@csrf_exempt  # checked by _import_start, once the upload handler is in place
@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def import_start(request):
    """Upload a workbook; the answer is the dry run's preview."""
    limit = UploadLimitHandler(request)
    request.upload_handlers.insert(0, limit)
    return _import_start(request, limit)


@csrf_protect
def _import_start(request, limit: UploadLimitHandler):
    if request.method == "POST":
        form = WorkbookUploadForm(request.POST, request.FILES, refused_size=limit.refused_size)
    else:
        form = WorkbookUploadForm()
    if form.is_bound and form.is_valid():
        _forget_upload(request)
        upload = form.cleaned_data["workbook"]
        token = transfer.upload_store(upload)
        try:
            report = transfer.borrowers_import(
                actor=request.user,
                path=transfer.upload_path(token),
                filename=upload.name,
                dry_run=True,
            )
        except transfer.WorkbookError as error:
            transfer.upload_discard(token)
            form.add_error("workbook", str(error))
        else:
            transfer.upload_errors_save(token, report.errors)
            request.session[SESSION_KEY] = {"token": token, "filename": upload.name}
            return _render_preview(request, report)
    return render(
        request,
        "beneficiaries/transfer/import.html",
        {"form": form, "columns": transfer.column_guide()},
    )


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
@require_POST
def import_confirm(request):
    """Import the previewed workbook, checking every row again: the
    registry may have changed since the preview."""
    pending = _pending_upload(request)
    if pending is None:
        messages.error(request, _("There is no checked workbook waiting; upload it again."))
        return redirect("transfer:import")
    try:
        report = transfer.borrowers_import(
            actor=request.user,
            path=transfer.upload_path(pending["token"]),
            filename=pending["filename"],
            dry_run=False,
        )
    except transfer.WorkbookError as error:
        _forget_upload(request)
        messages.error(request, str(error))
        return redirect("transfer:import")
    if not report.ok:
        transfer.upload_errors_save(pending["token"], report.errors)
        return _render_preview(request, report, at_confirm=True)
    _forget_upload(request)
    summary = _(
        "Imported %(filename)s: %(new)d new borrowers, %(updated)d updated, "
        "%(unchanged)d unchanged."
    ) % {
        "filename": report.filename,
        "new": report.new,
        "updated": report.updated,
        "unchanged": report.unchanged,
    }
    list_url = _borrower_list_url()
    if list_url:
        summary = format_html(
            '{} <a href="{}">{}</a>', summary, list_url, _("Open the borrower list")
        )
    messages.success(request, summary)
    return redirect("transfer:import")


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
@require_POST
def import_cancel(request):
    _forget_upload(request)
    messages.info(request, _("The uploaded workbook was discarded; nothing was imported."))
    return redirect("transfer:import")


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
@require_GET
def import_annotated(request):
    """The previewed workbook with each bad row's errors in a 错误 column."""
    pending = _pending_upload(request)
    errors = transfer.upload_errors_load(pending["token"]) if pending else None
    if errors is None:
        messages.error(request, _("There is no checked workbook waiting; upload it again."))
        return redirect("transfer:import")
    content = transfer.annotated_workbook(transfer.upload_path(pending["token"]), errors)
    # It carries the whole ID numbers the user uploaded: logged like any export.
    personal_data_export_log(
        request=request,
        what="annotated import workbook",
        row_count=len({error.row for error in errors}),
        filters=pending["filename"],
    )
    stem = pending["filename"].rsplit(".", 1)[0]
    return _xlsx_response(content, "%s-错误标注.xlsx" % stem)


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
@require_GET
def import_template(request):
    return _xlsx_response(transfer.template_workbook(), "借款人导入模板.xlsx")


@login_required
@permission_required(EXPORT_PERMISSIONS, raise_exception=True)
@require_GET
def export(request):
    """The borrowers the user may see, in the import format, narrowed by
    the borrower list's filters. Whole ID, phone and account numbers: the
    download is logged before it is sent."""
    filterset = transfer.borrowers_for_export(user=request.user, params=request.GET)
    if not filterset.is_valid():
        errors = "; ".join("%s: %s" % (k, " ".join(v)) for k, v in filterset.errors.items())
        return HttpResponseBadRequest(
            _("The filters are not valid: %(errors)s") % {"errors": errors},
            content_type="text/plain; charset=utf-8",
        )
    content, row_count = transfer.borrowers_export_workbook(filterset.qs)
    filters = "&".join(
        "%s=%s" % (name, value)
        for name, value in request.GET.items()
        if value and name in filterset.filters
    )
    personal_data_export_log(
        request=request, what="borrower workbook", row_count=row_count, filters=filters
    )
    return _xlsx_response(content, transfer.export_filename("借款人"))
