"""The programme configuration as the county office meets it, in Chromium."""

import pytest
from playwright.sync_api import expect

from loans.models import Programme
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_county_office_reviews_and_edits_a_programme(page, cast):
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")

    page.goto("/programmes/")
    expect(page.locator("h1")).to_have_text("贷款项目")
    expect(page.get_by_role("heading", name="2025 年度")).to_be_visible()
    expect(page.locator("meter").first).to_be_visible()
    save_screenshot(page, "programme-list")

    zhenxingdai = Programme.objects.get(name="振兴贷", year=2025)
    page.locator(f'[data-testid="programme-{zhenxingdai.pk}"] a').first.click()
    expect(page.locator("h1")).to_contain_text("振兴贷")
    expect(page.get_by_test_id("parameters")).to_contain_text("上年12月21日至当年12月20日")
    save_screenshot(page, "programme-detail")

    page.get_by_role("link", name="编辑").click()
    expect(page.locator("h1")).to_have_text("编辑 振兴贷 2025")
    save_screenshot(page, "programme-form")

    # A budget of nothing is refused beside the field, and nothing is saved.
    page.get_by_label("预算（本金，元）").fill("0")
    page.get_by_label("最短期限（月）").fill("48")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("error-budget")).to_contain_text("预算须大于 0 元")
    expect(page.get_by_test_id("error-max_term_months")).to_contain_text("最长期限短于最短期限")
    save_screenshot(page, "programme-form-errors")

    page.get_by_label("预算（本金，元）").fill("50000000")
    page.get_by_label("最短期限（月）").fill("6")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("budget-remaining")).to_contain_text("50,000,000.00")
    expect(page.get_by_test_id("history")).to_contain_text("county-officer")
    save_screenshot(page, "programme-detail-after-edit")


def test_everyone_reads_the_industry_tree(page, cast):
    log_in(page, cast.finance.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/registry/industries/")
    expect(page.locator("h1")).to_have_text("产业分类")
    expect(page.get_by_test_id("sector-养殖业")).to_contain_text("生猪")
    expect(page.get_by_role("link", name="新增门类")).to_have_count(0)
    save_screenshot(page, "industry-tree")


def test_the_lpr_table_reads_as_percentages(page, cast):
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/programmes/lpr/")
    expect(page.get_by_test_id("lpr-table")).to_contain_text("3.10%")
    save_screenshot(page, "lpr-table")


def test_the_county_office_renames_a_kind(page, cast):
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/registry/industries/")
    save_screenshot(page, "industry-tree-county")
    page.get_by_test_id("kind-茶叶").get_by_role("link", name="编辑").click()
    page.get_by_label("品种名称").fill("")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("error-name")).to_be_visible()
    save_screenshot(page, "industry-form-error")
    page.get_by_label("品种名称").fill("普洱茶")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("sector-种植业")).to_contain_text("普洱茶")
