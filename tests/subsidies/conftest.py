import datetime
import itertools
from decimal import Decimal

import pytest

from loans.ledger.interest import expected_schedule
from loans.ledger.services import ledger_post_interest
from tests.loans import conftest as loans_fixtures
from tests.loans.applications.test_flow import contract
from tests.loans.ledger.test_selectors import release

programme = loans_fixtures.programme
coop = loans_fixtures.coop
groups = loans_fixtures.groups
people = loans_fixtures.people

# The settlement-year 2025 of 振兴贷 2025 runs 2024-12-21 to 2025-12-20.
AFTER_2025 = datetime.date(2026, 1, 5)


@pytest.fixture(autouse=True)
def launch_at_once(monkeypatch, request):
    """Tests run inside a transaction that never commits, so the computation
    the services launch on commit is launched at once instead (eagerly).
    Tests on a committing database (transactional_db) keep the real hook."""
    if "transactional_db" not in request.fixturenames:
        monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())


@pytest.fixture
def lend(cast, programme, people, coop):
    """A loan through the services, with its quarterly interest posted by
    the co-op at the bank's figure up to ``settled_until`` (exclusive); the
    township's own officer takes the application through."""
    numbers = itertools.count(1)

    def make(
        *,
        principal="100000.00",
        rate="0.034500",
        disbursed_on=datetime.date(2025, 3, 20),
        maturity_on=datetime.date(2027, 3, 20),
        settled_until=datetime.date(2025, 12, 21),
        township=None,
        lender=None,
        contract_no=None,
        late_days=0,
        extra=Decimal("0.00"),
    ):
        lender = lender or coop
        loan = contract(
            cast,
            release(cast, programme, people, township),
            lender,
            contract_no=contract_no or f"MJ-2025-{next(numbers):04d}",
            principal=Decimal(principal),
            annual_rate=Decimal(rate),
            disbursed_on=disbursed_on,
            maturity_on=maturity_on,
        )
        schedule = expected_schedule(
            principal=loan.principal,
            rate=loan.annual_rate,
            basis=programme.day_count_basis,
            disbursed_on=disbursed_on,
            ends_on=settled_until,
        )
        for period in schedule:
            ledger_post_interest(
                actor=cast.coop,
                coop=lender,
                loan=loan,
                txn_id=f"{loan.contract_no}-{period.end:%Y%m%d}",
                period_start=period.start,
                period_end=period.end,
                due_on=period.end,
                paid_on=period.end + datetime.timedelta(days=late_days),
                amount=period.interest + extra,
            )
        return loan

    return make
