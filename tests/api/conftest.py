"""Fixtures for the co-op API: a key for the cast's co-op account, a client
that sends it, released applications and a contracted loan."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from divisions.services import divisions_load
from loans.keys.services import api_key_issue, credit_coop_save
from tests.loans.applications.test_flow import contract, released
from tests.loans.conftest import coop, groups, people, programme  # noqa: F401 (fixtures)

D = datetime.date
CONTRACT = "MJ-2025-0001"


@pytest.fixture(autouse=True)
def fresh_throttle():
    """Request counts live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def key(cast, coop) -> str:  # noqa: F811
    return api_key_issue(actor=cast.county, user=cast.coop, coop=coop)[1]


def other_county_key(cast) -> str:
    """A key of 铜仁's co-op, serving 碧江区 (520602) alone, for the cast's
    co-op account: issued on the server, as a county office could not."""
    tongren = divisions_load(counties=["520602"]).county
    other = credit_coop_save(code="tongren", name="铜仁农商行", counties=[tongren])
    return api_key_issue(actor=None, user=cast.coop, coop=other)[1]


def client_with(key: str | None = None) -> APIClient:
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION="Token " + key)
    return client


@pytest.fixture
def api(key) -> APIClient:
    """A client authenticated as the co-op's service account."""
    return client_with(key)


@pytest.fixture
def application(cast, programme, people):  # noqa: F811
    """A released application in township A (100,000 approved)."""
    return released(cast, programme, people)


@pytest.fixture
def loan(cast, coop, application):  # noqa: F811
    """MJ-2025-0001: 100,000 at 3.45 % from 2025-03-20 to 2027-03-20."""
    return contract(cast, application, coop, contract_no=CONTRACT)


def interest_row(txn_id="I-1", **extra) -> dict:
    row = {
        "txn_id": txn_id,
        "contract_no": CONTRACT,
        "period_start": "2025-03-20",
        "period_end": "2025-06-20",
        "due_on": "2025-06-20",
        "paid_on": "2025-06-20",
        "amount": "890.92",
    }
    row.update(extra)
    return row


def quarter_rows(count: int, *, prefix="I", contract_no=CONTRACT) -> list[dict]:
    """``count`` consecutive quarterly settlements of a loan disbursed on
    2025-03-20: 03-20 to 06-20, 06-21 to 09-20, ... (both ends inclusive)."""
    rows, start = [], D(2025, 3, 20)
    for number in range(count):
        month = 6 + 3 * number
        end = D(2025 + (month - 1) // 12, (month - 1) % 12 + 1, 20)
        rows.append(
            {
                "txn_id": "%s-%d" % (prefix, number + 1),
                "contract_no": contract_no,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "due_on": end.isoformat(),
                "paid_on": end.isoformat(),
                "amount": "%d.%02d" % (800 + number, number),
            }
        )
        start = end + datetime.timedelta(days=1)
    return rows


def repayment_row(txn_id="P-1", amount="10000.00", paid_on="2026-03-20", **extra) -> dict:
    row = {"txn_id": txn_id, "contract_no": CONTRACT, "paid_on": paid_on, "amount": amount}
    row.update(extra)
    return row


def codes(response) -> list[tuple]:
    """(index, field, code) of every error in the envelope."""
    return [
        (error.get("index"), error["field"], error["code"]) for error in response.json()["errors"]
    ]


AMOUNT = Decimal("890.92")
