"""The subsidy payout list of an approved run of 10,000 lines, as PDF and
as xlsx, against WeasyPrint rendering a plain table of the same rows with
no styling at all, measured in the same run.

The loan book (demo/loan_book.py) is spread over ten townships; the run is
computed, submitted and approved through the services. The PDF figure is
the whole builder as the report task calls it: reading the lines, the
template, WeasyPrint's layout and the PDF file. The baseline is the same
rows (same columns, already formatted) in one bare ``<table>`` handed to
WeasyPrint: what any PDF of these rows costs. It is measured twice: as
WeasyPrint comes, and rendered the way the list is (the cyclic garbage
collector paused and the lean user-agent stylesheet, reports/payout_list.py),
so that the second ratio is the cost of the list's template and styling
alone.

Goal (issue #7): the payout list of 10,000 lines in under 60 s.
"""

import datetime
import os
import time

from django.utils import timezone
from django.utils.html import escape

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from common.pdf import cyclic_gc_paused, lean_html_class
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save
from loans.models import Programme
from reports.builders import no_progress
from reports.models import Report
from reports.payout_list import (
    payout_pdf,
    payout_rows,
    payout_xlsx,
)
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from zhenxingdai.celery import app as celery_app

LINES = int(os.environ.get("BENCH_PAYOUT_LINES", "10000"))
TOWNSHIPS = 10
GOAL_SECONDS = 60


def _setup() -> Report:
    county = divisions_load(counties=["530822"]).county
    county_officer = user_create(
        username="bench-county", password="bench-password-123", role=Role.COUNTY, county=county
    )
    finance_officer = user_create(
        username="bench-finance", password="bench-password-123", role=Role.FINANCE, county=county
    )
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = credit_coop_save(code="mojiang-rcc", name="墨江联社", counties=[county])
    townships = list(Division.objects.filter(parent=county).order_by("code")[:TOWNSHIPS])
    per_township = LINES // len(townships)
    started = time.perf_counter()
    for number, township in enumerate(townships):
        loan_book_create(
            actor=county_officer,
            township=township,
            programme=programme,
            coop=coop,
            count=per_township,
            first_index=number * per_township,
        )
    run = subsidy_run_start(
        actor=county_officer, programme=programme, year=2025, today=datetime.date(2026, 1, 5)
    )
    run = SubsidyRun.objects.get(pk=run.pk)
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    subsidy_run_submit(actor=county_officer, run=run)
    run = subsidy_run_approve(actor=finance_officer, run=run)
    print(
        f"  set-up: {run.line_count:,} loans lent, computed and approved in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return Report(
        kind=Report.Kind.PAYOUT,
        format=Report.Format.PDF,
        run=run,
        requested_by=finance_officer,
        requested_at=timezone.now(),
        state=Report.State.RUNNING,
    )


def _plain_table(report: Report) -> str:
    """The rows of the list in one table with no styling at all."""
    cells = []
    for number, row in enumerate(payout_rows(report.run), start=1):
        values = (
            number,
            row.township,
            row.village,
            row.name,
            row.masked_id,
            row.contract_no,
            f"{row.principal:,}",
            f"{row.reported_interest:,}",
            f"{row.amount_due:,}",
        )
        cells.append("<tr>" + "".join("<td>%s</td>" % escape(value) for value in values) + "</tr>")
    return "<table>" + "".join(cells) + "</table>"


def run() -> list[Figure]:
    celery_app.conf.task_always_eager = True
    report = _setup()

    from weasyprint import HTML

    # Load Pango and the fonts once before either is timed.
    HTML(string="<p>贴息 1,234.56</p>").write_pdf()

    pages = {}

    def plain():
        document = HTML(string=_plain_table(report)).render()
        document.write_pdf()
        pages["plain"] = len(document.pages)

    def plain_lean():
        with cyclic_gc_paused():
            lean_html_class()(string=_plain_table(report)).render().write_pdf()

    def styled():
        built = payout_pdf(report, no_progress)
        assert built.row_count == report.run.line_count, built.row_count
        pages["size"] = len(built.content)

    baseline = timed(plain, repeat=1, warmup=0)
    lean_baseline = timed(plain_lean, repeat=1, warmup=0)
    seconds = timed(styled, repeat=1, warmup=0)
    xlsx = timed(lambda: payout_xlsx(report, no_progress), repeat=1, warmup=0)
    print(
        f"  payout list PDF: {report.run.line_count:,} lines, {pages['size'] / 1e6:.1f} MB, "
        f"{seconds:.1f} s (goal < {GOAL_SECONDS} s: "
        f"{'met' if seconds < GOAL_SECONDS else 'NOT MET'}); bare table {baseline:.1f} s "
        f"({pages['plain']} pages), {lean_baseline:.1f} s rendered as the list is; "
        f"xlsx {xlsx:.1f} s",
        flush=True,
    )
    return [
        Figure(
            f"payout list PDF, {report.run.line_count:,} lines",
            seconds,
            "WeasyPrint, bare table of the same rows",
            baseline,
        ),
        Figure(
            f"payout list PDF, {report.run.line_count:,} lines",
            seconds,
            "the bare table, GC paused, lean UA sheet",
            lean_baseline,
        ),
    ]
