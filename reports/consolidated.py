"""The consolidated report of an office above the county (汇总表, DOMAIN.md
section 7): a city's or a province's counties added up, as PDF and as
xlsx, generated in the background like the county report.

What it is of: the office's counties (every county under its city or
province), **one programme or all** the programmes they run, **as of the end
of a day** (today by default, never a day to come). The finance bureau and
the city office report month-, quarter- and year-end figures (截至某日), and
a programme is one year's (振兴贷 2024, 振兴贷 2025): all programmes is the
whole book, one programme one year's lending.

Sections:

1. Totals: the by-county rows summed (``league.league_total``).
2. By county: the league table's rows as of that day
   (``league.county_league``), so a county's row is what its own dashboard
   shows; they add up to the totals.
3. By programme: the same loan and subsidy figures grouped by programme.
4. By borrower category: grouped by the category each household borrowed
   as, as the county report counts it (``reports.county``): the highest of
   its borrowers' categories (``beneficiaries.models.derive_category``: a
   position in force outranks the base category) on the day one of its
   counted loans was disbursed; enterprises borrowing in their own name by
   their kind.

How the figures are counted (``reports.league``): loans disbursed by the
end of the day, balance and interest from the ledger at the end of it;
subsidy due, the lines of the runs that stand (computed, submitted,
approved or paid) of subsidy years over by then; subsidy paid, those of
them recorded paid by then. Programme and category rows add up to the
totals in loans and money; a household that borrowed under two programmes
(a programme is one year's) counts in each programme's row and once in the
totals, so that column need not add up there. Driven households are in the
totals and by county only: a household led by a borrower of two programmes
belongs to neither row alone.

No person appears: the office sees figures, never a name, an identifier or
a phone number. Everything is summed in the database, in a fixed number of
queries whatever the number of counties or loans, and nothing is float.
"""

import datetime
import io
from dataclasses import dataclass, fields
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import CharField, DateField, Exists, F, OuterRef, Value, When
from django.db.models.expressions import Case
from django.db.models.functions import Coalesce, Concat
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from accounts.roles import office_of
from beneficiaries.models import Borrower, Enterprise, Position
from common.charts import bar_chart, share_chart
from common.money import round_fen, yuan
from common.pdf import PRINT_LANGUAGE, render_pdf
from divisions.models import Division
from loans.models import Programme

from . import league
from .builders import Built, Progress
from .county import (
    ALWAYS_LISTED,
    CATEGORY_ORDER,
    COUNT_FORMAT,
    ENTERPRISE_KEY,
    MONEY_FORMAT,
    RING_WIDTH,
    TABLE_FIRST_ROW,
    TEN_THOUSAND,
    TOTAL_BORDER,
    generated_from,
    sheet_heading,
    style_header,
    summary_workbook,
)
from .dashboard import loan_aggregates
from .models import Report

Category = Borrower.Category
HUNDRED = Decimal(100)
FAR_FUTURE = datetime.date.max


# --- The figures -----------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One row of a table: the totals, a county, a programme or a category.

    ``driven_households`` is None where the row cannot say (programmes and
    categories, see the module's docstring). ``code`` is a county's code."""

    label: str
    households: int
    loans: int
    principal: Decimal
    balance: Decimal
    overdue_loans: int
    overdue_balance: Decimal
    interest_paid: Decimal
    subsidy_due: Decimal
    subsidy_paid: Decimal
    exceptions: int
    driven_households: int | None = None
    code: str = ""

    @property
    def overdue_rate(self) -> Decimal | None:
        """As on the league table: the overdue balance as a percentage of
        the balance, half-up to two places; None where nothing is owed."""
        if not self.balance:
            return None
        return round_fen(self.overdue_balance * HUNDRED / self.balance)


@dataclass(frozen=True)
class ConsolidatedFigures:
    office: Division
    programme: Programme | None
    as_of: datetime.date
    total: Line
    by_county: tuple[Line, ...]
    by_programme: tuple[Line, ...]
    by_category: tuple[Line, ...]


def _from_league(row: league.CountyRow, label: str) -> Line:
    values = {f.name: getattr(row, f.name) for f in fields(league.CountyRow) if f.name != "county"}
    return Line(label=label, code=row.county.code, **values)


def _line(label: str, loans: dict, lines: dict) -> Line:
    """A row from one group of loan and one of line aggregates."""
    return Line(label=label, **league.row_figures(loans, lines))


def _grouped(queryset, key: str, aggregates: dict) -> dict:
    return {row[key]: row for row in queryset.values(key).annotate(**aggregates)}


def lent_as(loans, *, loan: str = ""):
    """The borrower category a loan's household borrowed as, as an SQL
    expression on loans (``loan`` the lookup to the loan from the model
    queried, "loan__" for subsidy lines): what ``county._household_categories``
    works out in Python, here for any number of loans.

    ``loans`` are the loans counted: a position counts if it was in force on
    the day one of its household's counted loans was disbursed."""
    household = loan + "application__household"

    def position_held(category: str) -> Exists:
        titles = [title for title, held in Position.TITLE_CATEGORY.items() if held == category]
        in_term = loans.filter(
            application__household=OuterRef("borrower__household"),
            disbursed_on__gte=OuterRef("started_on"),
            disbursed_on__lte=Coalesce(
                OuterRef("ended_on"), Value(FAR_FUTURE), output_field=DateField()
            ),
        )
        return Exists(
            Position.objects.filter(
                borrower__household=OuterRef(household), title__in=titles
            ).filter(Exists(in_term))
        )

    def member_is(category: str) -> Exists:
        members = Borrower.objects.filter(household=OuterRef(household), base_category=category)
        return Exists(members)

    whens = [
        When(
            **{household + "__isnull": True},
            then=Concat(Value(ENTERPRISE_KEY), F(loan + "application__enterprise__kind")),
        )
    ]
    # Highest first: a position in force outranks every base category.
    for category in CATEGORY_ORDER:
        if category in Borrower.POSITION_CATEGORIES:
            whens.append(When(position_held(category), then=Value(category)))
        else:
            whens.append(When(member_is(category), then=Value(category)))
    # No borrower left in the household (the applicant has moved to another
    # one since): the applicant's own category, as the county report says.
    return Case(
        *whens, default=F(loan + "application__borrower__category"), output_field=CharField()
    )


def _category_labels(present) -> dict[str, str]:
    """The categories in the county report's order (its tiers listed even
    with no loan), then the kinds of enterprise borrowing themselves."""
    labels = {
        category: str(category.label)
        for category in CATEGORY_ORDER
        if category in ALWAYS_LISTED or category in present
    }
    for kind in Enterprise.Kind:
        if ENTERPRISE_KEY + kind in present:
            labels[ENTERPRISE_KEY + kind] = str(kind.label)
    # Anything else (never expected): shown rather than dropped from the sums.
    for key in present:
        if key not in labels:
            labels[key] = str(key)
    return labels


def consolidated_figures(
    *, user, as_of: datetime.date, programme: Programme | None = None
) -> ConsolidatedFigures:
    """The office's counties added up at the end of ``as_of``, of one
    programme or of all: the league table's rows, their total, and the
    same figures by programme and by borrower category. ``user`` is the
    office's account (its counties are the scope of every query)."""
    office = office_of(user)
    rows = league.county_league(user=user, today=as_of, programme=programme)
    total = _from_league(league.league_total(rows, office), _("Total"))
    by_county = tuple(_from_league(row, row.county.name) for row in rows)

    loans = league.counted_loans(user=user, today=as_of, programme=programme)
    lines = league.standing_lines(user=user, today=as_of, programme=programme)
    loan_sums = loan_aggregates(as_of)
    line_sums = league.line_aggregates(as_of)

    programme_loans = _grouped(loans, "programme", loan_sums)
    programme_lines = _grouped(lines, "run__programme", line_sums)
    programmes = Programme.objects.filter(pk__in={*programme_loans, *programme_lines}).order_by(
        "-year", "name", "region_code"
    )
    by_programme = tuple(
        _line(
            "%s %s · %s" % (p.name, p.year, p.region_name),
            programme_loans.get(p.pk, {}),
            programme_lines.get(p.pk, {}),
        )
        for p in programmes
    )

    category_loans = _grouped(loans.annotate(lent_as=lent_as(loans)), "lent_as", loan_sums)
    category_lines = _grouped(
        lines.annotate(lent_as=lent_as(loans, loan="loan__")), "lent_as", line_sums
    )
    labels = _category_labels({*category_loans, *category_lines})
    by_category = tuple(
        _line(label, category_loans.get(key, {}), category_lines.get(key, {}))
        for key, label in labels.items()
    )
    return ConsolidatedFigures(
        office=office,
        programme=programme,
        as_of=as_of,
        total=total,
        by_county=by_county,
        by_programme=by_programme,
        by_category=by_category,
    )


def _figures_for(report: Report) -> ConsolidatedFigures:
    """The report's figures, read with its requester's account: the office's
    counties. A requester who has left the office since cannot be used."""
    user = report.requested_by
    office = office_of(user)
    if office is None or office.pk != report.office_id:
        raise ValidationError(
            _("%(user)s no longer works for %(office)s: ask for the report again.")
            % {"user": user.get_username(), "office": report.office.name}
        )
    return consolidated_figures(user=user, as_of=report.as_of, programme=report.programme)


def report_title(office: Division, programme: Programme | None) -> str:
    """普洱市振兴贷工作情况汇总表; 普洱市各项目工作情况汇总表 for all programmes."""
    if programme is None:
        return _("%(office)s consolidated statistics of all programmes") % {"office": office.name}
    return _("%(office)s %(programme)s programme consolidated statistics") % {
        "office": office.name,
        "programme": programme.name,
    }


# --- PDF ---------------------------------------------------------------------------


def _shown(line: Line) -> dict:
    """A row as printed: counts with thousands separators, yuan with two
    places, from the Decimals; "—" where the row has no such figure."""
    rate = line.overdue_rate
    return {
        "label": line.label,
        "code": line.code,
        "households": f"{line.households:,}",
        "loans": f"{line.loans:,}",
        "principal": yuan(line.principal),
        "balance": yuan(line.balance),
        "overdue_loans": f"{line.overdue_loans:,}",
        "overdue_rate": "—" if rate is None else f"{rate}%",
        "interest_paid": yuan(line.interest_paid),
        "subsidy_due": yuan(line.subsidy_due),
        "subsidy_paid": yuan(line.subsidy_paid),
        "exceptions": f"{line.exceptions:,}",
        "driven_households": (
            "—" if line.driven_households is None else f"{line.driven_households:,}"
        ),
    }


def consolidated_charts(figures: ConsolidatedFigures) -> dict[str, str]:
    """The PDF's charts as SVG, in the active language, drawn as the county
    report's are: principal and balance, then subsidy due and paid, by
    county, and the households by borrower category."""
    counties = figures.by_county
    labels = [line.label for line in counties]
    return {
        "counties": bar_chart(
            title=_("Principal disbursed and balance by county"),
            labels=labels,
            series=[
                (_("Principal disbursed"), [line.principal for line in counties]),
                (_("Balance outstanding"), [line.balance for line in counties]),
            ],
            axis_label=_("10,000 yuan"),
            unit_divisor=TEN_THOUSAND,
            horizontal=True,
        ),
        "subsidy": bar_chart(
            title=_("Subsidy due and paid by county"),
            labels=labels,
            series=[
                (_("Interest subsidy due"), [line.subsidy_due for line in counties]),
                (_("Interest subsidy paid"), [line.subsidy_paid for line in counties]),
            ],
            axis_label=_("10,000 yuan"),
            unit_divisor=TEN_THOUSAND,
            horizontal=True,
        ),
        "categories": share_chart(
            title=_("Households by category"),
            labels=[str(line.label) for line in figures.by_category],
            values=[line.households for line in figures.by_category],
            width=RING_WIDTH,
        ),
    }


def consolidated_pdf(report: Report, progress: Progress) -> Built:
    progress(5, _("Adding up the figures"))
    figures = _figures_for(report)
    progress(30, _("Drawing the charts"))
    with translation.override(PRINT_LANGUAGE):
        charts = consolidated_charts(figures)
    progress(50, _("Rendering the PDF"))
    with translation.override(PRINT_LANGUAGE):
        context = {
            "title": report_title(report.office, report.programme),
            "generated_from": generated_from(report),
            "as_of": report.as_of,
            "total": _shown(figures.total),
            "tables": [
                {
                    "title": _("2. By county"),
                    "heading": _("County"),
                    "rows": [_shown(line) for line in figures.by_county],
                    "driven": True,
                    "charts": [charts["counties"], charts["subsidy"]],
                    "chart_class": "half",
                },
                {
                    "title": _("3. By programme"),
                    "heading": _("Programme"),
                    "rows": [_shown(line) for line in figures.by_programme],
                },
                {
                    "title": _("4. By borrower category"),
                    "heading": _("Borrower category"),
                    "rows": [_shown(line) for line in figures.by_category],
                    "charts": [charts["categories"]],
                    "chart_class": "ring",
                },
            ],
        }
    content = render_pdf("reports/consolidated.html", context)
    progress(100, _("Done"))
    return Built(content=content, row_count=len(figures.by_county))


# --- xlsx --------------------------------------------------------------------------


def _columns(driven: bool) -> list[tuple[str, str, str]]:
    """(heading, Line attribute, number format) of a table's figures."""
    columns = [
        (_("Borrowing households"), "households", COUNT_FORMAT),
        (_("Number of loans"), "loans", COUNT_FORMAT),
        (_("Principal disbursed (yuan)"), "principal", MONEY_FORMAT),
        (_("Balance outstanding (yuan)"), "balance", MONEY_FORMAT),
        (_("Number of overdue loans"), "overdue_loans", COUNT_FORMAT),
        (_("Overdue rate (%)"), "overdue_rate", MONEY_FORMAT),
        (_("Interest paid by borrowers (yuan)"), "interest_paid", MONEY_FORMAT),
        (_("Interest subsidy due (yuan)"), "subsidy_due", MONEY_FORMAT),
        (_("Interest subsidy paid (yuan)"), "subsidy_paid", MONEY_FORMAT),
        (_("Reconciliation exceptions"), "exceptions", COUNT_FORMAT),
    ]
    if driven:
        columns.append((_("Number of driven households"), "driven_households", COUNT_FORMAT))
    return columns


def _table_sheet(book, name, heading, label_heading, lines, total, *, driven=False) -> None:
    """A sheet of one table: the heading rows, a header, a row per line and
    the total row, amounts as Decimals (exact in the file), header frozen."""
    sheet = book.create_sheet(name)
    columns = _columns(driven)
    sheet_heading(sheet, heading, len(columns) + 1)
    sheet.append([label_heading] + [text for text, _attribute, _format in columns])
    style_header(sheet)

    def append(line: Line, font: Font) -> None:
        sheet.append([line.label] + [getattr(line, attribute) for _t, attribute, _f in columns])
        for cell, (_t, _a, number_format) in zip(sheet[sheet.max_row][1:], columns, strict=True):
            cell.number_format = number_format
            cell.font = font
        # A name starting with "=" is text, not a formula.
        sheet.cell(row=sheet.max_row, column=1).data_type = "s"
        sheet.cell(row=sheet.max_row, column=1).font = font

    for line in lines:
        append(line, Font())
    append(total, Font(bold=True))
    for cell in sheet[sheet.max_row]:
        cell.border = TOTAL_BORDER
    sheet.column_dimensions["A"].width = 26
    for index in range(2, len(columns) + 2):
        sheet.column_dimensions[get_column_letter(index)].width = 15
    sheet.freeze_panes = sheet.cell(row=TABLE_FIRST_ROW + 1, column=2)


def consolidated_xlsx(report: Report, progress: Progress) -> Built:
    """The workbook: the totals, then a sheet each by county, programme and
    category, with what it was generated from above a frozen header."""
    progress(5, _("Adding up the figures"))
    figures = _figures_for(report)
    progress(60, _("Writing the spreadsheet"))
    with translation.override(PRINT_LANGUAGE):
        title = report_title(report.office, report.programme)
        heading = (title, generated_from(report))
        summary = [
            (text, getattr(figures.total, attribute), number_format)
            for text, attribute, number_format in _columns(driven=True)
        ]
        book = summary_workbook(title, heading, summary, label_width=30)

        total = figures.total
        _table_sheet(
            book, _("By county"), heading, _("County"), figures.by_county, total, driven=True
        )
        _table_sheet(book, _("By programme"), heading, _("Programme"), figures.by_programme, total)
        categories = figures.by_category
        _table_sheet(book, _("By category"), heading, _("Borrower category"), categories, total)
        output = io.BytesIO()
        book.save(output)
    progress(100, _("Done"))
    return Built(content=output.getvalue(), row_count=len(figures.by_county))
