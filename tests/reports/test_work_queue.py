"""What waits for each role (reports/work_queue.py, the home page's 待办):
one item of each kind made through the services, seen with its count and
link by the roles it is for, never by a township officer of another
township; one query per item."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beneficiaries.registry.services import household_update
from loans.applications.services import application_transition
from loans.models import Application, LprRate, Programme
from loans.notices.services import notice_publish, objection_record
from reports.work_queue import work_for
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.payout.services import payment_batch_issue, payment_line_record
from subsidies.runs.services import (
    subsidy_run_approve,
    subsidy_run_send_back,
    subsidy_run_start,
    subsidy_run_submit,
)
from tests.loans.applications.test_flow import submit
from tests.loans.conftest import TODAY
from tests.loans.ledger.test_selectors import release
from tests.subsidies import conftest as subsidies_fixtures
from tests.subsidies.conftest import AFTER_2025

lend = subsidies_fixtures.lend
launch_at_once = subsidies_fixtures.launch_at_once

State = Application.State
LATER = datetime.date(2026, 1, 10)


def counts(user) -> dict[str, int]:
    return {item.key: item.count for item in work_for(user, today=LATER)}


def advance(application, actor, *states):
    for state in states:
        application = application_transition(
            actor=actor, application=application, to_state=state, today=TODAY
        )
    return application


@pytest.fixture
def applications(cast, programme, people):
    """In township a: one submitted, one recommended, one reviewed; in
    township b the same three."""
    made = {}
    for township, officer in (
        (cast.township_a, cast.township_officer_a),
        (cast.township_b, cast.township_officer_b),
    ):
        submitted = submit(cast.county, programme, people.borrower(township=township))
        recommended = advance(
            submit(cast.county, programme, people.borrower(township=township)),
            officer,
            State.VILLAGE_RECOMMENDED,
        )
        reviewed = advance(
            submit(cast.county, programme, people.borrower(township=township)),
            officer,
            State.VILLAGE_RECOMMENDED,
            State.TOWNSHIP_REVIEWED,
        )
        made[township.pk] = (submitted, recommended, reviewed)
    return made


def test_the_applications_waiting_for_each_step(client, cast, applications):
    assert counts(cast.township_officer_a) == {"to_recommend": 1, "to_review": 1}
    assert counts(cast.township_officer_b) == {"to_recommend": 1, "to_review": 1}
    assert counts(cast.county) == {"to_approve": 2}
    assert counts(cast.finance) == {}

    client.force_login(cast.county)
    body = client.get(reverse("home")).content.decode()
    link = reverse("applications:list") + "?state=township_reviewed"
    assert f'href="{link}"' in body
    assert 'data-work="to_approve"' in body


def test_a_notice_whose_period_ended_and_its_objection(cast, programme, people):
    application = advance(
        submit(cast.county, programme, people.borrower(township=cast.township_b)),
        cast.township_officer_b,
        State.VILLAGE_RECOMMENDED,
        State.TOWNSHIP_REVIEWED,
    )
    application = advance(application, cast.county, State.COUNTY_APPROVED)
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    objection_record(
        actor=cast.township_officer_b,
        entry=notice.entries.get(),
        raised_by="村民",
        content="不符合条件",
    )
    assert counts(cast.county) == {"notices_to_release": 1, "objections": 1}
    assert counts(cast.township_officer_b) == {"objections": 1}
    assert counts(cast.township_officer_a) == {}  # another township's objection
    # While the notice runs there is nothing to release yet.
    during = {item.key for item in work_for(cast.county, today=notice.ends_on)}
    assert during == {"objections"}


def approved_run(cast, programme):
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    subsidy_run_submit(actor=cast.county, run=run)
    return subsidy_run_approve(actor=cast.finance, run=run)


def test_the_runs_and_payments_waiting(cast, programme, lend):
    lend()  # township a
    lend(extra=Decimal("2.00"))  # a co-op figure 8.00 above the expected
    differing_b = lend(township=cast.township_b, extra=Decimal("2.00"))
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert counts(cast.county) == {"runs_to_submit": 1, "interest_exceptions": 2}

    subsidy_run_submit(actor=cast.county, run=run)
    assert counts(cast.finance) == {"runs_to_approve": 1}
    subsidy_run_send_back(actor=cast.finance, run=run, reason="请核对")
    assert counts(cast.county) == {"runs_returned": 1, "interest_exceptions": 2}
    assert counts(cast.finance) == {}

    run.refresh_from_db()
    subsidy_run_submit(actor=cast.county, run=run)
    subsidy_run_approve(actor=cast.finance, run=run)
    # One household of township b has no account: its subsidy waits.
    household = differing_b.application.household
    household_update(actor=cast.township_officer_b, household=household, account_number="")
    batch = payment_batch_issue(actor=cast.finance, run=run)
    assert batch.line_count == 2
    assert counts(cast.finance) == {"batches_to_record": 1}
    assert counts(cast.township_officer_b) == {"missing_accounts": 1}
    assert counts(cast.township_officer_a) == {}
    assert counts(cast.county)["missing_accounts"] == 1

    line = batch.lines.order_by("pk").first()
    payment_line_record(actor=cast.finance, line=line, paid=False, note="账号错误", today=LATER)
    assert counts(cast.finance) == {"batches_to_record": 1, "failed_payments": 1}
    assert SubsidyLine.objects.filter(payment=SubsidyLine.Payment.FAILED).count() == 1


def test_a_run_that_failed_waits_for_the_county(cast, programme, lend):
    lend()
    Programme.objects.filter(pk=programme.pk).update(rate_cap_mode=Programme.RateCapMode.LPR)
    LprRate.objects.all().delete()
    programme.refresh_from_db()
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.FAILED
    assert counts(cast.county) == {"runs_failed": 1}
    item = next(i for i in work_for(cast.county, today=LATER) if i.key == "runs_failed")
    assert item.url == reverse("subsidies:run", args=[run.pk])


def test_the_co_op_sees_released_applications_without_a_contract(cast, programme, people):
    release(cast, programme, people)
    assert counts(cast.coop) == {"released_without_contract": 1}


def test_an_empty_queue_says_so_and_the_auditor_sees_the_latest_changes(client, cast, people):
    people.borrower()
    client.force_login(cast.finance)
    assert 'data-testid="work-empty"' in client.get(reverse("home")).content.decode()
    client.force_login(cast.auditor)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="latest-changes"' in body
    assert "李四" in body  # the borrower just registered


def test_the_queries_do_not_grow_with_the_work(cast, programme, people, lend):
    def queries(user) -> int:
        user = type(user).objects.get(pk=user.pk)  # no role or township cached
        with CaptureQueriesContext(connection) as captured:
            work_for(user, today=LATER)
        return len(captured)

    users = (cast.county, cast.township_officer_a, cast.finance, cast.coop)
    lend(extra=Decimal("2.00"))
    few = [queries(user) for user in users]
    for _ in range(3):
        submit(cast.county, programme, people.borrower())
        release(cast, programme, people)
        lend(extra=Decimal("2.00"))
    approved_run(cast, programme)
    assert [queries(user) for user in users] == few
