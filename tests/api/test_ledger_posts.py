"""POST /api/v1/interest-payments/, /repayments/, /reversals/: each record
once by its txn_id, a batch all-or-nothing, every bad row listed."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loans.api import ingest
from loans.api.serializers import InterestPaymentSerializer, RepaymentSerializer, quick_parser
from loans.ledger.services import ledger_post_interest, ledger_post_repayment
from loans.models import LedgerEntry, Loan, LoanStatusChange
from tests.api.conftest import (
    CONTRACT,
    codes,
    interest_row,
    quarter_rows,
    repayment_row,
)
from tests.loans.applications.test_flow import contract, released

pytestmark = pytest.mark.django_db

INTEREST = "/api/v1/interest-payments/"
REPAYMENTS = "/api/v1/repayments/"
REVERSALS = "/api/v1/reversals/"
D = datetime.date


def post(api, url, data):
    return api.post(url, data, format="json")


def outcomes(response) -> list[tuple[int, str, str]]:
    return [(row["index"], row["txn_id"], row["status"]) for row in response.json()["results"]]


# Interest ---------------------------------------------------------------------------


def test_one_interest_payment_is_recorded(api, cast, loan):
    response = post(api, INTEREST, interest_row())
    assert response.status_code == 201
    assert response.json() == {
        "created": 1,
        "already_exists": 0,
        "results": [{"index": 0, "txn_id": "I-1", "status": "created"}],
    }
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.loan, entry.posted_by) == (
        "interest",
        Decimal("890.92"),
        loan,
        cast.coop,
    )
    assert (entry.period_start, entry.period_end, entry.due_on, entry.paid_on) == (
        D(2025, 3, 20),
        D(2025, 6, 20),
        D(2025, 6, 20),
        D(2025, 6, 20),
    )


def test_a_batch_is_recorded_and_posting_it_again_changes_nothing(api, loan):
    rows = quarter_rows(4)
    first = post(api, INTEREST, rows)
    assert first.status_code == 201
    assert [status for _, _, status in outcomes(first)] == ["created"] * 4
    again = post(api, INTEREST, rows)
    assert again.status_code == 200
    assert again.json()["created"] == 0 and again.json()["already_exists"] == 4
    assert outcomes(again) == [(i, "I-%d" % (i + 1), "already_exists") for i in range(4)]
    assert LedgerEntry.objects.count() == 4
    assert LedgerEntry.history.count() == 4
    body = api.get("/api/v1/loans/%s/" % CONTRACT).json()
    assert body["interest_paid"] == "3206.06"  # 800.00 + 801.01 + 802.02 + 803.03


def test_a_batch_that_overlaps_what_is_stored_says_row_by_row(api, loan):
    post(api, INTEREST, quarter_rows(2))
    response = post(api, INTEREST, quarter_rows(3))
    assert response.status_code == 201
    assert [status for _, _, status in outcomes(response)] == [
        "already_exists",
        "already_exists",
        "created",
    ]
    assert LedgerEntry.objects.count() == 3


def test_the_same_txn_id_with_different_content_is_409_naming_the_index(api, loan):
    post(api, INTEREST, quarter_rows(2))
    changed = quarter_rows(3)
    changed[1]["amount"] = "999.99"
    response = post(api, INTEREST, changed)
    assert response.status_code == 409
    assert codes(response) == [(1, "txn_id", "txn_id_conflict")]
    assert "amount" in response.json()["errors"][0]["message"]
    assert LedgerEntry.objects.count() == 2  # row 2 was good, and not written either


def test_a_txn_id_used_by_another_kind_of_entry_is_a_conflict(api, loan):
    post(api, REPAYMENTS, repayment_row("X-1"))
    response = post(api, INTEREST, [interest_row("X-1")])
    assert response.status_code == 409
    assert codes(response) == [(0, "txn_id", "txn_id_conflict")]


def test_one_bad_row_rejects_the_batch_with_every_bad_row_listed(api, loan):
    rows = quarter_rows(6)
    rows[1]["contract_no"] = "MJ-404"
    rows[2]["amount"] = "0.00"
    rows[3]["paid_on"] = "2025-12-01"  # period starts 2025-12-21
    rows[4]["amount"] = 12.5
    before = LedgerEntry.objects.count()
    response = post(api, INTEREST, rows)
    assert response.status_code == 400
    assert codes(response) == [
        (1, "contract_no", "unknown_contract"),
        (2, "amount", "amount_not_positive"),
        (3, "paid_on", "paid_before_period_start"),
        (4, "amount", "invalid"),
    ]
    assert LedgerEntry.objects.count() == before == 0
    assert LedgerEntry.history.count() == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": "-5.00"}, [("amount", "amount_not_positive")]),
        ({"period_end": "2025-03-19"}, [("period_end", "period_end_before_start")]),
        ({"paid_on": "2025-03-19"}, [("paid_on", "paid_before_period_start")]),
        (
            {"period_start": "2025-03-01", "paid_on": "2025-06-20"},
            [("period_start", "period_before_disbursement")],
        ),
        ({"due_on": "2025-6-20"}, [("due_on", "invalid")]),
        ({"txn_id": ""}, [("txn_id", "blank")]),
        ({"txn_id": "x" * 65}, [("txn_id", "max_length")]),
        ({"txn_id": 17}, [("txn_id", "invalid")]),
    ],
)
def test_each_bad_record_has_its_code(api, loan, change, expected):
    response = post(api, INTEREST, [interest_row(**change)])
    assert response.status_code == 400
    assert codes(response) == [(0, field, code) for field, code in expected]
    assert not LedgerEntry.objects.exists()


def test_a_period_overlapping_a_posted_one_is_refused(api, loan):
    post(api, INTEREST, interest_row("I-1"))
    response = post(
        api, INTEREST, [interest_row("I-2", period_start="2025-06-20", period_end="2025-09-20")]
    )
    assert response.status_code == 400
    assert codes(response) == [(0, "period_start", "period_overlap")]
    assert "I-1" in response.json()["errors"][0]["message"]


def test_periods_overlapping_within_the_batch_are_refused(api, loan):
    rows = quarter_rows(3)
    rows[2]["period_start"] = "2025-09-01"  # inside I-2 (06-21 to 09-20)
    response = post(api, INTEREST, rows)
    assert response.status_code == 400
    assert codes(response) == [(2, "period_start", "period_overlap_in_batch")]
    assert "I-2" in response.json()["errors"][0]["message"]
    assert not LedgerEntry.objects.exists()


def test_a_txn_id_twice_in_a_batch_with_different_content_is_refused(api, loan):
    rows = quarter_rows(2)
    rows[1]["txn_id"] = "I-1"
    response = post(api, INTEREST, rows)
    assert response.status_code == 400
    assert codes(response) == [(1, "txn_id", "duplicate_txn_id")]


def test_a_record_repeated_in_a_batch_is_recorded_once(api, loan):
    response = post(api, INTEREST, [interest_row(), interest_row()])
    assert response.status_code == 201
    assert outcomes(response) == [(0, "I-1", "created"), (1, "I-1", "already_exists")]
    assert LedgerEntry.objects.count() == 1


def test_a_single_record_gets_its_errors_without_an_index(api, loan):
    response = post(api, INTEREST, interest_row(amount="0.00"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "amount"
    assert "index" not in response.json()["errors"][0]


def test_a_row_that_is_not_an_object_is_refused(api, loan):
    response = post(api, INTEREST, [interest_row(), "I-2"])
    assert response.status_code == 400
    assert codes(response) == [(1, None, "invalid")]


@pytest.mark.parametrize(
    ("data", "code"),
    [("[]", "empty_batch"), ('"I-1"', "invalid"), ("null", "invalid"), ("17", "invalid")],
)
def test_a_body_that_is_neither_a_record_nor_a_list_is_refused(api, loan, data, code):
    response = api.post(INTEREST, data, content_type="application/json")
    assert response.status_code == 400
    assert codes(response) == [(None, None, code)]


def test_a_batch_holds_at_most_5000_records(api, loan):
    response = post(api, INTEREST, [interest_row()] * 5001)
    assert response.status_code == 400
    assert codes(response) == [(None, None, "batch_too_large")]
    assert not LedgerEntry.objects.exists()


def ten_day_periods(count: int, *, prefix: str, contract_no: str) -> list[dict]:
    first = D(2025, 4, 1)
    return [
        interest_row(
            "%s-%d" % (prefix, number),
            contract_no=contract_no,
            period_start=str(first + datetime.timedelta(days=10 * number)),
            period_end=str(first + datetime.timedelta(days=10 * number + 9)),
            due_on="2026-01-01",
            paid_on="2026-01-01",
        )
        for number in range(count)
    ]


def test_a_batch_does_not_query_per_row(api, cast, programme, people, coop, loan):
    """Lookups are made in bulk: 50 rows over two loans cost the queries of 1."""
    other = contract(cast, released(cast, programme, people), coop, contract_no="MJ-2025-0002")

    def queries(rows):
        with CaptureQueriesContext(connection) as captured:
            assert post(api, INTEREST, rows).status_code == 201
        return len(captured.captured_queries)

    one = queries(ten_day_periods(1, prefix="A", contract_no=CONTRACT))
    many = ten_day_periods(25, prefix="B", contract_no=CONTRACT)[1:]
    many += ten_day_periods(25, prefix="C", contract_no=other.contract_no)
    assert len(many) == 49
    assert queries(many) == one


def test_posted_entries_are_recorded_in_the_history_with_the_coop_account(api, cast, loan):
    post(api, INTEREST, quarter_rows(3))
    history = LedgerEntry.history.order_by("id")
    assert history.count() == 3
    for row in history:
        assert row.history_type == "+"
        assert row.history_user == cast.coop
        assert row.history_change_reason == "api: interest"
        assert row.ip_address == "127.0.0.1"
    entry = LedgerEntry.objects.get(txn_id="I-2")
    recorded = entry.history.get()
    assert (recorded.amount, recorded.period_start, recorded.loan_id) == (
        entry.amount,
        entry.period_start,
        entry.loan_id,
    )


# The same rules as the services ------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "0.00"},
        {"period_end": "2025-03-19"},
        {"paid_on": "2025-03-19"},
        {"period_start": "2025-03-01"},
        {"period_start": "2025-06-01", "period_end": "2025-09-20", "paid_on": "2025-09-20"},
    ],
)
def test_a_bad_interest_record_is_refused_on_the_same_fields_as_the_service(
    api, cast, coop, loan, change
):
    post(api, INTEREST, interest_row("I-0"))
    row = interest_row("I-9", **change)
    fields = {
        name: datetime.date.fromisoformat(row[name])
        for name in ("period_start", "period_end", "due_on", "paid_on")
    }
    with pytest.raises(ValidationError) as refused:
        ledger_post_interest(
            actor=cast.coop,
            coop=coop,
            loan=loan,
            txn_id="I-9",
            amount=Decimal(row["amount"]),
            **fields,
        )
    response = post(api, INTEREST, [row])
    assert {field for _, field, _ in codes(response)} == set(refused.value.message_dict)


@pytest.mark.parametrize(
    ("paid_on", "amount"),
    [("2026-03-20", "0.00"), ("2025-03-19", "100.00"), ("2026-03-20", "60000.01")],
)
def test_a_bad_repayment_is_refused_on_the_same_fields_as_the_service(
    api, cast, coop, loan, paid_on, amount
):
    post(api, REPAYMENTS, repayment_row("P-0", amount="40000.00"))
    with pytest.raises(ValidationError) as refused:
        ledger_post_repayment(
            actor=cast.coop,
            coop=coop,
            loan=loan,
            txn_id="P-9",
            paid_on=datetime.date.fromisoformat(paid_on),
            amount=Decimal(amount),
        )
    response = post(api, REPAYMENTS, [repayment_row("P-9", amount=amount, paid_on=paid_on)])
    assert {field for _, field, _ in codes(response)} == set(refused.value.message_dict)


@pytest.mark.parametrize("serializer_class", [InterestPaymentSerializer, RepaymentSerializer])
def test_the_quick_parser_agrees_with_the_serializer(serializer_class):
    serializer = serializer_class()
    quick = quick_parser(serializer)
    good = interest_row() if serializer_class is InterestPaymentSerializer else repayment_row()
    good["amount"] = "890.9"
    assert quick(good) == serializer.run_validation(good)
    assert str(quick(good)["amount"]) == "890.90"
    for bad in (
        dict(good, amount=890.9),
        dict(good, amount="1e3"),
        dict(good, paid_on="2025-02-30"),
        dict(good, txn_id=" I-1"),
        dict(good, txn_id="I\x00"),
        dict(good, txn_id="I\ud800"),
        dict(good, contract_no=""),
        {k: v for k, v in good.items() if k != "amount"},
        [good],
    ):
        assert quick(bad) is None


# Repayments -------------------------------------------------------------------------


def test_repayments_are_recorded_once_and_reduce_the_balance(api, loan):
    rows = [repayment_row("P-1", "30000.00"), repayment_row("P-2", "20000.00", "2026-06-20")]
    assert post(api, REPAYMENTS, rows).status_code == 201
    assert post(api, REPAYMENTS, rows).status_code == 200
    assert LedgerEntry.objects.count() == 2
    assert api.get("/api/v1/loans/%s/" % CONTRACT).json()["balance"] == "50000.00"


def test_a_repayment_above_the_balance_counts_the_earlier_rows_of_the_batch(api, loan):
    post(api, REPAYMENTS, repayment_row("P-0", "50000.00"))
    rows = [
        repayment_row("P-1", "30000.00"),
        repayment_row("P-2", "20000.01"),  # 20,000.00 left after P-1
        repayment_row("P-3", "20000.00"),
    ]
    response = post(api, REPAYMENTS, rows)
    assert response.status_code == 400
    assert codes(response) == [(1, "amount", "repayment_above_balance")]
    assert "20,000.00" in response.json()["errors"][0]["message"]
    assert LedgerEntry.objects.count() == 1


def test_a_repayment_before_disbursement_is_refused(api, loan):
    response = post(api, REPAYMENTS, [repayment_row(paid_on="2025-03-19")])
    assert codes(response) == [(0, "paid_on", "paid_before_disbursement")]


def test_repaying_in_full_records_the_loan_as_repaid(api, loan):
    rows = [repayment_row("P-1", "60000.00"), repayment_row("P-2", "40000.00", "2026-09-20")]
    post(api, REPAYMENTS, rows)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.REPAID
    change = LoanStatusChange.objects.get(loan=loan)
    assert (change.on, change.to_status) == (D(2026, 9, 20), "repaid")


# Reversals --------------------------------------------------------------------------


def reversal(txn_id="R-1", reverses="I-1", reason="金额有误", **extra):
    return {"txn_id": txn_id, "reverses_txn_id": reverses, "reason": reason, **extra}


def test_a_reversal_undoes_an_entry_once(api, loan):
    post(api, INTEREST, interest_row())
    response = post(api, REVERSALS, reversal(paid_on="2025-07-01"))
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "txn_id": "R-1",
        "reverses_txn_id": "I-1",
        "reversed_kind": "interest",
        "contract_no": CONTRACT,
        "amount": "890.92",
        "paid_on": "2025-07-01",
        "reason": "金额有误",
        "status": "created",
    }
    again = post(api, REVERSALS, reversal(paid_on="2025-07-01"))
    assert again.status_code == 200 and again.json()["status"] == "already_exists"
    assert post(api, REVERSALS, reversal()).status_code == 200  # no date: same record
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert api.get("/api/v1/loans/%s/" % CONTRACT).json()["interest_paid"] == "0.00"
    # The period is free again.
    assert post(api, INTEREST, interest_row("I-1b", amount="890.93")).status_code == 201


def test_a_reversal_posted_again_with_another_reason_is_409(api, loan):
    post(api, INTEREST, interest_row())
    post(api, REVERSALS, reversal())
    response = post(api, REVERSALS, reversal(reason="另一个原因"))
    assert response.status_code == 409
    assert codes(response) == [(None, "txn_id", "txn_id_conflict")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (reversal(txn_id="R-2", reverses="NOPE"), 400, "unknown_txn_id"),
        (reversal(txn_id="R-2", reverses="R-1"), 400, "cannot_reverse_reversal"),
        (reversal(txn_id="R-2"), 409, "already_reversed"),
    ],
)
def test_a_reversal_that_cannot_be_made_is_refused(api, loan, body, status, code):
    post(api, INTEREST, interest_row())
    post(api, REVERSALS, reversal())
    response = post(api, REVERSALS, body)
    assert response.status_code == status
    assert codes(response) == [(None, "reverses_txn_id", code)]
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1


def test_a_reversal_needs_a_reason(api, loan):
    post(api, INTEREST, interest_row())
    response = post(api, REVERSALS, reversal(reason="  "))
    assert codes(response) == [(None, "reason", "blank")]


def test_reversing_a_repayment_reopens_the_balance(api, loan):
    post(api, REPAYMENTS, repayment_row("P-1", "100000.00"))
    post(api, REVERSALS, reversal(reverses="P-1", paid_on="2026-03-21"))
    body = api.get("/api/v1/loans/%s/" % CONTRACT).json()
    assert (body["balance"], body["status"]) == ("100000.00", "active")


def test_the_ingest_functions_refuse_rows_of_unknown_contracts_without_writing(cast, coop, loan):
    with pytest.raises(ingest.RejectedError) as rejected:
        ingest.interest_payments_post(
            actor=cast.coop, coop=coop, rows=[interest_row(contract_no="MJ-404")]
        )
    assert [(e.index, e.code) for e in rejected.value.errors] == [(0, "unknown_contract")]
    assert not LedgerEntry.objects.exists()


def test_a_body_over_the_upload_limit_is_a_413_in_the_envelope(api, loan, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    response = post(api, INTEREST, quarter_rows(1) * 60)
    assert response.status_code == 413
    assert codes(response) == [(None, None, "request_too_large")]
    assert not LedgerEntry.objects.exists()
