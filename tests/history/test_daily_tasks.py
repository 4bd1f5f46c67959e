"""Changes that bypass save() (set-based updates) are recorded too: the
daily category refresh of borrowers, the daily loan status task, and the
status a repayment posted through the API moves a loan to."""

import datetime

from beneficiaries.models import Borrower, Position
from beneficiaries.tasks import refresh_categories
from loans.models import Loan
from loans.tasks import record_loan_statuses
from tests.api.conftest import client_with
from tests.beneficiaries import factories

D = datetime.date


def test_the_daily_category_refresh_is_recorded_as_a_scheduled_task(cast):
    zhang = factories.small_registry(cast).zhang
    assert zhang.category == Borrower.Category.VILLAGE_COMMITTEE
    Position.objects.filter(borrower=zhang).update(ended_on=D(2024, 12, 31))
    assert refresh_categories.delay().get() == 1
    change = Borrower.history.filter(id=zhang.pk).latest()
    assert change.history_type == "~"
    assert (change.history_user, change.ip_address) == (None, None)
    assert change.history_change_reason == "scheduled task: beneficiaries.refresh_categories"
    assert (change.prev_record.category, change.category) == (
        Borrower.Category.VILLAGE_COMMITTEE,
        zhang.base_category,
    )


def test_the_daily_status_task_records_a_loan_falling_overdue(lend):
    loan = lend(
        disbursed_on=D(2024, 1, 10), maturity_on=D(2025, 1, 10), settled_until=D(2024, 12, 21)
    )
    assert record_loan_statuses.delay().get() == 1
    change = loan.history.latest()
    assert (change.history_type, change.history_user) == ("~", None)
    assert change.history_change_reason == "scheduled task: loans.record_loan_statuses"
    assert (change.prev_record.status, change.status) == (Loan.Status.ACTIVE, Loan.Status.OVERDUE)


def test_a_loan_repaid_through_the_api_records_its_new_status(cast, lend, key):
    loan = lend()
    response = client_with(key).post(
        "/api/v1/repayments/",
        {
            "txn_id": "P-1",
            "contract_no": loan.contract_no,
            "paid_on": "2026-01-10",
            "amount": str(loan.principal),
        },
        format="json",
        REMOTE_ADDR="172.16.0.9",
    )
    assert response.status_code == 201, response.content
    change = loan.history.latest()
    assert (change.history_user, change.ip_address) == (cast.coop, "172.16.0.9")
    assert (change.prev_record.status, change.status) == (Loan.Status.ACTIVE, Loan.Status.REPAID)
