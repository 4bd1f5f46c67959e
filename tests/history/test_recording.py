"""Every create, change and delete of an audited record is recorded with
who, when, from where and what changed, whatever path it takes: a page, the
co-op API with a key, a workbook import, a Celery task (naming the user who
started it, or nobody and why for a scheduled one)."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from beneficiaries.models import Borrower, Household, Position
from common.history import history_record_bulk
from loans.models import Application, LedgerEntry, Loan, Programme, PublicNotice
from loans.notices.services import notice_publish
from loans.tasks import release_due_notices
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.payout import views as payout_views
from subsidies.runs import views as run_views
from subsidies.runs.services import COMPUTATION_REASON, SCHEDULED_REASON
from subsidies.tasks import start_due_runs
from tests.api.conftest import client_with
from tests.beneficiaries import factories
from tests.beneficiaries.registry.test_borrower_pages import create_data, edit_data
from tests.beneficiaries.transfer_fixtures import borrower_row, make_places, workbook_upload
from tests.history.conftest import logged_in
from tests.loans.applications.test_flow import approve, released, submit
from tests.loans.applications.test_pages import form_data
from tests.loans.conftest import TODAY
from tests.loans.programmes.test_pages import programme_data
from tests.subsidies.conftest import AFTER_2025

D = datetime.date
Payment = SubsidyLine.Payment
IP = "10.8.1.23"
IGNORED = ["updated_at"]


def changed_fields(record) -> dict:
    """{field: (old, new)} between a history row and the one before it:
    simple-history's ``diff_against`` for the editable fields, and the same
    comparison for the derived ones it leaves out (a state, a total)."""
    previous = record.prev_record
    delta = record.diff_against(previous, excluded_fields=IGNORED)
    found = {change.field: (change.old, change.new) for change in delta.changes}
    for field in record.tracked_fields:
        if field.editable or field.name in IGNORED:
            continue
        old, new = getattr(previous, field.attname), getattr(record, field.attname)
        if old != new:
            found[field.name] = (old, new)
    return found


# Pages ---------------------------------------------------------------------------


@pytest.fixture
def registry(cast):
    return factories.small_registry(cast)


def test_a_borrower_registered_on_the_page_is_recorded_with_officer_and_address(
    client, cast, registry
):
    data = create_data(registry)
    logged_in(client, cast.township_officer_a).post(
        reverse("borrowers:create"), data, REMOTE_ADDR=IP
    )
    borrower = Borrower.objects.get(id_number=data["id_number"])
    for record in (
        borrower.history.get(),
        borrower.household.history.get(),
        Position.history.get(borrower_id=borrower.pk),
    ):
        assert (record.history_type, record.history_user, record.ip_address) == (
            "+",
            cast.township_officer_a,
            IP,
        )
    assert borrower.history.get().phone == "13887654321"


def test_an_edit_on_the_page_records_exactly_the_fields_it_changed(client, cast, registry):
    zhang = registry.zhang
    old_phone, old_members = zhang.phone, zhang.household.member_count
    logged_in(client, cast.township_officer_a).post(
        reverse("borrowers:edit", args=[zhang.pk]),
        edit_data(zhang, phone="13900001111", member_count=str(old_members + 2)),
        REMOTE_ADDR=IP,
    )
    borrower_change = Borrower.history.filter(id=zhang.pk).latest()
    household_change = Household.history.filter(id=zhang.household_id).latest()
    assert borrower_change.history_type == household_change.history_type == "~"
    assert (borrower_change.history_user, borrower_change.ip_address) == (
        cast.township_officer_a,
        IP,
    )
    assert changed_fields(borrower_change) == {"phone": (old_phone, "13900001111")}
    assert changed_fields(household_change) == {"member_count": (old_members, old_members + 2)}


def test_an_application_submitted_and_moved_on_the_pages_is_recorded(
    client, cast, programme, people
):
    borrower = people.borrower()
    client = logged_in(client, cast.township_officer_a)
    client.post(reverse("applications:create"), form_data(programme, borrower), REMOTE_ADDR=IP)
    application = Application.objects.get()
    client.post(
        reverse("applications:transition", args=[application.pk]),
        {"to_state": Application.State.VILLAGE_RECOMMENDED, "comment": ""},
        REMOTE_ADDR="10.8.1.24",
    )
    created, moved = application.history.order_by("history_date", "history_id")
    assert (created.history_type, created.history_user, created.ip_address) == (
        "+",
        cast.township_officer_a,
        IP,
    )
    assert created.amount == Decimal("60000.00")
    assert (moved.history_type, moved.history_user, moved.ip_address) == (
        "~",
        cast.township_officer_a,
        "10.8.1.24",
    )
    assert changed_fields(moved) == {"state": ("submitted", "village_recommended")}


def test_a_programme_changed_on_its_page_is_recorded(client, cast, programme):
    budget = programme.budget
    data = programme_data(programme, year="2025", budget=str(budget + 1_000_000))
    logged_in(client, cast.county).post(
        reverse("programmes:edit", args=[programme.pk]), data, REMOTE_ADDR=IP
    )
    first = Programme.history.filter(id=programme.pk).latest()
    assert (first.history_user, first.ip_address) == (cast.county, IP)
    data = programme_data(programme, year="2025", budget=str(budget + 2_000_000))
    client.post(reverse("programmes:edit", args=[programme.pk]), data, REMOTE_ADDR=IP)
    second = Programme.history.filter(id=programme.pk).latest()
    assert changed_fields(second) == {"budget": (budget + 1_000_000, budget + 2_000_000)}


# The co-op API -------------------------------------------------------------------------


def test_a_contract_and_ledger_posted_with_a_key_are_recorded_as_the_coop_account(
    cast, programme, people, key
):
    application = released(cast, programme, people)
    api = client_with(key)
    response = api.post(
        "/api/v1/loans/",
        {
            "application": application.pk,
            "contract_no": "MJ-2025-0001",
            "principal": "100000.00",
            "annual_rate": "0.034500",
            "disbursed_on": "2025-03-20",
            "maturity_on": "2027-03-20",
        },
        format="json",
        REMOTE_ADDR="172.16.0.9",
    )
    assert response.status_code == 201, response.content
    loan = Loan.objects.get()
    created = loan.history.get()
    assert (created.history_type, created.history_user, created.ip_address) == (
        "+",
        cast.coop,
        "172.16.0.9",
    )
    assert created.principal == Decimal("100000.00")

    rows = [
        {
            "txn_id": "I-%d" % number,
            "contract_no": "MJ-2025-0001",
            "period_start": start,
            "period_end": end,
            "due_on": end,
            "paid_on": end,
            "amount": amount,
        }
        for number, (start, end, amount) in enumerate(
            [("2025-03-20", "2025-06-20", "890.92"), ("2025-06-21", "2025-09-20", "881.67")]
        )
    ]
    response = api.post("/api/v1/interest-payments/", rows, format="json", REMOTE_ADDR="172.16.0.9")
    assert response.status_code == 201, response.content
    reversal = api.post(
        "/api/v1/reversals/",
        {"txn_id": "R-1", "reverses_txn_id": "I-1", "reason": "重复入账", "paid_on": "2025-09-21"},
        format="json",
        REMOTE_ADDR="172.16.0.10",
    )
    assert reversal.status_code == 201, reversal.content
    history = {row.txn_id: row for row in LedgerEntry.history.all()}
    assert set(history) == {"I-0", "I-1", "R-1"}
    for txn_id, address in (("I-0", "172.16.0.9"), ("I-1", "172.16.0.9"), ("R-1", "172.16.0.10")):
        row = history[txn_id]
        assert (row.history_type, row.history_user, row.ip_address) == ("+", cast.coop, address)
    assert history["I-0"].history_change_reason == "api: interest"
    assert history["I-1"].amount == Decimal("881.67")
    assert history["R-1"].reverses_id == LedgerEntry.objects.get(txn_id="I-1").pk


# The workbook import ---------------------------------------------------------------------


def test_an_import_is_recorded_with_the_officer_the_file_and_the_address(client, cast, media_root):
    make_places(cast)
    client = logged_in(client, cast.township_officer_a)
    client.post(
        reverse("transfer:import"),
        {"workbook": workbook_upload([borrower_row(1), borrower_row(3)], "名册.xlsx")},
        REMOTE_ADDR=IP,
    )
    response = client.post(reverse("transfer:confirm"), REMOTE_ADDR=IP)
    assert response.status_code == 302
    assert Borrower.objects.count() == 2
    for model in (Household, Borrower):
        rows = list(model.history.all())
        assert len(rows) == 2
        for row in rows:
            assert (row.history_type, row.history_user, row.ip_address) == (
                "+",
                cast.township_officer_a,
                IP,
            )
            assert row.history_change_reason == "import: 名册.xlsx"


# The subsidy run: pages that start Celery tasks, and the payout ---------------------------


@pytest.fixture
def two_loans(lend, cast):
    return [lend(), lend(township=cast.township_b)]


def line_history(run):
    return SubsidyLine.history.filter(run_id=run.pk)


def test_a_run_started_on_the_page_records_its_starter_on_what_its_tasks_write(
    client, cast, programme, two_loans, monkeypatch
):
    monkeypatch.setattr(run_views, "_today", lambda: AFTER_2025)
    client = logged_in(client, cast.county)
    client.post(
        reverse("subsidies:start"), {"programme": programme.pk, "year": 2025}, REMOTE_ADDR=IP
    )
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    assert run.state == SubsidyRun.State.COMPUTED
    created, computing, computed = run.history.order_by("history_date", "history_id")
    assert (created.history_type, created.history_user, created.ip_address) == (
        "+",
        cast.county,
        IP,
    )
    assert changed_fields(computing)["state"] == ("draft", "computing")
    # Closed by the task that finished the computation, in the starter's name.
    assert (computed.history_user, computed.history_change_reason) == (
        cast.county,
        COMPUTATION_REASON,
    )
    assert changed_fields(computed)["state"] == ("computing", "computed")
    assert changed_fields(computed)["line_count"] == (0, 2)

    lines = {line.pk: line for line in run.lines.all()}
    created_lines = line_history(run)
    assert sorted(created_lines.values_list("id", flat=True)) == sorted(lines)
    for row in created_lines:
        assert (row.history_type, row.history_user, row.history_change_reason) == (
            "+",
            cast.county,
            COMPUTATION_REASON,
        )
        assert (row.subsidy, row.amount_due) == (lines[row.id].subsidy, lines[row.id].amount_due)
        assert row.subsidy > 0

    # A recomputation replaces the lines: the old ones recorded as deleted.
    client.post(reverse("subsidies:compute", args=[run.pk]), REMOTE_ADDR=IP)
    deleted = line_history(run).filter(history_type="-")
    assert sorted(deleted.values_list("id", flat=True)) == sorted(lines)
    assert {row.history_user for row in deleted} == {cast.county}
    current = set(run.lines.values_list("pk", flat=True))
    assert set(line_history(run).filter(history_type="+").values_list("id", flat=True)) == (
        set(lines) | current
    )


def test_submission_approval_and_payment_through_the_pages_are_recorded(
    client, cast, programme, two_loans, monkeypatch
):
    monkeypatch.setattr(run_views, "_today", lambda: AFTER_2025)
    monkeypatch.setattr(payout_views, "_today", lambda: D(2026, 2, 10))
    logged_in(client, cast.county).post(
        reverse("subsidies:start"), {"programme": programme.pk, "year": 2025}
    )
    run = SubsidyRun.objects.get()
    client.post(reverse("subsidies:submit", args=[run.pk]), REMOTE_ADDR="10.8.1.30")
    finance = logged_in(client, cast.finance)
    finance.post(reverse("subsidies:approve", args=[run.pk]), REMOTE_ADDR="10.8.1.31")
    submitted, approved = run.history.order_by("history_date", "history_id")[3:5]
    assert (submitted.history_user, submitted.ip_address) == (cast.county, "10.8.1.30")
    assert changed_fields(submitted)["state"] == ("computed", "submitted")
    assert (approved.history_user, approved.ip_address) == (cast.finance, "10.8.1.31")
    assert changed_fields(approved)["state"] == ("submitted", "approved")

    finance.post(reverse("subsidies:issue_batch", args=[run.pk]), REMOTE_ADDR="10.8.1.32")
    batch = run.batches.get()
    issued = line_history(run).filter(history_type="~")
    assert issued.count() == 2
    for row in issued:
        assert (row.history_user, row.ip_address) == (cast.finance, "10.8.1.32")
        assert changed_fields(row) == {
            "payment": (Payment.PENDING, Payment.ISSUED),
            "batch": (None, batch.pk),
        }

    finance.post(
        reverse("subsidies:record_batch", args=[batch.pk]),
        {"batch%d-voucher_no" % batch.pk: "YH20260203", "batch%d-paid_on" % batch.pk: "2026-02-03"},
        REMOTE_ADDR="10.8.1.33",
    )
    paid = line_history(run).filter(history_type="~", payment=Payment.PAID)
    assert paid.count() == 2
    for row in paid:
        assert (row.history_user, row.ip_address) == (cast.finance, "10.8.1.33")
        assert changed_fields(row) == {
            "payment": (Payment.ISSUED, Payment.PAID),
            "voucher_no": ("", "YH20260203"),
            "paid_on": (None, D(2026, 2, 3)),
        }


def test_a_line_recorded_as_failed_on_the_page_is_recorded(
    client, cast, programme, two_loans, monkeypatch
):
    monkeypatch.setattr(run_views, "_today", lambda: AFTER_2025)
    monkeypatch.setattr(payout_views, "_today", lambda: D(2026, 2, 10))
    client = logged_in(client, cast.county)
    client.post(reverse("subsidies:start"), {"programme": programme.pk, "year": 2025})
    run = SubsidyRun.objects.get()
    client.post(reverse("subsidies:submit", args=[run.pk]))
    finance = logged_in(client, cast.finance)
    finance.post(reverse("subsidies:approve", args=[run.pk]))
    finance.post(reverse("subsidies:issue_batch", args=[run.pk]))
    line = run.lines.order_by("pk").first()
    finance.post(
        reverse("subsidies:record_line", args=[line.pk]),
        {"outcome": "failed", "line%d-note" % line.pk: "账号已销户"},
        REMOTE_ADDR=IP,
    )
    failed = SubsidyLine.history.filter(id=line.pk).latest()
    assert (failed.history_user, failed.ip_address) == (cast.finance, IP)
    assert changed_fields(failed) == {
        "payment": (Payment.ISSUED, Payment.FAILED),
        "payment_note": ("", "账号已销户"),
    }


# Scheduled tasks -----------------------------------------------------------------------------


def test_the_scheduled_start_of_a_run_names_nobody_and_says_it_was_scheduled(
    cast, programme, two_loans
):
    start_due_runs.delay()
    run = SubsidyRun.objects.get(programme=programme)
    assert run.state == SubsidyRun.State.COMPUTED
    history = list(run.history.order_by("history_date", "history_id"))
    assert [row.history_type for row in history] == ["+", "~", "~"]
    assert {row.history_user for row in history} == {None}
    assert history[0].history_change_reason == "scheduled task: subsidies.start_due_runs"
    assert history[2].history_change_reason == SCHEDULED_REASON
    lines = line_history(run)
    assert lines.count() == run.lines.count() > 0
    assert {(row.history_user, row.history_change_reason) for row in lines} == {
        (None, SCHEDULED_REASON)
    }


def test_the_daily_release_of_notices_is_recorded_in_the_publishers_name(cast, programme, people):
    application = approve(cast, submit(cast.county, programme, people.borrower()))
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    assert release_due_notices.delay().get() == 1
    released_row = Application.history.filter(id=application.pk).latest()
    assert released_row.history_user == cast.county
    assert released_row.history_change_reason == "scheduled task: loans.release_due_notices"
    assert released_row.ip_address is None
    assert changed_fields(released_row)["state"] == ("in_notice", "released")
    closed = PublicNotice.history.filter(id=notice.pk).latest()
    assert closed.history_user == cast.county
    assert closed.closed_at is not None and closed.prev_record.closed_at is None


# A delete ------------------------------------------------------------------------------------


def test_a_deleted_record_leaves_a_deletion_row_with_its_last_values(cast, people):
    household = people.household()
    pk = household.pk
    household._history_user = cast.county
    household.delete()
    gone = Household.history.filter(id=pk).latest()
    assert (gone.history_type, gone.history_user) == ("-", cast.county)
    assert gone.head_id_number == household.head_id_number


def test_a_set_based_record_of_no_rows_writes_nothing(db):
    before = Borrower.history.count()
    assert history_record_bulk(Borrower.objects.none(), history_type="~") == 0
    assert history_record_bulk(Borrower.objects.filter(pk__in=[]), history_type="~") == 0
    assert Borrower.history.count() == before


def test_the_address_is_the_one_the_proxy_saw_never_one_the_client_wrote(
    client, cast, registry, settings
):
    zhang = registry.zhang
    url = reverse("borrowers:edit", args=[zhang.pk])
    client = logged_in(client, cast.township_officer_a)
    forged = {"HTTP_X_FORWARDED_FOR": "203.0.113.66", "REMOTE_ADDR": IP}
    client.post(url, edit_data(zhang, phone="13900001111"), **forged)
    assert Borrower.history.filter(id=zhang.pk).latest().ip_address == IP

    # Behind the production proxy: the address it appended, not the client's.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = {"HTTP_X_FORWARDED_FOR": "203.0.113.66, 198.51.100.7", "REMOTE_ADDR": "10.0.0.2"}
    client.post(url, edit_data(zhang, phone="13900002222"), secure=True, **proxied)
    assert Borrower.history.filter(id=zhang.pk).latest().ip_address == "198.51.100.7"
