"""The database connection drops in the middle of a co-op batch: the
batch's rows were already inserted in its transaction when another
connection terminates the request's backend (pg_terminate_backend). The
batch is rolled back whole, the co-op is told to send it again (503 in the
error envelope, Retry-After), and its retry with the same txn_ids records
every row exactly once; a second retry changes nothing. PostgreSQL only:
it is the database whose backend is killed."""

import datetime
from decimal import Decimal

import psycopg2
import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from demo.loan_book import PRINCIPAL, loan_book_create
from loans.api import ingest
from loans.keys.services import api_key_issue
from loans.models import LedgerEntry, Loan, LoanStatusChange, Programme
from tests.loans.conftest import mojiang_coop

LOANS = 120
AMOUNT = Decimal("1000.00")


def terminate_from_another_connection(pid: int) -> None:
    params = connection.settings_dict
    other = psycopg2.connect(
        dbname=params["NAME"],
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        host=params.get("HOST") or "127.0.0.1",
        port=params.get("PORT") or None,
    )
    try:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


@pytest.fixture
def book(cast):
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    loans = loan_book_create(
        actor=cast.county, township=cast.township_a, programme=programme, coop=coop, count=LOANS
    )
    key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + key)
    return client, sorted(loan.contract_no for loan in loans)


def repayments(contracts) -> list[dict]:
    return [
        {
            "txn_id": f"R-2026-{index:04d}",
            "contract_no": contract,
            "paid_on": "2026-03-20",
            "amount": str(AMOUNT),
        }
        for index, contract in enumerate(contracts)
    ]


def snapshot() -> dict:
    return {
        "entries": LedgerEntry.objects.count(),
        "entry history": LedgerEntry.history.count(),
        "principal": LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PRINCIPAL).count(),
        "status changes": LoanStatusChange.objects.count(),
        "loans updated": sorted(Loan.objects.values_list("pk", "updated_at")),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_cut_off_by_the_database_is_rolled_back_and_its_retry_counts_once(
    book, monkeypatch
):
    client, contracts = book
    rows = repayments(contracts)
    before = snapshot()
    real = ingest.bulk_create_with_history
    seen = {}

    def insert_then_lose_the_connection(objs, model, **kwargs):
        result = real(objs, model, **kwargs)
        # The rows are in, inside the batch's transaction ...
        seen["inserted"] = LedgerEntry.objects.filter(txn_id__startswith="R-2026-").count()
        seen["in transaction"] = connection.in_atomic_block
        # ... when the backend serving the request is terminated.
        terminate_from_another_connection(connection.connection.info.backend_pid)
        return result

    monkeypatch.setattr(ingest, "bulk_create_with_history", insert_then_lose_the_connection)
    response = client.post("/api/v1/repayments/", rows, format="json")
    assert seen == {"inserted": LOANS, "in transaction": True}
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    (error,) = response.json()["errors"]
    assert error["code"] == "database_unavailable" and error["field"] is None

    # Nothing of it is stored (the next request has a new connection).
    monkeypatch.undo()
    assert snapshot() == before
    assert not LedgerEntry.objects.filter(txn_id__startswith="R-2026-").exists()

    # The co-op sends the same batch again: every row once.
    retry = client.post("/api/v1/repayments/", rows, format="json")
    assert retry.status_code == 201, retry.content
    body = retry.json()
    assert (body["created"], body["already_exists"]) == (LOANS, 0)
    again = client.post("/api/v1/repayments/", rows, format="json")
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["already_exists"]) == (0, LOANS)

    stored = LedgerEntry.objects.filter(txn_id__startswith="R-2026-")
    assert stored.count() == LOANS
    assert stored.aggregate(total=Sum("amount"))["total"] == LOANS * AMOUNT
    assert sorted(stored.values_list("loan__contract_no", flat=True)) == contracts
    assert LedgerEntry.history.count() == before["entry history"] + LOANS
    assert stored.filter(paid_on=datetime.date(2026, 3, 20)).count() == LOANS
    # Each loan's balance went down once, as the API reports it.
    page = client.get("/api/v1/loans/", {"page_size": 200}).json()["results"]
    repaid = {loan["contract_no"]: Decimal(loan["principal_repaid"]) for loan in page}
    assert repaid == dict.fromkeys(contracts, AMOUNT)
    balances = {Decimal(loan["balance"]) for loan in page}
    assert balances == {PRINCIPAL - AMOUNT}
