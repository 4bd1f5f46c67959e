"""The subsidy payout list (贴息资金拨付明细表) of an approved run, as a PDF
to sign and seal and as a spreadsheet.

One row per line the bank is paid for: ``amount_due > 0``, the lines
``subsidies.services.payment_batch_issue`` puts into batches, and the
amount paid is ``amount_due`` (the year's subsidy plus any adjustment
carried from earlier years). So the list's total is what the batches of the
run add up to once every line is paid. Rows go by township in code order,
then village, then name; each township ends with its subtotal and the list
with one grand total.

The list passes between three offices and is filed, so identifiers are
masked; whoever serves the file still logs the download. Only an approved
or paid run has a payout list: before approval its figures may change.
"""

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from common.masking import mask_resident_id
from common.money import ZERO, amount_in_words, yuan
from common.pdf import PRINT_LANGUAGE, render_print_html, render_with_progress
from subsidies.models import SubsidyLine, SubsidyRun, SubsidyRunTransition

from .builders import Built, Progress
from .models import Report

State = SubsidyRun.State
PAYOUT_STATES = (State.APPROVED, State.PAID)
# About how many lines a landscape page of the PDF holds (for progress only).
ROWS_PER_PAGE = 34


@dataclass(frozen=True)
class PayoutRow:
    township_code: str
    township: str
    village_code: str
    village: str
    name: str
    masked_id: str
    contract_no: str
    principal: Decimal
    reported_interest: Decimal
    subsidy: Decimal
    adjustment: Decimal
    amount_due: Decimal


@dataclass
class Totals:
    count: int = 0
    principal: Decimal = ZERO
    reported_interest: Decimal = ZERO
    subsidy: Decimal = ZERO
    adjustment: Decimal = ZERO
    amount_due: Decimal = ZERO

    def add(self, row: PayoutRow) -> None:
        self.count += 1
        self.principal += row.principal
        self.reported_interest += row.reported_interest
        self.subsidy += row.subsidy
        self.adjustment += row.adjustment
        self.amount_due += row.amount_due


@dataclass
class TownshipGroup:
    code: str
    name: str
    rows: list[PayoutRow] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)


@dataclass(frozen=True)
class Step:
    """Who moved the run into a state, and when."""

    who: str
    at: datetime.datetime


def require_state(run: SubsidyRun, states, message: str) -> None:
    """Refuse to build a report of a run in the wrong state, saying why."""
    if run.state not in states:
        raise ValidationError(message % {"state": run.get_state_display()})


def person(user) -> str:
    if user is None:
        return _("the system")
    return user.get_full_name() or user.username


def run_number(run: SubsidyRun) -> str:
    """``ZXD2025-0003``: the stem of the run's payment batch references."""
    return "ZXD%s-%04d" % (run.year, run.pk)


def run_steps(run: SubsidyRun) -> dict[str, Step]:
    """The latest submission, approval and payment of the run (a run sent
    back and submitted again counts its last submission)."""
    steps = {}
    transitions = (
        SubsidyRunTransition.objects.filter(
            run=run, to_state__in=[State.SUBMITTED, State.APPROVED, State.PAID]
        )
        .select_related("actor")
        .order_by("at", "pk")
    )
    for transition in transitions:
        steps[transition.to_state] = Step(person(transition.actor), transition.at)
    return steps


def has_adjustments(run: SubsidyRun) -> bool:
    """Whether any line carries an adjustment, so that the list shows the
    year's subsidy, the adjustment and the amount paid apart."""
    return run.lines.exclude(adjustment=0).exists()


def payout_rows(run: SubsidyRun, township=None) -> list[PayoutRow]:
    """The lines of ``run`` the bank pays (``township``'s only, if given),
    by township code, village code, name and contract number."""
    lines = SubsidyLine.objects.filter(run=run, amount_due__gt=0)
    if township is not None:
        lines = lines.filter(township=township)
    application = "loan__application__"
    rows = []
    for values in lines.values_list(
        "township__code",
        "township__name",
        application + "borrower_id",
        application + "borrower__name",
        application + "borrower__id_number",
        application + "household__village_group__parent__code",
        application + "household__village_group__parent__name",
        application + "enterprise__name",
        application + "enterprise__credit_code",
        application + "enterprise__village__code",
        application + "enterprise__village__name",
        "loan__contract_no",
        "loan__principal",
        "reported_interest",
        "subsidy",
        "adjustment",
        "amount_due",
    ):
        (
            township_code,
            township_name,
            borrower_id,
            borrower_name,
            id_number,
            household_village_code,
            household_village,
            enterprise_name,
            credit_code,
            enterprise_village_code,
            enterprise_village,
            contract_no,
            principal,
            reported_interest,
            subsidy,
            adjustment,
            amount_due,
        ) = values
        if borrower_id is not None:
            name, identifier = borrower_name, id_number
            village_code, village = household_village_code, household_village
        else:
            name, identifier = enterprise_name, credit_code
            village_code, village = enterprise_village_code, enterprise_village
        rows.append(
            PayoutRow(
                township_code=township_code,
                township=township_name,
                village_code=village_code or "",
                village=village or "",
                name=name,
                masked_id=mask_resident_id(identifier),
                contract_no=contract_no,
                principal=principal,
                reported_interest=reported_interest,
                subsidy=subsidy,
                adjustment=adjustment,
                amount_due=amount_due,
            )
        )
    rows.sort(key=lambda row: (row.township_code, row.village_code, row.name, row.contract_no))
    return rows


def payout_groups(rows: list[PayoutRow]) -> list[TownshipGroup]:
    """The rows (as ``payout_rows`` orders them) in one group per township."""
    groups: list[TownshipGroup] = []
    for row in rows:
        if not groups or groups[-1].code != row.township_code:
            groups.append(TownshipGroup(row.township_code, row.township))
        groups[-1].rows.append(row)
        groups[-1].totals.add(row)
    return groups


def grand_totals(groups: list[TownshipGroup]) -> Totals:
    total = Totals()
    for group in groups:
        for name in ("principal", "reported_interest", "subsidy", "adjustment", "amount_due"):
            setattr(total, name, getattr(total, name) + getattr(group.totals, name))
        total.count += group.totals.count
    return total


# The PDF -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintedRow:
    """A row as printed: every figure already formatted (10,000 rows through
    template filters would cost seconds)."""

    seq: int
    township: str
    village: str
    name: str
    masked_id: str
    contract_no: str
    principal: str
    reported_interest: str
    subsidy: str
    adjustment: str
    amount_due: str


def _printed(seq: int, row: PayoutRow) -> PrintedRow:
    return PrintedRow(
        seq=seq,
        township=row.township,
        village=row.village,
        name=row.name,
        masked_id=row.masked_id,
        contract_no=row.contract_no,
        principal=yuan(row.principal),
        reported_interest=yuan(row.reported_interest),
        subsidy=yuan(row.subsidy),
        adjustment=yuan(row.adjustment),
        amount_due=yuan(row.amount_due),
    )


def _printed_totals(totals: Totals) -> dict:
    return {
        "count": totals.count,
        "principal": yuan(totals.principal),
        "reported_interest": yuan(totals.reported_interest),
        "subsidy": yuan(totals.subsidy),
        "adjustment": yuan(totals.adjustment),
        "amount_due": yuan(totals.amount_due),
    }


def particulars(report: Report) -> dict:
    """What the list says of itself: the run, its year and number, whose
    lines it lists, who submitted and approved the run, who asked for the
    file and when, and whether it shows adjustments apart."""
    run = report.run
    require_state(
        run,
        PAYOUT_STATES,
        _("Only an approved or paid run has a payout list; this run is %(state)s."),
    )
    programme = run.programme
    first_day, last_day = programme.subsidy_year_bounds(run.year)
    return {
        "report": report,
        "run": run,
        "programme": programme,
        "title": _("%(region)s %(programme)s subsidy payout list for %(year)s")
        % {"region": programme.region_name, "programme": programme.name, "year": run.year},
        "number": run_number(run),
        "first_day": first_day,
        "last_day": last_day,
        "scope": report.township.name if report.township_id else programme.region_name,
        "steps": run_steps(run),
        "requested_by": person(report.requested_by),
        "adjusted": has_adjustments(run),
        # Who signs and seals the list before the bank is paid.
        "offices": [
            _("County Party Committee Organisation Department"),
            _("County Rural Credit Co-operative"),
            _("County Finance Bureau"),
        ],
    }


def payout_pdf(report: Report, progress: Progress) -> Built:
    with translation.override(PRINT_LANGUAGE):
        context = particulars(report)
        progress(2, _("Reading the lines"))
        groups = payout_groups(payout_rows(report.run, report.township))
        total = grand_totals(groups)
        progress(5, _("Preparing %(count)s rows") % {"count": total.count})
        seq = 0
        printed = []
        for group in groups:
            rows = []
            for row in group.rows:
                seq += 1
                rows.append(_printed(seq, row))
            printed.append(
                {"name": group.name, "rows": rows, "totals": _printed_totals(group.totals)}
            )
        html = render_print_html(
            "reports/payout_list.html",
            {
                **context,
                "groups": printed,
                "total": _printed_totals(total),
                "total_in_words": amount_in_words(total.amount_due),
            },
        )
        expected_pages = 1 + (total.count + 2 * len(groups)) // ROWS_PER_PAGE
        content = render_with_progress(html, progress, expected_pages=expected_pages)
    return Built(content=content, row_count=total.count)


# The spreadsheet ---------------------------------------------------------------------

AMOUNT_FORMAT = "#,##0.00"
HEADER_FILL = PatternFill("solid", fgColor="E6E6E6")
BOLD = Font(bold=True)


def _columns(adjusted: bool) -> list[tuple[str, str, int]]:
    """(heading, key of PayoutRow, width); the last column is what the bank pays."""
    columns = [
        (_("No."), "seq", 7),
        (_("Township"), "township", 12),
        (_("Village"), "village", 14),
        (_("Full name"), "name", 12),
        (_("ID number (masked)"), "masked_id", 22),
        (_("Contract number"), "contract_no", 18),
        (_("Loan principal (yuan)"), "principal", 15),
        (_("Interest paid (yuan)"), "reported_interest", 14),
    ]
    if adjusted:
        columns += [
            (_("Subsidy for the year (yuan)"), "subsidy", 15),
            (_("Adjustment from earlier years (yuan)"), "adjustment", 15),
            (_("Amount paid out (yuan)"), "amount_due", 16),
        ]
    else:
        columns.append((_("Subsidy paid out (yuan)"), "amount_due", 16))
    return columns


MONEY_KEYS = {"principal", "reported_interest", "subsidy", "adjustment", "amount_due"}


def _cell(sheet, value, *, font=None, fill=None, money=False, text=False):
    cell = WriteOnlyCell(sheet, value=value)
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if money:
        cell.number_format = AMOUNT_FORMAT
    elif text:
        # Text as text: a name starting with "=" is not a formula.
        cell.data_type = "s"
        cell.number_format = "@"
    return cell


def _totals_row(sheet, columns, label: str, totals: Totals) -> list:
    row = []
    for index, (_heading, key, _width) in enumerate(columns):
        if key in MONEY_KEYS:
            row.append(_cell(sheet, getattr(totals, key), font=BOLD, money=True))
        elif index == 1:
            row.append(_cell(sheet, label, font=BOLD, text=True))
        else:
            row.append(None)
    return row


def payout_xlsx(report: Report, progress: Progress) -> Built:
    """The same list as a workbook: the run's particulars, a header row
    (frozen, and repeated when printed), one row per line with amounts as
    numbers, a subtotal row per township and one grand total row."""
    with translation.override(PRINT_LANGUAGE):
        context = particulars(report)
        progress(2, _("Reading the lines"))
        groups = payout_groups(payout_rows(report.run, report.township))
        total = grand_totals(groups)
        content = _workbook(context, groups, total, progress)
    return Built(content=content, row_count=total.count)


def _workbook(context: dict, groups: list[TownshipGroup], total: Totals, progress) -> bytes:
    run = context["run"]
    columns = _columns(context["adjusted"])
    book = Workbook(write_only=True)
    sheet = book.create_sheet(context["number"])
    book.properties.title = context["title"]
    book.properties.creator = context["requested_by"]
    for index, (_heading, _key, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width

    steps = context["steps"]
    about = [
        (_("Run number"), context["number"]),
        (
            _("Subsidy year"),
            _("%(year)s (%(first)s to %(last)s)")
            % {
                "year": run.year,
                "first": date_format(context["first_day"], PRINTED_DATE),
                "last": date_format(context["last_day"], PRINTED_DATE),
            },
        ),
        (_("Scope"), context["scope"]),
        (
            _("Computation"),
            _("computation %(generation)s, ledger as of %(as_of)s")
            % {"generation": run.generation, "as_of": _when(run.as_of) if run.as_of else "—"},
        ),
    ]
    for state, label in ((State.SUBMITTED, _("Submitted by")), (State.APPROVED, _("Approved by"))):
        if state in steps:
            about.append((label, "%s  %s" % (steps[state].who, _when(steps[state].at))))
    about.append(
        (
            _("Generated by"),
            "%s  %s" % (context["requested_by"], _when(context["report"].requested_at)),
        )
    )
    about.append((_("Paid out"), _("the column “%(column)s”") % {"column": columns[-1][0]}))

    # Write-only: the frozen pane must be set before the first row is written.
    header_row = len(about) + 3
    sheet.freeze_panes = "A%d" % (header_row + 1)
    sheet.append([_cell(sheet, context["title"], font=Font(bold=True, size=14), text=True)])
    for label, value in about:
        sheet.append([_cell(sheet, label, font=BOLD, text=True), _cell(sheet, value, text=True)])
    sheet.append([])
    sheet.append(
        [
            _cell(sheet, heading, font=BOLD, fill=HEADER_FILL, text=True)
            for heading, _key, _width in columns
        ]
    )
    sheet.print_title_rows = "%d:%d" % (header_row, header_row)

    seq = 0
    for group in groups:
        for row in group.rows:
            seq += 1
            sheet.append(
                [
                    seq
                    if key == "seq"
                    else _cell(sheet, getattr(row, key), money=key in MONEY_KEYS, text=True)
                    for _heading, key, _width in columns
                ]
            )
        count = group.totals.count
        label = ngettext(
            "%(name)s subtotal, %(counter)s line", "%(name)s subtotal, %(counter)s lines", count
        ) % {"name": group.name, "counter": count}
        sheet.append(_totals_row(sheet, columns, label, group.totals))
        progress(5 + 85 * seq // max(total.count, 1), _("Writing the rows"))
    label = ngettext(
        "Grand total, %(counter)s line", "Grand total, %(counter)s lines", total.count
    ) % {"counter": total.count}
    sheet.append(_totals_row(sheet, columns, label, total))
    sheet.append(
        [
            _cell(sheet, _("Total paid out in words"), font=BOLD, text=True),
            _cell(sheet, amount_in_words(total.amount_due), font=BOLD, text=True),
        ]
    )
    output = io.BytesIO()
    book.save(output)
    progress(100, _("Done"))
    return output.getvalue()


# How the printed list writes a day: 2025年12月20日, as the PDF does.
PRINTED_DATE = "Y年n月j日"


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
