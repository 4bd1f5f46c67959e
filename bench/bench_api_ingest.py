"""Posting 10,000 interest payments to the co-op API over HTTP, against a
plain ``bulk_create`` of the same rows.

gunicorn serves the project on 127.0.0.1 (a free port), configured as
docker-compose.yml deploys it (3 workers, persistent connections), against
this run's throwaway PostgreSQL database; the bench posts ten quarterly
settlements of 1,000 loans, one batch of 1,000 records per quarter, as the
co-op's system would at each quarter's end. Each batch is parsed, checked row by row
(contract, txn_id, period overlap with everything already posted, dates,
amount), written with ``bulk_create`` and recorded in the history, all in
one transaction per request. The same ten batches are then posted again, as
a client retrying after a timeout would: nothing may be written twice.

The baseline is ``LedgerEntry.objects.bulk_create`` of the same 10,000 rows
in batches of 1,000, one transaction per batch as the API commits them, in
this process, with no parsing, no checks and no history. Both are run three
times in turn, from an empty ledger, and the medians compared. Goals: at
least 2,000 rows/s over HTTP, and at least a quarter of the baseline's rate
(ratio ≤ 4).

Needs PostgreSQL (DATABASE_URL): gunicorn's processes must reach the
throwaway database, which SQLite keeps in memory.
"""

import datetime
import os
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import requests
from django.db import connection, transaction
from stdnum.cn import ric

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure
from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Household, Industry
from divisions.services import divisions_load
from loans.keys.services import api_key_issue, credit_coop_save
from loans.models import Application, LedgerEntry, Loan, Programme

LOANS = int(os.environ.get("BENCH_API_LOANS", "1000"))
QUARTERS = 10
BATCH = 1000
GOAL_ROWS_PER_SECOND = 2000
GOAL_RATIO = 4.0
RUNS = 3
ROOT = Path(__file__).resolve().parent.parent
DISBURSED = datetime.date(2024, 3, 20)


def _id_number(index: int) -> str:
    birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=index // 50)
    base = "530822%s%03d" % (birth.strftime("%Y%m%d"), index % 50 * 2 + 1)
    return base + ric.calc_check_digit(base + "0")


def _loans(actor, county) -> list[Loan]:
    """LOANS released applications and their contracts, written in bulk:
    the setup is not what is measured."""
    township = county.children.order_by("code").first()
    village = division_create(actor=actor, parent=township, code=township.code + "001", name="一村")
    group = division_create(actor=actor, parent=village, code=village.code + "001", name="一组")
    programme = Programme.objects.get(name="振兴贷", year=2024, region_code="530822")
    industry = Industry.objects.get(name="生猪")
    households = Household.objects.bulk_create(
        Household(
            head_name="户主%d" % index,
            head_id_number=_id_number(index),
            village_group=group,
            township=township,
            county_id=township.parent_id,
        )
        for index in range(LOANS)
    )
    borrowers = Borrower.objects.bulk_create(
        Borrower(
            name="户主%d" % index,
            id_number=_id_number(index),
            birth_date=ric.get_birth_date(_id_number(index)),
            gender=Borrower.Gender.MALE,
            phone="139%08d" % index,
            household=household,
            township=township,
            county_id=township.parent_id,
            category=Borrower.Category.VILLAGE_COMMITTEE,
            industry=industry,
        )
        for index, household in enumerate(households)
    )
    now = datetime.datetime.now(tz=datetime.UTC)
    applications = Application.objects.bulk_create(
        Application(
            programme=programme,
            borrower=borrower,
            household=borrower.household,
            township=township,
            county_id=township.parent_id,
            amount=Decimal("100000.00"),
            term_months=36,
            industry=industry,
            purpose="扩大养殖",
            quota=Decimal("100000.00"),
            state=Application.State.RELEASED,
            released_at=now,
        )
        for borrower in borrowers
    )
    coop = credit_coop_save(code="mojiang-rcc", name="墨江联社", counties=[county])
    return Loan.objects.bulk_create(
        Loan(
            application=application,
            coop=coop,
            contract_no="MJ-%05d" % index,
            principal=Decimal("100000.00"),
            annual_rate=Decimal("0.034500"),
            disbursed_on=DISBURSED,
            maturity_on=datetime.date(2027, 3, 20),
            programme=programme,
            township=township,
            county_id=township.parent_id,
        )
        for index, application in enumerate(applications)
    )


def _quarter_ends() -> list[datetime.date]:
    ends = []
    for number in range(1, QUARTERS + 1):
        month = DISBURSED.month + 3 * number
        ends.append(datetime.date(DISBURSED.year + (month - 1) // 12, (month - 1) % 12 + 1, 20))
    return ends


def _batches(loans: list[Loan]) -> list[list[dict]]:
    """Quarter by quarter, one record per loan, cut into batches of BATCH."""
    rows = []
    start = DISBURSED
    for quarter, end in enumerate(_quarter_ends(), start=1):
        for loan in loans:
            rows.append(
                {
                    "txn_id": "Q%02d-%s" % (quarter, loan.contract_no),
                    "contract_no": loan.contract_no,
                    "period_start": start.isoformat(),
                    "period_end": end.isoformat(),
                    "due_on": end.isoformat(),
                    "paid_on": end.isoformat(),
                    "amount": "%d.%02d" % (850 + quarter, quarter),
                }
            )
        start = end + datetime.timedelta(days=1)
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


def _bulk_create_baseline(batches, loans, coop) -> float:
    """Seconds for a plain bulk_create of the same rows into an empty ledger,
    one transaction per batch as the API commits them; the rows are deleted
    afterwards."""
    by_contract = {loan.contract_no: loan for loan in loans}
    _clear_ledger()
    start = time.perf_counter()
    for batch in batches:
        with transaction.atomic():
            LedgerEntry.objects.bulk_create(
                LedgerEntry(
                    coop=coop,
                    loan=by_contract[row["contract_no"]],
                    county_id=by_contract[row["contract_no"]].county_id,
                    kind=LedgerEntry.Kind.INTEREST,
                    txn_id=row["txn_id"],
                    amount=Decimal(row["amount"]),
                    paid_on=datetime.date.fromisoformat(row["paid_on"]),
                    period_start=datetime.date.fromisoformat(row["period_start"]),
                    period_end=datetime.date.fromisoformat(row["period_end"]),
                    due_on=datetime.date.fromisoformat(row["due_on"]),
                )
                for row in batch
            )
    seconds = time.perf_counter() - start
    assert LedgerEntry.objects.count() == sum(len(batch) for batch in batches)
    _clear_ledger()
    return seconds


def _clear_ledger() -> None:
    """Empty the ledger and its history between runs (scratch data of the
    bench: the model's append-only guard is for the application)."""
    with connection.cursor() as cursor:
        for model in (LedgerEntry, LedgerEntry.history.model):
            cursor.execute("DELETE FROM %s" % connection.ops.quote_name(model._meta.db_table))


def _database_url() -> str:
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    return "postgres://%s@%s:%s/%s" % (
        credentials,
        settings["HOST"] or "127.0.0.1",
        settings["PORT"] or 5432,
        settings["NAME"],
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_gunicorn(port: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        # As deployed (docker-compose.yml): persistent connections, no debug.
        "CONN_MAX_AGE": "60",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "zhenxingdai.wsgi:application",
            "--bind",
            "127.0.0.1:%d" % port,
            "--workers",
            "3",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            # Any answer will do (a 404 from the API): the server is up.
            requests.get("http://127.0.0.1:%d/api/v1/" % port, timeout=5)
            return server
        except (requests.ConnectionError, requests.Timeout):
            pass
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited with %s" % server.returncode)
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not answer on port %d" % port)


def _post_all(session, url: str, batches) -> tuple[float, int, int]:
    """Seconds for posting every batch, and the rows created and already there."""
    created = already = 0
    start = time.perf_counter()
    for batch in batches:
        response = session.post(url, json=batch, timeout=120)
        assert response.status_code in (200, 201), response.text[:500]
        body = response.json()
        created += body["created"]
        already += body["already_exists"]
    return time.perf_counter() - start, created, already


def run() -> list[Figure]:
    if connection.vendor != "postgresql":
        print("bench_api_ingest needs PostgreSQL (set DATABASE_URL): skipped")
        return []
    county = divisions_load(counties=["530822"]).county
    actor = user_create(
        username="bench-county", password="bench-password-1", role=Role.COUNTY, county=county
    )
    coop_account = user_create(username="bench-coop", password=None, role=Role.COOP, county=county)
    start = time.perf_counter()
    loans = _loans(actor, county)
    print("setup: %d loans in %.1f s" % (len(loans), time.perf_counter() - start), flush=True)
    coop = credit_coop_save(code="mojiang-rcc", name="墨江联社", counties=[county])
    _, key = api_key_issue(actor=None, user=coop_account, coop=coop)
    batches = _batches(loans)
    total = sum(len(batch) for batch in batches)
    print(
        "%s: %d loans, %d interest payments in %d batches of %d"
        % (connection.vendor, len(loans), total, len(batches), BATCH),
        flush=True,
    )

    # The machines are noisy: both figures are medians of three runs, taken
    # in turn so that a passing load weighs on both alike.
    port = _free_port()
    server = _start_gunicorn(port)
    baselines, posts = [], []
    try:
        session = requests.Session()
        session.headers["Authorization"] = "Token " + key
        url = "http://127.0.0.1:%d/api/v1/interest-payments/" % port
        for _ in range(RUNS):
            baselines.append(_bulk_create_baseline(batches, loans, coop))
            seconds, created, already = _post_all(session, url, batches)
            assert (created, already) == (total, 0), (created, already)
            posts.append(seconds)
        again, created_again, already_again = _post_all(session, url, batches)
        assert (created_again, already_again) == (0, total), (created_again, already_again)
        session.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline, seconds = statistics.median(baselines), statistics.median(posts)
    print(
        "bulk_create of the same rows (median of %d): %.2f s, %.0f rows/s  [%s]"
        % (RUNS, baseline, total / baseline, ", ".join("%.2f" % b for b in baselines)),
        flush=True,
    )

    assert LedgerEntry.objects.count() == total
    assert LedgerEntry.history.count() == total
    rate = total / seconds
    print(
        "API over HTTP (gunicorn, 3 workers, median of %d): %.2f s, %.0f rows/s"
        " (%.1f ms a batch)  [%s]"
        % (
            RUNS,
            seconds,
            rate,
            seconds * 1000 / len(batches),
            ", ".join("%.2f" % p for p in posts),
        ),
        flush=True,
    )
    print(
        "the same batches again (all already there): %.2f s, %.0f rows/s" % (again, total / again),
        flush=True,
    )
    verdict = (
        "met" if rate >= GOAL_ROWS_PER_SECOND and seconds / baseline <= GOAL_RATIO else "NOT MET"
    )
    print(
        "goal: ≥ %d rows/s and ≥ 1/%d of bulk_create: %s (%.0f rows/s; %.2f of bulk_create's rate)"
        % (GOAL_ROWS_PER_SECOND, GOAL_RATIO, verdict, rate, baseline / seconds),
        flush=True,
    )
    return [
        Figure(
            "post 10,000 interest payments over HTTP",
            seconds,
            "bulk_create of the same rows",
            baseline,
            goal_ratio=GOAL_RATIO,
        ),
        Figure(
            "re-post them (all already there)",
            again,
            "bulk_create of the same rows",
            baseline,
        ),
    ]
