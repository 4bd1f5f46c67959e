"""The subsidy run's services: computation, the four-eyes approval, the
frozen year and its adjustments, idempotent parts, a fixed number of queries."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from loans.ledger.services import ledger_post_interest, ledger_post_reversal
from loans.models import LprRate, Programme
from subsidies.models import SubsidyAdjustment, SubsidyLine, SubsidyRun, SubsidyRunTransition
from subsidies.runs import services
from subsidies.runs.services import (
    subsidy_run_approve,
    subsidy_run_cancel,
    subsidy_run_compute,
    subsidy_run_send_back,
    subsidy_run_start,
    subsidy_run_submit,
    subsidy_runs_start_due,
)
from tests.subsidies.conftest import AFTER_2025

State = SubsidyRun.State
AFTER_2026 = datetime.date(2027, 1, 5)


def start(cast, programme, year=2025, today=AFTER_2025):
    run = subsidy_run_start(actor=cast.county, programme=programme, year=year, today=today)
    run.refresh_from_db()
    return run


def approved(cast, programme, year=2025, today=AFTER_2025):
    run = start(cast, programme, year, today)
    assert run.state == State.COMPUTED, run.error
    subsidy_run_submit(actor=cast.county, run=run)
    return subsidy_run_approve(actor=cast.finance, run=run)


def line_figures(run):
    return list(
        run.lines.order_by("loan_id").values_list(
            "loan_id",
            "eligible_days",
            "days_late",
            "reported_interest",
            "expected_interest",
            "eligible_interest",
            "subsidy",
            "adjustment",
            "amount_due",
            "reconciliation_flag",
        )
    )


def test_a_run_computes_each_loans_subsidy_from_its_postings(cast, programme, lend):
    # 100,000 at 3.45 % from 2025-03-20, a settlement day: periods of 1, 92,
    # 92 and 91 days in 2025.
    loan = lend()
    run = start(cast, programme)

    assert run.state == State.COMPUTED
    line = run.lines.get()
    assert line.loan == loan
    assert line.eligible_days == 1 + 92 + 92 + 91
    assert line.reported_interest == Decimal("9.58") + 2 * Decimal("881.67") + Decimal("872.08")
    assert line.expected_interest == line.reported_interest
    assert line.subsidy == Decimal("2645.00")
    assert line.amount_due == Decimal("2645.00")
    assert not line.reconciliation_flag
    # Written with COPY on PostgreSQL: blank text stays blank, NULL stays NULL.
    assert (line.voucher_no, line.batch, line.paid_on, line.payment) == ("", None, None, "pending")
    assert line.quota == Decimal("100000.00") and line.subsidised_rate == Decimal("0.034500")
    assert (run.line_count, run.total_subsidy, run.total_due) == (1, line.subsidy, line.subsidy)
    assert run.parts.get().township_id == loan.township_id
    steps = list(run.transitions.values_list("to_state", flat=True))
    assert steps == [State.DRAFT, State.COMPUTING, State.COMPUTED]


def test_exceptions_are_counted_late_payments_and_differing_figures(cast, programme, lend):
    lend(late_days=3)
    lend(extra=Decimal("2.00"))
    lend()
    run = start(cast, programme)

    late, differing, clean = run.lines.order_by("loan_id")
    assert late.days_late == 276 and late.subsidy == 0
    assert differing.reconciliation_flag and differing.difference == Decimal("8.00")
    assert differing.subsidy == Decimal("2645.00")  # capped at the eligible interest
    assert not clean.is_exception
    assert run.flagged_count == 2


def test_a_year_that_is_not_over_cannot_be_computed(cast, programme):
    with pytest.raises(ValidationError) as error:
        subsidy_run_start(
            actor=cast.county, programme=programme, year=2025, today=datetime.date(2025, 12, 20)
        )
    assert "year" in error.value.message_dict
    assert not SubsidyRun.objects.exists()


def test_only_the_county_starts_a_run(cast, programme):
    for actor in (cast.township_officer_a, cast.finance, cast.coop, cast.auditor):
        with pytest.raises(PermissionDenied):
            subsidy_run_start(actor=actor, programme=programme, year=2025, today=AFTER_2025)
    assert not SubsidyRun.objects.exists()


def test_the_submitter_can_never_approve(cast, programme, lend):
    lend()
    run = start(cast, programme)
    subsidy_run_submit(actor=cast.county, run=run)
    cast.county.user_permissions.add(*_perm("approve_subsidyrun"))
    county = type(cast.county).objects.get(pk=cast.county.pk)  # fresh permission cache

    with pytest.raises(PermissionDenied):
        subsidy_run_approve(actor=county, run=run)
    run.refresh_from_db()
    assert run.state == State.SUBMITTED and run.approved_by is None

    # The database refuses it too, whoever writes the row.
    with pytest.raises(IntegrityError), transaction.atomic():
        SubsidyRun.objects.filter(pk=run.pk).update(approved_by=cast.county)

    subsidy_run_approve(actor=cast.finance, run=run)
    run.refresh_from_db()
    assert (run.state, run.approved_by) == (State.APPROVED, cast.finance)


def _perm(codename):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename=codename)


def test_sending_back_needs_a_reason_and_returns_the_run_to_the_county(cast, programme, lend):
    lend()
    run = start(cast, programme)
    subsidy_run_submit(actor=cast.county, run=run)
    with pytest.raises(ValidationError):
        subsidy_run_send_back(actor=cast.finance, run=run, reason="  ")
    run.refresh_from_db()
    assert run.state == State.SUBMITTED

    subsidy_run_send_back(actor=cast.finance, run=run, reason="逾期户需核实")
    run.refresh_from_db()
    assert run.state == State.COMPUTED and run.returned_reason == "逾期户需核实"
    assert run.transitions.last().comment == "逾期户需核实"
    with pytest.raises(ValidationError):
        subsidy_run_approve(actor=cast.finance, run=run)  # not submitted any more


def test_recomputing_a_draft_replaces_its_lines(cast, programme, lend):
    lend()
    run = start(cast, programme)
    first_generation = run.generation
    second = lend()
    run = subsidy_run_compute(actor=cast.county, run=run)
    run.refresh_from_db()
    assert run.generation == first_generation + 1
    assert run.line_count == 2 and run.lines.filter(loan=second).exists()
    assert set(run.lines.values_list("generation", flat=True)) == {run.generation}


def test_an_approved_run_is_frozen(cast, programme, lend, coop):
    loan = lend()
    run = approved(cast, programme)
    before = line_figures(run)
    for act in (
        lambda: subsidy_run_compute(actor=cast.county, run=run),
        lambda: subsidy_run_cancel(actor=cast.county, run=run, reason="重算"),
        lambda: subsidy_run_submit(actor=cast.county, run=run),
    ):
        with pytest.raises(ValidationError):
            act()
    # A correction the co-op posts later changes nothing in the approved run.
    ledger_post_reversal(
        actor=cast.coop,
        coop=coop,
        txn_id="REV-1",
        reverses_txn_id=f"{loan.contract_no}-20251220",
        reason="利息冲正",
    )
    run.refresh_from_db()
    assert run.state == State.APPROVED and line_figures(run) == before


def test_a_late_correction_is_carried_once_into_the_next_run(cast, programme, lend, coop):
    loan = lend(settled_until=datetime.date(2026, 12, 21))
    run_2025 = approved(cast, programme)
    assert run_2025.lines.get().subsidy == Decimal("2645.00")
    # After approval the co-op reverses the last 2025 settlement (872.08)
    # and posts it again 19.95 yuan lower (not a whole number: SQLite compares
    # decimals as floating point, and the database's checks must hold there too).
    ledger_post_reversal(
        actor=cast.coop,
        coop=coop,
        txn_id="REV-1",
        reverses_txn_id=f"{loan.contract_no}-20251220",
        reason="利息冲正",
    )
    ledger_post_interest(
        actor=cast.coop,
        coop=coop,
        loan=loan,
        txn_id="FIX-1",
        period_start=datetime.date(2025, 9, 21),
        period_end=datetime.date(2025, 12, 20),
        due_on=datetime.date(2025, 12, 20),
        paid_on=datetime.date(2025, 12, 20),
        amount=Decimal("852.13"),
    )

    run_2026 = start(cast, programme, 2026, AFTER_2026)
    line = run_2026.lines.get()
    adjustment = line.adjustments.get()
    assert (adjustment.for_run, adjustment.settled, adjustment.recomputed) == (
        run_2025,
        Decimal("2645.00"),
        Decimal("2625.05"),
    )
    assert line.adjustment == Decimal("-19.95")
    assert line.amount_due == line.subsidy - Decimal("19.95")
    assert run_2026.total_adjustment == Decimal("-19.95")
    # 2025's approved line is untouched.
    assert run_2025.lines.get().subsidy == Decimal("2645.00")

    # Once 2026 is approved with the adjustment, 2027 carries nothing more.
    subsidy_run_submit(actor=cast.county, run=run_2026)
    subsidy_run_approve(actor=cast.finance, run=run_2026)
    run_2027 = start(cast, programme, 2027, datetime.date(2028, 1, 5))
    assert sum(line.adjustment for line in run_2027.lines.all()) == 0


def test_an_earlier_open_run_blocks_the_next_year(cast, programme, lend):
    lend()
    start(cast, programme)
    with pytest.raises(ValidationError) as error:
        subsidy_run_start(actor=cast.county, programme=programme, year=2026, today=AFTER_2026)
    assert "2025" in error.value.message_dict["year"][0]


def test_a_part_run_twice_writes_the_same_lines(cast, programme, lend):
    lend()
    lend(late_days=2)
    run = start(cast, programme)
    before = line_figures(run)
    township = run.parts.get().township_id
    SubsidyRun.objects.filter(pk=run.pk).update(state=State.COMPUTING)
    for _attempt in range(2):
        count = services.subsidy_run_compute_part(
            run_id=run.pk, generation=run.generation, township_id=township
        )
        assert count == 2
    assert line_figures(run) == before
    assert run.lines.count() == 2 and run.parts.count() == 1


def test_a_part_of_an_earlier_computation_does_nothing(cast, programme, lend):
    lend()
    run = start(cast, programme)
    stale = run.generation
    run = subsidy_run_compute(actor=cast.county, run=run)
    township = run.parts.get().township_id
    assert (
        services.subsidy_run_compute_part(run_id=run.pk, generation=stale, township_id=township)
        is None
    )


def test_the_number_of_queries_does_not_grow_with_the_loans(cast, programme, lend):
    lend()
    run = start(cast, programme)
    township = run.parts.get().township_id

    def queries_for_part():
        SubsidyRun.objects.filter(pk=run.pk).update(state=State.COMPUTING)
        with CaptureQueriesContext(connection) as queries:
            services.subsidy_run_compute_part(
                run_id=run.pk, generation=run.generation, township_id=township
            )
        return len(queries)

    few = queries_for_part()
    for _ in range(5):
        lend()
    assert run.lines.count() == 1
    many = queries_for_part()
    assert run.lines.count() == 6
    assert many == few


def test_a_missing_loan_prime_rate_fails_the_run_with_the_reason(cast, programme, lend):
    lend()
    Programme.objects.filter(pk=programme.pk).update(rate_cap_mode=Programme.RateCapMode.LPR)
    LprRate.objects.filter(effective_on__lte=datetime.date(2025, 3, 20)).delete()
    programme.refresh_from_db()
    run = start(cast, programme)
    assert run.state == State.FAILED
    assert "MJ-2025-0001" in run.error and "2025-03-20" in run.error
    assert not run.lines.exists()
    # Fixing the table and recomputing succeeds.
    LprRate.objects.create(effective_on=datetime.date(2025, 1, 1), one_year_rate=Decimal("0.031"))
    subsidy_run_compute(actor=cast.county, run=run)
    run.refresh_from_db()
    assert run.state == State.COMPUTED
    assert run.lines.get().subsidised_rate == Decimal("0.031000")


def test_cancelling_needs_a_reason_and_frees_the_year(cast, programme, lend):
    lend()
    run = start(cast, programme)
    with pytest.raises(ValidationError):
        subsidy_run_cancel(actor=cast.county, run=run, reason="")
    subsidy_run_cancel(actor=cast.county, run=run, reason="参数有误")
    run.refresh_from_db()
    assert run.state == State.CANCELLED
    again = start(cast, programme)
    assert again.pk != run.pk and again.state == State.COMPUTED


def test_the_scheduled_start_opens_last_years_run_of_each_county_that_lent(cast, programme, lend):
    lend()
    # Every active programme is due; only the one that lent in a county has a
    # county to run it for (each county runs its own year).
    started = subsidy_runs_start_due(today=datetime.date(2026, 1, 5))
    assert [(run.programme_id, run.county_id) for run in started] == [
        (programme.pk, cast.county_division.pk)
    ]
    assert {run.year for run in started} == {2025}
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    assert run.state == State.COMPUTED and run.created_by is None
    # Running it again starts nothing new, and the county's button sees the same run.
    assert subsidy_runs_start_due(today=datetime.date(2026, 1, 5)) == []
    assert start(cast, programme).pk == run.pk
    assert SubsidyRunTransition.objects.filter(run=run, to_state=State.DRAFT).count() == 1


def test_beat_starts_the_runs_on_5_january():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["start-subsidy-runs"]
    assert entry["task"] == "subsidies.start_due_runs"
    schedule = entry["schedule"]
    assert schedule.month_of_year == {1} and schedule.day_of_month == {5}


def test_lines_are_unique_per_run_and_loan(cast, programme, lend):
    lend()
    run = start(cast, programme)
    line = run.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        SubsidyLine.objects.create(
            **{
                field.attname: getattr(line, field.attname)
                for field in SubsidyLine._meta.concrete_fields
                if field.name != "id"
            }
        )


def test_an_unexpected_error_in_a_part_fails_the_run_with_the_error_shown(
    cast, programme, lend, monkeypatch
):
    lend()

    def broken(run, township_id):
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(services, "_compute_township", broken)
        run = start(cast, programme)
    assert run.state == State.FAILED
    assert run.error == "RuntimeError: database went away"
    assert not run.lines.exists()
    subsidy_run_compute(actor=cast.county, run=run)
    run.refresh_from_db()
    assert run.state == State.COMPUTED and run.line_count == 1


def test_a_recovery_bigger_than_the_years_subsidy_is_carried_until_recovered(
    cast, programme, lend, coop
):
    """2025 paid 2,645.00; then the co-op reverses all of 2025's interest.
    2026 has no subsidy to set it against (nothing posted for 2026), so its
    line is due −2,645.00 and paid nothing; 2027 carries the −2,645.00 as
    still to recover, and never the recomputation of 2025 a second time."""
    loan = lend()
    run_2025 = approved(cast, programme)
    for number, entry in enumerate(loan.ledger.filter(kind="interest")):
        ledger_post_reversal(
            actor=cast.coop,
            coop=coop,
            txn_id=f"REV-{number}",
            reverses_txn_id=entry.txn_id,
            reason="利息冲正",
        )

    run_2026 = approved(cast, programme, 2026, AFTER_2026)
    line_2026 = run_2026.lines.get()
    assert (line_2026.subsidy, line_2026.adjustment) == (Decimal("0.00"), Decimal("-2645.00"))
    assert line_2026.payment == SubsidyLine.Payment.NOTHING_DUE
    assert line_2026.adjustments.get().for_run == run_2025

    run_2027 = start(cast, programme, 2027, datetime.date(2028, 1, 5))
    line_2027 = run_2027.lines.get()
    carried = line_2027.adjustments.get()
    assert (carried.kind, carried.for_run, carried.difference) == (
        SubsidyAdjustment.Kind.UNRECOVERED,
        run_2026,
        Decimal("-2645.00"),
    )
    assert line_2027.amount_due == Decimal("-2645.00")
