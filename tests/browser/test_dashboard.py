"""The home page's dashboard and the reports in Chromium, on the Mojiang demo
(680 loans) with its 2025 subsidy run approved and mostly paid: the county
officer sees the headline figures and three SVG charts, opens a chart's
table, switches programme, and reads the page on a phone's width; a
township officer sees their township alone. The finance officer, as a new
user would, downloads the payout list of the run and the county report,
which are read back with pdftotext. Then every demo login's home page, with
what waits for it, at 1366 and 390 px, and the menu by keyboard. One test:
the demo is seeded once. Screenshots go to var/screenshots/ (dashboard-*,
reports-*, home-*.png)."""

import datetime
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from demo.services import DEMO_PASSWORD, demo_seed
from loans.models import Loan
from reports.templatetags import dashboard_tags
from subsidies.models import SubsidyRun
from tests.browser.conftest import log_in, save_screenshot
from tests.pdf import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The day the demo tests seed it as of: its loans were disbursed in 2025.
TODAY = datetime.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The live server runs in this process: the seam holds for its requests.
    monkeypatch.setattr(dashboard_tags, "_today", lambda: TODAY)


@pytest.fixture
def demo(db):
    demo_seed(today=TODAY, others=False)
    run = SubsidyRun.objects.get(programme__name="振兴贷", programme__year=2025, year=2025)
    assert run.state == SubsidyRun.State.APPROVED
    return run


def headline(page, name: str):
    return page.get_by_test_id("headline").locator(f'[data-figure="{name}"] .dash-number')


def test_the_county_and_a_township_read_the_programme_the_finance_officer_downloads_it(
    page, demo, tmp_path
):
    log_in(page, "county", DEMO_PASSWORD)
    page.wait_for_url("**/")
    board = page.get_by_test_id("dashboard")
    expect(board.locator("h2#dashboard-heading")).to_contain_text("振兴贷 2025")
    expect(headline(page, "households")).to_have_text("680")
    # Eight loans were left unpaid; the fund compensated one, written off.
    expect(headline(page, "overdue")).to_have_text("7")
    charts = board.locator("figure.dash-chart svg")
    expect(charts).to_have_count(3)
    for index in range(3):
        expect(charts.nth(index)).to_be_visible()
        box = charts.nth(index).bounding_box()
        assert box["width"] > 300 and box["height"] > 150, box
    # The townships are drawn as text in the chart, in the CJK font.
    subsidy = page.get_by_test_id("chart-subsidy")
    expect(subsidy.locator("svg text", has_text="联珠镇")).to_have_count(1)
    expect(page.get_by_test_id("latest-run").locator(".run-state")).to_have_text("已审批")
    save_screenshot(page, "dashboard-county")

    # Each chart's figures as a table, for readers who cannot see it.
    table = page.get_by_test_id("table-subsidy")
    expect(table).to_be_hidden()
    subsidy.locator("summary").click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(15)

    # The overdue loans, as the loan list shows them.
    page.get_by_test_id("overdue-link").click()
    page.wait_for_url(re.compile(r"/loans/\?status=overdue&programme=\d+$"))
    page.go_back()

    # Another programme: nothing lent under it.
    form = page.get_by_test_id("programme-form")
    form.locator("select").select_option(label="振兴贷 2024")
    form.locator("button").click()
    page.wait_for_url(re.compile(r"\?programme=\d+$"))
    expect(headline(page, "households")).to_have_text("0")
    expect(page.get_by_test_id("chart-subsidy")).to_have_count(0)

    # A phone's width: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    expect(charts.first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    board_box = page.get_by_test_id("dashboard").bounding_box()
    assert board_box["x"] >= 0 and board_box["x"] + board_box["width"] <= 390, board_box
    save_screenshot(page, "dashboard-county-390")

    # A township officer: their township alone (one test: the demo is
    # seeded once per module).
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login/**")
    log_in(page, "township", DEMO_PASSWORD)  # 联珠镇
    page.wait_for_url("**/")
    expect(page.get_by_test_id("dashboard-scope")).to_contain_text("联珠镇")
    expect(page.get_by_test_id("chart-subsidy").locator("svg")).to_be_visible()
    content = page.content()
    for other in ("通关镇", "龙坝镇", "那哈乡"):
        assert other not in content, other
    save_screenshot(page, "dashboard-township")

    finance_downloads_the_payout_list_and_the_county_report(page, demo, tmp_path)
    every_login_sees_what_waits_for_it(page)


def download(page, tmp_path, click) -> tuple[str, str]:
    with page.expect_download() as info:
        click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return info.value.suggested_filename, pdf_text(target)


def finance_downloads_the_payout_list_and_the_county_report(page, run, tmp_path):
    lines = run.lines.filter(amount_due__gt=0)
    due = sum(lines.values_list("amount_due", flat=True), Decimal("0"))

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login/**")
    log_in(page, "finance", DEMO_PASSWORD)
    page.wait_for_url("**/")
    page.get_by_role("link", name="年度贴息").first.click()
    page.get_by_role("link", name="2025", exact=True).first.click()
    page.get_by_test_id("request-payout-pdf").click()
    page.wait_for_url(re.compile(r"/reports/\d+/$"))
    expect(page.get_by_test_id("report-state")).to_have_text("已生成")
    save_screenshot(page, "reports-payout-ready")
    name, text = download(page, tmp_path, page.get_by_test_id("download").click)
    assert name.endswith("贴息资金拨付明细表.pdf"), name
    assert "贴息资金拨付明细表" in text
    assert f"{due:,.2f}" in text
    assert text.count("总计") == 1, "the grand total is printed once"
    assert re.search(r"第 1 页 共 \d+ 页", text)
    assert not re.search(r"\b\d{17}[\dX]\b", text), "no whole ID number"

    page.get_by_role("link", name="报表").first.click()
    form = page.get_by_test_id("county-report-form")
    chosen = form.get_by_label("项目").select_option(value=str(run.programme_id))
    assert chosen == [str(run.programme_id)]
    expect(form.get_by_label("项目").locator("option:checked")).to_contain_text("振兴贷 2025")
    form.get_by_label("统计截至").fill("2026-11-23")
    form.get_by_test_id("request-county-report").click()
    page.wait_for_url(re.compile(r"/reports/\d+/$"))
    expect(page.get_by_test_id("report-state")).to_have_text("已生成")
    name, text = download(page, tmp_path, page.get_by_test_id("download").click)
    assert "工作情况统计表" in name, name
    assert "680" in text
    principal = sum(
        Loan.objects.filter(programme=run.programme).values_list("principal", flat=True),
        Decimal("0"),
    )
    assert f"{principal:,.2f}" in text
    assert "88.2" in text
    page.get_by_role("link", name="报表").first.click()
    # The demo's four stored reports, the payout list regenerated in place,
    # and the county report as of 2026-11-23.
    expect(page.get_by_test_id("reports").locator("tbody tr")).to_have_count(5)
    save_screenshot(page, "reports-list")


# What each demo login finds waiting on its home page (the demo's story:
# a payment batch to finish, a failed payment, a household without an
# account in 联珠镇, the co-op's differing interest, a compensation claim
# the county checked).
WAITING = {
    "county": {"interest_exceptions", "missing_accounts"},
    "township": {"missing_accounts"},
    "township2": set(),
    "coop": set(),
    "finance": {"batches_to_record", "failed_payments", "claims_to_approve"},
    "auditor": set(),
}


def every_login_sees_what_waits_for_it(page):
    for login, keys in WAITING.items():
        page.set_viewport_size({"width": 1366, "height": 900})
        page.context.clear_cookies()
        log_in(page, login, DEMO_PASSWORD)
        page.wait_for_url("**/")
        queue = page.get_by_test_id("work-queue")
        expect(queue).to_be_visible()
        found = set(
            queue.locator("[data-work]").evaluate_all("els => els.map(e => e.dataset.work)")
        )
        assert found == keys, (login, found)
        if not keys and login != "auditor":
            expect(queue.get_by_test_id("work-empty")).to_be_visible()
        if login == "auditor":
            expect(queue.get_by_test_id("latest-changes").locator("li")).to_have_count(6)
        # The menu fits one row at 1366 px.
        nav = page.get_by_role("navigation", name="主菜单")
        assert nav.bounding_box()["height"] < 50, (login, nav.bounding_box())
        save_screenshot(page, "home-%s-1366" % login)
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (login, width)
        save_screenshot(page, "home-%s-390" % login)

    # The menu by keyboard, as the county: Tab to a group, open it, follow a link.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.context.clear_cookies()
    log_in(page, "county", DEMO_PASSWORD)
    page.wait_for_url("**/")
    summary = page.locator("details[data-nav-group=loans] summary")
    summary.focus()
    page.keyboard.press("Enter")
    link = page.locator("details[data-nav-group=loans] a", has_text="公示")
    expect(link).to_be_visible()
    page.keyboard.press("Escape")
    expect(link).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/notices/")
    expect(page.locator("details[data-nav-group=loans] summary")).to_have_class("current")
