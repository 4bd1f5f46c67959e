"""Eight clients posting overlapping batches at once: every record is stored
exactly once and the loans' totals are the sums of the distinct records.

PostgreSQL only: each thread has its own connection, and the batches really
run at the same time (the loan row locks and the txn_id constraint are what
is tested).
"""

import random
import threading
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection

from loans.models import LedgerEntry, Loan
from tests.api.conftest import client_with, quarter_rows, repayment_row
from tests.loans.applications.test_flow import contract, released

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 8
LOANS = 4


@pytest.fixture
def contracts(cast, programme, people, coop) -> list[str]:
    numbers = []
    for number in range(1, LOANS + 1):
        loan = contract(
            cast, released(cast, programme, people), coop, contract_no="MJ-P-%d" % number
        )
        numbers.append(loan.contract_no)
    return numbers


def distinct_records(contracts) -> tuple[list[dict], list[dict]]:
    interest, repayments = [], []
    for number in contracts:
        interest += quarter_rows(8, prefix="I-" + number, contract_no=number)
        repayments += [
            repayment_row("P1-" + number, "10000.00", "2026-03-20", contract_no=number),
            repayment_row("P2-" + number, "15000.00", "2026-09-20", contract_no=number),
        ]
    return interest, repayments


def client_batches(client_number: int, records: list[dict]) -> list[list[dict]]:
    """About two thirds of the records, shuffled, in three batches: every
    record is posted by five or six of the eight clients."""
    mine = [row for index, row in enumerate(records) if (index + client_number) % 3]
    random.Random(client_number).shuffle(mine)
    return [mine[start::3] for start in range(3)]


def test_eight_clients_posting_overlapping_batches_store_each_record_once(key, contracts):
    interest, repayments = distinct_records(contracts)
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, int]] = []  # (status, created) of every request
    failures: list[str] = []

    def run(client_number: int):
        try:
            client = client_with(key)
            barrier.wait(timeout=30)
            for url, records in (
                ("/api/v1/interest-payments/", interest),
                ("/api/v1/repayments/", repayments),
            ):
                for batch in client_batches(client_number, records):
                    response = client.post(url, batch, format="json")
                    body = response.json()
                    results.append((response.status_code, body.get("created", 0)))
                    if response.status_code not in (200, 201):
                        failures.append(str(body))
        except Exception as error:  # reported below, with the thread's number
            failures.append("client %d: %r" % (client_number, error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    assert len(results) == CLIENTS * 6
    distinct = len(interest) + len(repayments)
    assert sum(created for _, created in results) == distinct
    assert LedgerEntry.objects.count() == distinct
    assert LedgerEntry.objects.values("txn_id").distinct().count() == distinct
    assert LedgerEntry.history.filter(history_type="+").count() == distinct

    expected = defaultdict(lambda: {"interest": Decimal("0"), "principal": Decimal("0")})
    for row in interest:
        expected[row["contract_no"]]["interest"] += Decimal(row["amount"])
    for row in repayments:
        expected[row["contract_no"]]["principal"] += Decimal(row["amount"])
    client = client_with(key)
    for number in contracts:
        body = client.get("/api/v1/loans/%s/" % number).json()
        assert Decimal(body["interest_paid"]) == expected[number]["interest"]
        assert Decimal(body["principal_repaid"]) == expected[number]["principal"] == 25000
        assert body["balance"] == "75000.00"


def test_eight_clients_posting_the_same_contract_record_one_loan(key, cast, programme, people):
    application = released(cast, programme, people)
    body = {
        "application": application.pk,
        "contract_no": "MJ-P-SAME",
        "principal": "100000.00",
        "annual_rate": "0.034500",
        "disbursed_on": "2025-03-20",
        "maturity_on": "2027-03-20",
    }
    barrier = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict]] = []
    failures: list[str] = []

    def run():
        try:
            client = client_with(key)
            barrier.wait(timeout=30)
            response = client.post("/api/v1/loans/", body, format="json")
            answers.append((response.status_code, response.json()))
        except Exception as error:
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert sorted(status for status, _ in answers) == [200] * (CLIENTS - 1) + [201]
    assert len({str(sorted(answer.items())) for _, answer in answers}) == 1
    assert Loan.objects.filter(contract_no="MJ-P-SAME").count() == 1
