"""The offices above the county: the league table of their counties (sortable,
as CSV or xlsx), the drill-down into one county's dashboard, and the
office's consolidated reports (``reports.consolidated``), asked for on the
league page and watched and downloaded on pages of their own, as a county
watches its reports (``views.detail_page`` and the rest).

All need ``reports.view_league``, which only the city and province offices
hold; a county outside the office's city or province is 404, as another
county's records are for everyone, and so is another office's report. What
they show are figures: no person, no identifier.
"""

import csv
import io

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from accounts.roles import counties_of, office_of, within_county
from common.charts import bar_chart
from common.money import yuan
from divisions.models import Division

from . import league, services, views
from .forms import ReportRequestForm, consolidated_initial
from .models import Report
from .templatetags.dashboard_tags import (
    CHART_WIDTH,
    TEN_THOUSAND,
    Chart,
    ChartRow,
    programme_context,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_KEYS = {"principal", "balance", "interest_paid", "subsidy_due", "subsidy_paid"}


def _programme(request, programmes):
    wanted = request.GET.get("programme")
    return next((p for p in programmes if wanted and str(p.pk) == wanted), None)


def _shown(row: league.CountyRow, key: str) -> str:
    value = row.county.name if key == "county" else getattr(row, key)
    if key == "county":
        return value
    if value is None:
        return "—"
    if key in MONEY_KEYS or key == "overdue_rate":
        return yuan(value)
    return f"{value:,}"


def _cell(row: league.CountyRow, key: str):
    """The value a spreadsheet cell holds: numbers as numbers."""
    if key == "county":
        return row.county.name
    value = getattr(row, key)
    return float(value) if key in MONEY_KEYS or key == "overdue_rate" else value


def _text(row: league.CountyRow, key: str) -> str:
    """A CSV cell: amounts to the fen, no thousands separators."""
    if key == "county":
        return row.county.name
    value = getattr(row, key)
    return "" if value is None else str(value)


# More bars than this say nothing a reader can take in, and drawing them is
# most of the page's time (matplotlib: over a second for 130 counties):
# past it, each chart shows the largest counties by its first series.
CHART_COUNTIES = 20


def _largest(rows: list[league.CountyRow], key: str, title: str) -> tuple[list, str]:
    if len(rows) <= CHART_COUNTIES:
        return rows, title
    largest = sorted(rows, key=lambda row: (-getattr(row, key), row.county.code))
    shown = sorted(largest[:CHART_COUNTIES], key=lambda row: row.county.code)
    return shown, _("%(chart)s (the %(count)s largest)") % {
        "chart": title,
        "count": CHART_COUNTIES,
    }


def _charts(all_rows: list[league.CountyRow]) -> list[Chart]:
    rows, title = _largest(all_rows, "principal", _("Principal disbursed and balance by county"))
    names = [row.county.name for row in rows]
    principal = Chart(
        key="league-principal",
        title=title,
        svg=bar_chart(
            title="",
            labels=names,
            series=[
                (_("Principal disbursed"), [row.principal for row in rows]),
                (_("Balance"), [row.balance for row in rows]),
            ],
            axis_label=_("10,000 yuan"),
            unit_divisor=TEN_THOUSAND,
            horizontal=True,
            width=CHART_WIDTH,
        ),
        headers=(_("County"), _("Principal (yuan)"), _("Balance (yuan)")),
        rows=[ChartRow(row.county.name, (yuan(row.principal), yuan(row.balance))) for row in rows],
    )
    rows, title = _largest(all_rows, "subsidy_due", _("Subsidy due and paid by county"))
    names = [row.county.name for row in rows]
    subsidy = Chart(
        key="league-subsidy",
        title=title,
        svg=bar_chart(
            title="",
            labels=names,
            series=[
                (_("Subsidy due"), [row.subsidy_due for row in rows]),
                (_("Subsidy paid"), [row.subsidy_paid for row in rows]),
            ],
            axis_label=_("yuan"),
            horizontal=True,
            width=CHART_WIDTH,
        ),
        headers=(_("County"), _("Subsidy due (yuan)"), _("Subsidy paid (yuan)")),
        rows=[
            ChartRow(row.county.name, (yuan(row.subsidy_due), yuan(row.subsidy_paid)))
            for row in rows
        ],
    )
    return [principal, subsidy]


def _csv(rows, total) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(heading) for _key, heading in league.COLUMNS])
    for row in [*rows, total]:
        writer.writerow([_text(row, key) for key, _heading in league.COLUMNS])
    # With the byte-order mark, Excel reads the file as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx(rows, total, title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Counties"))
    sheet.column_dimensions["A"].width = 22
    for letter in "BCDEFGHIJKL":
        sheet.column_dimensions[letter].width = 16
    sheet.freeze_panes = "B3"
    heading = WriteOnlyCell(sheet, value=title)
    heading.font = Font(bold=True, size=13)
    sheet.append([heading])
    header = []
    for _key, text in league.COLUMNS:
        cell = WriteOnlyCell(sheet, value=str(text))
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E6F2EC")
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for key, _heading in league.COLUMNS:
            cell = WriteOnlyCell(sheet, value=_cell(row, key))
            if key in MONEY_KEYS or key == "overdue_rate":
                cell.number_format = "#,##0.00"
            cells.append(cell)
        sheet.append(cells)
    last = []
    for key, _heading in league.COLUMNS:
        cell = WriteOnlyCell(sheet, value=_cell(total, key))
        cell.font = Font(bold=True)
        if key in MONEY_KEYS or key == "overdue_rate":
            cell.number_format = "#,##0.00"
        last.append(cell)
    sheet.append(last)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# The office's latest consolidated reports shown under the table.
RECENT_REPORTS = 10


@login_required
@permission_required("reports.view_league", raise_exception=True)
def league_table(request):
    """The counties under the office, one row each, with a total row."""
    return _render_league(request)


def _render_league(request, *, form=None, status=200):
    office = office_of(request.user)
    if office is None:
        raise Http404
    today = timezone.localdate()
    programmes = league.league_programmes(user=request.user)
    programme = _programme(request, programmes)
    rows = league.county_league(user=request.user, today=today, programme=programme)
    total = league.league_total(rows, office)
    sort = request.GET.get("sort", "county")
    descending = request.GET.get("order") == "desc"
    rows = league.sorted_rows(rows, sort, descending)
    if sort not in league.SORT_KEYS:
        sort, descending = "county", False

    title = _("%(office)s: the counties side by side, as of %(day)s") % {
        "office": office.name,
        "day": today.isoformat(),
    }
    export = request.GET.get("export")
    stem = "%s-%s" % (_("counties"), today.isoformat())
    if export == "csv":
        return _download(_csv(rows, total), "text/csv; charset=utf-8", stem + ".csv")
    if export == "xlsx":
        return _download(_xlsx(rows, total, title), XLSX_TYPE, stem + ".xlsx")

    base = {"programme": programme.pk} if programme else {}
    headings = []
    for key, text in league.COLUMNS:
        flip = "asc" if key == sort and descending else "desc"
        if key == "county" and key != sort:
            flip = "asc"
        headings.append(
            {
                "key": key,
                "text": text,
                "url": "?" + urlencode({**base, "sort": key, "order": flip}),
                "sorted": ("descending" if descending else "ascending") if key == sort else "",
                "num": key != "county",
            }
        )
    keys = [key for key, _text in league.COLUMNS]
    if form is None:
        form = ReportRequestForm(user=request.user, initial=consolidated_initial(programme))
    return render(
        request,
        "reports/league.html",
        {
            "form": form,
            "formats": Report.Format.choices,
            "reports": services.office_reports_for(request.user).select_related("requested_by")[
                :RECENT_REPORTS
            ],
            "office": office,
            "today": today,
            "programmes": programmes,
            "programme": programme,
            "headings": headings,
            "rows": [(row, [_shown(row, key) for key in keys]) for row in rows],
            "total": [_shown(total, key) for key in keys[1:]],
            "charts": _charts(rows) if rows else [],
            "export_query": urlencode(
                {**base, "sort": sort, "order": "desc" if descending else "asc"}
            ),
        },
        status=status,
    )


@login_required
@permission_required("reports.view_league", raise_exception=True)
def county_dashboard(request, code: str):
    """One county's dashboard as its own office sees it, read-only and
    without links into its records."""
    county = Division.objects.filter(code=code, level=Division.Level.COUNTY).first()
    if county is None or county.pk not in counties_of(request.user):
        raise Http404
    narrowed = within_county(request.user, county.pk)
    today = timezone.localdate()
    context = {
        "shown": True,
        "today": today,
        "links": False,
        "scope_township": None,
        **programme_context(user=narrowed, request=request, today=today, charts=True),
    }
    return render(
        request,
        "reports/county_dashboard.html",
        {"drilled": county, "office": office_of(request.user), **context},
    )


# --- The consolidated report ---------------------------------------------------------


@login_required
@permission_required("reports.view_league", raise_exception=True)
@require_POST
def office_report_request(request):
    """Queue the office's consolidated report (or find the one being
    generated) and show its page; errors go back to the league page's
    form, nothing changed."""
    return views.ask_for_report(request, detail="reports:office-report", on_error=_render_league)


def _get_office_report(request, pk: int) -> Report:
    return get_object_or_404(services.office_reports_for(request.user), pk=pk)


@login_required
@permission_required("reports.view_league", raise_exception=True)
def office_report_detail(request, pk: int):
    report = _get_office_report(request, pk)
    return views.detail_page(
        request, report, urls=views.report_urls(report, office=True), may_request=True
    )


@login_required
@permission_required("reports.view_league", raise_exception=True)
def office_report_progress(request, pk: int):
    return views.progress_answer(_get_office_report(request, pk))


@login_required
@permission_required("reports.view_league", raise_exception=True)
def office_report_download(request, pk: int):
    return views.download_answer(request, _get_office_report(request, pk))
