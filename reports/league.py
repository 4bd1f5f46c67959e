"""The league table of an office above the county (DOMAIN.md section 7): the
counties under a city or province side by side, one row each.

The loan figures are the dashboard's own sums (``dashboard.loan_aggregates``)
grouped by county, so a county's row is what its own dashboard shows; the
subsidy figures are those of the lines of its runs that stand (computed,
submitted, approved or paid), every year over by the table's day, the paid
ones those recorded paid by then; the driven households those led by the
borrowers (or the enterprises behind them) of the loans counted, as the
county report counts them. Four queries whatever the number of counties or
loans; nothing here writes.

The table stands at the end of a day: today on the page, any earlier day in
the consolidated report (``reports.consolidated``), which adds its rows up
by programme and borrower category from the same querysets
(``counted_loans``, ``standing_lines``, ``line_aggregates``). A subsidy year
cannot be computed before it is over nor a payment recorded for a day to
come, so on today's page the day's conditions leave out nothing.
"""

import datetime
from dataclasses import dataclass, fields
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from accounts.roles import counties_of
from beneficiaries.models import DrivenHousehold
from common.money import round_fen
from divisions.models import Division
from loans.models import Loan, Programme
from subsidies.models import SubsidyLine
from subsidies.runs.selectors import EXCEPTION_Q

from .dashboard import RUNS_WITH_LINES, loan_aggregates

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class CountyRow:
    county: Division
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
    driven_households: int

    @property
    def overdue_rate(self) -> Decimal | None:
        """The overdue loans' balance as a percentage of the balance, to two
        places half-up; None where nothing is owed."""
        if not self.balance:
            return None
        return round_fen(self.overdue_balance * HUNDRED / self.balance)


# The columns a reader may sort by, in the table's order: (key, heading).
COLUMNS: tuple[tuple[str, object], ...] = (
    ("county", _("County")),
    ("households", _("Borrowing households")),
    ("loans", _("Loans")),
    ("principal", _("Principal disbursed (yuan)")),
    ("balance", _("Balance (yuan)")),
    ("overdue_loans", _("Number of overdue loans")),
    ("overdue_rate", _("Overdue rate (%)")),
    ("interest_paid", _("Interest posted (yuan)")),
    ("subsidy_due", _("Subsidy due (yuan)")),
    ("subsidy_paid", _("Subsidy paid (yuan)")),
    ("exceptions", _("Reconciliation exceptions")),
    ("driven_households", _("Driven households")),
)
SORT_KEYS = {key for key, _heading in COLUMNS}


def _money(value) -> Decimal:
    # SQLite sums come back with other scales: every figure to the fen.
    return round_fen(Decimal(value or 0))


def league_programmes(*, user) -> list[Programme]:
    """The programmes any of the user's counties lent under, newest first:
    the choices of the table's programme filter."""
    lent = Loan.objects.for_user(user).values("programme")
    return list(Programme.objects.filter(pk__in=lent).order_by("-year", "name", "region_code"))


def counted_loans(*, user, today: datetime.date, programme: Programme | None = None):
    """The loans the table counts: the user's counties', disbursed by the
    end of ``today``, of one programme or of all."""
    loans = Loan.objects.for_user(user).filter(disbursed_on__lte=today).order_by()
    return loans if programme is None else loans.filter(programme=programme)


def years_over(today: datetime.date, *, run: str = "run__") -> Q:
    """The runs (the lookup ``run`` to them) whose subsidy year is over by
    the end of ``today``, whichever subsidy year their programme keeps
    (``Programme.subsidy_year_bounds``: to 20 December, or to 31 December)."""
    calendar = Q(**{run + "programme__subsidy_year": Programme.SubsidyYear.CALENDAR})
    ended = {
        # The last year over for each kind of subsidy year.
        False: today.year if today >= datetime.date(today.year, 12, 20) else today.year - 1,
        True: today.year if today >= datetime.date(today.year, 12, 31) else today.year - 1,
    }
    return (calendar & Q(**{run + "year__lte": ended[True]})) | (
        ~calendar & Q(**{run + "year__lte": ended[False]})
    )


def standing_lines(*, user, today: datetime.date, programme: Programme | None = None):
    """The subsidy lines the table counts: the user's counties', of runs
    that stand and whose year is over by the end of ``today``."""
    lines = (
        SubsidyLine.objects.for_user(user)
        .filter(run__state__in=RUNS_WITH_LINES)
        .filter(years_over(today))
        .order_by()
    )
    return lines if programme is None else lines.filter(run__programme=programme)


def line_aggregates(today: datetime.date) -> dict:
    """The subsidy sums of a row: due, paid (recorded paid by the end of
    ``today``) and the lines that do not reconcile."""
    paid = Q(payment=SubsidyLine.Payment.PAID, paid_on__lte=today)
    return {
        "due": Sum("amount_due"),
        "paid": Sum("amount_due", filter=paid),
        "exceptions": Count("pk", filter=EXCEPTION_Q),
    }


def row_figures(loans: dict, lines: dict) -> dict:
    """A row's figures from one group of ``dashboard.loan_aggregates`` and
    one of ``line_aggregates`` (an empty dict for a group with none), each
    sum to the fen: the league's rows and the consolidated report's."""
    return {
        "households": loans.get("n_households", 0),
        "loans": loans.get("n_loans", 0),
        "principal": _money(loans.get("n_principal")),
        "balance": _money(loans.get("n_balance")),
        "overdue_loans": loans.get("n_overdue_loans", 0),
        "overdue_balance": _money(loans.get("n_overdue_balance")),
        "interest_paid": _money(loans.get("n_interest_paid")),
        "subsidy_due": _money(lines.get("due")),
        "subsidy_paid": _money(lines.get("paid")),
        "exceptions": lines.get("exceptions", 0),
    }


def county_league(
    *, user, today: datetime.date, programme: Programme | None = None
) -> list[CountyRow]:
    """One row per county in the user's scope (counties with no loans too),
    in the order of their codes; of one programme, or of all."""
    counties = list(Division.objects.filter(pk__in=counties_of(user)).order_by("code"))
    loans = counted_loans(user=user, today=today, programme=programme)
    lines = standing_lines(user=user, today=today, programme=programme)

    by_loans = {
        row["county"]: row for row in loans.values("county").annotate(**loan_aggregates(today))
    }
    by_lines = {
        row["county"]: row for row in lines.values("county").annotate(**line_aggregates(today))
    }
    driven = dict(
        DrivenHousehold.objects.for_user(user)
        .filter(
            Q(borrower__in=loans.values("application__borrower"))
            | Q(enterprise__in=loans.values("application__borrower__enterprise"))
            | Q(enterprise__in=loans.values("application__enterprise"))
        )
        .order_by()
        .values("county")
        .annotate(n=Count("household", distinct=True))
        .values_list("county", "n")
    )
    rows = []
    for county in counties:
        loan = by_loans.get(county.pk, {})
        line = by_lines.get(county.pk, {})
        rows.append(
            CountyRow(
                county=county,
                driven_households=driven.get(county.pk, 0),
                **row_figures(loan, line),
            )
        )
    return rows


def league_total(rows: list[CountyRow], county: Division) -> CountyRow:
    """The table's last row: every figure summed over the counties (the
    households too: a household borrows in one county only)."""
    sums = {
        field.name: sum(getattr(row, field.name) for row in rows)
        for field in fields(CountyRow)
        if field.name != "county"
    }
    return CountyRow(county=county, **sums)


def sorted_rows(rows: list[CountyRow], key: str, descending: bool) -> list[CountyRow]:
    """The rows by one column (a county's code for ``county``); rows with no
    figure (an overdue rate where nothing is owed) last either way."""
    if key not in SORT_KEYS:
        key, descending = "county", False
    if key == "county":
        return sorted(rows, key=lambda row: row.county.code, reverse=descending)
    present = [row for row in rows if getattr(row, key) is not None]
    missing = [row for row in rows if getattr(row, key) is None]
    present.sort(key=lambda row: (getattr(row, key), row.county.code), reverse=descending)
    return present + missing
