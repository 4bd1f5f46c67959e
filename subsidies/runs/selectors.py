"""What the subsidy run pages read: the runs with their figures, a run's
parameters, timeline, totals by township, exceptions, lines and carried
adjustments, its progress while it computes, and one line's working day by
day.

Runs are county-wide, but their lines are not: every figure a township
officer sees is summed from their own township's lines
(``SubsidyLine.objects.for_user``); the county-wide roles see the totals the
run stored when it was computed. None of these functions writes.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import TOWNSHIP_BOUND_ROLES, role_of, township_q
from common.money import ZERO, round_fen, yuan
from loans.models import Loan, Programme
from loans.programmes.selectors import percent_text
from subsidies import calculation
from subsidies.models import (
    SubsidyAdjustment,
    SubsidyLine,
    SubsidyRun,
    SubsidyRunPart,
)

from .services import line_detail

State = SubsidyRun.State


# A line the reconciliation or the rule set apart (SubsidyLine.is_exception).
EXCEPTION_Q = (
    Q(reconciliation_flag=True)
    | Q(days_late__gt=0)
    | Q(days_overdue__gt=0)
    | Q(days_unreported__gt=0)
    | Q(days_written_off__gt=0)
)


# The rule's reasons for a run of days, in the pages' words.
REASON_LABELS = {
    calculation.ELIGIBLE: gettext_lazy("Eligible"),
    calculation.OUTSIDE_YEAR: gettext_lazy("Outside the subsidy year"),
    calculation.OVERDUE: gettext_lazy("Overdue: past maturity"),
    calculation.LATE: gettext_lazy("Interest paid late"),
    calculation.WRITTEN_OFF: gettext_lazy("Written off"),
    calculation.UNREPORTED: gettext_lazy("No interest posted"),
}


SIX_PLACES = Decimal("0.000001")


def _prefixed(q: Q, prefix: str) -> Q:
    """``EXCEPTION_Q`` with every lookup seen from another model."""
    children = [
        _prefixed(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1])
        for child in q.children
    ]
    return Q(*children, _connector=q.connector, _negated=q.negated)


def is_township_bound(user) -> bool:
    return role_of(user) in TOWNSHIP_BOUND_ROLES


def last_finished_year(programme: Programme | None, today: datetime.date) -> int:
    """The latest subsidy year that is over on ``today`` (the 21 December
    year when no programme is given)."""
    year = today.year
    while True:
        if programme is not None:
            last = programme.subsidy_year_bounds(year)[1]
        else:
            last = datetime.date(year, 12, 20)
        if last < today:
            return year
        year -= 1


@dataclass(frozen=True)
class RunRow:
    """A run in the list, with the figures of the lines the user may see."""

    run: SubsidyRun
    line_count: int
    total_subsidy: Decimal
    total_due: Decimal
    flagged_count: int


def run_rows(*, user, programme: Programme | None = None, state: str | None = None) -> list[RunRow]:
    """Every run, newest year first; a township officer's figures are
    summed from their township's lines (one query either way)."""
    runs = (
        SubsidyRun.objects.for_user(user)
        .select_related("programme", "created_by", "approved_by")
        .order_by("-year", "programme__name", "-pk")
    )
    if programme is not None:
        runs = runs.filter(programme=programme)
    if state:
        runs = runs.filter(state=state)
    if not is_township_bound(user):
        return [
            RunRow(run, run.line_count, run.total_subsidy, run.total_due, run.flagged_count)
            for run in runs
        ]
    own = township_q(user, "lines__township_id")
    runs = runs.annotate(
        own_lines=Count("lines", filter=own),
        own_subsidy=Sum("lines__subsidy", filter=own),
        own_due=Sum("lines__amount_due", filter=own),
        own_flagged=Count("lines", filter=own & _prefixed(EXCEPTION_Q, "lines__")),
    )
    return [
        RunRow(run, run.own_lines, run.own_subsidy or ZERO, run.own_due or ZERO, run.own_flagged)
        for run in runs
    ]


def filter_programmes(user) -> QuerySet:
    return Programme.objects.for_user(user).order_by("-year", "name", "region_code")


def startable_programmes(user) -> QuerySet:
    return filter_programmes(user).filter(is_active=True)


def start_defaults(*, user, today: datetime.date) -> dict:
    """What the start form offers: the last subsidy year that is over, for
    the latest active programme that had begun by then."""
    programmes = list(startable_programmes(user))
    year = last_finished_year(programmes[0] if programmes else None, today)
    begun = [programme for programme in programmes if programme.year <= year]
    chosen = begun[0] if begun else (programmes[0] if programmes else None)
    if chosen is not None:
        year = last_finished_year(chosen, today)
    return {"programme": chosen.pk if chosen else None, "year": year}


def run_for_detail(*, user, pk: int) -> SubsidyRun | None:
    return (
        SubsidyRun.objects.for_user(user)
        .select_related("programme", "created_by", "submitted_by", "approved_by")
        .filter(pk=pk)
        .first()
    )


def run_has_results(run: SubsidyRun) -> bool:
    """Whether the run's lines are a finished computation: not while it
    computes, not after a failure (some townships may be missing)."""
    return run.computed_at is not None and run.state not in (State.COMPUTING, State.FAILED)


@dataclass(frozen=True)
class Parameter:
    label: str
    value: str
    note: str = ""


def run_parameters(run: SubsidyRun) -> list[Parameter]:
    """The programme's subsidy parameters the run applies, as a person says them."""
    programme = run.programme
    first, last = programme.subsidy_year_bounds(run.year)
    ratio = programme.subsidy_ratio
    if programme.rate_cap_mode == Programme.RateCapMode.FIXED:
        cap = _("Fixed at %(rate)s") % {"rate": percent_text(programme.rate_cap)}
    else:
        cap = str(programme.get_rate_cap_mode_display())
    grace = programme.grace_days
    return [
        Parameter(
            _("Subsidy year"),
            _("%(first)s to %(last)s, both days included")
            % {"first": first.isoformat(), "last": last.isoformat()},
            str(programme.get_subsidy_year_display()),
        ),
        Parameter(
            _("Day-count basis"),
            _("%(days)s days a year") % {"days": programme.day_count_basis},
            _("A day's interest is balance × annual rate ÷ %(days)s.")
            % {"days": programme.day_count_basis},
        ),
        Parameter(_("Subsidy ratio"), percent_text(ratio)),
        Parameter(_("Subsidy rate cap"), cap),
        Parameter(
            _("Grace for on-time payment"),
            _("%(days)s days") % {"days": grace},
        ),
        Parameter(_("Overdue loans"), str(programme.get_overdue_treatment_display())),
        Parameter(
            _("Reconciliation tolerance"),
            _("%(amount)s yuan") % {"amount": yuan(programme.reconciliation_tolerance)},
        ),
        Parameter(
            _("Ledger as of"),
            timezone.localtime(run.as_of).strftime("%Y-%m-%d %H:%M:%S") if run.as_of else "—",
            _("Entries posted later are carried into the next run as adjustments."),
        ),
    ]


def run_timeline(run: SubsidyRun) -> list:
    """The run's steps, each with the words for it: a submitted run that
    becomes computed again was sent back."""
    steps = list(run.transitions.select_related("actor").order_by("at", "pk"))
    for step in steps:
        if step.from_state == State.SUBMITTED and step.to_state == State.COMPUTED:
            step.label = _("Sent back")
        elif not step.from_state:
            step.label = _("Started")
        elif step.to_state == State.COMPUTING and step.from_state != State.DRAFT:
            step.label = _("Recomputing")
        else:
            step.label = step.get_to_state_display()
    return steps


@dataclass(frozen=True)
class Progress:
    state: str
    state_label: str
    parts_done: int
    parts_total: int

    @property
    def percent(self) -> int:
        if not self.parts_total:
            return 100 if self.state != State.COMPUTING else 0
        return self.parts_done * 100 // self.parts_total

    def as_json(self) -> dict:
        return {
            "state": self.state,
            "state_label": self.state_label,
            "parts_done": self.parts_done,
            "parts_total": self.parts_total,
            "percent": self.percent,
            # The keys progress.js reads.
            "done": self.parts_done,
            "total": self.parts_total,
            "finished": self.state != State.COMPUTING,
        }


def run_progress(run: SubsidyRun) -> Progress:
    """The parts (townships) of the current computation that are stored."""
    done = SubsidyRunPart.objects.filter(run=run, generation=run.generation).count()
    return Progress(
        state=run.state,
        state_label=str(run.get_state_display()),
        parts_done=done,
        parts_total=run.parts_total,
    )


def visible_lines(*, run: SubsidyRun, user) -> QuerySet:
    return SubsidyLine.objects.for_user(user).filter(run=run)


@dataclass(frozen=True)
class Totals:
    line_count: int
    reported: Decimal
    expected: Decimal
    eligible: Decimal
    subsidy: Decimal
    adjustment: Decimal
    due: Decimal
    flagged_count: int

    @property
    def difference(self) -> Decimal:
        return self.reported - self.expected


@dataclass(frozen=True)
class TownshipTotals(Totals):
    name: str = ""
    bar_percent: int = 0  # the township's subsidy against the largest township's


_SUMS = {
    "line_count": Count("pk"),
    "reported": Sum("reported_interest"),
    "expected": Sum("expected_interest"),
    "eligible": Sum("eligible_interest"),
    "subsidy": Sum("subsidy"),
    "adjustment": Sum("adjustment"),
    "due": Sum("amount_due"),
    "flagged_count": Count("pk", filter=EXCEPTION_Q),
}


def _money(value) -> Decimal:
    # SQLite sums come back with other scales: show every figure to the fen.
    return round_fen(Decimal(value or 0))


def _totals(row: dict) -> dict:
    return {
        name: (row[name] or 0) if name.endswith("count") else _money(row[name]) for name in _SUMS
    }


def run_totals(*, run: SubsidyRun, user) -> Totals:
    """The run's figures. The county-wide roles see the totals stored when it
    was computed (what was submitted and approved); a township officer sees
    the sums of their township's lines. Expected interest is not stored per
    run, so it is always summed."""
    figures = _totals(visible_lines(run=run, user=user).aggregate(**_SUMS))
    if not is_township_bound(user):
        figures.update(
            line_count=run.line_count,
            reported=run.total_reported,
            eligible=run.total_eligible,
            subsidy=run.total_subsidy,
            adjustment=run.total_adjustment,
            due=run.total_due,
            flagged_count=run.flagged_count,
        )
    return Totals(**figures)


def township_totals(*, run: SubsidyRun, user) -> list[TownshipTotals]:
    rows = list(
        visible_lines(run=run, user=user)
        .values("township_id", "township__name", "township__code")
        .annotate(**_SUMS)
        .order_by("township__code")
    )
    largest = max((_money(row["subsidy"]) for row in rows), default=ZERO)
    result = []
    for row in rows:
        figures = _totals(row)
        bar = int(figures["subsidy"] * 100 / largest) if largest > 0 else 0
        result.append(TownshipTotals(**figures, name=row["township__name"], bar_percent=bar))
    return result


_LINE_RELATED = (
    "township",
    "loan__application__borrower",
    "loan__application__enterprise__village",
    "loan__application__household__village_group__parent",
)


def _with_people(lines: QuerySet) -> QuerySet:
    return lines.select_related(*_LINE_RELATED)


def exception_lines(*, run: SubsidyRun, user) -> QuerySet:
    return _with_people(visible_lines(run=run, user=user).filter(EXCEPTION_Q)).order_by(
        "township__code", "loan__contract_no"
    )


def run_lines(
    *, run: SubsidyRun, user, township_id: int | None = None, exceptions_only: bool = False
) -> QuerySet:
    lines = visible_lines(run=run, user=user)
    if township_id is not None:
        lines = lines.filter(township_id=township_id)
    if exceptions_only:
        lines = lines.filter(EXCEPTION_Q)
    return _with_people(lines).order_by("township__code", "loan__contract_no", "pk")


def line_townships(*, run: SubsidyRun, user) -> list[tuple[int, str]]:
    """The townships among the lines the user may see, for the filter."""
    return list(
        visible_lines(run=run, user=user)
        .order_by("township__code")
        .values_list("township_id", "township__name")
        .distinct()
    )


def carried_adjustments(*, run: SubsidyRun, user) -> list[SubsidyAdjustment]:
    """The adjustments the user's lines carry, each with its borrower's name."""
    adjustments = list(
        SubsidyAdjustment.objects.filter(line__in=visible_lines(run=run, user=user))
        .select_related("for_run", "line__loan", *("line__" + name for name in _LINE_RELATED))
        .order_by("for_run__year", "line__loan__contract_no")
    )
    for adjustment in adjustments:
        adjustment.borrower_name = borrower_name(adjustment.line.loan)
    return adjustments


def borrower_name(loan: Loan) -> str:
    application = loan.application
    return (application.borrower or application.enterprise).name


def village_name(loan: Loan) -> str:
    application = loan.application
    if application.household_id:
        return application.household.village_group.parent.name
    if application.enterprise_id and application.enterprise.village_id:
        return application.enterprise.village.name
    return ""


@dataclass(frozen=True)
class Flag:
    code: str
    label: str


def line_flags(line: SubsidyLine) -> list[Flag]:
    """Why a line is an exception, in the pages' words, with the days."""
    flags = []
    if line.reconciliation_flag:
        flags.append(Flag("reconciliation", _("Does not reconcile")))
    for code, days, text in (
        ("late", line.days_late, _("Paid late: %(days)s days")),
        ("overdue", line.days_overdue, _("Overdue: %(days)s days")),
        ("unreported", line.days_unreported, _("Not reported: %(days)s days")),
        ("written_off", line.days_written_off, _("Written off: %(days)s days")),
    ):
        if days:
            flags.append(Flag(code, text % {"days": days}))
    return flags


def decorate(lines) -> list[SubsidyLine]:
    """The lines with the borrower, village and flags their rows show."""
    result = list(lines)
    for line in result:
        line.borrower_name = borrower_name(line.loan)
        line.village_name = village_name(line.loan)
        line.flags = line_flags(line)
    return result


def line_for_user(*, user, pk: int) -> SubsidyLine | None:
    return (
        SubsidyLine.objects.for_user(user)
        .select_related(
            "run__programme",
            "batch",
            "loan__coop",
            "loan__programme",
            *_LINE_RELATED,
        )
        .filter(pk=pk)
        .first()
    )


@dataclass(frozen=True)
class DayRow:
    day: datetime.date
    expected: Decimal
    eligible: Decimal


@dataclass
class SegmentRow:
    """A run of days the rule treats alike (calculation.DayRun), with the
    interest its days earn, unrounded (to 6 places)."""

    first: datetime.date
    last: datetime.date
    days: int
    balance: Decimal
    quota: Decimal | None  # what the household's earlier loans leave this loan; None: no limit
    base: Decimal
    reason: str
    reason_label: str
    txn_id: str | None
    expected: Decimal
    eligible: Decimal
    day_rows: list[DayRow]


@dataclass(frozen=True)
class PeriodRow:
    working: calculation.PeriodWorking

    @property
    def posting(self) -> calculation.Posting:
        return self.working.posting

    @property
    def late_days(self) -> int:
        return max((self.posting.paid_on - self.posting.due_on).days, 0)


@dataclass(frozen=True)
class LineWorkingPage:
    working: calculation.LineWorking
    terms: calculation.LoanTerms
    periods: list[PeriodRow]
    segments: list[SegmentRow]
    rate: Decimal
    subsidised_rate: Decimal
    basis: int
    ratio: Decimal
    subsidised_total: Decimal
    subsidy: Decimal  # Σ subsidised × ratio, rounded half-up to the fen once
    matches_line: bool  # the working gives the stored line's figures
    expected_unrounded: Decimal
    eligible_unrounded: Decimal

    @property
    def rate_text(self) -> str:
        return percent_text(self.rate)

    @property
    def subsidised_rate_text(self) -> str:
        return percent_text(self.subsidised_rate)

    @property
    def ratio_text(self) -> str:
        return percent_text(self.ratio)


def _six(value: Decimal) -> Decimal:
    return value.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def line_working_page(line: SubsidyLine, *, each_day: bool = False) -> LineWorkingPage:
    """The line's working recomputed from the ledger as the run read it
    (``services.line_detail``): the periods, the runs of days with their
    interest and, with ``each_day``, every day's interest."""
    terms, working = line_detail(line)
    programme = line.run.programme
    rate = line.loan.annual_rate
    capped = line.subsidised_rate
    basis = programme.day_count_basis
    segments = []
    for day_run in working.runs:
        eligible_day = day_run.reason == calculation.ELIGIBLE
        # Written-off days accrue nothing the co-op could be expected to collect.
        accrues = day_run.reason != calculation.WRITTEN_OFF
        day_rows = []
        if each_day:
            expected_one = _six(day_run.balance * rate / basis) if accrues else ZERO
            eligible_one = _six(day_run.base * capped / basis) if eligible_day else ZERO
            day = day_run.first
            while day <= day_run.last:
                day_rows.append(DayRow(day, expected_one, eligible_one))
                day += calculation.ONE_DAY
        expected = day_run.balance * day_run.days * rate / basis if accrues else ZERO
        eligible = day_run.base * day_run.days * capped / basis if eligible_day else ZERO
        segments.append(
            SegmentRow(
                first=day_run.first,
                last=day_run.last,
                days=day_run.days,
                balance=day_run.balance,
                quota=day_run.quota,
                base=day_run.base,
                reason=day_run.reason,
                reason_label=str(REASON_LABELS[day_run.reason]),
                txn_id=day_run.txn_id,
                expected=_six(expected),
                eligible=_six(eligible),
                day_rows=day_rows,
            )
        )
    subsidised_total = sum((p.subsidised for p in working.periods), ZERO)
    subsidy = round_fen(subsidised_total * programme.subsidy_ratio)
    matches = (
        working.least_quota == line.quota
        and working.subsidy == line.subsidy
        and working.reported_interest == line.reported_interest
        and working.expected_interest == line.expected_interest
        and working.eligible_interest == line.eligible_interest
        and working.eligible_days == line.eligible_days
    )
    return LineWorkingPage(
        working=working,
        terms=terms,
        periods=[PeriodRow(period) for period in working.periods],
        segments=segments,
        rate=rate,
        subsidised_rate=capped,
        basis=basis,
        ratio=programme.subsidy_ratio,
        subsidised_total=subsidised_total,
        subsidy=subsidy,
        matches_line=matches,
        expected_unrounded=sum((s.expected for s in segments), ZERO),
        eligible_unrounded=sum((s.eligible for s in segments), ZERO),
    )
