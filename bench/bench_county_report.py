"""The county programme report as PDF for the Mojiang demo (680 loans),
against WeasyPrint rendering a plain, unstyled HTML table of the same rows
(by township, by category, by industry) with no charts.

The figure is ``county_pdf`` as the report task calls it: the figures read
from the database, the three charts drawn by matplotlib, the template
rendered and laid out by WeasyPrint. The demo is seeded first (about a
minute, not timed).

Goal (issue #7): under 5 s.
"""

import datetime
import logging
import time

from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from django.utils.html import escape
from weasyprint import HTML

from bench.harness import Figure, timed
from common.money import yuan
from common.pdf import PRINT_LANGUAGE
from demo.services import demo_seed
from divisions.models import Division
from loans.models import Programme
from reports.builders import no_progress
from reports.county import county_charts, county_figures, county_pdf
from reports.models import Report

TODAY = datetime.date(2026, 11, 23)
GOAL_SECONDS = 5.0


def plain_table(figures) -> str:
    """The rows of the report's tables as one HTML table, nothing else."""
    rows = [*figures.by_township, *figures.by_category, *figures.by_industry]
    cells = []
    for row in rows:
        shown = row.figures
        values = [
            str(row.label),
            shown.households,
            shown.loans,
            yuan(shown.principal),
            yuan(shown.balance),
            yuan(shown.interest_paid),
            yuan(shown.subsidy_due),
            yuan(shown.subsidy_paid),
            shown.driven_households,
        ]
        cells.append("<tr>%s</tr>" % "".join("<td>%s</td>" % escape(v) for v in values))
    return "<html><body><table>%s</table></body></html>" % "".join(cells)


def run() -> list[Figure]:
    # Every render logs its steps and each SVG style it skips: keep the
    # figures readable.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    started = time.perf_counter()
    demo_seed(today=TODAY)
    print(f"  set-up: demo seeded in {time.perf_counter() - started:.0f} s", flush=True)

    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    county = Division.objects.get(code="530822")
    report = Report(
        county=county,
        kind=Report.Kind.COUNTY,
        format=Report.Format.PDF,
        programme=programme,
        as_of=TODAY,
        requested_by=get_user_model().objects.get(username="county"),
        requested_at=timezone.now(),
    )
    figures = county_figures(programme, TODAY, county=county)
    table = plain_table(figures)
    rows = len(figures.by_township) + len(figures.by_category) + len(figures.by_industry)

    # Stock WeasyPrint, as anyone would call it.
    baseline = timed(lambda: HTML(string=table).write_pdf(), repeat=5)
    seconds = timed(lambda: county_pdf(report, no_progress), repeat=5)
    figures_seconds = timed(lambda: county_figures(programme, TODAY, county=county), repeat=5)
    with translation.override(PRINT_LANGUAGE):
        charts_seconds = timed(lambda: county_charts(figures), repeat=5)
    built = county_pdf(report, no_progress)
    print(
        f"  county report: {built.row_count} loans, {rows} table rows, "
        f"{len(built.content) / 1024:.0f} KiB; {seconds:.2f} s "
        f"(figures {figures_seconds:.2f} s, charts {charts_seconds:.2f} s, the rest "
        f"template and WeasyPrint) (goal < {GOAL_SECONDS:.0f} s: "
        f"{'met' if seconds < GOAL_SECONDS else 'NOT MET'})",
        flush=True,
    )
    return [
        Figure(
            f"county report PDF, {built.row_count} loans",
            seconds,
            f"WeasyPrint, plain table of {rows} rows",
            baseline,
        )
    ]
