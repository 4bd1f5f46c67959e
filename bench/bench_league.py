"""The league table page and the consolidated report of a province office
over N counties with M loans, against hand-written SQL of the same sums.

Set-up (not timed): the first N counties of 四川省 (``BENCH_LEAGUE_COUNTIES``,
default 130; at most 183) with their townships, one province-wide 振兴贷
2025, and M loans (``BENCH_LEAGUE_LOANS``, default 100,000) spread evenly
over the counties by ``demo.loan_book.loan_book_create`` (quarterly interest
posted through 2025, bulk inserted), three driven households per county and
each county's computed 2025 subsidy run. Roughly three minutes for the
defaults on the 2-core machine; the issue's 1,000,000 loans take about ten
times that.

Figures, each with the number of queries it takes (which must not grow
with M):

* the league table page as the province office opens it (``reports:league``,
  all programmes, through the test client: session, auth, template);
* ``consolidated_figures``, the consolidated report's sums (totals, by
  county, by programme, by borrower category);
* the consolidated report's PDF and xlsx builders, once each.

Baselines: for the page, one SQL statement per figure group of the league
(the loans with their ledger sums by county, the subsidy lines by county,
the driven households by county); for the report, the same loan and line
sums grouped by county, by programme and by the applicant's stored
category (``beneficiaries_borrower.category``). The report's own category
is the household's, on the days of its loans (``consolidated.lent_as``), a
dearer rule: the ratio shows what it costs.
"""

import csv
import datetime
import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from beneficiaries.models import Borrower, DrivenHousehold, Household
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save
from loans.models import Application, LedgerEntry, Loan, Programme
from reports.builders import no_progress
from reports.consolidated import consolidated_figures, consolidated_pdf, consolidated_xlsx
from reports.models import Report
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.runs.services import subsidy_run_start
from zhenxingdai.celery import app as celery_app

COUNTIES = int(os.environ.get("BENCH_LEAGUE_COUNTIES", "130"))
LOANS = int(os.environ.get("BENCH_LEAGUE_LOANS", "100000"))
PROVINCE = "51"  # 四川省: 183 counties
PASSWORD = "bench-Passw0rd-long"
PAGE_GOAL_SECONDS = 1.0


def _county_codes() -> list[str]:
    path = Path(settings.DIVISIONS_DATA_DIR) / "divisions-areas.csv"
    with path.open(encoding="utf-8") as handle:
        codes = [row["code"] for row in csv.DictReader(handle) if row["provinceCode"] == PROVINCE]
    if len(codes) < COUNTIES:
        raise SystemExit(f"BENCH_LEAGUE_COUNTIES: at most {len(codes)}")
    return codes[:COUNTIES]


def _province_programme(province: Division) -> Programme:
    """振兴贷 2025 as shipped for Mojiang, set up again for the province."""
    shipped = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    quotas = list(shipped.quotas.all())
    programme = Programme.objects.get(pk=shipped.pk)
    programme.pk = None
    programme.region_code = province.code.ljust(6, "0")  # 51 → 510000
    programme.region_name = province.name
    programme.save()
    for quota in quotas:
        programme.quotas.create(category=quota.category, amount=quota.amount)
    return programme


def _set_up(today: datetime.date):
    started = time.perf_counter()
    codes = _county_codes()
    divisions_load(counties=codes)
    counties = list(Division.objects.filter(code__in=codes).order_by("code"))
    province = counties[0].parent.parent
    programme = _province_programme(province)
    coop = credit_coop_save(code="sc-rcc", name="四川省农村信用社", counties=counties)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        for index, county in enumerate(counties):
            count = LOANS // len(counties) + (1 if index < LOANS % len(counties) else 0)
            office = user_create(
                username=f"county-{county.code}", password=PASSWORD, role=Role.COUNTY, county=county
            )
            township = Division.objects.townships().filter(parent=county).order_by("code").first()
            loans = loan_book_create(
                actor=office,
                township=township,
                programme=programme,
                coop=coop,
                count=count,
                first_index=index * (LOANS // len(counties) + 1),
            )
            households = list(Household.objects.filter(county=county).order_by("-pk")[:3])
            for loan, driven in zip(loans[:3], households, strict=False):
                DrivenHousehold.objects.create(
                    borrower=loan.application.borrower,
                    household=driven,
                    benefit=DrivenHousehold.Benefit.WAGES,
                )
            run = subsidy_run_start(actor=office, programme=programme, year=2025, today=today)
            run.refresh_from_db()
            assert run.state == SubsidyRun.State.COMPUTED, run.error
            if index % 10 == 9:
                print(f"  set-up: {index + 1} counties", flush=True)
    finally:
        celery_app.conf.task_always_eager = eager
    user = user_create(username="province", password=PASSWORD, role=Role.PROVINCE, office=province)
    print(
        f"  set-up: {len(counties)} counties, {Loan.objects.count():,} loans, "
        f"{LedgerEntry.objects.count():,} ledger entries, "
        f"{SubsidyLine.objects.count():,} subsidy lines in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return user, programme


def _tables() -> dict[str, str]:
    models = {
        "loan": Loan,
        "entry": LedgerEntry,
        "application": Application,
        "borrower": Borrower,
        "line": SubsidyLine,
        "run": SubsidyRun,
        "driven": DrivenHousehold,
    }
    return {name: model._meta.db_table for name, model in models.items()}


def _loan_sums(group: str, join: str = "") -> str:
    """The league's loan sums grouped by ``group``, in one statement: the
    ledger summed per loan once, joined to the loans."""
    return f"""
        SELECT {group}, COUNT(*), COUNT(DISTINCT a.household_id), SUM(l.principal),
               SUM(l.principal - COALESCE(e.repaid, 0)), SUM(COALESCE(e.interest, 0)),
               COUNT(*) FILTER (WHERE l.maturity_on < %(day)s
                                  AND l.principal - COALESCE(e.repaid, 0) > 0)
          FROM {{loan}} l
          JOIN {{application}} a ON a.id = l.application_id
          {join}
          LEFT JOIN (SELECT loan_id,
                            SUM(amount) FILTER (WHERE kind = 'principal') AS repaid,
                            SUM(amount) FILTER (WHERE kind = 'interest') AS interest
                       FROM {{entry}} x
                      WHERE x.paid_on <= %(day)s
                        AND NOT EXISTS (SELECT 1 FROM {{entry}} y WHERE y.reverses_id = x.id)
                      GROUP BY loan_id) e ON e.loan_id = l.id
         WHERE l.disbursed_on <= %(day)s
         GROUP BY {group}
    """


def _line_sums(group: str, join: str = "") -> str:
    return f"""
        SELECT {group}, SUM(s.amount_due),
               SUM(s.amount_due) FILTER (WHERE s.payment = 'paid' AND s.paid_on <= %(day)s),
               COUNT(*) FILTER (WHERE s.reconciliation_flag)
          FROM {{line}} s
          JOIN {{run}} r ON r.id = s.run_id
          {join}
         WHERE r.state IN ('computed', 'submitted', 'approved', 'paid') AND r.year <= %(year)s
         GROUP BY {group}
    """


DRIVEN = """
    SELECT d.county_id, COUNT(DISTINCT d.household_id) FROM {driven} d
     WHERE d.borrower_id IN (SELECT a.borrower_id FROM {loan} l
                               JOIN {application} a ON a.id = l.application_id
                              WHERE l.disbursed_on <= %(day)s)
     GROUP BY d.county_id
"""
BY_CATEGORY_JOIN = "JOIN {borrower} b ON b.id = a.borrower_id"
LINE_CATEGORY_JOIN = (
    "JOIN {loan} l ON l.id = s.loan_id JOIN {application} a ON a.id = l.application_id "
    "JOIN {borrower} b ON b.id = a.borrower_id"
)


def _baseline(statements: list[str], today: datetime.date):
    tables = _tables()
    parameters = {"day": today, "year": today.year - 1}

    def run():
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.format(**tables), parameters)
                cursor.fetchall()

    return run


def _counted(function) -> int:
    # The set-up's thousands of queries fill the log, whose length then
    # stops growing: start from an empty one.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        function()
    return len(queries)


def run() -> list[Figure]:
    if connection.vendor != "postgresql":
        print("  bench_league: PostgreSQL only (FILTER clauses in the baseline)")
        return []
    import logging

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    today = timezone.localdate()
    province, _programme = _set_up(today)
    # Fresh statistics, as autovacuum would have them after the bulk inserts.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    from django.contrib.auth import get_user_model

    def fresh():  # the account as a request or a task loads it
        return get_user_model().objects.get(pk=province.pk)

    client = Client(SERVER_NAME="localhost")
    client.force_login(province)
    url = reverse("reports:league")

    def page():
        response = client.get(url)
        assert response.status_code == 200

    league_sql = _baseline([_loan_sums("l.county_id"), _line_sums("s.county_id"), DRIVEN], today)
    report_sql = _baseline(
        [
            _loan_sums("l.county_id"),
            _line_sums("s.county_id"),
            DRIVEN,
            _loan_sums("l.programme_id"),
            _line_sums("r.programme_id"),
            _loan_sums("b.category", BY_CATEGORY_JOIN),
            _line_sums("b.category", LINE_CATEGORY_JOIN),
        ],
        today,
    )
    page_queries = _counted(page)
    figures_queries = _counted(lambda: consolidated_figures(user=fresh(), as_of=today))
    measured = {}
    # PostgreSQL compiles (JIT) any statement it costs above jit_above_cost;
    # the loan sums' correlated ledger subqueries cost that much, and their
    # compilation takes longer than running them: time both ways.
    for jit in ("on", "off"):
        with connection.cursor() as cursor:
            cursor.execute("SET jit = " + jit)
        measured[jit] = (
            timed(page, repeat=5),
            timed(league_sql, repeat=5),
            timed(lambda: consolidated_figures(user=fresh(), as_of=today), repeat=3, warmup=0),
            timed(report_sql, repeat=3),
        )
    page_seconds, league_baseline, figures_seconds, report_baseline = measured["off"]
    figures = consolidated_figures(user=fresh(), as_of=today)
    # The baseline sums what the report sums: the same loans and principal.
    with connection.cursor() as cursor:
        cursor.execute(_loan_sums("l.county_id").format(**_tables()), {"day": today})
        by_county = cursor.fetchall()
    assert sum(row[1] for row in by_county) == figures.total.loans
    assert sum(row[3] for row in by_county) == figures.total.principal
    assert sum(row[4] for row in by_county) == figures.total.balance

    report = Report(
        office=province.profile.office,
        kind=Report.Kind.CONSOLIDATED,
        format=Report.Format.PDF,
        as_of=today,
        requested_by=fresh(),
        requested_at=timezone.now(),
    )
    started = time.perf_counter()
    pdf = consolidated_pdf(report, no_progress)
    pdf_seconds = time.perf_counter() - started
    started = time.perf_counter()
    xlsx = consolidated_xlsx(report, no_progress)
    xlsx_seconds = time.perf_counter() - started
    loans = figures.total.loans
    for jit, (page_s, _league_s, figures_s, _report_s) in measured.items():
        print(f"  jit {jit}: league page {page_s:.3f} s, consolidated figures {figures_s:.2f} s")
    print(
        f"  league page (jit off): {page_queries} queries, {page_seconds:.3f} s (goal < "
        f"{PAGE_GOAL_SECONDS:.0f} s: {'met' if page_seconds < PAGE_GOAL_SECONDS else 'NOT MET'}); "
        f"consolidated figures: {figures_queries} queries, {figures_seconds:.2f} s; "
        f"PDF {pdf_seconds:.2f} s ({len(pdf.content) / 1024:.0f} KiB), "
        f"xlsx {xlsx_seconds:.2f} s ({len(xlsx.content) / 1024:.0f} KiB); "
        f"{len(figures.by_county)} counties, {loans:,} loans, principal {figures.total.principal}",
        flush=True,
    )
    counties = len(figures.by_county)
    return [
        Figure(
            f"league page, {counties} counties, {loans:,} loans, jit {jit}",
            measured[jit][0],
            "SQL of the same sums (3 statements)",
            measured[jit][1],
        )
        for jit in measured
    ] + [
        Figure(
            f"consolidated figures, {loans:,} loans, jit {jit}",
            measured[jit][2],
            "SQL of the same sums (7 statements)",
            measured[jit][3],
        )
        for jit in measured
    ]
