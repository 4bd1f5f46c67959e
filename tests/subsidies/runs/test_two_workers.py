"""A county's run split into parts (one per township) taken by two real
worker processes on one queue, on Redis and PostgreSQL: both take parts,
and the lines and totals are to the fen those of the same run computed in
this process. And with one worker killed in the middle of a part: the
other takes that part again and the run ends the same."""

import datetime
import re
import time
from contextlib import contextmanager

import pytest

from demo.loan_book import loan_book_create
from divisions.models import Division
from loans.models import Programme
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_compute, subsidy_run_start
from tests.loans.conftest import mojiang_coop
from tests.workers import start_worker, wait_for
from zhenxingdai.celery import app as celery_app

FIELDS = (
    "loan_id",
    "township_id",
    "quota",
    "eligible_days",
    "days_late",
    "reported_interest",
    "expected_interest",
    "eligible_interest",
    "interest_above_cap",
    "subsidy",
    "amount_due",
    "reconciliation_flag",
)
TOTALS = (
    "line_count",
    "total_reported",
    "total_eligible",
    "total_subsidy",
    "total_due",
    "flagged_count",
)
# Restore a dead worker's unacknowledged part after 2 s, not the hour of production.
QUICK_RESTORE = {
    "CELERY_VISIBILITY_TIMEOUT": "2",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}
TASK = re.compile(r"Task subsidies\.compute_part\[([0-9a-f-]+)\] (received|succeeded)")


def book(cast, townships: int, loans: int) -> tuple[Programme, list[Division]]:
    """``loans`` loans in each of the first ``townships`` townships of Mojiang."""
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    chosen = list(Division.objects.filter(parent=cast.county_division).order_by("code"))
    chosen = chosen[:townships]
    for number, township in enumerate(chosen):
        loan_book_create(
            actor=cast.county,
            township=township,
            programme=programme,
            coop=coop,
            count=loans,
            first_index=number * loans,
        )
    return programme, chosen


def computed_here(cast, programme) -> tuple[SubsidyRun, tuple, list]:
    """The run computed in this process, tasks run in place: its totals and lines."""
    celery_app.conf.task_always_eager = True
    run = subsidy_run_start(
        actor=cast.county, programme=programme, year=2025, today=datetime.date(2026, 1, 5)
    )
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    return run, totals(run), lines(run)


def totals(run: SubsidyRun) -> tuple:
    return tuple(getattr(run, name) for name in TOTALS)


def lines(run: SubsidyRun) -> list:
    return sorted(run.lines.values_list(*FIELDS))


@contextmanager
def on_queue(queue: str):
    """Send the tasks to ``queue``, where the test's workers listen."""
    eager, default = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = eager, default


def parts(worker, state: str) -> set[str]:
    return {task for task, seen in TASK.findall(worker.log()) if seen == state}


def wait_until_computed(run: SubsidyRun, workers) -> SubsidyRun:
    wait_for(
        lambda: SubsidyRun.objects.get(pk=run.pk).state != SubsidyRun.State.COMPUTING,
        timeout=120,
        message="the run was not computed:\n" + "\n".join(w.log()[-3000:] for w in workers),
    )
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    return run


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_workers_take_the_parts_and_give_the_lines_computed_in_place(cast):
    programme, townships = book(cast, townships=8, loans=150)
    run, expected_totals, expected_lines = computed_here(cast, programme)
    assert run.parts_total == 8 and run.line_count == 8 * 150

    first = start_worker()
    second = start_worker(queue=first.queue)
    workers = [first, second]
    try:
        with on_queue(first.queue):
            subsidy_run_compute(actor=cast.county, run=run)
        run = wait_until_computed(run, workers)
        for worker in workers:
            worker.wait_for_log("subsidies.finish_run", timeout=1)
    finally:
        for worker in workers:
            worker.stop()

    taken = [parts(worker, "succeeded") for worker in workers]
    assert all(taken), [worker.log() for worker in workers]
    assert not taken[0] & taken[1]
    assert len(taken[0] | taken[1]) == 8
    assert run.parts.filter(generation=run.generation).count() == 8
    assert totals(run) == expected_totals
    assert lines(run) == expected_lines


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_part_leaves_its_part_to_the_other_and_the_same_totals(cast):
    programme, townships = book(cast, townships=3, loans=2500)
    run, expected_totals, expected_lines = computed_here(cast, programme)

    doomed = start_worker(settings=QUICK_RESTORE)
    survivor = start_worker(queue=doomed.queue, settings=QUICK_RESTORE)
    try:
        with on_queue(doomed.queue):
            subsidy_run_compute(actor=cast.county, run=run)
        wait_for(
            lambda: parts(doomed, "received"),
            timeout=30,
            message=f"the doomed worker took no part:\n{doomed.log()}",
        )
        time.sleep(0.1)
        doomed.kill()
        # Killed in the middle of a part: received, never done.
        (killed,) = parts(doomed, "received") - parts(doomed, "succeeded")
        run = wait_until_computed(run, [survivor])
        survivor.wait_for_log(f"subsidies.compute_part[{killed}] succeeded", timeout=5)
    finally:
        doomed.stop()
        survivor.stop()

    # The survivor took the killed part again (the same message, after the
    # visibility timeout) as well as the others.
    assert killed in parts(survivor, "succeeded"), survivor.log()
    assert len(parts(survivor, "succeeded") | parts(doomed, "succeeded")) == 3
    assert totals(run) == expected_totals
    assert lines(run) == expected_lines
