"""The daily beat tasks of the loan life cycle, run eagerly."""

import datetime
import logging

from django.utils import timezone

from loans.ledger.services import loan_create
from loans.models import Application, Loan, LoanStatusChange
from loans.notices.services import notice_publish, objection_record
from loans.tasks import record_loan_statuses, release_due_notices
from tests.loans.applications.test_flow import submit
from tests.loans.notices.test_pages import approve

State = Application.State


def published(cast, programme, people, *, days_ago: int, count: int = 1):
    applications = [
        approve(cast, submit(cast.county, programme, people.borrower())) for _ in range(count)
    ]
    started = timezone.localdate() - datetime.timedelta(days=days_ago)
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=started)
    return notice, applications


def test_release_due_notices_releases_and_is_safe_to_run_twice(cast, programme, people):
    notice, applications = published(cast, programme, people, days_ago=11, count=2)
    assert release_due_notices.delay().get() == 2
    assert release_due_notices.delay().get() == 0
    for application in applications:
        application.refresh_from_db()
        assert application.state == State.RELEASED
        released = application.transitions.filter(to_state=State.RELEASED)
        assert [step.actor for step in released] == [notice.created_by]
    notice.refresh_from_db()
    assert notice.closed_at is not None


def test_release_due_notices_holds_back_objected_entries_and_running_notices(
    cast, programme, people
):
    notice, (objected, free) = published(cast, programme, people, days_ago=11, count=2)
    objected.refresh_from_db()
    objection_record(
        actor=cast.county, entry=objected.notice_entry, raised_by="村民", content="有异议"
    )
    assert release_due_notices.delay().get() == 1
    objected.refresh_from_db()
    free.refresh_from_db()
    assert (objected.state, free.state) == (State.IN_NOTICE, State.RELEASED)
    notice.refresh_from_db()
    assert notice.closed_at is None

    _running, (waiting,) = published(cast, programme, people, days_ago=3)
    assert release_due_notices.delay().get() == 0
    waiting.refresh_from_db()
    assert waiting.state == State.IN_NOTICE


def test_release_due_notices_needs_an_officer_who_may_still_release(
    cast, programme, people, caplog
):
    notice, (application,) = published(cast, programme, people, days_ago=11)
    cast.county.is_active = False
    cast.county.save()
    with caplog.at_level(logging.ERROR, logger="loans.tasks"):
        assert release_due_notices.delay().get() == 0
    assert "release it from the notice page" in caplog.text
    application.refresh_from_db()
    assert application.state == State.IN_NOTICE


def test_record_loan_statuses_records_an_overdue_loan_once(cast, programme, people, coop):
    notice, (application,) = published(cast, programme, people, days_ago=11)
    release_due_notices.delay().get()
    application.refresh_from_db()
    disbursed = timezone.localdate() - datetime.timedelta(days=400)
    loan = loan_create(
        actor=cast.county,
        application=application,
        coop=coop,
        contract_no="MJ-2025-0100",
        principal=application.amount,
        annual_rate=application.programme.rate_ceiling,
        disbursed_on=disbursed,
        maturity_on=disbursed + datetime.timedelta(days=200),
    )
    assert record_loan_statuses.delay().get() == 1
    assert record_loan_statuses.delay().get() == 0
    loan.refresh_from_db()
    assert loan.status == Loan.Status.OVERDUE
    assert LoanStatusChange.objects.filter(loan=loan).count() == 1
