"""Paying an approved subsidy run: payment batches and their bank files, the
bank's payment recorded per batch or per line, failed lines paid again, who
may do what, the download log; and the borrower page's subsidy section.

The run: three loans lent through the services with their 2025 interest
posted at the bank's figures (tests/subsidies/conftest.py ``lend``):

* MJ-2025-0001, township a, 100,000 at 3.45 % from 2025-03-20: periods of
  1, 92, 92 and 91 days at 9.583333 a day, 9.58 + 881.67 + 881.67 + 872.08
  = 2,645.00;
* MJ-2025-0002, township b, 50,000 at 3.45 %: 4.79 + 440.83 + 440.83 +
  436.04 = 1,322.49;
* MJ-2025-0003, township a, 100,000 (2,645.00), whose household has no
  bank account.
"""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import PersonalDataExport
from beneficiaries.models import Borrower, Household
from subsidies.models import PaymentBatch, PaymentRecord, SubsidyLine, SubsidyRun
from subsidies.payout import views as payout_views
from subsidies.payout.services import (
    payment_batch_issue,
    payment_batch_record,
    payment_batch_rows,
    payment_line_record,
)
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.subsidies.conftest import AFTER_2025

D = datetime.date
State = SubsidyRun.State
Payment = SubsidyLine.Payment
TODAY = D(2026, 2, 10)
ACCOUNT = "6217001234567893"  # tests/loans/conftest.py People.household
BANK = "墨江哈尼族自治县农村信用合作联社"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(payout_views, "_today", lambda: TODAY)


def approved_run(cast, programme) -> SubsidyRun:
    """The 2025 run computed, submitted by the county, approved by finance."""
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == State.COMPUTED, run.error
    subsidy_run_submit(actor=cast.county, run=run)
    return subsidy_run_approve(actor=cast.finance, run=run)


def without_account(loan, *, name="王小明", head="王大明") -> None:
    """The loan's borrower renamed, and their household's account removed."""
    application = loan.application
    Borrower.objects.filter(pk=application.borrower_id).update(name=name)
    Household.objects.filter(pk=application.household_id).update(
        head_name=head, account_holder="", account_number="", bank_name=""
    )


def give_account(loan) -> None:
    Household.objects.filter(pk=loan.application.household_id).update(
        account_holder="王大明", account_number="6228480012345678", bank_name="中国农业银行墨江支行"
    )


@pytest.fixture
def loans(cast, programme, people, coop, lend):
    first = lend()
    second = lend(township=cast.township_b, principal="50000.00")
    third = lend()
    without_account(third)
    return first, second, third


@pytest.fixture
def run(cast, programme, loans) -> SubsidyRun:
    return approved_run(cast, programme)


def line_of(run, loan) -> SubsidyLine:
    return run.lines.get(loan=loan)


def client_for(client, user):
    client.force_login(user)
    return client


def payout_url(run) -> str:
    return reverse("subsidies:payout", args=[run.pk])


def test_the_run_owes_the_worked_amounts(run, loans):
    first, second, third = loans
    assert [line_of(run, loan).amount_due for loan in loans] == [
        Decimal("2645.00"),
        Decimal("1322.49"),
        Decimal("2645.00"),
    ]
    assert run.state == State.APPROVED
    assert set(run.lines.values_list("payment", flat=True)) == {Payment.PENDING}


# Services -------------------------------------------------------------------------


def test_a_batch_takes_every_line_waiting_with_a_bank_account(cast, run, loans):
    first, second, third = loans
    batch = payment_batch_issue(actor=cast.finance, run=run)

    assert (batch.number, batch.line_count, batch.total) == (1, 2, Decimal("3967.49"))
    assert batch.reference == "ZXD2025-%04d-01" % run.pk
    issued = run.lines.filter(payment=Payment.ISSUED, batch=batch)
    assert set(issued.values_list("loan", flat=True)) == {first.pk, second.pk}
    assert line_of(run, third).payment == Payment.PENDING  # no account: stays out
    with pytest.raises(ValidationError):
        payment_batch_issue(actor=cast.finance, run=run)  # nothing left with an account
    assert run.batches.count() == 1


def test_only_an_approved_run_is_paid(cast, programme, lend):
    lend()
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == State.COMPUTED
    with pytest.raises(ValidationError):
        payment_batch_issue(actor=cast.finance, run=run)
    subsidy_run_submit(actor=cast.county, run=run)
    with pytest.raises(ValidationError) as error:
        payment_batch_issue(actor=cast.finance, run=run)
    assert "approved" in error.value.messages[0] or "审批" in error.value.messages[0]
    assert not PaymentBatch.objects.exists()


def test_only_finance_pays(cast, run):
    for actor in (cast.county, cast.township_officer_a, cast.coop, cast.auditor):
        with pytest.raises(PermissionDenied):
            payment_batch_issue(actor=actor, run=run)
    batch = payment_batch_issue(actor=cast.finance, run=run)
    line = batch.lines.first()
    for actor in (cast.county, cast.township_officer_a, cast.coop, cast.auditor):
        with pytest.raises(PermissionDenied):
            payment_batch_record(
                actor=actor, batch=batch, voucher_no="V1", paid_on=TODAY, today=TODAY
            )
        with pytest.raises(PermissionDenied):
            payment_line_record(actor=actor, line=line, paid=False, note="x", today=TODAY)
    assert not batch.lines.exclude(payment=Payment.ISSUED).exists()


def test_the_run_is_paid_once_every_line_due_is_paid(cast, run, loans):
    first, second, third = loans
    batch = payment_batch_issue(actor=cast.finance, run=run)
    recorded = payment_batch_record(
        actor=cast.finance,
        batch=batch,
        voucher_no=" 2026-0001 ",
        paid_on=D(2026, 2, 3),
        today=TODAY,
    )

    assert recorded == 2
    paid = line_of(run, first)
    assert (paid.payment, paid.voucher_no, paid.paid_on) == (
        Payment.PAID,
        "2026-0001",
        D(2026, 2, 3),
    )
    run.refresh_from_db()
    assert run.state == State.APPROVED  # the line without an account is still due

    give_account(third)
    second_batch = payment_batch_issue(actor=cast.finance, run=run)
    assert (second_batch.number, second_batch.line_count) == (2, 1)
    assert second_batch.total == Decimal("2645.00")
    payment_batch_record(
        actor=cast.finance, batch=second_batch, voucher_no="2026-0002", paid_on=TODAY, today=TODAY
    )
    run.refresh_from_db()
    assert run.state == State.PAID and run.paid_at is not None
    assert list(run.transitions.values_list("to_state", flat=True))[-2:] == [
        State.APPROVED,
        State.PAID,
    ]


def test_a_failed_line_goes_into_the_next_batch(cast, run, loans):
    first, second, _third = loans
    batch = payment_batch_issue(actor=cast.finance, run=run)
    payment_line_record(
        actor=cast.finance, line=line_of(run, second), paid=False, note="账户已销户", today=TODAY
    )
    payment_line_record(
        actor=cast.finance,
        line=line_of(run, first),
        paid=True,
        voucher_no="V-7",
        paid_on=TODAY,
        today=TODAY,
    )

    again = payment_batch_issue(actor=cast.finance, run=run)
    assert (again.number, again.line_count, again.total) == (2, 1, Decimal("1322.49"))
    assert again.reference.endswith("-02") and again.reference != batch.reference
    line = line_of(run, second)
    assert (line.payment, line.batch, line.payment_note) == (Payment.ISSUED, again, "")
    steps = list(line.payments.values_list("status", "batch__number", "note"))
    assert steps == [
        (Payment.ISSUED, 1, ""),
        (Payment.FAILED, 1, "账户已销户"),
        (Payment.ISSUED, 2, ""),
    ]
    assert line_of(run, first).payment == Payment.PAID
    # The first batch's file, downloaded again, is still the file that was sent.
    assert [row["contract_no"] for row in payment_batch_rows(batch)] == [
        "MJ-2025-0001",
        "MJ-2025-0002",
    ]
    assert [row["contract_no"] for row in payment_batch_rows(again)] == ["MJ-2025-0002"]


# The bank files ------------------------------------------------------------------


@pytest.fixture
def batch(cast, run) -> PaymentBatch:
    return payment_batch_issue(actor=cast.finance, run=run)


def expected_rows(batch, loans):
    """(户名, 账号, 开户行, 金额, 摘要, 合同编号) in the file's order: township, contract."""
    first, second, _third = loans
    return [
        ("李四", ACCOUNT, BANK, Decimal("2645.00"), reference(batch, first), "MJ-2025-0001"),
        ("李四", ACCOUNT, BANK, Decimal("1322.49"), reference(batch, second), "MJ-2025-0002"),
    ]


def reference(batch, loan) -> str:
    return "%s-%d" % (batch.reference, batch.lines.get(loan=loan).pk)


def download(client, batch, fmt):
    return client.get(reverse("subsidies:batch_file", args=[batch.pk, fmt]))


def test_the_workbook_holds_each_lines_account_and_amount(client, cast, batch, loans):
    response = download(client_for(client, cast.finance), batch, "xlsx")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert batch.reference + ".xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("户名", "账号", "开户行", "金额", "摘要", "合同编号")
    body = [(*row[:3], Decimal(str(row[3])), *row[4:]) for row in rows[1:-1]]
    assert body == expected_rows(batch, loans)
    assert rows[-1][0] == "合计" and Decimal(str(rows[-1][3])) == Decimal("3967.49")
    assert [sheet.cell(row, 4).number_format for row in (2, 3, 4)] == ["0.00"] * 3
    assert sheet.cell(2, 2).data_type == "s"  # the account number stays text


def test_the_csv_is_utf8_with_a_bom_and_no_total_row(client, cast, batch, loans):
    response = download(client_for(client, cast.finance), batch, "csv")

    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert batch.reference + ".csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["户名", "账号", "开户行", "金额", "摘要", "合同编号"]
    assert [tuple(row) for row in rows[1:]] == [
        (*row[:3], "%s" % row[3], *row[4:]) for row in expected_rows(batch, loans)
    ]
    assert rows[1][3] == "2645.00" and rows[2][3] == "1322.49"


def test_every_download_is_logged_with_what_it_held(client, cast, batch):
    finance = client_for(client, cast.finance)
    download(finance, batch, "xlsx")
    download(finance, batch, "csv")

    logged = list(
        PersonalDataExport.objects.order_by("pk").values_list("user", "what", "row_count")
    )
    assert logged == [
        (cast.finance.pk, "subsidy payment batch %s (xlsx)" % batch.reference, 2),
        (cast.finance.pk, "subsidy payment batch %s (csv)" % batch.reference, 2),
    ]


def test_a_file_is_for_those_who_may_see_all_its_lines(client, cast, batch):
    for user in (cast.county, cast.auditor):
        client.force_login(user)
        assert download(client, batch, "csv").status_code == 200
    # The batch holds a line of township b: not for township a's officer.
    client.force_login(cast.township_officer_a)
    assert download(client, batch, "xlsx").status_code == 404
    client.force_login(cast.coop)
    assert download(client, batch, "xlsx").status_code == 403
    client.force_login(cast.finance)
    assert download(client, batch, "pdf").status_code == 404
    assert PersonalDataExport.objects.count() == 2


# The page ------------------------------------------------------------------------


def test_the_page_sums_up_and_lists_the_lines_without_an_account(client, cast, run):
    page = client_for(client, cast.finance).get(payout_url(run))

    assert page.status_code == 200
    html = page.content.decode()
    summary = page.context["summary"]
    assert (summary["due"]["count"], summary["due"]["amount"]) == (3, Decimal("6612.49"))
    # Waiting for the next batch: the lines with an account.
    assert (summary["waiting"]["count"], summary["waiting"]["amount"]) == (2, Decimal("3967.49"))
    assert [line.loan.contract_no for line in page.context["missing"]] == ["MJ-2025-0003"]
    assert "王小明" in html and "王大明" in html
    assert 'data-testid="issue-batch"' in html


def test_county_and_auditor_see_the_page_without_its_buttons(client, cast, run, batch):
    for user in (cast.county, cast.auditor):
        client.force_login(user)
        page = client.get(payout_url(run))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-testid="issue-batch"' not in html
        assert 'data-testid="record-batch"' not in html
        assert 'data-testid="record-paid"' not in html
        assert 'data-testid="download-xlsx"' in html
    client.force_login(cast.coop)
    assert client.get(payout_url(run)).status_code == 403


def test_a_township_officer_sees_their_townships_lines_only(client, cast, run, loans):
    page = client_for(client, cast.township_officer_b).get(payout_url(run))

    assert page.status_code == 200
    assert [line.loan for line in page.context["lines"]] == [loans[1]]
    assert page.context["summary"]["due"]["amount"] == Decimal("1322.49")
    assert page.context["missing"] == []


def test_a_run_not_yet_approved_has_no_payout_page(client, cast, programme, lend):
    lend()
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    response = client_for(client, cast.finance).get(payout_url(run))
    assert response.status_code == 302
    assert response["Location"] == reverse("subsidies:run", args=[run.pk])
    assert client.post(reverse("subsidies:issue_batch", args=[run.pk])).status_code == 302
    assert not PaymentBatch.objects.exists()


def test_only_finance_may_issue_or_record_through_the_pages(client, cast, run):
    batch = payment_batch_issue(actor=cast.finance, run=run)
    line = batch.lines.first()
    posts = [
        (reverse("subsidies:issue_batch", args=[run.pk]), {}),
        (
            reverse("subsidies:record_batch", args=[batch.pk]),
            {"batch%d-voucher_no" % batch.pk: "V1", "batch%d-paid_on" % batch.pk: "2026-02-01"},
        ),
        (
            reverse("subsidies:record_line", args=[line.pk]),
            {"outcome": "failed", "line%d-note" % line.pk: "账户已销户"},
        ),
    ]
    for user in (cast.county, cast.township_officer_a, cast.coop, cast.auditor):
        client.force_login(user)
        for url, data in posts:
            assert client.post(url, data).status_code == 403, (user, url)
    assert PaymentBatch.objects.count() == 1
    assert not run.lines.filter(payment__in=[Payment.PAID, Payment.FAILED]).exists()


def test_finance_issues_downloads_and_records_through_the_pages(client, cast, run, loans):
    finance = client_for(client, cast.finance)
    response = finance.post(reverse("subsidies:issue_batch", args=[run.pk]), follow=True)
    batch = run.batches.get()
    assert response.redirect_chain[-1][0].endswith("#batch-1")
    assert batch.reference in response.content.decode()

    response = finance.post(
        reverse("subsidies:record_batch", args=[batch.pk]),
        {"batch%d-voucher_no" % batch.pk: "YH20260203", "batch%d-paid_on" % batch.pk: "2026-02-03"},
    )
    assert response.status_code == 302
    paid = run.lines.filter(payment=Payment.PAID)
    assert set(paid.values_list("voucher_no", "paid_on")) == {("YH20260203", D(2026, 2, 3))}
    assert paid.count() == 2


def test_a_bad_voucher_or_a_future_date_is_refused_in_chinese(client, cast, run):
    batch = payment_batch_issue(actor=cast.finance, run=run)
    finance = client_for(client, cast.finance)
    response = finance.post(
        reverse("subsidies:record_batch", args=[batch.pk]),
        {"batch%d-voucher_no" % batch.pk: "  ", "batch%d-paid_on" % batch.pk: "2026-02-11"},
    )

    assert response.status_code == 400
    form = next(b.form for b in response.context["batches"] if b.pk == batch.pk)
    assert form.errors["voucher_no"] == ["请输入支付凭证号。"]
    assert form.errors["paid_on"] == ["支付日期不能晚于今天。"]
    html = response.content.decode()
    assert 'data-testid="error-batch%d-paid_on"' % batch.pk in html
    assert not run.lines.filter(payment=Payment.PAID).exists()
    assert not PaymentRecord.objects.filter(status=Payment.PAID).exists()

    too_long = finance.post(
        reverse("subsidies:record_batch", args=[batch.pk]),
        {"batch%d-voucher_no" % batch.pk: "9" * 41, "batch%d-paid_on" % batch.pk: "2026-02-01"},
    )
    assert too_long.status_code == 400
    assert "40" in too_long.context["batches"][0].form.errors["voucher_no"][0]
    assert not run.lines.filter(payment=Payment.PAID).exists()


def test_a_failure_needs_the_banks_reason(client, cast, run):
    batch = payment_batch_issue(actor=cast.finance, run=run)
    line = batch.lines.order_by("pk").first()
    finance = client_for(client, cast.finance)
    url = reverse("subsidies:record_line", args=[line.pk])

    response = finance.post(url, {"outcome": "failed", "line%d-note" % line.pk: ""})
    assert response.status_code == 400
    shown = next(row for row in response.context["lines"] if row.pk == line.pk)
    assert shown.open_form == "failed"
    assert shown.failed_form.errors["note"] == ["请说明支付失败的原因。"]
    line.refresh_from_db()
    assert line.payment == Payment.ISSUED

    response = finance.post(url, {"outcome": "failed", "line%d-note" % line.pk: "户名不符"})
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.payment, line.payment_note) == (Payment.FAILED, "户名不符")


def test_a_line_is_recorded_paid_with_its_voucher(client, cast, run):
    batch = payment_batch_issue(actor=cast.finance, run=run)
    line = batch.lines.order_by("pk").first()
    response = client_for(client, cast.finance).post(
        reverse("subsidies:record_line", args=[line.pk]),
        {
            "outcome": "paid",
            "line%d-voucher_no" % line.pk: "YH-1",
            "line%d-paid_on" % line.pk: "2026-02-09",
            "back": "payment=issued",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == payout_url(run) + "?payment=issued#line-%d" % line.pk
    line.refresh_from_db()
    assert (line.payment, line.voucher_no, line.paid_on) == (Payment.PAID, "YH-1", D(2026, 2, 9))


# The borrower page ---------------------------------------------------------------


def test_the_borrower_page_shows_each_years_line(client, cast, run, loans):
    first = loans[0]
    batch = payment_batch_issue(actor=cast.finance, run=run)
    payment_batch_record(
        actor=cast.finance, batch=batch, voucher_no="V", paid_on=D(2026, 2, 3), today=TODAY
    )
    url = reverse("borrowers:detail", args=[first.application.borrower_id])
    page = client_for(client, cast.township_officer_a).get(url)

    assert page.status_code == 200
    html = page.content.decode()
    section = html[html.index('data-testid="borrower-subsidies"') :]
    line = line_of(run, first)
    assert reverse("subsidies:line", args=[line.pk]) in section
    assert "2,645.00" in section and "2026-02-03" in section
    assert "MJ-2025-0001" in section and "MJ-2025-0002" not in section


def test_the_borrower_page_leaves_out_cancelled_and_draft_runs(client, cast, programme, lend):
    loan = lend()
    url = reverse("borrowers:detail", args=[loan.application.borrower_id])
    client.force_login(cast.county)
    assert "MJ-2025-0001" not in _section(client.get(url))  # no run yet
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    assert "MJ-2025-0001" in _section(client.get(url))  # computed: shown, not yet paid
    SubsidyRun.objects.filter(pk=run.pk).update(state=State.CANCELLED)
    assert "MJ-2025-0001" not in _section(client.get(url))


def _section(response) -> str:
    html = response.content.decode()
    return html[html.index('data-testid="borrower-subsidies"') :]


def test_a_batch_keeps_its_failures_once_they_move_on(client, cast, run, loans):
    second = loans[1]
    batch = payment_batch_issue(actor=cast.finance, run=run)
    payment_line_record(
        actor=cast.finance, line=line_of(run, second), paid=False, note="户名不符", today=TODAY
    )
    again = payment_batch_issue(actor=cast.finance, run=run)
    page = client_for(client, cast.county).get(payout_url(run))

    counts = [
        (b.number, b.issued_count, b.paid_count, b.failed_count, b.may_download)
        for b in page.context["batches"]
    ]
    assert counts == [(1, 1, 0, 1, True), (2, 1, 0, 0, True)]
    assert download(client, again, "csv").status_code == 200
    assert download(client, batch, "csv").status_code == 200  # one line fewer than issued


def test_recording_a_line_that_is_no_longer_issued_is_said_and_changes_nothing(client, cast, run):
    batch = payment_batch_issue(actor=cast.finance, run=run)
    line = batch.lines.order_by("pk").first()
    payment_line_record(
        actor=cast.finance, line=line, paid=True, voucher_no="V-1", paid_on=TODAY, today=TODAY
    )
    response = client_for(client, cast.finance).post(
        reverse("subsidies:record_line", args=[line.pk]),
        {"outcome": "failed", "line%d-note" % line.pk: "户名不符"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == payout_url(run)
    assert "只有已提交银行的明细才能登记支付结果" in response.content.decode()
    line.refresh_from_db()
    assert (line.payment, line.voucher_no) == (Payment.PAID, "V-1")


def test_a_paid_run_keeps_its_page_without_the_buttons(client, cast, run, loans):
    give_account(loans[2])
    batch = payment_batch_issue(actor=cast.finance, run=run)
    payment_batch_record(
        actor=cast.finance, batch=batch, voucher_no="V", paid_on=TODAY, today=TODAY
    )
    run.refresh_from_db()
    assert run.state == State.PAID
    page = client_for(client, cast.finance).get(payout_url(run))
    assert page.status_code == 200
    assert page.context["summary"]["paid"]["amount"] == Decimal("6612.49")
    assert not page.context["may_pay"]
    assert 'data-testid="issue-batch"' not in page.content.decode()


def test_an_enterprise_loan_is_paid_to_the_enterprise_once_it_has_an_account(cast, programme, lend):
    """The payee of an enterprise's loan is the enterprise (payee_of and
    PAYEE_HAS_NO_ACCOUNT read the same rule). The loan is turned into an
    enterprise's by hand: no shipped programme lends to enterprises."""
    from beneficiaries.models import Enterprise, Industry
    from beneficiaries.registry.services import enterprise_create
    from divisions.models import Division
    from loans.models import Application
    from tests.beneficiaries.registry.test_services import credit_code

    loan = lend()
    enterprise = enterprise_create(
        actor=cast.county,
        name="墨江县碧溪生猪养殖专业合作社",
        kind=Enterprise.Kind.COOPERATIVE,
        credit_code=credit_code(1),
        legal_representative="李四",
        village=Division.objects.get(code=cast.township_a.code + "001"),
        industry=Industry.objects.get(name="生猪"),
    )
    Application.objects.filter(pk=loan.application_id).update(
        borrower=None, household=None, enterprise=enterprise
    )
    run = approved_run(cast, programme)
    with pytest.raises(ValidationError):
        payment_batch_issue(actor=cast.finance, run=run)  # the enterprise has no account
    assert line_of(run, loan).payment == Payment.PENDING

    Enterprise.objects.filter(pk=enterprise.pk).update(
        account_holder="墨江县碧溪生猪养殖专业合作社",
        account_number="6228480012345678",
        bank_name="中国农业银行墨江支行",
    )
    batch = payment_batch_issue(actor=cast.finance, run=run)
    [row] = payment_batch_rows(batch)
    assert (row["account_holder"], row["account_number"], row["amount"]) == (
        "墨江县碧溪生猪养殖专业合作社",
        "6228480012345678",
        Decimal("2645.00"),
    )


def test_a_batch_whose_other_township_line_moved_on_stays_closed_to_the_township(
    client, cast, run, loans
):
    """Batch 1's file still lists township b's line after it failed and went
    into batch 2, so township a's officer still may not download it."""
    _first, second, _third = loans
    batch = payment_batch_issue(actor=cast.finance, run=run)
    payment_line_record(
        actor=cast.finance, line=line_of(run, second), paid=False, note="账户已销户", today=TODAY
    )
    payment_batch_issue(actor=cast.finance, run=run)
    assert [line.loan for line in batch.lines.all()] == [loans[0]]  # it moved on

    client.force_login(cast.township_officer_a)
    assert download(client, batch, "xlsx").status_code == 404
    assert not PersonalDataExport.objects.exists()
