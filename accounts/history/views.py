"""The change history, searched and exported (the auditor and the county
programme office; nobody else)."""

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from accounts.services import personal_data_export_log

from .forms import HistorySearchForm
from .selectors import (
    ChangeRow,
    HistoryFilter,
    history_export_rows,
    history_rows,
    history_search,
    may_view_history,
)

PAGE_SIZE = 50
# An export is read whole into memory: beyond this, narrow the search.
EXPORT_LIMIT = 100_000
PERSONAL_DATA = "beneficiaries.view_personal_data"
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _require_history(request) -> None:
    if not may_view_history(request.user):
        raise PermissionDenied


def _search(request) -> tuple[HistorySearchForm, HistoryFilter | None]:
    form = HistorySearchForm(request.GET)
    return form, form.search() if form.is_valid() else None


@require_GET
@login_required
def history_list(request):
    """Every recorded change the search finds, newest first, a page at a time."""
    _require_history(request)
    form, search = _search(request)
    found = history_search(search) if search is not None else []
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = history_rows(
        list(page.object_list), show_personal_data=request.user.has_perm(PERSONAL_DATA)
    )
    return render(
        request,
        "accounts/history_list.html",
        {"form": form, "page": page, "rows": rows, "export_limit": EXPORT_LIMIT},
    )


@require_GET
@login_required
def history_export(request, fmt: str):
    """The whole result of the search as CSV or xlsx; logged when it carries
    whole ID, phone or account numbers."""
    _require_history(request)
    if fmt not in FORMATS:
        raise Http404
    form, search = _search(request)
    back = reverse("history:list") + ("?" + request.GET.urlencode() if request.GET else "")
    if search is None:
        messages.error(request, _("Correct the search before exporting it."))
        return redirect(back)
    keys = list(history_search(search)[: EXPORT_LIMIT + 1])
    if len(keys) > EXPORT_LIMIT:
        messages.error(
            request,
            _("The search finds more than %(limit)s changes; narrow it to export them.")
            % {"limit": f"{EXPORT_LIMIT:,}"},
        )
        return redirect(back)
    show_personal_data = request.user.has_perm(PERSONAL_DATA)
    if show_personal_data:
        personal_data_export_log(
            request=request,
            what="change history (%s)" % fmt,
            row_count=len(keys),
            filters=search.describe(),
        )
    rows = history_export_rows(keys, show_personal_data=show_personal_data)
    content = _csv(rows) if fmt == "csv" else _xlsx(rows)
    response = HttpResponse(content, content_type=FORMATS[fmt])
    name = "change-history-%s.%s" % (timezone.localtime().strftime("%Y%m%d-%H%M"), fmt)
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


def _headings() -> list[str]:
    return [
        _("When"),
        _("Who"),
        _("IP address"),
        _("Kind of record"),
        _("Record"),
        _("Change"),
        _("What changed"),
        _("Reason"),
    ]


def _cells(row: ChangeRow) -> list[str]:
    who = row.user.username if row.user else _("system")
    changes = "\n".join("%s: %s → %s" % (c.label, c.old, c.new) for c in row.changes)
    return [
        timezone.localtime(row.when).strftime("%Y-%m-%d %H:%M:%S"),
        who,
        row.ip_address or "",
        row.model_name,
        row.record,
        row.kind_label,
        changes,
        row.reason,
    ]


def _inert(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv(rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_headings())
    for row in rows:
        writer.writerow([_inert(cell) for cell in _cells(row)])
    # With the byte-order mark, Excel reads the file as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


_WIDTHS = (20, 16, 16, 16, 34, 10, 60, 30)


def _xlsx(rows) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Change history"))
    for letter, width in zip("ABCDEFGH", _WIDTHS, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    header = []
    for heading in _headings():
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E6F2EC")
        header.append(cell)
    sheet.append(header)
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        cells = []
        for value in _cells(row):
            cell = WriteOnlyCell(sheet, value=value)
            # Text as text: "=..." is a value here, never a formula.
            cell.data_type = "s"
            cell.alignment = wrap
            cells.append(cell)
        sheet.append(cells)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()
