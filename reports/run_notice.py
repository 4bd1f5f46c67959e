"""The public notice (公示) of a subsidy run, for the village notice boards.

It lists the people the run pays (the payout list's lines: ``amount_due >
0``) with their village and the amount only, never an identity number,
phone, account or contract number, grouped by township like the payout
list; then the notice period and where to object within it. A run is
noticed once the county has submitted it (the finance bureau may still
send it back), and its notice may be printed again after approval.
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common.money import yuan
from common.pdf import PRINT_LANGUAGE, render_print_html, render_with_progress
from subsidies.models import SubsidyRun

from .builders import Built, Progress
from .models import Report
from .payout_list import (
    grand_totals,
    payout_groups,
    payout_rows,
    require_state,
)

State = SubsidyRun.State
NOTICE_STATES = (State.SUBMITTED, State.APPROVED, State.PAID)
# About how many people a portrait page of the notice holds (for progress only).
ROWS_PER_PAGE = 30


@dataclass(frozen=True)
class NoticeRow:
    """All a public notice may say of a person."""

    name: str
    village: str
    amount: str


def notice_period(report: Report) -> tuple[datetime.date, datetime.date]:
    """First and last day (both inclusive) of the notice: from the report's
    date, or the day it was asked for, for the programme's notice days."""
    first = report.as_of or timezone.localdate(report.requested_at)
    return first, first + datetime.timedelta(days=report.run.programme.notice_days - 1)


def run_notice_pdf(report: Report, progress: Progress) -> Built:
    run = report.run
    programme = run.programme
    with translation.override(PRINT_LANGUAGE):
        require_state(
            run,
            NOTICE_STATES,
            _("Only a submitted, approved or paid run can be noticed; this run is %(state)s."),
        )
        progress(5, _("Reading the lines"))
        groups = payout_groups(payout_rows(run, report.township))
        total = grand_totals(groups)
        starts_on, ends_on = notice_period(report)
        first_day, last_day = programme.subsidy_year_bounds(run.year)
        html = render_print_html(
            "reports/run_notice.html",
            {
                "run": run,
                "programme": programme,
                "title": _(
                    "Public notice of the %(year)s interest subsidy of %(region)s %(programme)s"
                )
                % {"region": programme.region_name, "programme": programme.name, "year": run.year},
                "township": report.township,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "first_day": first_day,
                "last_day": last_day,
                "groups": [
                    {
                        "name": group.name,
                        "rows": [
                            NoticeRow(row.name, row.village, yuan(row.amount_due))
                            for row in group.rows
                        ],
                        "count": group.totals.count,
                        "total": yuan(group.totals.amount_due),
                    }
                    for group in groups
                ],
                "count": total.count,
                "total": yuan(total.amount_due),
            },
        )
        expected_pages = 1 + (total.count + 2 * len(groups)) // ROWS_PER_PAGE
        content = render_with_progress(html, progress, expected_pages=expected_pages)
    return Built(content=content, row_count=total.count)
