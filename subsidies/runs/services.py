"""Services of the yearly subsidy run: start and compute (in parts, one per
township, as Celery tasks), submit, approve or send back, cancel (the
payout is subsidies.payout.services).

Every service takes the acting user, checks the permission, runs in one
transaction and raises ``ValidationError`` or ``PermissionDenied`` leaving
nothing changed. The computation reads the ledger as it stood at the run's
``as_of`` moment, so a part run twice (a retried task, a worker killed
mid-way) writes exactly the same lines.
"""

import datetime
import io
import logging
from collections import defaultdict, namedtuple
from decimal import Decimal

from django.core.exceptions import (
    EmptyResultSet,
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import county_of, require_county, require_permission
from common import queue
from common.history import history_context, history_record_bulk
from common.money import ZERO
from divisions.models import Division
from loans.models import LedgerEntry, Loan, LprRate, Programme
from subsidies.calculation import (
    CalculationError,
    EarlierLoan,
    LineWorking,
    LoanTerms,
    Posting,
    Rule,
    line_working,
)
from subsidies.models import (
    SubsidyAdjustment,
    SubsidyLine,
    SubsidyRun,
    SubsidyRunPart,
    SubsidyRunTransition,
)

logger = logging.getLogger(__name__)
State = SubsidyRun.State
Payment = SubsidyLine.Payment


def run_move(run: SubsidyRun, to_state: str, *, actor, comment: str = "") -> None:
    """Record the transition; the caller saves the run."""
    if not run.may_become(to_state):
        raise ValidationError(
            _("A run that is %(state)s cannot become %(to)s.")
            % {"state": run.get_state_display(), "to": SubsidyRun.State(to_state).label}
        )
    SubsidyRunTransition.objects.create(
        run=run, from_state=run.state, to_state=to_state, actor=actor, comment=comment
    )
    run.state = to_state
    run._history_user = actor


def run_locked(run: SubsidyRun) -> SubsidyRun:
    return SubsidyRun.objects.select_for_update().get(pk=run.pk)


def subsidy_run_start(
    *, actor, programme: Programme, year: int, today: datetime.date
) -> SubsidyRun:
    """Start the run of ``programme`` for subsidy year ``year`` (or recompute
    its draft) and launch the computation. The year must be over, and every
    earlier year's run must be approved or cancelled: adjustments are carried
    from frozen years only, so two open runs could otherwise both carry one."""
    require_permission(actor, "subsidies.compute_subsidyrun")
    county = county_of(actor)
    if county is None:
        raise PermissionDenied
    return _start(actor=actor, programme=programme, county=county, year=year, today=today)


def _start(
    *, actor, programme: Programme, county: Division, year: int, today: datetime.date
) -> SubsidyRun:
    """The run of ``county``'s loans of ``programme`` (each county runs its
    own subsidy year, with its own four eyes, even of a city's programme).
    ``actor`` None: the scheduled start, in nobody's name."""
    if not programme.covers(county):
        raise ValidationError(
            {"programme": _("This programme is not run in %(county)s.") % {"county": county}}
        )
    first, last = programme.subsidy_year_bounds(year)
    if last >= today:
        raise ValidationError(
            {
                "year": _(
                    "Subsidy year %(year)s runs to %(last)s; it can be computed from the day after."
                )
                % {"year": year, "last": last}
            }
        )
    if year < programme.year:
        raise ValidationError(
            {"year": _("The programme starts in %(year)s.") % {"year": programme.year}}
        )
    with transaction.atomic():
        Programme.objects.select_for_update().get(pk=programme.pk)
        open_earlier = (
            SubsidyRun.objects.filter(programme=programme, county=county, year__lt=year)
            .exclude(state__in=[*SubsidyRun.FROZEN_STATES, State.CANCELLED])
            .order_by("year")
            .first()
        )
        if open_earlier:
            raise ValidationError(
                {
                    "year": _(
                        "The run for %(year)s is not approved yet; approve or cancel it first."
                    )
                    % {"year": open_earlier.year}
                }
            )
        run = (
            SubsidyRun.objects.filter(programme=programme, county=county, year=year)
            .exclude(state=State.CANCELLED)
            .first()
        )
        if run is None:
            run = SubsidyRun(programme=programme, county=county, year=year, created_by=actor)
            run._history_user = actor
            run.save()
            SubsidyRunTransition.objects.create(
                run=run, from_state="", to_state=State.DRAFT, actor=actor
            )
    return _compute(actor=actor, run=run)


def subsidy_run_compute(*, actor, run: SubsidyRun) -> SubsidyRun:
    """(Re)compute a draft, computed or failed run: a new computation
    replaces every line. The parts are launched once the transaction commits."""
    require_permission(actor, "subsidies.compute_subsidyrun")
    require_county(actor, run.county_id)
    return _compute(actor=actor, run=run)


def _compute(*, actor, run: SubsidyRun) -> SubsidyRun:
    with transaction.atomic():
        run = run_locked(run)
        if run.state not in (State.DRAFT, State.COMPUTED, State.FAILED, State.COMPUTING):
            raise ValidationError(
                _("A run that is %(state)s cannot be recomputed.")
                % {"state": run.get_state_display()}
            )
        townships = _townships(run)
        run_move(run, State.COMPUTING, actor=actor)
        run.generation += 1
        run.as_of = timezone.now()
        run.parts_total = len(townships)
        run.error = ""
        run.computed_at = None
        run.save()
        SubsidyRunPart.objects.filter(run=run).delete()
        generation = run.generation
        _after_commit(lambda: _launch(run.pk, generation, townships))
    return run


def _after_commit(callback) -> None:
    """The tasks may only see the run once it is committed."""
    transaction.on_commit(callback)


def _townships(run: SubsidyRun) -> list[int]:
    _first, last = run.programme.subsidy_year_bounds(run.year)
    return sorted(
        Loan.objects.filter(
            programme=run.programme_id, county=run.county_id, disbursed_on__lte=last
        )
        .order_by()
        .values_list("township_id", flat=True)
        .distinct()
    )


def _launch(run_id: int, generation: int, townships: list[int]) -> None:
    """Queue the computation. A broker that is down or refuses the messages
    fails the run at once with a message saying so, rather than leave it
    "computing" for ever: the county computes it again once the queue is
    back. A part that did get queued finds the run no longer current and
    writes nothing."""
    try:
        _queue_computation(run_id, generation, townships)
    except Exception as error:
        if queue.runs_in_place():
            raise  # no broker involved: a fault of the computation itself
        logger.exception("Subsidy run %s could not be queued", run_id)
        subsidy_run_fail(
            run_id=run_id,
            generation=generation,
            error=_(
                "The task queue is not available, so the computation was not started (%(error)s). "
            )
            % {"error": type(error).__name__}
            + _("Try again in a few minutes."),
        )


def _queue_computation(run_id: int, generation: int, townships: list[int]) -> None:
    """One task per township side by side, then one that closes the run
    (subsidies.tasks)."""
    if not townships:
        queue.enqueue("subsidies.finish_run", None, run_id, generation)
        return
    queue.enqueue_chord(
        [
            queue.task("subsidies.compute_part", run_id, generation, township, immutable=True)
            for township in townships
        ],
        queue.task("subsidies.finish_run", run_id, generation).on_error(
            queue.task("subsidies.computation_failed", run_id, generation)
        ),
    )


def _current(run_id: int, generation: int, *, share: bool) -> SubsidyRun | None:
    """The run if this computation is still the current one, locked: shared
    by the parts (so they run side by side) and exclusive for the end."""
    if share and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM subsidies_subsidyrun WHERE id = %s FOR SHARE", [run_id])
        run = SubsidyRun.objects.filter(pk=run_id).first()
    else:
        run = SubsidyRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.generation != generation or run.state != State.COMPUTING:
        return None
    return run


COMPUTATION_REASON = "task: subsidy computation"


SCHEDULED_REASON = "scheduled task: subsidy computation"


def _computation_history(run_id: int):
    """The history of what a computation's tasks write names the user who
    started the computation; a scheduled start names nobody, and says so."""
    started = (
        SubsidyRunTransition.objects.filter(run=run_id, to_state=State.COMPUTING)
        .select_related("actor")
        .order_by("-at", "-pk")
        .first()
    )
    starter = started.actor if started else None
    reason = COMPUTATION_REASON if starter else SCHEDULED_REASON
    return history_context(user=starter, reason=reason)


def subsidy_run_compute_part(*, run_id: int, generation: int, township_id: int) -> int | None:
    """Compute and store the lines of one township. Safe to run any number of
    times: it replaces the township's lines in one transaction. Answers the
    number of lines, or None if the computation is no longer current."""
    run = SubsidyRun.objects.select_related("programme").filter(pk=run_id).first()
    if run is None or run.generation != generation or run.state != State.COMPUTING:
        return None
    lines, adjustments = _compute_township(run, township_id)
    with transaction.atomic(), _computation_history(run_id):
        if _current(run_id, generation, share=True) is None:
            return None
        SubsidyAdjustment.objects.filter(line__run=run, line__township_id=township_id).delete()
        replaced = SubsidyLine.objects.filter(run=run, township_id=township_id)
        history_record_bulk(replaced, history_type="-")
        # Straight DELETE: the collector would load every line to look for
        # dependants, and a line still being computed has none left
        # (adjustments just deleted; payments exist only on frozen runs).
        replaced._raw_delete(connection.alias)
        SubsidyRunPart.objects.filter(run=run, township_id=township_id).delete()
        _insert_lines(lines)
        history_record_bulk(replaced, history_type="+")
        if adjustments:
            line_ids = dict(
                SubsidyLine.objects.filter(
                    run=run,
                    township_id=township_id,
                    loan_id__in=[a.line.loan_id for a in adjustments],
                ).values_list("loan_id", "pk")
            )
            for adjustment in adjustments:
                adjustment.line_id = line_ids[adjustment.line.loan_id]
            SubsidyAdjustment.objects.bulk_create(adjustments, batch_size=2000)
        SubsidyRunPart.objects.create(
            run=run, township_id=township_id, generation=generation, line_count=len(lines)
        )
    return len(lines)


_COPY_NULL = r"\N"  # unlike an empty string, which a blank text field holds


class ComputedLine(
    namedtuple(
        "ComputedLine",
        [
            "run_id",
            "loan_id",
            "township_id",
            "county_id",
            "generation",
            "quota",
            "subsidised_rate",
            "eligible_days",
            "days_outside_year",
            "days_overdue",
            "days_late",
            "days_written_off",
            "days_unreported",
            "reported_interest",
            "expected_interest",
            "eligible_interest",
            "interest_above_cap",
            "interest_above_quota",
            "subsidy",
            "adjustment",
            "amount_due",
            "reconciliation_flag",
        ],
    )
):
    """A subsidy line computed and not yet stored: the values of the
    SubsidyLine fields the computation sets, by their attribute names (the
    others keep their defaults). A tuple, not a model instance, because a
    province has a million of them and a model instance costs more to make
    than the rule costs to apply."""

    __slots__ = ()


def _copy_template() -> str:
    """One COPY text row of SubsidyLine with a ``%s`` for each value a
    ComputedLine gives, in its order, and the other fields' defaults."""
    given = set(ComputedLine._fields)
    fields = [field for field in SubsidyLine._meta.concrete_fields if not field.primary_key]
    order = [field.attname for field in fields if field.attname in given]
    if order != list(ComputedLine._fields) or len(order) != len(given):
        raise ImproperlyConfigured("ComputedLine does not follow SubsidyLine's fields")
    cells = []
    for field in fields:
        if field.attname in given:
            cells.append("%s")
        else:
            default = field.get_default()
            cells.append(_COPY_NULL if default is None else str(default).replace("%", "%%"))
    return "\t".join(cells) + "\n"


def _insert_lines(lines: list[ComputedLine]) -> None:
    """Write the lines: on PostgreSQL with COPY, several times faster than
    INSERT for a township's thousands of rows; elsewhere in bulk."""
    if connection.vendor != "postgresql":
        SubsidyLine.objects.bulk_create(
            (SubsidyLine(**line._asdict()) for line in lines), batch_size=500
        )
        return
    # Numbers and booleans only ("True" is a boolean to COPY): nothing to
    # escape. The quota is the one value that may be NULL.
    template = _copy_template()
    quota = ComputedLine._fields.index("quota")
    buffer = io.StringIO()
    buffer.writelines(
        template % (line if line[quota] is not None else line._replace(quota=_COPY_NULL))
        for line in lines
    )
    buffer.seek(0)
    fields = [field for field in SubsidyLine._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(SubsidyLine._meta.db_table)
    with connection.cursor() as cursor:
        copy = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT text, NULL '{_COPY_NULL}')"
        cursor.cursor.copy_expert(copy, buffer)


def subsidy_run_finish(*, run_id: int, generation: int) -> SubsidyRun | None:
    """Close a computation once its parts are in: totals, state computed."""
    with transaction.atomic(), _computation_history(run_id):
        run = _current(run_id, generation, share=False)
        if run is None:
            return None
        done = run.parts.filter(generation=generation).count()
        if done != run.parts_total:
            _fail(
                run,
                _("Only %(done)s of %(total)s townships were computed.")
                % {"done": done, "total": run.parts_total},
            )
            return run
        totals = run.lines.aggregate(
            count=Count("pk"),
            reported=Sum("reported_interest"),
            eligible=Sum("eligible_interest"),
            subsidy=Sum("subsidy"),
            adjustment=Sum("adjustment"),
            due=Sum("amount_due"),
            flagged=Count(
                "pk",
                filter=Q(reconciliation_flag=True)
                | Q(days_late__gt=0)
                | Q(days_overdue__gt=0)
                | Q(days_unreported__gt=0)
                | Q(days_written_off__gt=0),
            ),
        )
        run.line_count = totals["count"]
        run.total_reported = totals["reported"] or ZERO
        run.total_eligible = totals["eligible"] or ZERO
        run.total_subsidy = totals["subsidy"] or ZERO
        run.total_adjustment = totals["adjustment"] or ZERO
        run.total_due = totals["due"] or ZERO
        run.flagged_count = totals["flagged"]
        run.computed_at = timezone.now()
        run_move(run, State.COMPUTED, actor=None)
        run.save()
    return run


def subsidy_run_fail(*, run_id: int, generation: int, error: str) -> SubsidyRun | None:
    with transaction.atomic(), _computation_history(run_id):
        run = _current(run_id, generation, share=False)
        if run is None:
            return None
        _fail(run, error)
    return run


def _fail(run: SubsidyRun, error: str) -> None:
    run.error = error
    run_move(run, State.FAILED, actor=None, comment=error)
    run.save()


def _rule(programme: Programme) -> Rule:
    return Rule(
        basis=programme.day_count_basis,
        ratio=programme.subsidy_ratio,
        grace_days=programme.grace_days,
        lose_year_if_overdue=programme.overdue_treatment == Programme.OverdueTreatment.LOSE_YEAR,
    )


class _CapRates:
    """The subsidy-rate cap of each loan, from one read of the LPR table."""

    def __init__(self, programme: Programme):
        self.mode = programme.rate_cap_mode
        self.fixed = programme.rate_cap
        self.lpr = []
        if self.mode == Programme.RateCapMode.LPR:
            table = LprRate.objects.order_by("effective_on")
            self.lpr = list(table.values_list("effective_on", "one_year_rate"))

    def for_loan(self, disbursed_on: datetime.date, contract_no: str) -> Decimal | None:
        if self.mode == Programme.RateCapMode.FIXED:
            return self.fixed
        if self.mode == Programme.RateCapMode.LPR:
            in_force = [rate for day, rate in self.lpr if day <= disbursed_on]
            if not in_force:
                raise CalculationError(
                    _(
                        "Loan %(contract)s was disbursed on %(date)s, before any loan prime "
                        "rate in the LPR table; add the rate in force on that day."
                    )
                    % {"contract": contract_no, "date": disbursed_on}
                )
            return in_force[-1]
        return None


def _rows(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset as plain tuples. On PostgreSQL
    its SQL runs on the bare cursor: psycopg2 already gives dates and
    Decimals, and Django's row-by-row iteration costs more than the query
    for the hundreds of thousands of rows of a part."""
    if connection.vendor != "postgresql":
        return list(queryset)
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _ledger_as_of(loans, as_of):
    """Interest postings and principal repayments of ``loans`` that were
    posted by ``as_of`` and not reversed by then, grouped by loan; and the
    ids of the loans with any entry posted after each moment asked later."""
    reversed_by_then = LedgerEntry.objects.filter(reverses=OuterRef("pk"), posted_at__lte=as_of)
    rows = _rows(
        LedgerEntry.objects.filter(
            loan__in=loans,
            kind__in=[LedgerEntry.Kind.INTEREST, LedgerEntry.Kind.PRINCIPAL],
            posted_at__lte=as_of,
        )
        .filter(~Exists(reversed_by_then))
        .values_list(
            "loan_id",
            "kind",
            "txn_id",
            "amount",
            "period_start",
            "period_end",
            "due_on",
            "paid_on",
        )
    )
    postings = defaultdict(list)
    repayments = defaultdict(list)
    interest = LedgerEntry.Kind.INTEREST.value
    for loan_id, kind, txn_id, amount, start, end, due, paid in rows:
        if kind == interest:
            postings[loan_id].append(Posting(txn_id, start, end, due, paid, amount))
        else:
            repayments[loan_id].append((paid, amount))
    return postings, repayments


_LOAN_FIELDS = (
    "pk",
    "contract_no",
    "principal",
    "annual_rate",
    "disbursed_on",
    "maturity_on",
    "written_off_on",
    "application__quota",
    "application__household_id",
)


def _loan_rows(queryset) -> list[dict]:
    """The loans of ``queryset`` as dicts of ``_LOAN_FIELDS``."""
    return [
        dict(zip(_LOAN_FIELDS, row, strict=True))
        for row in _rows(queryset.values_list(*_LOAN_FIELDS))
    ]


def _loan_order(loan: dict):
    """Which of a household's loans uses its quota first (DOMAIN.md section 5, step 2)."""
    return loan["disbursed_on"], loan["contract_no"]


def _earlier_loans(loans, repayments) -> dict[int, tuple[EarlierLoan, ...]]:
    """For each loan (rows of ``_LOAN_FIELDS``), the loans of its household
    among ``loans`` that come before it, with their repayments."""
    by_household = defaultdict(list)
    for loan in loans:
        if loan["application__household_id"] is not None:
            by_household[loan["application__household_id"]].append(loan)
    earlier = {}
    for household_loans in by_household.values():
        if len(household_loans) == 1:
            continue
        before = []
        for loan in sorted(household_loans, key=_loan_order):
            earlier[loan["pk"]] = tuple(before)
            before.append(
                EarlierLoan(
                    contract_no=loan["contract_no"],
                    principal=loan["principal"],
                    disbursed_on=loan["disbursed_on"],
                    repayments=tuple(sorted(repayments.get(loan["pk"], ()))),
                    written_off_on=loan["written_off_on"],
                )
            )
    return earlier


def _loan_terms(loan: dict, *, cap_rate, earlier: tuple[EarlierLoan, ...]) -> LoanTerms:
    household_loan = loan["application__household_id"] is not None
    return LoanTerms(
        principal=loan["principal"],
        rate=loan["annual_rate"],
        disbursed_on=loan["disbursed_on"],
        maturity_on=loan["maturity_on"],
        written_off_on=loan["written_off_on"],
        quota=loan["application__quota"],
        cap_rate=cap_rate,
        earlier=earlier if household_loan else (),
    )


def _compute_township(run: SubsidyRun, township_id: int):
    """The lines (unsaved) of one township, and the adjustments carried from
    the programme's frozen years. A fixed number of queries, whatever the
    number of loans."""
    programme = run.programme
    first, last = programme.subsidy_year_bounds(run.year)
    rule = _rule(programme)
    caps = _CapRates(programme)
    township_loans = Loan.objects.filter(programme=programme, township_id=township_id)
    loans = _loan_rows(
        township_loans.filter(disbursed_on__lte=last).order_by("disbursed_on", "contract_no")
    )
    # The same households' loans booked in another township (a household
    # that moved) still use their quota first.
    elsewhere = _loan_rows(
        Loan.objects.filter(
            programme=programme,
            disbursed_on__lte=last,
            application__household__in=township_loans.values("application__household"),
        ).exclude(township_id=township_id)
    )
    loan_ids = [loan["pk"] for loan in loans]
    loan_filter = township_loans
    if elsewhere:
        loan_filter = Loan.objects.filter(
            Q(programme=programme, township_id=township_id)
            | Q(pk__in=[loan["pk"] for loan in elsewhere])
        )
    postings, repayments = _ledger_as_of(loan_filter, run.as_of)
    earlier = _earlier_loans(loans + elsewhere, repayments)

    terms = {
        loan["pk"]: _loan_terms(
            loan,
            cap_rate=caps.for_loan(loan["disbursed_on"], loan["contract_no"]),
            earlier=earlier.get(loan["pk"], ()),
        )
        for loan in loans
    }

    adjustments = _adjustments(run, township_id, terms, rule, postings, repayments)
    tolerance = programme.reconciliation_tolerance
    no_entries = ()
    lines = []
    for loan_id in loan_ids:
        loan_terms = terms[loan_id]
        working = line_working(
            terms=loan_terms,
            rule=rule,
            year_start=first,
            year_end=last,
            postings=postings.get(loan_id, no_entries),
            repayments=repayments.get(loan_id, no_entries),
        )
        carried = adjustments.get(loan_id)
        if not carried and not working.has_activity:
            continue
        adjustment = sum((a.difference for a in carried), ZERO) if carried else ZERO
        lines.append(
            ComputedLine(
                run.pk,
                loan_id,
                township_id,
                run.county_id,
                run.generation,
                working.least_quota,
                loan_terms.subsidised_rate,
                working.eligible_days,
                working.days_outside_year,
                working.days_overdue,
                working.days_late,
                working.days_written_off,
                working.days_unreported,
                working.reported_interest,
                working.expected_interest,
                working.eligible_interest,
                working.interest_above_cap,
                working.interest_above_quota,
                working.subsidy,
                adjustment,
                working.subsidy + adjustment,
                not working.reconciles(tolerance),
            )
        )
    return lines, [item for items in adjustments.values() for item in items]


def _adjustments(run, township_id, terms, rule, postings, repayments):
    """For each frozen earlier year of the programme, the loans of the
    township whose ledger changed after that year's run read it: the year is
    recomputed on the ledger as this run reads it, and any difference from
    what was settled (the approved line plus recomputations already carried
    by frozen runs) is carried into this run; and whatever the latest frozen
    run left to recover."""
    frozen = list(
        SubsidyRun.objects.filter(
            programme=run.programme_id,
            county=run.county_id,
            year__lt=run.year,
            state__in=SubsidyRun.FROZEN_STATES,
        ).order_by("year")
    )
    if not frozen:
        return {}
    carried = defaultdict(list)
    # What the latest frozen run left to recover (a negative amount due is
    # paid nothing) comes along until a subsidy absorbs it.
    latest = frozen[-1]
    for loan_id, amount_due in SubsidyLine.objects.filter(
        run=latest, township_id=township_id, amount_due__lt=0
    ).values_list("loan_id", "amount_due"):
        if loan_id in terms:
            carried[loan_id].append(
                SubsidyAdjustment(
                    kind=SubsidyAdjustment.Kind.UNRECOVERED,
                    line=SubsidyLine(loan_id=loan_id),
                    for_run=latest,
                    settled=ZERO,
                    recomputed=amount_due,
                    difference=amount_due,
                )
            )
    changed = defaultdict(set)  # frozen run id -> loan ids
    late = (
        LedgerEntry.objects.filter(
            loan__programme=run.programme_id,
            loan__township_id=township_id,
            posted_at__lte=run.as_of,
        )
        .filter(posted_at__gt=min(r.as_of for r in frozen))
        .values_list("loan_id", "posted_at")
    )
    for loan_id, posted_at in late:
        for earlier in frozen:
            if posted_at > earlier.as_of:
                changed[earlier.pk].add(loan_id)
    if not changed:
        return carried
    settled = defaultdict(lambda: ZERO)  # (frozen run id, loan id) -> subsidy settled
    for run_id, loan_id, subsidy in SubsidyLine.objects.filter(
        run__in=frozen, township_id=township_id
    ).values_list("run_id", "loan_id", "subsidy"):
        settled[run_id, loan_id] += subsidy
    for run_id, loan_id, difference in SubsidyAdjustment.objects.filter(
        kind=SubsidyAdjustment.Kind.RECOMPUTED,
        for_run__in=frozen,
        line__township_id=township_id,
        line__run__state__in=SubsidyRun.FROZEN_STATES,
    ).values_list("for_run_id", "line__loan_id", "difference"):
        settled[run_id, loan_id] += difference

    for earlier in frozen:
        first, last = run.programme.subsidy_year_bounds(earlier.year)
        for loan_id in sorted(changed.get(earlier.pk, ())):
            if loan_id not in terms:
                continue
            recomputed = line_working(
                terms=terms[loan_id],
                rule=rule,
                year_start=first,
                year_end=last,
                postings=postings.get(loan_id, ()),
                repayments=repayments.get(loan_id, ()),
            ).subsidy
            before = settled[earlier.pk, loan_id]
            if recomputed != before:
                carried[loan_id].append(
                    SubsidyAdjustment(
                        line=SubsidyLine(loan_id=loan_id),
                        for_run=earlier,
                        settled=before,
                        recomputed=recomputed,
                        difference=recomputed - before,
                    )
                )
    return carried


def line_detail(line: SubsidyLine) -> tuple[LoanTerms, LineWorking]:
    """The terms and the working of a stored line, day by day, recomputed
    from the ledger as the run read it (the same inputs give the same
    figures)."""
    run = line.run
    programme = run.programme
    first, last = programme.subsidy_year_bounds(run.year)
    loan = line.loan
    household_id = loan.application.household_id
    household_loans = Loan.objects.filter(pk=loan.pk)
    if household_id is not None:
        household_loans = Loan.objects.filter(
            programme=programme,
            application__household_id=household_id,
            disbursed_on__lte=loan.disbursed_on,
        )
    rows = list(household_loans.values(*_LOAN_FIELDS))
    postings, repayments = _ledger_as_of(household_loans, run.as_of)
    row = next(row for row in rows if row["pk"] == loan.pk)
    earlier = _earlier_loans(rows, repayments).get(loan.pk, ())
    cap_rate = None if line.subsidised_rate == loan.annual_rate else line.subsidised_rate
    terms = _loan_terms(row, cap_rate=cap_rate, earlier=earlier)
    return terms, line_working(
        terms=terms,
        rule=_rule(programme),
        year_start=first,
        year_end=last,
        postings=postings.get(loan.pk, ()),
        repayments=repayments.get(loan.pk, ()),
        detail=True,
    )


def subsidy_run_submit(*, actor, run: SubsidyRun) -> SubsidyRun:
    require_permission(actor, "subsidies.submit_subsidyrun")
    require_county(actor, run.county_id)
    with transaction.atomic():
        run = run_locked(run)
        if run.state != State.COMPUTED:
            raise ValidationError(_("Only a computed run can be submitted."))
        run_move(run, State.SUBMITTED, actor=actor)
        run.submitted_by = actor
        run.submitted_at = timezone.now()
        run.returned_reason = ""
        run.save()
    return run


def subsidy_run_approve(*, actor, run: SubsidyRun) -> SubsidyRun:
    """Approve a submitted run (maker-checker: never by its submitter). The
    run is frozen from here; lines with nothing to pay are marked so."""
    require_permission(actor, "subsidies.approve_subsidyrun")
    require_county(actor, run.county_id)
    with transaction.atomic():
        run = run_locked(run)
        if run.state != State.SUBMITTED:
            raise ValidationError(_("Only a submitted run can be approved."))
        if run.submitted_by_id == actor.pk:
            raise PermissionDenied(_("You submitted this run; another person must approve it."))
        run_move(run, State.APPROVED, actor=actor)
        run.approved_by = actor
        run.approved_at = timezone.now()
        run.save()
        nothing_due = run.lines.filter(amount_due__lte=0)
        nothing_due.update(payment=Payment.NOTHING_DUE)
        history_record_bulk(nothing_due, history_type="~", user=actor)
        run_close_if_paid(run, actor)
    return run


def run_close_if_paid(run: SubsidyRun, actor) -> None:
    if (
        run.state == State.APPROVED
        and not run.lines.exclude(payment__in=[Payment.PAID, Payment.NOTHING_DUE]).exists()
    ):
        run_move(run, State.PAID, actor=actor)
        run.paid_at = timezone.now()
        run.save()


def subsidy_run_send_back(*, actor, run: SubsidyRun, reason: str) -> SubsidyRun:
    require_permission(actor, "subsidies.approve_subsidyrun")
    require_county(actor, run.county_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the run is sent back.")})
    with transaction.atomic():
        run = run_locked(run)
        if run.state != State.SUBMITTED:
            raise ValidationError(_("Only a submitted run can be sent back."))
        run_move(run, State.COMPUTED, actor=actor, comment=reason)
        run.returned_reason = reason
        run.submitted_by = None
        run.submitted_at = None
        run.save()
    return run


def subsidy_run_cancel(*, actor, run: SubsidyRun, reason: str) -> SubsidyRun:
    require_permission(actor, "subsidies.compute_subsidyrun")
    require_county(actor, run.county_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the run is cancelled.")})
    with transaction.atomic():
        run = run_locked(run)
        if run.is_frozen:
            raise ValidationError(_("An approved run is frozen and cannot be cancelled."))
        run_move(run, State.CANCELLED, actor=actor, comment=reason)
        run.save()
    return run


def subsidy_runs_start_due(*, today: datetime.date) -> list[SubsidyRun]:
    """Start the run for the previous subsidy year of every active programme
    that has none yet, in nobody's name (Celery beat calls this on 5 January;
    the county's button does the same for one programme)."""
    started = []
    year = today.year - 1
    for programme in Programme.objects.filter(is_active=True, year__lt=today.year):
        # Every county with loans of the programme runs its own year.
        counties = Division.objects.filter(
            pk__in=Loan.objects.filter(programme=programme).values("county_id")
        ).order_by("code")
        for county in counties:
            if (
                SubsidyRun.objects.filter(programme=programme, county=county, year=year)
                .exclude(state=State.CANCELLED)
                .exists()
            ):
                continue
            try:
                started.append(
                    _start(actor=None, programme=programme, county=county, year=year, today=today)
                )
            except ValidationError as error:
                logger.warning(
                    "Subsidy run %s %s %s not started: %s",
                    programme,
                    county,
                    year,
                    error.messages,
                )
    return started
