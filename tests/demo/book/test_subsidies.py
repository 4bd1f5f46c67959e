"""The demo's subsidy year 2025 (demo/subsidies.py): computed by the county,
approved by finance, paid in two batches with every payment state left to
look at, its reports stored, and the co-op reading exactly its lines.

The demo is seeded once for the package (conftest.py).
"""

import datetime
from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from rest_framework.test import APIClient

from beneficiaries.models import Household
from demo.services import demo_seed
from demo.subsidies import CLOSED_ACCOUNT_TOWNSHIP, FIRST_VOUCHER, SECOND_VOUCHER
from loans.keys.services import api_key_issue
from reports.models import Report
from subsidies.models import PaymentBatch, PaymentRecord, SubsidyLine, SubsidyRun
from tests.demo.book.conftest import TODAY
from tests.loans.conftest import mojiang_coop
from tests.pdf import pdf_text

Payment = SubsidyLine.Payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(seeded) -> SubsidyRun:
    return SubsidyRun.objects.select_related("programme").get(
        programme__name="振兴贷", programme__year=2025, year=2025
    )


def user(name):
    return get_user_model().objects.get(username=name)


def test_the_year_is_computed_by_the_county_and_approved_by_finance(run):
    assert run.state == SubsidyRun.State.APPROVED
    assert (run.created_by, run.submitted_by, run.approved_by) == (
        user("county"),
        user("county"),
        user("finance"),
    )
    steps = list(run.transitions.values_list("to_state", "actor__username"))
    assert steps == [
        ("draft", "county"),
        ("computing", "county"),
        ("computed", None),
        ("submitted", "county"),
        ("approved", "finance"),
    ]
    # Dated as the story tells it, not the day the demo was loaded.
    assert run.approved_at.date() == datetime.date(2026, 1, 9)


def test_the_runs_totals_are_the_sums_of_its_lines(run):
    sums = run.lines.aggregate(
        count=Count("pk"),
        reported=Sum("reported_interest"),
        subsidy=Sum("subsidy"),
        due=Sum("amount_due"),
    )
    assert run.line_count == sums["count"] == 680
    assert run.total_reported == sums["reported"]
    assert run.total_subsidy == sums["subsidy"] == run.total_due == sums["due"]
    assert run.total_subsidy > Decimal("1000000")


def test_the_ledgers_exceptions_show_in_the_run(run):
    # The demo's late payers lose their late periods; its differing
    # figures are flagged by the reconciliation.
    assert run.lines.filter(days_late__gt=0).count() >= 3
    assert run.lines.filter(reconciliation_flag=True).count() >= 3
    assert run.flagged_count >= run.lines.filter(reconciliation_flag=True).count()


def test_every_payment_state_is_there_to_look_at(run):
    states = Counter(dict(run.lines.values_list("payment").annotate(n=Count("pk"))))
    assert states[Payment.PENDING] == 1  # the closed account
    assert states[Payment.ISSUED] == 1  # batch 2, waiting for the bank
    assert states[Payment.FAILED] == 1  # batch 2, the frozen account
    assert states[Payment.PAID] == 680 - 3
    batches = list(run.batches.order_by("number"))
    assert [batch.number for batch in batches] == [1, 2]
    assert batches[0].line_count == 679 and batches[1].line_count == 4
    assert sum(batch.total for batch in batches[1:]) == sum(
        line.amount_due
        for line in SubsidyLine.objects.filter(
            pk__in=PaymentRecord.objects.filter(batch=batches[1]).values("line_id")
        )
    )
    paid = run.lines.filter(payment=Payment.PAID)
    assert set(paid.values_list("voucher_no", flat=True)) == {FIRST_VOUCHER, SECOND_VOUCHER}
    # Four lines failed in the first batch and went into the second.
    returned = PaymentRecord.objects.filter(batch=batches[0], status=Payment.FAILED)
    assert returned.count() == 4
    assert set(returned.values_list("line_id", flat=True)) == set(
        PaymentRecord.objects.filter(batch=batches[1], status=Payment.ISSUED).values_list(
            "line_id", flat=True
        )
    )


def test_the_pending_line_is_the_household_whose_account_was_closed(run):
    pending = run.lines.select_related("loan__application__household").get(payment=Payment.PENDING)
    household = pending.loan.application.household
    assert household.account_number == ""
    assert pending.township.code == CLOSED_ACCOUNT_TOWNSHIP
    change = household.history.filter(account_number="").latest("history_date")
    assert change.history_change_reason and "销户" in change.history_change_reason
    assert change.history_user == user("township")
    # The four returned accounts were corrected through the registry.
    corrected = Household.history.filter(history_change_reason__contains="已与农户核实并更正账号")
    assert corrected.count() == 4


def test_the_co_op_reads_exactly_the_approved_lines(run):
    _row, key = api_key_issue(actor=user("county"), user=user("coop"), coop=mojiang_coop())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + key)
    seen, url = [], "/api/v1/subsidy-lines/?year=2025&page_size=1000"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen.extend(response.json()["results"])
        url = response.json()["next"]
    assert sorted(row["id"] for row in seen) == sorted(run.lines.values_list("pk", flat=True))
    assert sum(Decimal(row["amount_due"]) for row in seen) == run.total_due
    statuses = Counter(row["payment_status"] for row in seen)
    assert statuses["paid"] == 677


def test_the_runs_reports_are_stored(run):
    reports = {(r.kind, r.format): r for r in Report.objects.filter(state=Report.State.DONE)}
    assert set(reports) == {
        (Report.Kind.PAYOUT, Report.Format.PDF),
        (Report.Kind.PAYOUT, Report.Format.XLSX),
        (Report.Kind.RUN_NOTICE, Report.Format.PDF),
        (Report.Kind.COUNTY, Report.Format.PDF),
    }
    payout = pdf_text(reports[Report.Kind.PAYOUT, Report.Format.PDF].file.path)
    assert "贴息资金拨付明细表" in payout
    assert f"{run.total_due:,.2f}" in payout
    notice = pdf_text(reports[Report.Kind.RUN_NOTICE, Report.Format.PDF].file.path)
    assert "公示" in notice


def test_the_county_report_shows_the_subsidy_due_and_paid(run):
    report = Report.objects.get(kind=Report.Kind.COUNTY, state=Report.State.DONE)
    assert report.as_of == datetime.date(2026, 2, 2)
    text = pdf_text(report.file.path)
    paid = run.lines.filter(payment=Payment.PAID).aggregate(total=Sum("amount_due"))["total"]
    assert f"{run.total_due:,.2f}" in text  # due
    assert f"{paid:,.2f}" in text  # paid by 2 February
    assert paid < run.total_due


def test_seeding_again_changes_nothing(run):
    def state():
        return (
            list(SubsidyRun.objects.values_list("pk", "state", "total_due")),
            list(SubsidyLine.objects.order_by("pk").values_list("pk", "payment", "amount_due")),
            list(PaymentBatch.objects.values_list("pk", "line_count", "total")),
            PaymentRecord.objects.count(),
            list(Report.objects.values_list("pk", "generation")),
        )

    before = state()
    again = demo_seed(today=TODAY, others=False)
    assert sum(again["subsidies"].values()) == 0
    assert state() == before
