"""The risk-compensation fund in Chromium, as finance meets it: the claim
the county checked waits in the work queue; finance opens it, is refused
with a voucher already used, approves it with one and sees it paid; then records the
account's interest, first with a zero amount (refused on the field, in
Chinese), then right, and the fund's balance moves by exactly that. The
county's dashboard shows the fund. Screenshots: var/screenshots/fund-*.png."""

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from riskfund.models import Claim, Movement
from riskfund.selectors import balance
from riskfund.services import claim_check
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD
from tests.loans.conftest import coop, groups, people, programme  # noqa: F401
from tests.riskfund.conftest import CLAIM_DAY, deposit, file, fund, overdue_loan  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = datetime.date


@pytest.fixture
def checked_claim(cast, programme, people, coop, fund):  # noqa: F811
    deposit(cast, fund, "20000.00", voucher="D-0")
    loan = overdue_loan(cast, programme, people, coop)
    deposit(cast, fund, "1980000.00", voucher="D-1", on=D(2026, 1, 5))
    return claim_check(actor=cast.county, claim=file(cast, coop, loan), accept=True)


def test_finance_approves_a_checked_claim_and_records_the_interest(
    page,
    cast,
    fund,  # noqa: F811
    checked_claim,
):
    log_in(page, cast.finance.username, PASSWORD)
    item = page.locator('[data-work="claims_to_approve"]')
    expect(item.get_by_test_id("work-count")).to_have_text("1")
    item.get_by_role("link").click()
    expect(page.get_by_test_id("claims")).to_contain_text("C-1")
    page.get_by_role("link", name="C-1").click()

    expect(page.get_by_test_id("claim-state")).to_have_text("县级已审核")
    expect(page.get_by_test_id("compensation")).to_have_text("32,000.00")
    approve = page.get_by_test_id("approve-form")
    approve.get_by_label("支付凭证号").fill("D-1")  # the deposit's voucher
    approve.get_by_label("支付日期").fill(CLAIM_DAY.isoformat())
    approve.get_by_role("button", name="审批").click()
    expect(page.get_by_test_id("error-voucher")).to_contain_text("凭证号 D-1 已在本补偿金中登记")
    assert Claim.objects.get().state == Claim.State.CHECKED

    approve = page.get_by_test_id("approve-form")
    approve.get_by_label("支付凭证号").fill("墨财风〔2026〕5号")
    approve.get_by_label("支付日期").fill(CLAIM_DAY.isoformat())
    approve.get_by_role("button", name="审批").click()
    expect(page.get_by_test_id("claim-state")).to_have_text("已支付")
    expect(page.get_by_test_id("steps")).to_contain_text("墨财风〔2026〕5号")
    save_screenshot(page, "fund-claim-paid")
    assert balance(fund) == Decimal("1968000.00")

    page.get_by_test_id("fund-link").click()
    expect(page.get_by_test_id("balance")).to_have_text("1,968,000.00")
    page.get_by_test_id("record-deposit").click()
    page.get_by_label("类型").select_option(Movement.Kind.INTEREST)
    page.get_by_label("日期").fill("2026-06-21")
    page.get_by_label("金额（元）").fill("0")
    page.get_by_label("凭证号").fill("JX-2026-06")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("error-amount")).to_contain_text("金额必须大于零")
    assert not Movement.objects.filter(voucher="JX-2026-06").exists()

    page.get_by_label("金额（元）").fill("1234.56")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("balance")).to_have_text("1,969,234.56")
    expect(page.locator(".messages")).to_contain_text("已登记专户利息 1,234.56 元")
    save_screenshot(page, "fund-page")
    assert balance(fund) == Decimal("1969234.56")


def test_the_countys_dashboard_shows_the_fund(page, cast, fund, checked_claim):  # noqa: F811
    log_in(page, cast.county.username, PASSWORD)
    figure = page.get_by_test_id("fund-figure")
    expect(figure.locator('[data-figure="fund-balance"] .dash-number')).to_have_text("200.00")
    figure.get_by_test_id("fund-link").click()
    expect(page.get_by_test_id("balance")).to_have_text("2,000,000.00")
    expect(page.get_by_test_id("claims")).to_contain_text("县级已审核")
    expect(page.locator(".fund-chart svg")).to_have_count(1)
