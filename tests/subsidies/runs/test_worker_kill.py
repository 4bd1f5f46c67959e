"""A worker killed in the middle of a subsidy computation: the part goes back
to the queue, another worker runs it again, and the run ends with exactly
the lines an uninterrupted computation gives. Real workers, Redis, PostgreSQL."""

import datetime
import time

import pytest

from demo.loan_book import loan_book_create
from loans.models import Programme
from subsidies.models import SubsidyRun
from subsidies.runs.services import _compute_township, subsidy_run_start
from tests.loans.conftest import mojiang_coop
from tests.workers import start_worker, wait_for
from zhenxingdai.celery import app as celery_app

LOANS = 4000
FIELDS = (
    "loan_id",
    "eligible_days",
    "days_late",
    "reported_interest",
    "expected_interest",
    "eligible_interest",
    "subsidy",
    "amount_due",
    "reconciliation_flag",
)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_part_leaves_the_same_lines_after_the_retry(cast, celery_worker):
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    loan_book_create(
        actor=cast.county, township=cast.township_a, programme=programme, coop=coop, count=LOANS
    )
    # This worker dies; the message it took comes back after 2 s unacknowledged.
    celery_worker.stop()
    queue = celery_worker.queue
    settings = {
        "CELERY_VISIBILITY_TIMEOUT": "2",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    doomed = start_worker(queue=queue, settings=settings)
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        run = subsidy_run_start(
            actor=cast.county, programme=programme, year=2025, today=datetime.date(2026, 1, 5)
        )
    finally:
        celery_app.conf.task_default_queue = default_queue
    doomed.wait_for_log("subsidies.compute_part", timeout=30)
    assert "subsidies.compute_part" in doomed.log(), doomed.log()
    time.sleep(0.1)
    doomed.kill()
    run.refresh_from_db()
    # Killed in the middle: the part had not written anything.
    assert run.state == SubsidyRun.State.COMPUTING
    assert not run.parts.exists() and not run.lines.exists()

    rescuer = start_worker(queue=queue, settings=settings)
    try:
        wait_for(
            lambda: SubsidyRun.objects.get(pk=run.pk).state != SubsidyRun.State.COMPUTING,
            timeout=60,
            message=f"the part was not run again:\n{rescuer.log()}",
        )
    finally:
        rescuer.stop()
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    assert run.line_count == LOANS and run.lines.count() == LOANS

    stored = sorted(run.lines.values_list(*FIELDS))
    lines, _adjustments = _compute_township(run, cast.township_a.pk)
    expected = sorted(tuple(getattr(line, field) for field in FIELDS) for line in lines)
    assert stored == expected
    assert sum(line[FIELDS.index("days_late")] > 0 for line in stored) == LOANS // 10
