"""A province-wide subsidy year on two worker processes (issue #16): the
loans of 130 counties (Yunnan's 129 and Guizhou's 碧江区, each province
with its own 振兴贷 2025), four quarterly postings each, against one
hand-written SQL query that sums the reported interest of the same rows.

The runs are started as Celery beat starts them on 5 January
(``subsidy_runs_start_due``: one run per county, one part per township)
and computed by two real Celery worker processes (``celery worker
--pool=solo`` ×2 on one queue) on Redis and PostgreSQL. The figure is the
time from the start until every county's run is computed; the parts each
worker took are counted from its log.

``BENCH_PROVINCE_LOANS`` (default 10,000) loans are spread evenly over
``BENCH_PROVINCE_TOWNSHIPS`` (default 4) townships of each county. The
set-up writes one loan per township through demo/loan_book.py and clones
it in SQL (INSERT ... SELECT over generate_series, every other column
copied from that loan), so a million loans take minutes, not hours. Every
10th clone pays its second quarter a week late and every 7th reports two
yuan high, as demo/loan_book.py does. The run itself goes through the
real services and tasks.

Needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL).
"""

import datetime
import os
import re
import time

from django.conf import settings
from django.db import connection

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from beneficiaries.models import Borrower, Household
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save
from loans.models import Application, LedgerEntry, Loan, Programme, ProgrammeQuota
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_runs_start_due
from tests.workers import start_worker
from zhenxingdai.celery import app as celery_app

LOANS = int(os.environ.get("BENCH_PROVINCE_LOANS", "10000"))
TOWNSHIPS = int(os.environ.get("BENCH_PROVINCE_TOWNSHIPS", "4"))
WORKERS = int(os.environ.get("BENCH_PROVINCE_WORKERS", "2"))
PROVINCES = {"530000": ("53", "云南省"), "520000": ("520602", "贵州省")}  # region: (codes, name)
GOAL_SECONDS = 90
GOAL_RATIO = 5.0
YEAR = 2025
TODAY = datetime.date(YEAR + 1, 1, 5)

SUM_SQL = """
SELECT SUM(e.amount)
  FROM loans_ledgerentry e
  JOIN loans_loan l ON l.id = e.loan_id
 WHERE l.programme_id = ANY(%s)
   AND e.kind = 'interest'
   AND e.period_start <= %s
   AND e.period_end >= %s
   AND NOT EXISTS (SELECT 1 FROM loans_ledgerentry r WHERE r.reverses_id = e.id)
"""


def _programme(shipped: Programme, region_code: str, region_name: str) -> Programme:
    """The shipped 振兴贷 2025 (Mojiang's) set up again for a province."""
    fields = {
        field.name: getattr(shipped, field.name)
        for field in Programme._meta.concrete_fields
        if not field.primary_key
    }
    fields.update(region_code=region_code, region_name=region_name, name="振兴贷")
    programme = Programme.objects.create(**fields)
    ProgrammeQuota.objects.bulk_create(
        ProgrammeQuota(programme=programme, category=quota.category, amount=quota.amount)
        for quota in shipped.quotas.all()
    )
    return programme


def _columns(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields if not field.primary_key]


def _insert_clones(model, source: str, changes: dict[str, str], returning: str) -> str:
    """``INSERT INTO`` ``model``'s table ``SELECT`` from ``source``, in which
    ``t`` is the template row: every column copied from it but ``changes``."""
    columns = _columns(model)
    unknown = set(changes) - set(columns)
    if unknown:
        raise ValueError(f"no such columns in {model._meta.db_table}: {unknown}")
    values = [changes.get(column, f't."{column}"') for column in columns]
    return (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source} RETURNING {returning}"
    )


def _clone_sql() -> str:
    """One statement that clones each template loan (with its household,
    borrower, application and postings) ``extra`` times; clone ``i`` gets
    ID number 9…i and contract PV-i, which tie the rows together."""
    household = _insert_clones(
        Household,
        "src JOIN beneficiaries_household t ON t.id = src.household_id",
        {"head_id_number": "src.idn", "head_name": "'户主' || src.i"},
        "id, head_id_number",
    )
    borrower = _insert_clones(
        Borrower,
        "h JOIN src ON src.idn = h.head_id_number "
        "JOIN beneficiaries_borrower t ON t.id = src.borrower_id",
        {"id_number": "src.idn", "household_id": "h.id", "name": "'户主' || src.i"},
        "id, household_id, id_number",
    )
    application = _insert_clones(
        Application,
        "b JOIN src ON src.idn = b.id_number JOIN loans_application t ON t.id = src.application_id",
        {"borrower_id": "b.id", "household_id": "b.household_id"},
        "id, borrower_id",
    )
    loan = _insert_clones(
        Loan,
        "a JOIN b ON b.id = a.borrower_id JOIN src ON src.idn = b.id_number "
        "JOIN loans_loan t ON t.id = src.loan_id",
        {"application_id": "a.id", "contract_no": "src.contract"},
        "id, contract_no",
    )
    quarter = "substring(t.txn_id from '-Q([0-9]+)$')::int"
    entry = _insert_clones(
        LedgerEntry,
        "l JOIN src ON src.contract = l.contract_no "
        "JOIN loans_ledgerentry t ON t.loan_id = src.loan_id",
        {
            "loan_id": "l.id",
            "txn_id": f"src.contract || '-Q' || {quarter}",
            "amount": "t.amount + CASE WHEN src.i %% 7 = 0 THEN 2 ELSE 0 END",
            "paid_on": f"t.paid_on + CASE WHEN src.i %% 10 = 0 AND {quarter} = 2 THEN 7 ELSE 0 END",
        },
        "1",
    ).replace(" RETURNING 1", "")
    return f"""
WITH src AS (
    SELECT tl.id AS loan_id, ta.id AS application_id, ta.borrower_id, ta.household_id, g.i,
           '9' || lpad(g.i::text, 17, '0') AS idn, 'PV-' || lpad(g.i::text, 9, '0') AS contract
      FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS tpl(loan_id, first, extra)
      JOIN loans_loan tl ON tl.id = tpl.loan_id
      JOIN loans_application ta ON ta.id = tl.application_id
      CROSS JOIN LATERAL generate_series(tpl.first, tpl.first + tpl.extra - 1) AS g(i)
),
h AS ({household}),
b AS ({borrower}),
a AS ({application}),
l AS ({loan})
{entry}
"""


def _setup() -> list[Programme]:
    started = time.perf_counter()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    shipped = Programme.objects.get(name="振兴贷", year=YEAR, region_code="530822")
    programmes, templates = [], []
    officer = None
    for region_code, (codes, name) in PROVINCES.items():
        if len(codes) == 2:
            divisions_load(provinces=[codes])
        else:
            divisions_load(counties=[codes])
        counties = list(
            Division.objects.filter(level=Division.Level.COUNTY, code__startswith=codes).order_by(
                "code"
            )
        )
        programme = _programme(shipped, region_code, name)
        programmes.append(programme)
        coop = credit_coop_save(code=f"rcc-{region_code}", name=f"{name}农信社", counties=counties)
        if officer is None:
            officer = user_create(
                username="bench-province",
                password="bench-password-123",
                role=Role.COUNTY,
                county=counties[0],
            )
        for county in counties:
            for township in Division.objects.filter(parent=county).order_by("code")[:TOWNSHIPS]:
                templates.append((township, programme, coop))
    per_township, rest = divmod(LOANS, len(templates))
    counties = len({township.parent_id for township, _p, _c in templates})
    # One loan per township through the generator (index 70k + 1: on time,
    # reported right), then clones of it in SQL.
    loan_ids, firsts, extras = [], [], []
    next_index = 10_000_000
    for number, (township, programme, coop) in enumerate(templates):
        count = per_township + (1 if number < rest else 0)
        (loan,) = loan_book_create(
            actor=officer,
            township=township,
            programme=programme,
            coop=coop,
            count=1,
            first_index=70 * number + 1,
        )
        if count > 1:
            loan_ids.append(loan.pk)
            firsts.append(next_index)
            extras.append(count - 1)
            next_index += count - 1
    templated = time.perf_counter()
    sql = _clone_sql()
    batch = 40  # townships per statement
    with connection.cursor() as cursor:
        # The clones are consistent by construction: skip the foreign-key
        # triggers while writing them (a throwaway database, as superuser),
        # which halves the set-up of a million loans.
        cursor.execute("SET session_replication_role = replica")
        for start in range(0, len(loan_ids), batch):
            cursor.execute(
                sql,
                [
                    loan_ids[start : start + batch],
                    firsts[start : start + batch],
                    extras[start : start + batch],
                ],
            )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE")
    loans = Loan.objects.count()
    if loans != LOANS:
        raise AssertionError(f"{loans} loans set up, not {LOANS}")
    print(
        f"  set-up: {loans:,} loans, {LedgerEntry.objects.count():,} postings, "
        f"{counties} counties, {len(templates)} townships, in "
        f"{time.perf_counter() - started:.0f} s "
        f"({templated - started:.0f} s of it the {len(templates)} template loans)",
        flush=True,
    )
    return programmes


def _parts_taken(worker) -> int:
    return len(re.findall(r"Task subsidies\.compute_part\[[^]]+\] succeeded", worker.log()))


def run() -> list[Figure]:
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL:
        print("  skipped: needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)")
        return []
    programmes = _setup()
    first, last = programmes[0].subsidy_year_bounds(YEAR)
    ids = [programme.pk for programme in programmes]

    def sum_query():
        with connection.cursor() as cursor:
            cursor.execute(SUM_SQL, [ids, last, first])
            return cursor.fetchone()[0]

    baseline = timed(sum_query, repeat=5)

    workers = [start_worker()]
    workers += [start_worker(queue=workers[0].queue) for _ in range(WORKERS - 1)]
    eager, queue = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = workers[0].queue
    try:
        started = time.perf_counter()
        runs = subsidy_runs_start_due(today=TODAY)
        queued = time.perf_counter() - started
        pending = SubsidyRun.objects.filter(pk__in=[r.pk for r in runs])
        while pending.filter(state=SubsidyRun.State.COMPUTING).exists():
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        taken = [_parts_taken(worker) for worker in workers]
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = eager, queue
        for worker in workers:
            worker.stop()
    done = list(pending)
    failed = [r for r in done if r.state != SubsidyRun.State.COMPUTED]
    if failed:
        raise AssertionError(f"{len(failed)} runs not computed: {failed[0].error}")
    lines = sum(r.line_count for r in done)
    reported = sum(r.total_reported for r in done)
    subsidy = sum(r.total_subsidy for r in done)
    if lines != LOANS or reported != sum_query():
        raise AssertionError((lines, reported, sum_query()))
    print(
        f"  run: {len(done)} county runs, {sum(r.parts_total for r in done)} parts "
        f"(taken by the workers: {' + '.join(map(str, taken))}), {lines:,} lines, "
        f"subsidy {subsidy:,} yuan; {seconds:.1f} s, of which {queued:.1f} s starting "
        f"(goal ≤ {GOAL_SECONDS} s: {'met' if seconds <= GOAL_SECONDS else 'NOT MET'})",
        flush=True,
    )
    return [
        Figure(
            f"province run, {lines:,} loans, {WORKERS} workers",
            seconds,
            "SQL SUM of reported interest",
            baseline,
            goal_ratio=GOAL_RATIO,
        )
    ]
