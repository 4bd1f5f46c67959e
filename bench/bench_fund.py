"""The risk-compensation fund's exposure over N covered loans, as every
approval of a covered programme computes it under the fund's row lock,
against one hand-written SQL query of the same sums.

Set-up (not timed): Mojiang's 振兴贷 2025 with N loans
(``BENCH_FUND_LOANS``, default 100,000) over ten townships by
``demo.loan_book.loan_book_create`` (quarterly interest posted), a tenth of
them with a principal repayment, and a fund over the programme.

Figures:

* ``riskfund.selectors.exposure``: covered outstanding principal (principal
  less the unreversed principal repaid by the day), the non-performing part
  and the approved applications not yet lent; the approval check's work;
* the fund's page as the county officer opens it (standing, statement,
  chart, claims, history) through the test client.

Baseline: the outstanding and non-performing sums in one SQL statement
(a grouped subquery of repayments joined to the loans).
"""

import datetime
import os
import time
from decimal import Decimal

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save
from loans.models import LedgerEntry, Loan, Programme
from riskfund import selectors
from riskfund.services import fund_save, movement_record

LOANS = int(os.environ.get("BENCH_FUND_LOANS", "100000"))
TOWNSHIPS = 10
PASSWORD = "bench-password-123"
ON = datetime.date(2026, 6, 30)

SUMS_SQL = """
SELECT SUM(b.balance) FILTER (WHERE b.balance > 0),
       SUM(b.balance) FILTER (WHERE b.balance > 0 AND b.maturity_on <= %s)
  FROM (SELECT l.principal - COALESCE(r.repaid, 0) AS balance, l.maturity_on
          FROM loans_loan l
          LEFT JOIN (SELECT e.loan_id, SUM(e.amount) AS repaid
                       FROM loans_ledgerentry e
                      WHERE e.kind = 'principal' AND e.paid_on <= %s
                        AND NOT EXISTS (SELECT 1 FROM loans_ledgerentry x
                                         WHERE x.reverses_id = e.id)
                      GROUP BY e.loan_id) r ON r.loan_id = l.id
         WHERE l.programme_id = %s AND l.county_id = %s AND l.disbursed_on <= %s
           AND (l.written_off_on IS NULL OR l.written_off_on > %s)) b
"""


def _setup():
    county = divisions_load(counties=["530822"]).county
    officer = user_create(
        username="bench-county", password=PASSWORD, role=Role.COUNTY, county=county
    )
    finance = user_create(
        username="bench-finance", password=PASSWORD, role=Role.FINANCE, county=county
    )
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = credit_coop_save(code="mojiang-rcc", name="墨江联社", counties=[county])
    townships = list(Division.objects.filter(parent=county).order_by("code")[:TOWNSHIPS])
    per_township = LOANS // len(townships)
    started = time.perf_counter()
    for number, township in enumerate(townships):
        loan_book_create(
            actor=officer,
            township=township,
            programme=programme,
            coop=coop,
            count=per_township,
            first_index=number * per_township,
        )
    # A tenth repay 10,000 of principal in March 2026.
    loans = Loan.objects.filter(programme=programme).order_by("pk")
    repaid = [
        LedgerEntry(
            loan=loan,
            coop=coop,
            county=loan.county,
            kind=LedgerEntry.Kind.PRINCIPAL,
            txn_id=f"BENCH-P-{loan.pk}",
            paid_on=datetime.date(2026, 3, 20),
            amount=Decimal("10000.00"),
            posted_by=officer,
        )
        for loan in loans[: LOANS // 10]
    ]
    LedgerEntry.objects.bulk_create(repaid, batch_size=5000)
    fund = fund_save(actor=officer, name="墨江县振兴贷风险补偿金", programmes=[programme])
    movement_record(
        actor=finance,
        fund=fund,
        kind="deposit",
        on=datetime.date(2024, 12, 1),
        amount=Decimal("500000000.00"),
        voucher="BENCH-D-1",
    )
    print(
        f"  set-up: {loans.count():,} loans, {len(repaid):,} repayments "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return officer, programme, county, fund


def run() -> list[Figure]:
    officer, programme, county, fund = _setup()
    overdue_since = ON - datetime.timedelta(days=fund.claim_days)

    def sums():
        with connection.cursor() as cursor:
            cursor.execute(SUMS_SQL, [overdue_since, ON, programme.pk, county.pk, ON, ON])
            return cursor.fetchone()

    outstanding, non_performing = sums()
    exposure = selectors.exposure(fund, on=ON)
    assert exposure.outstanding == outstanding, (exposure.outstanding, outstanding)
    assert exposure.non_performing == (non_performing or 0), exposure
    print(f"  covered outstanding {exposure.outstanding:,} yuan", flush=True)

    baseline = timed(sums, repeat=5)
    seconds = timed(lambda: selectors.exposure(fund, on=ON), repeat=5)

    client = Client()
    client.force_login(officer)
    url = reverse("riskfund:detail", args=[fund.pk])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    page = timed(lambda: client.get(url), repeat=5)
    print(f"  fund page: {len(queries)} queries", flush=True)
    return [
        Figure(
            f"fund exposure, {LOANS:,} covered loans", seconds, "SQL of the same sums", baseline
        ),
        Figure(f"fund page, {LOANS:,} covered loans", page, "SQL of the exposure sums", baseline),
    ]
