"""Reads of loans for the loan pages: the list with its ledger totals, and a
loan's statement (the expected settlement schedule beside the posted ledger,
repayments and balance history).

Every selector takes the user, or a loan already fetched for them, and
confines itself with ``for_user``; none of them writes. Balance and status
rules stay in ``loans.selectors`` and ``loans.interest``: the list repeats
the balance sum in SQL only so that a page of loans is one query, and a
test holds it equal to ``loan_position``.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from accounts.roles import TOWNSHIP_BOUND_ROLES, role_of
from accounts.scoping import divisions_for
from common.money import ZERO, round_fen
from divisions.models import Division
from loans.models import Application, LedgerEntry, Loan, Programme

from .interest import (
    SETTLEMENT_DAY,
    SETTLEMENT_MONTHS,
    Period,
    accrued,
    expected_schedule,
)
from .interest import payoff_date as interest_payoff_date
from .position import LoanPosition, loan_balance_history, loan_position, loan_repayments

MONEY = DecimalField(max_digits=14, decimal_places=2)

# The loan statuses in the words of the loan pages. Loan.Status.ACTIVE's
# label "Active" is also the msgid of a programme's on/off switch (启用), so
# a performing loan needs a msgid of its own.
STATUS_LABELS = {
    Loan.Status.ACTIVE: _("Performing"),
    Loan.Status.OVERDUE: Loan.Status.OVERDUE.label,
    Loan.Status.REPAID: Loan.Status.REPAID.label,
    Loan.Status.WRITTEN_OFF: Loan.Status.WRITTEN_OFF.label,
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS[Loan.Status(status)])


# --- The list ---------------------------------------------------------------


def unreversed():
    """A ledger entry no reversal points at (in a filter of LedgerEntry):
    ``reversed_by__isnull=True`` joins the ledger to itself by id alone,
    this names the county too (README, "Distributing by county")."""
    return ~Exists(LedgerEntry.objects.filter(county=OuterRef("county"), reverses=OuterRef("pk")))


def ledger_total(kind: str, on: datetime.date | None):
    """Sum of the loan's effective entries of ``kind`` paid by ``on`` (all
    of them for None), as a correlated subquery: one query for a whole page,
    whatever its size. It names the loan's county as well as the loan, so
    that it stays within one county's rows."""
    entries = LedgerEntry.objects.filter(
        unreversed(), county=OuterRef("county"), loan=OuterRef("pk"), kind=kind
    )
    if on is not None:
        entries = entries.filter(paid_on__lte=on)
    totals = entries.order_by().values("loan").annotate(total=Sum("amount")).values("total")
    return Coalesce(Subquery(totals, output_field=MONEY), Value(ZERO), output_field=MONEY)


def with_ledger_totals(queryset: QuerySet, *, on: datetime.date) -> QuerySet:
    """Annotate ``balance``, ``principal_repaid`` and ``interest_paid`` as of
    the end of day ``on``, the figures ``loan_position`` gives one loan at a
    time."""
    return queryset.annotate(
        principal_repaid=ledger_total(LedgerEntry.Kind.PRINCIPAL, on),
        interest_paid=ledger_total(LedgerEntry.Kind.INTEREST, on),
    ).annotate(balance=F("principal") - F("principal_repaid"))


class LoanFilter(django_filters.FilterSet):
    """GET parameters of the loan list: q, status, programme, township
    (``page`` is the paginator's). Narrows the queryset it is given and never
    widens it; a township officer is not offered a township filter at all."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        widget=forms.TextInput(
            attrs={"placeholder": _("Contract number, borrower or enterprise name")}
        ),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Loan.Status.choices, empty_label=_("All statuses")
    )
    programme = django_filters.ModelChoiceFilter(
        label=_("Programme"), queryset=Programme.objects.none(), empty_label=_("All programmes")
    )
    township = django_filters.ModelChoiceFilter(
        label=_("Township"), queryset=Division.objects.none(), empty_label=_("All townships")
    )

    def __init__(self, data=None, queryset=None, *, user, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["programme"].queryset = Programme.objects.for_user(user).order_by(
            "-year", "name"
        )
        if role_of(user) in TOWNSHIP_BOUND_ROLES:
            # The list is already confined to the officer's township.
            del self.filters["township"]
        else:
            self.filters["township"].queryset = divisions_for(user).townships().order_by("code")

    def search(self, queryset, name, value):
        """Contract number, borrower name or enterprise name (contains)."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(contract_no__icontains=value)
            | Q(application__borrower__name__icontains=value)
            | Q(application__enterprise__name__icontains=value)
        )


@dataclass(frozen=True)
class StatusCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class LoanList:
    filter: LoanFilter
    # Counts per status under every filter but the status itself, so that
    # each status tab says how many loans it would show.
    status_counts: list[StatusCount]
    total: int


def loan_list(*, user, params, today: datetime.date) -> LoanList:
    """The loans ``user`` may see, narrowed by the list's GET ``params`` and
    annotated with balance, principal repaid and interest paid as of
    ``today``. ``filter.qs`` is ready to paginate: every column shown is
    joined or annotated in, so a page is one query whatever its size."""
    scoped = Loan.objects.for_user(user)
    rows = with_ledger_totals(
        scoped.select_related(
            "coop",
            "programme",
            "township",
            "application__borrower",
            "application__enterprise__village",
            "application__household__village_group__parent",
        ),
        on=today,
    )
    filterset = LoanFilter(params, rows, user=user)
    without_status = params.copy()
    without_status.pop("status", None)
    counting = LoanFilter(without_status, scoped, user=user)
    by_status = dict(
        counting.qs.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    counts = [
        StatusCount(value=value, label=status_label(value), count=by_status.get(value, 0))
        for value in Loan.Status.values
    ]
    return LoanList(filter=filterset, status_counts=counts, total=sum(by_status.values()))


def released_without_loan(*, user) -> QuerySet:
    """Applications released to the co-op that have no contract yet, in the
    user's scope: what a contract can be created for."""
    return (
        Application.objects.for_user(user)
        .filter(state=Application.State.RELEASED, loan__isnull=True)
        .select_related("borrower", "enterprise", "programme", "township")
        .order_by("-released_at", "-pk")
    )


# --- One loan ---------------------------------------------------------------


def loan_for_detail(*, user, pk: int) -> Loan | None:
    """One loan with what its page shows beside it, or None when it does not
    exist or lies outside the user's township."""
    return (
        Loan.objects.for_user(user)
        .select_related(
            "coop",
            "programme",
            "township",
            "application__borrower",
            "application__enterprise__village",
            "application__household__village_group__parent",
        )
        .filter(pk=pk)
        .first()
    )


def is_settlement_day(day: datetime.date) -> bool:
    return day.month in SETTLEMENT_MONTHS and day.day == SETTLEMENT_DAY


@dataclass
class PostedInterest:
    """An interest entry as posted, set against what its days should earn."""

    entry: LedgerEntry
    expected: Decimal  # the interest of the entry's own days, rounded per settlement
    difference: Decimal  # posted minus expected
    beyond_tolerance: bool
    late: bool
    exact_period: bool  # posted for exactly the expected period
    reversal: LedgerEntry | None

    @property
    def is_reversed(self) -> bool:
        return self.reversal is not None


@dataclass
class ScheduleRow:
    """One expected settlement period and what the co-op posted for it."""

    period: Period
    due_on: datetime.date
    posted: list[PostedInterest] = field(default_factory=list)
    # "posted", "missing" (due and nothing in force), or "pending" (not due yet)
    state: str = "pending"

    @property
    def posted_amount(self) -> Decimal:
        return sum((p.entry.amount for p in self.posted if not p.is_reversed), ZERO)

    @property
    def line_count(self) -> int:
        """Lines the ledger side takes for this period: each entry, each
        reversal under its entry, and a line saying nothing is in force."""
        lines = sum(2 if p.is_reversed else 1 for p in self.posted)
        return lines + (0 if self.state == "posted" else 1)

    @property
    def continuation_lines(self) -> range:
        """The schedule side's empty rows under this period, one per extra
        ledger line, so that the two tables stay level row for row."""
        return range(self.line_count - 1)


@dataclass
class RepaymentLine:
    entry: LedgerEntry
    reversal: LedgerEntry | None


@dataclass
class BalanceStep:
    on: datetime.date
    change: Decimal  # negative for a repayment
    balance: Decimal
    is_disbursement: bool


@dataclass(frozen=True)
class StatusChangeLine:
    on: datetime.date
    from_status: str
    from_label: str
    to_status: str
    to_label: str


@dataclass
class LoanStatement:
    """Everything the loan page shows below the contract facts."""

    today: datetime.date
    position: LoanPosition
    ends_on: datetime.date  # the payoff date if repaid, else the maturity
    payoff_date: datetime.date | None
    schedule: list[ScheduleRow]
    unmatched: list[PostedInterest]  # posted for days outside every expected period
    repayments: list[RepaymentLine]
    balance_history: list[BalanceStep]
    status_changes: list[StatusChangeLine]

    @property
    def expected_total(self) -> Decimal:
        return sum((row.period.interest for row in self.schedule), ZERO)

    @property
    def posted_total(self) -> Decimal:
        rows = [p for row in self.schedule for p in row.posted] + self.unmatched
        return sum((p.entry.amount for p in rows if not p.is_reversed), ZERO)

    @property
    def posted_difference(self) -> Decimal:
        """How far the entries in force are from what their days should earn."""
        rows = [p for row in self.schedule for p in row.posted] + self.unmatched
        return sum((p.difference for p in rows if not p.is_reversed), ZERO)

    @property
    def schedule_days(self) -> int:
        return sum(row.period.days for row in self.schedule)

    @property
    def due_expected_total(self) -> Decimal:
        """Expected interest of the periods due by today."""
        return sum((row.period.interest for row in self.schedule if row.due_on <= self.today), ZERO)

    @property
    def missing_count(self) -> int:
        return sum(1 for row in self.schedule if row.state == "missing")


def _overlap_days(start, end, other_start, other_end) -> int:
    return max(0, (min(end, other_end) - max(start, other_start)).days + 1)


def match_period(entry: LedgerEntry, periods: list[Period]) -> int | None:
    """Index of the expected period an interest entry covers: the one with
    the same start and end, else the one it overlaps most (the earliest on a
    tie), else None."""
    best, best_days = None, 0
    for index, period in enumerate(periods):
        if (period.start, period.end) == (entry.period_start, entry.period_end):
            return index
        days = _overlap_days(period.start, period.end, entry.period_start, entry.period_end)
        if days > best_days:
            best, best_days = index, days
    return best


def loan_statement(*, loan: Loan, today: datetime.date) -> LoanStatement:
    """The loan's expected settlements (quarterly on the 20th, DOMAIN.md
    section 5) matched with the interest the co-op posted, its principal
    repayments, balance history and recorded status changes, as of
    ``today``. Reads the ledger in one query (plus those of the selectors it
    reuses), so reversed entries are shown with the reversal that undid them.
    """
    programme = loan.programme
    entries = list(LedgerEntry.objects.filter(loan=loan).order_by("paid_on", "pk"))
    reversal_of = {e.reverses_id: e for e in entries if e.kind == LedgerEntry.Kind.REVERSAL}
    repayments = loan_repayments(loan)
    paid_off = interest_payoff_date(loan.principal, repayments)
    ends_on = paid_off or loan.maturity_on
    periods = expected_schedule(
        principal=loan.principal,
        rate=loan.annual_rate,
        basis=programme.day_count_basis,
        disbursed_on=loan.disbursed_on,
        ends_on=ends_on,
        repayments=repayments,
    )
    schedule = [
        # The closing period is settled with the principal, on the day the loan ends.
        ScheduleRow(period=p, due_on=p.end if is_settlement_day(p.end) else ends_on)
        for p in periods
    ]
    grace = datetime.timedelta(days=programme.grace_days)
    unmatched = []
    interest = [e for e in entries if e.kind == LedgerEntry.Kind.INTEREST]
    interest.sort(key=lambda e: (e.period_start, e.paid_on, e.pk))
    for entry in interest:
        expected = round_fen(
            accrued(
                loan.principal,
                loan.annual_rate,
                programme.day_count_basis,
                entry.period_start,
                entry.period_end,
                repayments,
            )
        )
        difference = entry.amount - expected
        index = match_period(entry, periods)
        posted = PostedInterest(
            entry=entry,
            expected=expected,
            difference=difference,
            beyond_tolerance=abs(difference) > programme.reconciliation_tolerance,
            late=entry.paid_on > entry.due_on + grace,
            exact_period=index is not None
            and (periods[index].start, periods[index].end)
            == (entry.period_start, entry.period_end),
            reversal=reversal_of.get(entry.pk),
        )
        if index is None:
            unmatched.append(posted)
        else:
            schedule[index].posted.append(posted)
    for row in schedule:
        if any(not p.is_reversed for p in row.posted):
            row.state = "posted"
        elif row.due_on <= today:
            row.state = "missing"
        else:
            row.state = "pending"
    return LoanStatement(
        today=today,
        position=loan_position(loan, on=today),
        ends_on=ends_on,
        payoff_date=paid_off,
        schedule=schedule,
        unmatched=unmatched,
        repayments=[
            RepaymentLine(entry=e, reversal=reversal_of.get(e.pk))
            for e in entries
            if e.kind == LedgerEntry.Kind.PRINCIPAL
        ],
        balance_history=_balance_steps(loan),
        status_changes=[
            StatusChangeLine(
                on=change.on,
                from_status=change.from_status,
                from_label=status_label(change.from_status),
                to_status=change.to_status,
                to_label=status_label(change.to_status),
            )
            for change in loan.status_changes.all()
        ],
    )


def _balance_steps(loan: Loan) -> list[BalanceStep]:
    steps = []
    previous = None
    for day, balance in loan_balance_history(loan):
        steps.append(
            BalanceStep(
                on=day,
                change=balance if previous is None else balance - previous,
                balance=balance,
                is_disbursement=previous is None,
            )
        )
        previous = balance
    return steps


# --- The balance chart ------------------------------------------------------


@dataclass(frozen=True)
class ChartLabel:
    x: str
    y: str
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class BalanceChart:
    """Geometry of a step chart of the balance, in the SVG's own units
    (``width`` × ``height``), for a template to draw without JavaScript."""

    width: int
    height: int
    path: str  # the step line
    area: str  # the same line closed down to zero, for a light fill
    points: list[tuple[str, str]]
    grid: list[str]  # y of the horizontal grid lines
    y_labels: list[ChartLabel]
    x_labels: list[ChartLabel]
    today_x: str | None
    maturity_x: str | None
    plot_left: str
    plot_right: str
    plot_top: str
    plot_bottom: str


CHART_WIDTH, CHART_HEIGHT = 640, 200
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 78, 16, 12, 28


def balance_chart(
    history: list[tuple[datetime.date, Decimal]],
    *,
    ends_on: datetime.date,
    today: datetime.date | None = None,
    maturity_on: datetime.date | None = None,
) -> BalanceChart | None:
    """A step chart of ``history`` ((day, balance after) pairs, the first
    being the disbursement) from the disbursement to ``ends_on``, marking
    today and the maturity where they fall inside. None for an empty
    history."""
    if not history:
        return None
    start = history[0][0]
    end = max(ends_on, history[-1][0], start + datetime.timedelta(days=1))
    top = max(balance for _day, balance in history) or Decimal(1)
    span = (end - start).days
    left, right = CHART_LEFT, CHART_WIDTH - CHART_RIGHT
    upper, lower = CHART_TOP, CHART_HEIGHT - CHART_BOTTOM

    # Coordinates go out as text with one decimal: templates would localise floats.
    def x(day: datetime.date) -> str:
        return "%.1f" % (left + (right - left) * (day - start).days / span)

    def y(balance: Decimal) -> str:
        return "%.1f" % (lower - float(lower - upper) * float(balance / top))

    points = [(x(day), y(balance)) for day, balance in history]
    path = ["M %s %s" % points[0]]
    for px, py in points[1:]:
        path.append("H %s V %s" % (px, py))
    path.append("H %s" % x(end))
    line = " ".join(path)
    area = "%s V %s H %s Z" % (line, lower, points[0][0])
    y_labels = [
        ChartLabel(
            x=str(left - 8), y="%.1f" % (float(y(value)) + 4), text=yuan_whole(value), anchor="end"
        )
        for value in (top, top / 2, ZERO)
    ]
    x_labels = [
        ChartLabel(x=str(left), y=str(CHART_HEIGHT - 8), text=start.isoformat(), anchor="start"),
        ChartLabel(x=str(right), y=str(CHART_HEIGHT - 8), text=end.isoformat(), anchor="end"),
    ]
    return BalanceChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        path=line,
        area=area,
        points=points,
        grid=[y(top), y(top / 2), y(ZERO)],
        y_labels=y_labels,
        x_labels=x_labels,
        today_x=x(today) if today and start < today < end else None,
        maturity_x=x(maturity_on) if maturity_on and start < maturity_on < end else None,
        plot_left=str(left),
        plot_right=str(right),
        plot_top=str(upper),
        plot_bottom=str(lower),
    )


def yuan_whole(amount: Decimal) -> str:
    """``100000`` → ``100,000``: axis labels need no fen."""
    return f"{amount:,.0f}"
