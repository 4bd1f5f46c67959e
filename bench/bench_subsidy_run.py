"""The yearly subsidy run over 100,000 loans with four quarterly postings
each (400,000 ledger rows), against one hand-written SQL query that sums the
reported interest of the same rows.

The loan book (demo/loan_book.py) is spread over ten townships, so the run
is ten parts. The figure is the whole run as the county's button starts it:
the service, the ten parts (load the loans and the ledger as of the run's
moment, apply the rule of DOMAIN.md section 5 to every loan, replace the
township's lines) and the closing totals. Measured in this process with the
tasks run eagerly, one after another: on a worker pool the parts run side
by side, so this is the slowest the run can be on one core. The run is
computed three times (each a recomputation that replaces every line) and
the median reported.

Goals (issue #6): the whole run under 30 s on a 2-core machine; within 5
times the SQL sum.

Needs PostgreSQL (DATABASE_URL) for figures that mean anything.
"""

import datetime
import os
import statistics
import time

from django.db import connection

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save
from loans.models import Programme
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_compute, subsidy_run_start
from zhenxingdai.celery import app as celery_app

LOANS = int(os.environ.get("BENCH_SUBSIDY_LOANS", "100000"))
TOWNSHIPS = 10
GOAL_SECONDS = 30
GOAL_RATIO = 5.0

SUM_SQL = """
SELECT SUM(e.amount)
  FROM loans_ledgerentry e
  JOIN loans_loan l ON l.id = e.loan_id
 WHERE l.programme_id = %s
   AND e.kind = 'interest'
   AND e.period_start <= %s
   AND e.period_end >= %s
   AND NOT EXISTS (SELECT 1 FROM loans_ledgerentry r WHERE r.reverses_id = e.id)
"""


def _setup():
    county = divisions_load(counties=["530822"]).county
    county_officer = user_create(
        username="bench-county",
        password="bench-password-123",
        role=Role.COUNTY,
        county=county,
    )
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = credit_coop_save(code="mojiang-rcc", name="墨江联社", counties=[county])
    townships = list(Division.objects.filter(parent=county).order_by("code")[:TOWNSHIPS])
    per_township = LOANS // len(townships)
    started = time.perf_counter()
    for number, township in enumerate(townships):
        loan_book_create(
            actor=county_officer,
            township=township,
            programme=programme,
            coop=coop,
            count=per_township,
            first_index=number * per_township,
        )
    print(
        f"  set-up: {per_township * len(townships):,} loans, "
        f"{per_township * len(townships) * 4:,} postings in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return county_officer, programme


def run() -> list[Figure]:
    celery_app.conf.task_always_eager = True
    officer, programme = _setup()
    first, last = programme.subsidy_year_bounds(2025)

    def sum_query():
        with connection.cursor() as cursor:
            cursor.execute(SUM_SQL, [programme.pk, last, first])
            return cursor.fetchone()[0]

    baseline = timed(sum_query, repeat=5)

    samples = []
    started = time.perf_counter()
    run = subsidy_run_start(
        actor=officer, programme=programme, year=2025, today=datetime.date(2026, 1, 5)
    )
    samples.append(time.perf_counter() - started)
    for _ in range(2):
        started = time.perf_counter()
        subsidy_run_compute(actor=officer, run=run)
        samples.append(time.perf_counter() - started)
    run = SubsidyRun.objects.get(pk=run.pk)
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    assert run.line_count == LOANS // TOWNSHIPS * TOWNSHIPS
    assert run.total_reported == sum_query(), (run.total_reported, sum_query())
    seconds = statistics.median(samples)
    print(
        f"  run: {run.line_count:,} lines, subsidy {run.total_subsidy:,} yuan, "
        f"{run.flagged_count:,} exceptions; {seconds:.1f} s "
        f"(goal < {GOAL_SECONDS} s: {'met' if seconds < GOAL_SECONDS else 'NOT MET'})",
        flush=True,
    )
    return [
        Figure(
            f"subsidy run, {run.line_count:,} loans",
            seconds,
            "SQL SUM of reported interest",
            baseline,
            goal_ratio=GOAL_RATIO,
        )
    ]
