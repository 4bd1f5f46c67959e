"""The README's sync script (docs/coop_sync_example.py) against a live
server: it syncs released applications, posts their contracts and a
quarter's interest, posts a batch again after a simulated timeout without
doubling anything, and reads the loans back with the right balances."""

import datetime
import importlib.util
from pathlib import Path

import pytest
import requests

from loans.models import LedgerEntry, Loan
from tests.loans.applications.test_flow import released

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "coop_sync_example.py"


def load_example():
    spec = importlib.util.spec_from_file_location("coop_sync_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example():
    return load_example()


@pytest.fixture
def client(example, live_server, key):
    api = example.CoopApi(live_server.url + "/api/v1/", key, timeout=30)
    yield api
    api.close()


def lose_the_next_answer(api):
    """The next POST reaches the server and is recorded, but its answer never
    arrives: the client sees a timeout (and retries)."""
    send = api.session.request
    lost = []

    def request(method, url, **kwargs):
        response = send(method, url, **kwargs)
        if method == "POST" and not lost:
            lost.append(response.status_code)
            raise requests.Timeout("the answer was lost")
        return response

    api.session.request = request
    return lost


def test_the_sync_example_runs_a_quarter_exactly_once(
    example, client, cast, programme, people, coop
):
    first, second = released(cast, programme, people), released(cast, programme, people)

    applications = example.sync_applications(client, None)
    assert sorted(a["id"] for a in applications) == [first.pk, second.pk]
    assert {a["id_number"] for a in applications} == {
        first.borrower.id_number,
        second.borrower.id_number,
    }
    loans = example.post_contracts(client, applications)
    assert [loan["status"] for loan in loans] == ["active", "active"]
    # The next night: nothing new to contract.
    assert example.post_contracts(client, example.sync_applications(client, None)) == []
    assert Loan.objects.count() == 2

    june = example.quarter_interest(
        list(example.read_loans(client).values()), datetime.date(2025, 6, 20)
    )
    assert {r["amount"] for r in june} == {"891.25"}  # 100,000 × 3.45 % × 93 / 360
    assert example.post_in_batches(client, "interest-payments/", june) == {
        "created": 2,
        "already_exists": 0,
    }

    september = example.quarter_interest(
        list(example.read_loans(client).values()), datetime.date(2025, 9, 20)
    )
    lost = lose_the_next_answer(client)
    totals = example.post_in_batches(client, "interest-payments/", september)
    assert lost == [201]  # the server did record the batch ...
    assert totals == {"created": 0, "already_exists": 2}  # ... and the retry added nothing
    assert example.post_in_batches(client, "interest-payments/", june + september) == {
        "created": 0,
        "already_exists": 4,
    }
    assert LedgerEntry.objects.count() == 4

    contract_no = loans[0]["contract_no"]
    repayment = {
        "txn_id": "PRN-%s-1" % contract_no,
        "contract_no": contract_no,
        "paid_on": "2025-10-08",
        "amount": "30000.00",
    }
    assert example.post_in_batches(client, "repayments/", [repayment])["created"] == 1

    after = example.read_loans(client)
    assert after[contract_no]["balance"] == "70000.00"
    assert after[contract_no]["principal_repaid"] == "30000.00"
    assert after[loans[1]["contract_no"]]["balance"] == "100000.00"
    for loan in after.values():
        assert loan["interest_paid"] == "1772.92"  # 891.25 + 881.67 (92 days)


def test_a_refused_batch_names_every_bad_row(example, client, cast, programme, people, coop):
    released(cast, programme, people)
    [loan] = example.post_contracts(client, example.sync_applications(client, None))
    records = example.quarter_interest([loan], datetime.date(2025, 6, 20))
    records.append(dict(records[0], txn_id="X-1", contract_no="NOPE"))
    records.append(dict(records[0], txn_id="X-2", amount="0.00"))
    with pytest.raises(example.ApiError) as refused:
        example.post_in_batches(client, "interest-payments/", records)
    assert refused.value.status == 400
    assert [(e["index"], e["code"]) for e in refused.value.errors] == [
        (1, "unknown_contract"),
        (2, "amount_not_positive"),
        (2, "period_overlap_in_batch"),
    ]
    assert not LedgerEntry.objects.exists()  # row 0 was good, and not written either


def test_the_example_runs_from_the_command_line(
    example, live_server, key, cast, programme, people, coop, monkeypatch, capsys
):
    released(cast, programme, people)
    monkeypatch.setenv("ZXD_API_URL", live_server.url + "/api/v1")
    monkeypatch.setenv("ZXD_API_TOKEN", key)
    monkeypatch.setattr("sys.argv", ["coop_sync_example.py", "--quarter-end", "2025-06-20"])
    example.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "1 released applications",
        "1 contracts posted",
        "interest: 1 created, 0 already there",
    ]
    assert lines[3].endswith("balance 100000.00  interest paid 891.25  active")
