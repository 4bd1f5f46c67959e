"""What the home page's dashboard reads: a programme's state at a glance
(applications by state, principal disbursed by month, balance, overdue
loans, the subsidy by township and the latest run) and the finance bureau's
runs awaiting approval or payment.

Every figure is summed in the database, so the number of queries does not
grow with the number of loans. Every selector takes the user and confines
itself with ``for_user``: a township officer's figures are those of their
own township only, and the subsidy is then shown by village, never by
township. None of these functions writes.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.db.models.lookups import GreaterThan

from accounts.roles import TOWNSHIP_BOUND_ROLES, role_of
from common.money import ZERO, round_fen
from divisions.models import Division
from loans.ledger.selectors import ledger_total
from loans.models import Application, LedgerEntry, Loan, Programme
from riskfund import selectors as fund_selectors
from riskfund.models import Fund
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.runs.selectors import run_has_results, run_totals

RunState = SubsidyRun.State
Payment = SubsidyLine.Payment

# Runs whose lines stand (as on the borrower page): a draft or computing
# run's lines are being replaced, a failed one's may be incomplete.
RUNS_WITH_LINES = (RunState.COMPUTED, RunState.SUBMITTED, RunState.APPROVED, RunState.PAID)
# Lines of an approved run the bank has not paid yet.
UNPAID = (Payment.PENDING, Payment.ISSUED, Payment.FAILED)

MONEY = DecimalField(max_digits=16, decimal_places=2)


def _money(value) -> Decimal:
    # SQLite sums come back with other scales: every figure to the fen.
    return round_fen(Decimal(value or 0))


def is_township_bound(user) -> bool:
    return role_of(user) in TOWNSHIP_BOUND_ROLES


# --- The programme ------------------------------------------------------------


def dashboard_programmes(*, user) -> list[Programme]:
    """The programmes run in the user's county (or counties), newest year
    first, each marked ``has_applications`` (in the user's scope): the
    choices of the dashboard's programme select."""
    applied = Application.objects.for_user(user).filter(programme=OuterRef("pk"))
    return list(
        Programme.objects.for_user(user)
        .annotate(has_applications=Exists(applied))
        .order_by("-year", "name", "region_code")
    )


def default_programme(programmes: list[Programme]) -> Programme | None:
    """The latest active programme that has applications; else the latest
    active one; else the latest. Next year's programme is often set up (and
    active) before anyone applies: its empty dashboard would say nothing."""
    active = [programme for programme in programmes if programme.is_active]
    with_applications = [programme for programme in active if programme.has_applications]
    for candidates in (with_applications, active, programmes):
        if candidates:
            return candidates[0]
    return None


def chosen_programme(programmes: list[Programme], wanted: str | None) -> Programme | None:
    """The programme named by the ``?programme=`` parameter, else the default."""
    for programme in programmes:
        if wanted and str(programme.pk) == wanted:
            return programme
    return default_programme(programmes)


# --- Applications and loans -------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class MonthFigure:
    month: datetime.date  # the first of the month
    loans: int
    principal: Decimal


@dataclass(frozen=True)
class LoanFigures:
    """The programme's loans in the user's scope as of the end of ``today``.

    ``balance`` is principal less the principal repayments in force, summed
    over every loan disbursed by then (``loan_position`` loan by loan);
    overdue loans are those ``loans.selectors.loan_status`` calls overdue:
    past maturity with principal left and not written off.
    """

    today: datetime.date
    households: int
    loans: int
    principal: Decimal
    balance: Decimal
    interest_paid: Decimal
    overdue_loans: int
    overdue_balance: Decimal
    by_month: list[MonthFigure]


def applications_by_state(*, user, programme: Programme) -> list[StateCount]:
    """The programme's applications in the user's scope, counted by state,
    every state listed in the order of the workflow (zero where none)."""
    counts = dict(
        Application.objects.for_user(user)
        .filter(programme=programme)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return [
        StateCount(state=state, label=str(label), count=counts.get(state, 0))
        for state, label in Application.State.choices
    ]


def loan_aggregates(today: datetime.date) -> dict:
    """The sums behind ``LoanFigures``, as aggregates of a queryset of loans
    disbursed by ``today``: ``aggregate(**...)`` for one scope, or
    ``values("county").annotate(**...)`` for each county of an office's
    league table (``reports.league``), the same expressions for both."""
    balance = ExpressionWrapper(
        F("principal") - ledger_total(LedgerEntry.Kind.PRINCIPAL, today), output_field=MONEY
    )
    # loans.selectors.loan_status: past maturity, principal left, not written off.
    overdue = (
        Q(maturity_on__lt=today)
        & (Q(written_off_on__isnull=True) | Q(written_off_on__gt=today))
        & GreaterThan(balance, 0)
    )
    # The aliases are not field names: Django would take "principal" in a
    # later aggregate for this one.
    return {
        "n_households": Count("application__household", distinct=True),
        "n_loans": Count("pk"),
        "n_principal": Sum("principal"),
        "n_balance": Sum(balance),
        "n_interest_paid": Sum(ledger_total(LedgerEntry.Kind.INTEREST, today)),
        "n_overdue_loans": Count("pk", filter=overdue),
        "n_overdue_balance": Sum(balance, filter=overdue),
    }


def loan_figures(*, user, programme: Programme, today: datetime.date) -> LoanFigures:
    """Households, loans, principal, balance, interest paid and overdue
    loans of the programme in the user's scope (one query), with the
    principal disbursed by month (another)."""
    loans = Loan.objects.for_user(user).filter(programme=programme, disbursed_on__lte=today)
    totals = loans.aggregate(**loan_aggregates(today))
    monthly = (
        loans.order_by()
        .annotate(month=TruncMonth("disbursed_on"))
        .values("month")
        .annotate(n=Count("pk"), principal=Sum("principal"))
        .order_by("month")
    )
    return LoanFigures(
        today=today,
        households=totals["n_households"],
        loans=totals["n_loans"],
        principal=_money(totals["n_principal"]),
        balance=_money(totals["n_balance"]),
        interest_paid=_money(totals["n_interest_paid"]),
        overdue_loans=totals["n_overdue_loans"],
        overdue_balance=_money(totals["n_overdue_balance"]),
        by_month=_every_month(
            [
                MonthFigure(_first_of(row["month"]), row["n"], _money(row["principal"]))
                for row in monthly
            ]
        ),
    )


def _first_of(month) -> datetime.date:
    # TruncMonth gives a date on PostgreSQL and SQLite alike, but be plain about it.
    if isinstance(month, datetime.datetime):
        month = month.date()
    return month.replace(day=1)


def _every_month(figures: list[MonthFigure]) -> list[MonthFigure]:
    """The months from the first disbursement to the last, with the months
    nothing was disbursed in as zero, so that the chart's columns are even."""
    if not figures:
        return []
    by_month = {figure.month: figure for figure in figures}
    result = []
    month = figures[0].month
    while month <= figures[-1].month:
        result.append(by_month.get(month, MonthFigure(month, 0, ZERO)))
        month = (month + datetime.timedelta(days=31)).replace(day=1)
    return result


# --- The subsidy ----------------------------------------------------------------


@dataclass(frozen=True)
class AreaFigure:
    """A township's (or, for a township officer, a village's) lines of a run."""

    name: str
    lines: int
    amount_due: Decimal


@dataclass(frozen=True)
class SubsidyFigures:
    """The programme's latest run (any state but cancelled), for its card,
    and the latest run whose lines stand, for the chart by area."""

    latest: SubsidyRun | None
    latest_lines: int
    latest_due: Decimal
    shown: SubsidyRun | None  # the run the chart and the headline figure are of
    by_area: list[AreaFigure]
    area_is_village: bool

    @property
    def due(self) -> Decimal:
        return sum((area.amount_due for area in self.by_area), ZERO)


def subsidy_figures(*, user, programme: Programme) -> SubsidyFigures:
    """The programme's latest run and the amount due of the latest run with
    standing lines, by township; by village for a township officer, whose
    lines are those of their township alone."""
    runs = list(
        SubsidyRun.objects.for_user(user)
        .filter(programme=programme)
        .exclude(state=RunState.CANCELLED)
        .select_related("programme")
        .order_by("-year", "-pk")
    )
    latest = runs[0] if runs else None
    shown = next((run for run in runs if run.state in RUNS_WITH_LINES), None)
    by_area = _due_by_area(user=user, run=shown) if shown else []
    if latest is None or not run_has_results(latest):
        latest_lines, latest_due = 0, ZERO
    elif latest == shown and is_township_bound(user):
        latest_lines = sum(area.lines for area in by_area)
        latest_due = sum((area.amount_due for area in by_area), ZERO)
    else:
        # The county-wide roles see the totals the run stored; a township
        # officer the sums of their own lines.
        totals = run_totals(run=latest, user=user)
        latest_lines, latest_due = totals.line_count, totals.due
    return SubsidyFigures(
        latest=latest,
        latest_lines=latest_lines,
        latest_due=latest_due,
        shown=shown,
        by_area=by_area,
        area_is_village=is_township_bound(user),
    )


def _due_by_area(*, user, run: SubsidyRun) -> list[AreaFigure]:
    lines = SubsidyLine.objects.for_user(user).filter(run=run).order_by()
    if is_township_bound(user):
        application = "loan__application__"
        rows = (
            lines.annotate(
                area_code=Coalesce(
                    application + "household__village_group__parent__code",
                    application + "enterprise__village__code",
                ),
                area_name=Coalesce(
                    application + "household__village_group__parent__name",
                    application + "enterprise__village__name",
                ),
            )
            .values("area_code", "area_name")
            .annotate(n=Count("pk"), due=Sum("amount_due"))
            .order_by("area_code")
        )
    else:
        rows = (
            lines.values(area_code=F("township__code"), area_name=F("township__name"))
            .annotate(n=Count("pk"), due=Sum("amount_due"))
            .order_by("area_code")
        )
    return [
        AreaFigure(name=row["area_name"] or "—", lines=row["n"], amount_due=_money(row["due"]))
        for row in rows
    ]


# --- The finance bureau's runs ---------------------------------------------------------


@dataclass(frozen=True)
class PayoutFigures:
    """An approved run and what of it the bank has not paid yet."""

    run: SubsidyRun
    unpaid_lines: int
    unpaid_amount: Decimal
    issued_lines: int
    failed_lines: int
    paid_amount: Decimal


def runs_awaiting_approval(user) -> list[SubsidyRun]:
    """Runs the county submitted, oldest submission first, with their stored totals."""
    return list(
        SubsidyRun.objects.for_user(user)
        .filter(state=RunState.SUBMITTED)
        .select_related("programme", "submitted_by")
        .order_by("submitted_at", "pk")
    )


def runs_awaiting_payment(user) -> list[PayoutFigures]:
    """Approved runs (a run becomes paid when its last line is) with the
    lines not paid yet: never issued, issued to the bank, or failed."""
    unpaid = Q(lines__payment__in=UNPAID)
    runs = (
        SubsidyRun.objects.for_user(user)
        .filter(state=RunState.APPROVED)
        .select_related("programme", "approved_by")
        .annotate(
            unpaid_lines=Count("lines", filter=unpaid),
            unpaid_amount=Sum("lines__amount_due", filter=unpaid),
            issued_lines=Count("lines", filter=Q(lines__payment=Payment.ISSUED)),
            failed_lines=Count("lines", filter=Q(lines__payment=Payment.FAILED)),
            paid_amount=Sum("lines__amount_due", filter=Q(lines__payment=Payment.PAID)),
        )
        .order_by("approved_at", "pk")
    )
    return [
        PayoutFigures(
            run=run,
            unpaid_lines=run.unpaid_lines,
            unpaid_amount=_money(run.unpaid_amount),
            issued_lines=run.issued_lines,
            failed_lines=run.failed_lines,
            paid_amount=_money(run.paid_amount),
        )
        for run in runs
    ]


# --- The risk-compensation fund ------------------------------------------------


def fund_standing(*, user, programme: Programme, today: datetime.date):
    """The standing of the fund that covers ``programme`` in the user's
    county (its own, else its city's), or None: no fund, or a user who may
    not see funds (a township officer)."""
    if not user.has_perm("riskfund.view_fund"):
        return None
    fund = (
        Fund.objects.for_user(user)
        .filter(programmes=programme)
        .select_related("region")
        # The county's own fund before its city's.
        .order_by(Case(When(region__level=Division.Level.COUNTY, then=0), default=1), "pk")
        .first()
    )
    return None if fund is None else fund_selectors.standing(fund, on=today)
