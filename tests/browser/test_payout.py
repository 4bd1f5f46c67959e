"""Paying the 2025 subsidy as the finance bureau meets it, in Chromium: the
payout page of the approved run, a payment batch issued, its workbook
downloaded for the bank, the bank's payment recorded (a wrong entry first).

Four loans at 3.45 % from 2025-03-20 with their 2025 interest posted at
the bank's figures (periods of 1, 92, 92 and 91 days): 100,000 gives 9.58 +
881.67 + 881.67 + 872.08 = 2,645.00; 50,000 gives 4.79 + 440.83 + 440.83 +
436.04 = 1,322.49; 80,000 gives 7.67 + 705.33 + 705.33 + 697.67 = 2,116.00.
"""

import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from beneficiaries.models import Household
from loans.ledger.interest import expected_schedule
from loans.ledger.services import ledger_post_interest
from loans.models import Programme
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.payout import views as payout_views
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.browser.conftest import log_in, save_screenshot
from tests.browser.test_loan_page import lend, people  # noqa: F401 (fixture)
from tests.conftest import PASSWORD
from tests.loans.conftest import mojiang_coop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = datetime.date
TODAY = D(2026, 2, 10)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(payout_views, "_today", lambda: TODAY)


def lend_2025(cast, programme, coop, people, *, name, township, number, principal):  # noqa: F811
    loan = lend(
        cast, programme, coop, people, name=name, township=township, number=number,
        principal=principal, start=D(2025, 3, 20), end=D(2027, 3, 20),
    )  # fmt: skip
    Household.objects.filter(pk=loan.application.household_id).update(
        head_name=name, account_holder=name
    )
    for period in expected_schedule(
        principal=loan.principal,
        rate=loan.annual_rate,
        basis=programme.day_count_basis,
        disbursed_on=loan.disbursed_on,
        ends_on=D(2025, 12, 21),
    ):
        ledger_post_interest(
            actor=cast.coop,
            coop=coop,
            loan=loan,
            txn_id="%s-%s" % (loan.contract_no, period.end.isoformat()),
            period_start=period.start,
            period_end=period.end,
            due_on=period.end,
            paid_on=period.end,
            amount=period.interest,
        )
    return loan


@pytest.fixture
def run(cast, people):  # noqa: F811
    """The approved 2025 run: three lines with an account, one without."""
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    a, b = cast.township_a, cast.township_b
    lend_2025(
        cast, programme, coop, people, name="李国华", township=a, number=1, principal="100000.00"
    )
    lend_2025(
        cast, programme, coop, people, name="王秀兰", township=a, number=2, principal="50000.00"
    )
    lost = lend_2025(
        cast, programme, coop, people, name="张建军", township=a, number=3, principal="100000.00"
    )
    lend_2025(
        cast, programme, coop, people, name="赵丽", township=b, number=4, principal="80000.00"
    )
    Household.objects.filter(pk=lost.application.household_id).update(
        account_holder="", account_number="", bank_name=""
    )
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=D(2026, 1, 5))
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    subsidy_run_submit(actor=cast.county, run=run)
    return subsidy_run_approve(actor=cast.finance, run=run)


def test_finance_issues_a_batch_downloads_it_and_records_the_payment(page, cast, run):
    log_in(page, cast.finance.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/subsidies/%d/payout/" % run.pk)
    expect(page.locator("h1")).to_contain_text("2025 年度贴息补贴发放")
    expect(page.get_by_test_id("due")).to_contain_text("8,728.49")
    expect(page.get_by_test_id("missing-count")).to_contain_text("1")
    warning = page.get_by_test_id("missing-accounts")
    expect(warning).to_contain_text("张建军")
    expect(warning).to_contain_text("MJ-2025-0003")
    save_screenshot(page, "payout-before")

    page.get_by_test_id("issue-batch").click()
    batch_row = page.locator('tr[data-batch="1"]')
    expect(batch_row).to_contain_text("6,083.49")
    expect(batch_row).to_contain_text("ZXD2025-%04d-01" % run.pk)
    expect(page.get_by_test_id("issued")).to_contain_text("6,083.49")

    with page.expect_download() as download_info:
        batch_row.get_by_test_id("download-xlsx").click()
    download = download_info.value
    assert download.suggested_filename == "补贴代发-ZXD2025-%04d-01.xlsx" % run.pk
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [(row[0], Decimal(str(row[3])), row[5]) for row in rows[1:-1]] == [
        ("李国华", Decimal("2645.00"), "MJ-2025-0001"),
        ("王秀兰", Decimal("1322.49"), "MJ-2025-0002"),
        ("赵丽", Decimal("2116.00"), "MJ-2025-0004"),
    ]
    assert Decimal(str(rows[-1][3])) == Decimal("6083.49")

    # A payment date after today is refused beside its field; nothing changes.
    form = batch_row.get_by_test_id("record-batch")
    form.get_by_label("凭证号").fill("YH20260203")
    form.get_by_label("支付日期").fill("2026-02-11")
    form.get_by_role("button", name="登记为已支付").click()
    error = page.locator('tr[data-batch="1"] .field-error')
    expect(error).to_have_text("支付日期不能晚于今天。")
    expect(page.locator('tr[data-batch="1"]').get_by_label("凭证号")).to_have_value("YH20260203")
    save_screenshot(page, "payout-error")
    assert not SubsidyLine.objects.filter(payment=SubsidyLine.Payment.PAID).exists()

    # The bank returns 赵丽's payment: recorded as failed, with its reason.
    line = SubsidyLine.objects.get(loan__contract_no="MJ-2025-0004")
    zhao = page.locator('tr[data-line="%d"]' % line.pk)
    record = page.locator('tr[data-record="%d"]' % line.pk)
    expect(record).to_be_hidden()
    zhao.get_by_test_id("record-link").click()
    expect(record).to_be_visible()
    record.get_by_role("button", name="确认支付失败").click()
    expect(record.locator(".field-error")).to_have_text("请说明支付失败的原因。")
    save_screenshot(page, "payout-line-error")
    record.get_by_label("银行退回原因").fill("户名与账号不符")
    record.get_by_role("button", name="确认支付失败").click()
    expect(zhao.get_by_test_id("payment")).to_have_text("支付失败")
    expect(zhao).to_contain_text("户名与账号不符")
    expect(record).to_be_hidden()

    form = page.locator('tr[data-batch="1"]').get_by_test_id("record-batch")
    form.get_by_label("凭证号").fill("YH20260203")
    form.get_by_label("支付日期").fill("2026-02-03")
    form.get_by_role("button", name="登记为已支付").click()
    expect(page.locator(".messages")).to_contain_text("2 笔已记为已支付")
    expect(page.get_by_test_id("paid")).to_contain_text("3,967.49")
    expect(page.locator('tr[data-batch="1"]')).to_contain_text("已支付 2 笔")
    expect(page.locator('tr[data-batch="1"]')).to_contain_text("失败 1 笔")
    paid_badges = page.locator('[data-testid="lines"] [data-testid="payment"]', has_text="已支付")
    expect(paid_badges).to_have_count(2)

    # The failed line goes into the next batch, under a new number.
    page.get_by_test_id("issue-batch").click()
    second = page.locator('tr[data-batch="2"]')
    expect(second).to_contain_text("ZXD2025-%04d-02" % run.pk)
    expect(second).to_contain_text("2,116.00")
    save_screenshot(page, "payout-paid")
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.APPROVED  # 张建军's and 赵丽's lines are still due

    # The borrower's page shows the year's line, paid, with a link to its working.
    li = SubsidyLine.objects.get(loan__contract_no="MJ-2025-0001")
    page.goto("/registry/borrowers/%d/" % li.loan.application.borrower_id)
    section = page.get_by_test_id("borrower-subsidies")
    expect(section.locator("tbody tr")).to_have_count(1)
    expect(section.locator("tbody tr td")).to_have_text(
        [
            "2025",
            str(li.run.programme),
            "MJ-2025-0001",
            "2,645.00",
            "—",
            "2,645.00",
            "已审批",
            "已支付",
            "2026-02-03",
        ]
    )
    expect(section.get_by_role("link", name="2025")).to_have_attribute(
        "href", "/subsidies/lines/%d/" % li.pk
    )
    section.scroll_into_view_if_needed()
    save_screenshot(page, "payout-borrower")
