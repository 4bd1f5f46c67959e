"""The county programme report (振兴贷工作情况统计表): a programme's figures
on a date, for the whole county or one township, as PDF and as xlsx.

``county_figures`` adds everything up: totals, then the same figures by
township, by borrower category, by industry and husbandry against
planting. It reads the database in a fixed number of queries whatever the
number of loans (the ledger is summed per loan in SQL, the grouping is done
here), and nothing in it is float. ``county_pdf`` and ``county_xlsx`` are
the report builders (reports/builders.py); both print what the file was
generated from, so that a printed copy can be traced.

How the figures are counted:

* A loan counts if it is the programme's and was disbursed on or before
  the as-of date; a township report counts the township's loans only.
* Households are the borrowing households of those loans, each counted
  once in a total (a household with two loans is one household). An
  enterprise that borrows itself is no household.
* Balance and interest are the loans' ledger as of the end of the as-of
  date, as ``loans.selectors.loan_position`` reads it: principal less the
  principal repaid, entries undone by a reversal never counted.
* Subsidy due is the amount due of the lines of the programme's approved
  (or paid) runs whose subsidy year has ended by the as-of date; subsidy
  paid, the lines recorded paid on or before it.
* Driven households are the distinct households led by the counted
  borrowers or by an enterprise behind them (or borrowing itself).
* A household's category is the one it borrowed as: the highest of its
  borrowers' categories on the day its loan was disbursed, the quota tier
  it was lent under (a cadre whose term has since ended still counts as a
  cadre).
"""

import datetime
import io
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import Q, Sum
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from beneficiaries.models import (
    Borrower,
    DrivenHousehold,
    Enterprise,
    Industry,
    Position,
    derive_category,
)
from common.charts import bar_chart, share_chart
from common.money import ZERO, percent, round_fen, yuan
from common.pdf import PRINT_LANGUAGE, render_pdf
from divisions.models import Division
from loans.ledger.selectors import with_ledger_totals
from loans.models import Loan, Programme
from riskfund import selectors as fund_selectors
from riskfund.models import Claim
from subsidies.models import SubsidyLine, SubsidyRun

from .builders import Built, Progress
from .models import Report

Category = Borrower.Category
# The order categories are listed in, highest first: a household with
# borrowers of two categories is counted in the higher one.
CATEGORY_ORDER = (
    Category.VILLAGE_COMMITTEE,
    Category.GROUP_CADRE,
    Category.INDUSTRY_LEADER,
    Category.RESERVE_CADRE,
    Category.POOR_HOUSEHOLD,
    Category.ENTERPRISE_REPRESENTATIVE,
)
CATEGORY_RANK = {category: rank for rank, category in enumerate(CATEGORY_ORDER)}
# Listed even when no household of theirs borrowed: the programme's tiers.
ALWAYS_LISTED = CATEGORY_ORDER[:4]
CADRES = (Category.VILLAGE_COMMITTEE, Category.GROUP_CADRE)
# Enterprises that borrow in their own name are grouped by their kind.
ENTERPRISE_KEY = "enterprise:"
FARMING_ORDER = (Industry.Farming.HUSBANDRY, Industry.Farming.PLANTING, Industry.Farming.OTHER)


# --- The figures -----------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    households: int
    loans: int
    principal: Decimal
    balance: Decimal
    interest_paid: Decimal
    subsidy_due: Decimal
    subsidy_paid: Decimal
    driven_households: int


@dataclass(frozen=True)
class Row:
    """One line of a table: a township, category, industry or farming kind.

    ``household_share`` is the row's households as a percentage of all the
    report's households (half-up to 0.1), None for enterprises that borrow
    themselves; ``principal_share`` likewise of the principal. ``group`` is
    an industry row's sector. A ``subtotal`` row repeats figures of the rows
    above it and is never added into a total.
    """

    label: str
    figures: Figures
    household_share: Decimal | None
    principal_share: Decimal
    group: str = ""
    subtotal: bool = False


@dataclass(frozen=True)
class CountyFigures:
    programme: Programme
    as_of: datetime.date
    township: Division | None
    total: Figures
    by_township: tuple[Row, ...]
    by_category: tuple[Row, ...]
    by_industry: tuple[Row, ...]
    by_farming: tuple[Row, ...]


@dataclass
class _Loan:
    """One counted loan with its figures and what it is grouped by."""

    township_id: int
    household_id: int | None
    borrower_id: int | None
    borrower_category: str | None
    enterprise_ids: set[int]
    enterprise_kind: str | None
    industry_id: int
    disbursed_on: datetime.date
    principal: Decimal
    balance: Decimal
    interest_paid: Decimal
    subsidy_due: Decimal = ZERO
    subsidy_paid: Decimal = ZERO
    driven: set[int] = field(default_factory=set)


@dataclass
class _Tally:
    households: set[int] = field(default_factory=set)
    loans: int = 0
    principal: Decimal = ZERO
    balance: Decimal = ZERO
    interest_paid: Decimal = ZERO
    subsidy_due: Decimal = ZERO
    subsidy_paid: Decimal = ZERO
    driven: set[int] = field(default_factory=set)

    def add(self, loan: _Loan) -> None:
        if loan.household_id is not None:
            self.households.add(loan.household_id)
        self.loans += 1
        self.principal += loan.principal
        self.balance += loan.balance
        self.interest_paid += loan.interest_paid
        self.subsidy_due += loan.subsidy_due
        self.subsidy_paid += loan.subsidy_paid
        self.driven |= loan.driven

    def figures(self) -> Figures:
        return Figures(
            households=len(self.households),
            loans=self.loans,
            principal=self.principal,
            balance=self.balance,
            interest_paid=self.interest_paid,
            subsidy_due=self.subsidy_due,
            subsidy_paid=self.subsidy_paid,
            driven_households=len(self.driven),
        )


def _loans(counted, as_of: datetime.date) -> dict[int, _Loan]:
    """The counted loans with their ledger totals at the end of ``as_of``
    (one query: the totals are correlated subqueries, as on the loan list)."""
    loans = {}
    for row in with_ledger_totals(counted, on=as_of).values(
        "pk",
        "township_id",
        "application__household_id",
        "application__borrower_id",
        "application__borrower__category",
        "application__borrower__enterprise_id",
        "application__enterprise_id",
        "application__enterprise__kind",
        "application__industry_id",
        "disbursed_on",
        "principal",
        "principal_repaid",
        "interest_paid",
    ):
        enterprises = (
            row["application__borrower__enterprise_id"],
            row["application__enterprise_id"],
        )
        # Sums of amounts in fen: round_fen only drops the extra places
        # SQLite's sums carry.
        loans[row["pk"]] = _Loan(
            township_id=row["township_id"],
            household_id=row["application__household_id"],
            borrower_id=row["application__borrower_id"],
            borrower_category=row["application__borrower__category"],
            enterprise_ids={pk for pk in enterprises if pk},
            enterprise_kind=row["application__enterprise__kind"],
            industry_id=row["application__industry_id"],
            disbursed_on=row["disbursed_on"],
            principal=row["principal"],
            balance=row["principal"] - round_fen(row["principal_repaid"]),
            interest_paid=round_fen(row["interest_paid"]),
        )
    return loans


def _per_loan(lines) -> dict[int, Decimal]:
    totals = lines.order_by().values("loan_id").annotate(total=Sum("amount_due"))
    return {row["loan_id"]: round_fen(row["total"]) for row in totals}


def _add_subsidies(loans: dict[int, _Loan], counted, programme: Programme, county, as_of) -> None:
    """Subsidy due: lines of the frozen runs whose year is over by
    ``as_of``; subsidy paid: lines recorded paid by then."""
    ended_runs = [
        run.pk
        for run in SubsidyRun.objects.filter(
            programme=programme, county=county, state__in=SubsidyRun.FROZEN_STATES
        )
        if programme.subsidy_year_bounds(run.year)[1] <= as_of
    ]
    lines = SubsidyLine.objects.filter(loan__in=counted)
    due = _per_loan(lines.filter(run__in=ended_runs))
    paid = _per_loan(
        lines.filter(run__programme=programme, payment=SubsidyLine.Payment.PAID, paid_on__lte=as_of)
    )
    for pk, loan in loans.items():
        loan.subsidy_due = due.get(pk, ZERO)
        loan.subsidy_paid = paid.get(pk, ZERO)


def _add_driven(loans: dict[int, _Loan], counted) -> None:
    """The households each loan's borrower, or the enterprise behind it,
    leads."""
    by_borrower = defaultdict(set)
    by_enterprise = defaultdict(set)
    for borrower_id, enterprise_id, household_id in DrivenHousehold.objects.filter(
        Q(borrower__in=counted.values("application__borrower"))
        | Q(enterprise__in=counted.values("application__borrower__enterprise"))
        | Q(enterprise__in=counted.values("application__enterprise"))
    ).values_list("borrower_id", "enterprise_id", "household_id"):
        if borrower_id:
            by_borrower[borrower_id].add(household_id)
        else:
            by_enterprise[enterprise_id].add(household_id)
    for loan in loans.values():
        loan.driven = set(by_borrower.get(loan.borrower_id, ()))
        for enterprise_id in loan.enterprise_ids:
            loan.driven |= by_enterprise.get(enterprise_id, set())


def _household_categories(loans: dict[int, _Loan], counted) -> dict[int, str]:
    """Each borrowing household's category: the highest of its borrowers'
    categories on the day a loan of it was disbursed."""
    households = counted.values("application__household")
    positions = defaultdict(list)
    for position in Position.objects.filter(borrower__household__in=households).only(
        "borrower_id", "title", "started_on", "ended_on"
    ):
        positions[position.borrower_id].append(position)
    members = defaultdict(list)
    for pk, household_id, base_category in Borrower.objects.filter(
        household__in=households
    ).values_list("pk", "household_id", "base_category"):
        members[household_id].append((positions[pk], base_category))

    def rank(category: str) -> int:
        return CATEGORY_RANK.get(category, len(CATEGORY_RANK))

    categories: dict[int, str] = {}
    for loan in loans.values():
        if loan.household_id is None:
            continue
        held = [
            derive_category(positions_held, base_category, loan.disbursed_on)
            for positions_held, base_category in members[loan.household_id]
        ]
        # No borrower left in the household (the applicant has moved to
        # another one since): the applicant's own category.
        held = held or [loan.borrower_category]
        if loan.household_id in categories:
            held.append(categories[loan.household_id])
        categories[loan.household_id] = min(held, key=rank)
    return categories


def _rows(tallies, labels: dict, total: Figures, *, groups: dict | None = None) -> list[Row]:
    """A row per key of ``labels``, in its order (zeros for a key with no loan)."""
    rows = []
    for key, label in labels.items():
        figures = tallies[key].figures()
        rows.append(
            Row(
                label=label,
                figures=figures,
                household_share=percent(figures.households, total.households),
                principal_share=percent(figures.principal, total.principal),
                group=(groups or {}).get(key, ""),
            )
        )
    return rows


def _industry_order(industry: Industry) -> tuple:
    sector = industry.parent or industry
    return (sector.sort_order, sector.pk, industry.sort_order, industry.pk)


def county_figures(
    programme: Programme,
    as_of: datetime.date,
    township: Division | None = None,
    *,
    county: Division,
) -> CountyFigures:
    """The programme's figures in ``county`` at the end of day ``as_of``, for
    the whole county or for ``township`` only (a township officer's report)."""
    counted = Loan.objects.filter(
        programme=programme, county=county, disbursed_on__lte=as_of
    ).order_by()
    if township is not None:
        counted = counted.filter(township=township)
    loans = _loans(counted, as_of)
    _add_subsidies(loans, counted, programme, county, as_of)
    _add_driven(loans, counted)
    categories = _household_categories(loans, counted)
    industries = {industry.pk: industry for industry in Industry.objects.select_related("parent")}

    total = _Tally()
    cadres = _Tally()
    by_township = defaultdict(_Tally)
    by_category = defaultdict(_Tally)
    by_industry = defaultdict(_Tally)
    by_farming = defaultdict(_Tally)
    for loan in loans.values():
        total.add(loan)
        by_township[loan.township_id].add(loan)
        if loan.household_id is None:
            by_category[ENTERPRISE_KEY + loan.enterprise_kind].add(loan)
        else:
            category = categories[loan.household_id]
            by_category[category].add(loan)
            if category in CADRES:
                cadres.add(loan)
        by_industry[loan.industry_id].add(loan)
        by_farming[industries[loan.industry_id].farming].add(loan)
    totals = total.figures()

    if township is not None:
        townships = [township]
    else:
        townships = (
            Division.objects.townships()
            .filter(Q(parent__code=programme.region_code) | Q(pk__in=list(by_township)))
            .order_by("code")
        )
    township_rows = _rows(by_township, {t.pk: t.name for t in townships}, totals)

    listed = [c for c in CATEGORY_ORDER if c in ALWAYS_LISTED or c in by_category]
    category_rows = _rows(by_category, {c: c.label for c in listed}, totals)
    category_rows.insert(
        len(CADRES),
        replace(
            _rows(
                {None: cadres}, {None: gettext_lazy("Village and group cadres together")}, totals
            )[0],
            subtotal=True,
        ),
    )
    enterprise_kinds = {
        ENTERPRISE_KEY + kind: kind.label
        for kind in Enterprise.Kind
        if ENTERPRISE_KEY + kind in by_category
    }
    category_rows += [
        replace(row, household_share=None) for row in _rows(by_category, enterprise_kinds, totals)
    ]

    kinds = sorted((industries[pk] for pk in by_industry), key=_industry_order)
    industry_rows = _rows(
        by_industry,
        {kind.pk: kind.name for kind in kinds},
        totals,
        groups={kind.pk: (kind.parent or kind).name for kind in kinds},
    )
    farming = [f for f in FARMING_ORDER if f != Industry.Farming.OTHER or f in by_farming]
    farming_rows = _rows(by_farming, {f: Industry.Farming(f).label for f in farming}, totals)

    return CountyFigures(
        programme=programme,
        as_of=as_of,
        township=township,
        total=totals,
        by_township=tuple(township_rows),
        by_category=tuple(category_rows),
        by_industry=tuple(industry_rows),
        by_farming=tuple(farming_rows),
    )


# --- The risk-compensation fund ------------------------------------------------------

MONEY, COUNT, RATE = "money", "count", "rate"


@dataclass(frozen=True)
class FundSection:
    """The fund that covers the programme in the county, from the first of
    the as-of date's year to the as-of date: (label, value, kind) rows."""

    name: str
    start: datetime.date
    rows: tuple[tuple[str, Decimal | int | None, str], ...]


def fund_section(programme: Programme, as_of: datetime.date, *, county: Division):
    """The county report's fund section, or None where no fund covers the
    programme in ``county``."""
    fund = fund_selectors.funds_covering(programme_id=programme.pk, county=county).first()
    if fund is None:
        return None
    start = as_of.replace(month=1, day=1)
    statement = fund_selectors.statement(fund, start=start, end=as_of)
    standing = statement.standing
    claims = fund.claims.filter(claimed_on__lte=as_of)
    paid = claims.filter(state=Claim.State.PAID, paid_on__lte=as_of)
    waiting = claims.filter(
        state__in=[Claim.State.FILED, Claim.State.CHECKED, Claim.State.APPROVED]
    )
    return FundSection(
        name=fund.name,
        start=start,
        rows=(
            (_("Opening balance"), statement.opening, MONEY),
            (_("Deposits"), statement.deposits, MONEY),
            (_("Account interest"), statement.interest, MONEY),
            (_("Claims paid"), statement.compensation, MONEY),
            (_("Recoveries returned"), statement.recoveries, MONEY),
            (_("Closing balance"), statement.closing, MONEY),
            (_("Covered principal outstanding"), standing.exposure.outstanding, MONEY),
            (_("Limit (leverage × balance)"), standing.limit, MONEY),
            (_("Leverage used"), standing.leverage_used, RATE),
            (_("Non-performing rate"), standing.exposure.non_performing_rate, RATE),
            (_("Claims paid, all years"), paid.count(), COUNT),
            (
                _("Compensation paid, all years"),
                fund_selectors.fen(paid.aggregate(total=Sum("compensation"))["total"]),
                MONEY,
            ),
            (_("Claims not yet paid"), waiting.count(), COUNT),
        ),
    )


def _fund_shown(section: FundSection | None) -> dict | None:
    if section is None:
        return None
    shown = {MONEY: yuan, COUNT: lambda n: f"{n:,}", RATE: fund_selectors.percent_text}
    return {
        "name": section.name,
        "start": section.start,
        "rows": [(label, shown[kind](value)) for label, value, kind in section.rows],
    }


# --- Charts ----------------------------------------------------------------------

TEN_THOUSAND = 10_000
# Inches: wide enough for the category names beside the ring. The PDF
# prints it 100 mm wide, a little under its drawn size.
RING_WIDTH = 5.0


def county_charts(figures: CountyFigures) -> dict[str, str]:
    """The report's charts as SVG, in the active language: principal and
    balance by township, husbandry against planting, households by
    category. The dashboard draws its charts with the same functions."""
    category_rows = [
        row for row in figures.by_category if not row.subtotal and row.household_share is not None
    ]
    return {
        "townships": bar_chart(
            title=_("Principal disbursed and balance by township"),
            labels=[row.label for row in figures.by_township],
            series=[
                (_("Principal disbursed"), [row.figures.principal for row in figures.by_township]),
                (_("Balance outstanding"), [row.figures.balance for row in figures.by_township]),
            ],
            axis_label=_("10,000 yuan"),
            unit_divisor=TEN_THOUSAND,
            horizontal=True,
        ),
        "farming": share_chart(
            title=_("Households in husbandry and planting"),
            labels=[str(row.label) for row in figures.by_farming],
            values=[row.figures.households for row in figures.by_farming],
            width=RING_WIDTH,
        ),
        "categories": share_chart(
            title=_("Households by category"),
            labels=[str(row.label) for row in category_rows],
            values=[row.figures.households for row in category_rows],
            width=RING_WIDTH,
        ),
    }


# --- What the file was generated from ----------------------------------------------


def _scope(report: Report) -> str:
    if report.office_id:
        return _("every county under %(office)s") % {"office": report.office.name}
    if report.township_id:
        return report.township.name
    return _("%(county)s, whole county") % {"county": report.county.name}


def _requester(report: Report) -> str:
    user = report.requested_by
    name = user.get_full_name()
    return "%s (%s)" % (name, user.get_username()) if name else user.get_username()


def generated_from(report: Report) -> str:
    """The line under the title: programme, as-of date, scope, who asked
    and when (in the active language). The county report's and the
    office's consolidated report's alike."""
    return _(
        "Generated from: %(programme)s, as of %(as_of)s, %(scope)s; "
        "requested by %(user)s on %(requested_at)s."
    ) % {
        "programme": report.programme or _("all programmes"),
        "as_of": date_filter(report.as_of, "DATE_FORMAT"),
        "scope": _scope(report),
        "user": _requester(report),
        "requested_at": date_filter(timezone.localtime(report.requested_at), "DATETIME_FORMAT"),
    }


def report_title(programme: Programme, county: Division, township: Division | None = None) -> str:
    """The title: 墨江哈尼族自治县振兴贷工作情况统计表, with the township
    after the county's name on a township's report."""
    region = county.name
    if township is not None:
        region += township.name
    return _("%(region)s %(programme)s programme statistics") % {
        "region": region,
        "programme": programme.name,
    }


# --- PDF ---------------------------------------------------------------------------


def _shown(figures: Figures) -> dict:
    """The figures as printed: counts with thousands separators, yuan with
    two places; from the Decimals, never through a float."""
    return {
        "households": f"{figures.households:,}",
        "loans": f"{figures.loans:,}",
        "principal": yuan(figures.principal),
        "balance": yuan(figures.balance),
        "interest_paid": yuan(figures.interest_paid),
        "subsidy_due": yuan(figures.subsidy_due),
        "subsidy_paid": yuan(figures.subsidy_paid),
        "driven_households": f"{figures.driven_households:,}",
    }


def _shown_rows(rows: tuple[Row, ...]) -> list[dict]:
    """The rows as printed; the first row of each group (an industry's
    sector) carries how many rows the group spans."""
    shown = [_shown_row(row) for row in rows]
    first = None
    for row in shown:
        if first is None or row["group"] != first["group"]:
            first = row
        first["group_span"] += 1
    return shown


def _shown_row(row: Row) -> dict:
    return {
        "label": row.label,
        "group": row.group,
        "group_span": 0,
        "subtotal": row.subtotal,
        "household_share": row.household_share,
        "principal_share": row.principal_share,
        **_shown(row.figures),
    }


def _report_fund(report: Report) -> FundSection | None:
    """A township's report leaves the county's fund out."""
    if report.township_id is not None:
        return None
    return fund_section(report.programme, report.as_of, county=report.county)


def county_pdf(report: Report, progress: Progress) -> Built:
    progress(5, _("Adding up the figures"))
    figures = county_figures(report.programme, report.as_of, report.township, county=report.county)
    fund = _report_fund(report)
    progress(40, _("Drawing the charts"))
    with translation.override(PRINT_LANGUAGE):
        charts = county_charts(figures)
        context = {
            "title": report_title(report.programme, report.county, report.township),
            "generated_from": generated_from(report),
            "as_of": report.as_of,
            "scope": _scope(report),
            "total": _shown(figures.total),
            "tables": [
                {
                    "title": _("2. By township"),
                    "heading": _("Township"),
                    "rows": [_shown_row(row) for row in figures.by_township],
                    # One bar pair says nothing on a township's report.
                    "chart": charts["townships"] if report.township_id is None else None,
                },
                {
                    "title": _("3. By borrower category"),
                    "heading": _("Borrower category"),
                    "shares": True,
                    "rows": [_shown_row(row) for row in figures.by_category],
                    "chart": charts["categories"],
                    "chart_class": "ring",
                },
                {
                    "title": _("4. By industry"),
                    "heading": _("Industry"),
                    "group_heading": _("Sector"),
                    "rows": _shown_rows(figures.by_industry),
                },
            ],
            "farming_title": _("5. Husbandry and planting"),
            "by_farming": [_shown_row(row) for row in figures.by_farming],
            "farming_chart": charts["farming"],
            "fund_title": _("6. The risk-compensation fund"),
            "fund": _fund_shown(fund),
        }
    progress(60, _("Rendering the PDF"))
    content = render_pdf("reports/county.html", context)
    progress(100, _("Done"))
    return Built(content=content, row_count=figures.total.loans)


# --- xlsx --------------------------------------------------------------------------

MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
SHARE_FORMAT = "0.0"
HEADER_FILL = PatternFill("solid", fgColor="E6F2EC")
TOTAL_BORDER = Border(top=Side(style="thin", color="333333"))
# Rows above a table: the title, what it was generated from, a blank row.
TABLE_FIRST_ROW = 4


def _figure_columns() -> list[tuple[str, str, str, int]]:
    """(heading, Figures attribute, number format, width) of the figures."""
    return [
        (_("Borrowing households"), "households", COUNT_FORMAT, 10),
        (_("Number of loans"), "loans", COUNT_FORMAT, 9),
        (_("Principal disbursed (yuan)"), "principal", MONEY_FORMAT, 17),
        (_("Balance outstanding (yuan)"), "balance", MONEY_FORMAT, 17),
        (_("Interest paid by borrowers (yuan)"), "interest_paid", MONEY_FORMAT, 16),
        (_("Interest subsidy due (yuan)"), "subsidy_due", MONEY_FORMAT, 15),
        (_("Interest subsidy paid (yuan)"), "subsidy_paid", MONEY_FORMAT, 15),
        (_("Number of driven households"), "driven_households", COUNT_FORMAT, 11),
    ]


def sheet_heading(sheet, heading: tuple[str, str], width: int) -> None:
    """The title and what the file was generated from, above the table."""
    title, note = heading
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([note])
    sheet["A2"].font = Font(size=9, color="555555")
    sheet.append([])
    for row in (1, 2):
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)


def style_header(sheet) -> None:
    for cell in sheet[TABLE_FIRST_ROW]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    sheet.row_dimensions[TABLE_FIRST_ROW].height = 30


def summary_workbook(title: str, heading: tuple[str, str], figures, *, label_width: int):
    """A workbook whose first sheet is the totals, one figure a row
    (``figures``: name, value, number format) under the heading."""
    book = Workbook()
    book.properties.title = title
    sheet = book.active
    sheet.title = _("Summary")
    sheet_heading(sheet, heading, 2)
    sheet.append([_("Figure"), _("Value")])
    style_header(sheet)
    for name, value, number_format in figures:
        sheet.append([name, value])
        sheet.cell(row=sheet.max_row, column=2).number_format = number_format
    sheet.column_dimensions["A"].width = label_width
    sheet.column_dimensions["B"].width = 20
    sheet.freeze_panes = "A%d" % (TABLE_FIRST_ROW + 1)
    return book


def _table_sheet(
    book,
    name: str,
    heading: tuple[str, str],
    label_headings: list[str],
    rows: tuple[Row, ...],
    total: Figures,
) -> None:
    """A sheet of one table: the heading rows, a header, a row per Row (a
    subtotal in italics), the total row; header and labels frozen."""
    sheet = book.create_sheet(name)
    figure_columns = _figure_columns()
    share_columns = [
        (_("Share of households (%)"), "household_share"),
        (_("Share of principal (%)"), "principal_share"),
    ]
    sheet_heading(sheet, heading, len(label_headings) + len(figure_columns) + len(share_columns))
    sheet.append(label_headings + [c[0] for c in figure_columns] + [c[0] for c in share_columns])
    style_header(sheet)
    formats = (
        [None] * len(label_headings)
        + [number_format for _h, _a, number_format, _w in figure_columns]
        + [SHARE_FORMAT] * len(share_columns)
    )

    def append(labels: list[str], figures: Figures, row: Row | None, font: Font) -> None:
        sheet.append(
            [str(label) for label in labels]
            + [getattr(figures, attribute) for _h, attribute, _f, _w in figure_columns]
            + [getattr(row, attribute) if row else None for _h, attribute in share_columns]
        )
        for cell, number_format in zip(sheet[sheet.max_row], formats, strict=True):
            if number_format:
                cell.number_format = number_format
            else:
                # A name starting with "=" is text, not a formula.
                cell.data_type = "s"
            cell.font = font

    for row in rows:
        labels = [row.group, row.label] if len(label_headings) == 2 else [row.label]
        append(labels, row.figures, row, Font(italic=row.subtotal))
    append([_("Total")] + [""] * (len(label_headings) - 1), total, None, Font(bold=True))
    for cell in sheet[sheet.max_row]:
        cell.border = TOTAL_BORDER
    widths = [12] * (len(label_headings) - 1) + [22]
    widths += [width for _h, _a, _f, width in figure_columns] + [11] * len(share_columns)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = sheet.cell(row=TABLE_FIRST_ROW + 1, column=len(label_headings) + 1)


def _fund_sheet(book, heading: tuple[str, str], fund: FundSection) -> None:
    """The fund's figures, one a row: yuan as numbers, rates as fractions."""
    sheet = book.create_sheet(_("Risk-compensation fund"))
    sheet_heading(sheet, heading, 2)
    sheet.append([_("Figure"), fund.name])
    style_header(sheet)
    formats = {MONEY: MONEY_FORMAT, COUNT: COUNT_FORMAT, RATE: "0.00%"}
    for label, value, kind in fund.rows:
        sheet.append([label, value])
        sheet.cell(row=sheet.max_row, column=2).number_format = formats[kind]
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 22
    sheet.freeze_panes = "A%d" % (TABLE_FIRST_ROW + 1)


def county_xlsx(report: Report, progress: Progress) -> Built:
    """The workbook: the totals, then one sheet per table, each with what
    it was generated from above a frozen header, and a total row."""
    progress(5, _("Adding up the figures"))
    figures = county_figures(report.programme, report.as_of, report.township, county=report.county)
    fund = _report_fund(report)
    progress(60, _("Writing the spreadsheet"))
    with translation.override(PRINT_LANGUAGE):
        title = report_title(report.programme, report.county, report.township)
        heading = (title, generated_from(report))
        summary = [
            (name, getattr(figures.total, attribute), number_format)
            for name, attribute, number_format, _width in _figure_columns()
        ]
        book = summary_workbook(title, heading, summary, label_width=28)

        total = figures.total
        _table_sheet(book, _("By township"), heading, [_("Township")], figures.by_township, total)
        categories = [_("Borrower category")]
        _table_sheet(book, _("By category"), heading, categories, figures.by_category, total)
        industries = [_("Sector"), _("Industry")]
        _table_sheet(book, _("By industry"), heading, industries, figures.by_industry, total)
        farming = [_("Husbandry or planting")]
        _table_sheet(book, _("Husbandry and planting"), heading, farming, figures.by_farming, total)
        if fund is not None:
            _fund_sheet(book, heading, fund)
        output = io.BytesIO()
        book.save(output)
    progress(100, _("Done"))
    return Built(content=output.getvalue(), row_count=figures.total.loans)
