"""The yearly subsidy run in Chromium, maker and checker: the county officer
starts the 2025 run through the form, reads its totals, exceptions and a
line's working, and submits it; the finance bureau (another person) approves
it. Then the progress bar of a run that is computing, moved by its script."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from beneficiaries.divisions.services import division_create
from loans.models import Programme
from subsidies.models import SubsidyRun, SubsidyRunPart
from subsidies.runs import views as run_views
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD
from tests.loans.conftest import People, mojiang_coop
from tests.subsidies.runs.test_pages import build_year

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

State = SubsidyRun.State


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    """2026-03-01: subsidy year 2025 is over, 2026 is not (the live server
    runs in this process, so the seam holds for its requests too)."""
    monkeypatch.setattr(run_views, "_today", lambda: datetime.date(2026, 3, 1))


@pytest.fixture
def people(cast) -> People:
    groups = {}
    for township in (cast.township_a, cast.township_b):
        village = division_create(
            actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
        )
        groups[township.pk] = division_create(
            actor=cast.county, parent=village, code=village.code + "001", name="一组"
        )
    return People(cast, groups)


@pytest.fixture
def programme(db) -> Programme:
    return Programme.objects.get(name="振兴贷", year=2025, region_code="530822")


@pytest.fixture
def loans(cast, programme, people):
    return build_year(cast, programme, people, mojiang_coop())


def log_out(page):
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login/**")


def test_the_county_computes_and_submits_and_finance_approves(page, cast, programme, loans):
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/subsidies/")
    expect(page.locator("h1")).to_have_text("年度贴息")
    form = page.get_by_test_id("start-form")
    # Offered: the last subsidy year that is over, for the programme of that year.
    expect(form.get_by_label("贷款项目")).to_have_value(str(programme.pk))
    expect(form.get_by_label("贴息年度")).to_have_value("2025")
    save_screenshot(page, "subsidy-run-list-empty")
    form.get_by_test_id("start-run").click()

    # Computed at once (eager tasks): the run's page with its figures.
    page.wait_for_url(re.compile(r"/subsidies/\d+/$"))
    expect(page.locator("h1 .run-state")).to_have_text("已计算")
    expect(page.locator(".message.success")).to_contain_text("已开始")
    totals = page.get_by_test_id("totals")
    expect(totals.locator('[data-figure="lines"]')).to_have_text("3")
    expect(totals.locator('[data-figure="subsidy"]')).to_have_text("3,836.00")
    expect(totals.locator('[data-figure="exceptions"]')).to_have_text("2")
    expect(page.get_by_test_id("exceptions").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("lines").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("timeline").locator(".step")).to_have_count(3)
    save_screenshot(page, "subsidy-run-computed")
    page.set_viewport_size({"width": 760, "height": 900})
    save_screenshot(page, "subsidy-run-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})
    run_url = page.url

    # A line's working: the periods, the sum, the runs of days.
    page.get_by_test_id("exceptions").get_by_role("link", name="MJ-2025-0002").click()
    expect(page.locator("h1")).to_contain_text("2025 年度补贴")
    expect(page.get_by_test_id("rule-subsidy")).to_have_text("1,901.33")
    expect(page.get_by_test_id("periods").locator("tbody tr")).to_have_count(4)
    expect(page.get_by_test_id("segments").locator("tbody tr")).to_have_count(4)
    save_screenshot(page, "subsidy-line")
    page.get_by_test_id("each-day").click()
    expect(page.locator("tr.day-row")).to_have_count(340)
    expect(page.locator('tr.day-row[data-day="2025-01-15"] td').last).to_have_text("7.666667")
    page.get_by_role("link", name="MJ-2025-0002").first.click()
    expect(page.locator("h1")).to_contain_text("贷款合同 MJ-2025-0002")

    # Submit to the finance bureau.
    page.goto(run_url)
    page.get_by_test_id("submit").click()
    expect(page.locator("h1 .run-state")).to_have_text("已提交审批")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    log_out(page)

    log_in(page, cast.finance.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto(run_url)
    expect(page.get_by_test_id("send-back-form")).to_be_visible()
    page.get_by_test_id("approve").click()
    expect(page.locator("h1 .run-state")).to_have_text("已审批")
    expect(page.locator(".message.success")).to_have_text("已审批，核算结果已锁定。")
    expect(page.get_by_test_id("payout-link")).to_be_visible()
    steps = page.get_by_test_id("timeline").locator(".step-name")
    expect(steps).to_have_text(["发起", "计算中", "已计算", "已提交审批", "已审批"])
    save_screenshot(page, "subsidy-run-approved")
    page.get_by_role("link", name="年度贴息").first.click()
    row = page.get_by_test_id("runs").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".run-state")).to_have_text("已审批")
    save_screenshot(page, "subsidy-run-list")

    run = SubsidyRun.objects.get()
    assert (run.state, run.submitted_by, run.approved_by) == (
        State.APPROVED,
        cast.county,
        cast.finance,
    )


def test_a_computing_run_shows_its_progress_and_reloads_when_done(page, cast, programme, loans):
    from subsidies.runs.services import subsidy_run_start

    run = subsidy_run_start(
        actor=cast.county, programme=programme, year=2025, today=datetime.date(2026, 3, 1)
    )
    run.refresh_from_db()
    # As a worker leaves it mid-way: a new computation, one township of two done.
    generation = run.generation + 1
    SubsidyRun.objects.filter(pk=run.pk).update(
        state=State.COMPUTING, generation=generation, computed_at=None
    )
    SubsidyRunPart.objects.filter(run=run).exclude(township=cast.township_a).delete()
    SubsidyRunPart.objects.filter(run=run).update(generation=generation)

    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto(f"/subsidies/{run.pk}/")
    bar = page.get_by_test_id("progress-bar")
    expect(bar).to_have_attribute("value", "1")
    expect(bar).to_have_attribute("max", "2")
    expect(page.locator("[data-progress-text]")).to_have_text("已完成 1 / 2 个乡镇（50%）")
    save_screenshot(page, "subsidy-run-computing")

    # The second township is stored: the script moves the bar.
    SubsidyRunPart.objects.create(
        run=run, township=cast.township_b, generation=generation, line_count=1
    )
    expect(page.locator("[data-progress-text]")).to_have_text("已完成 2 / 2 个乡镇（100%）")
    expect(bar).to_have_js_property("value", 2)

    # The run is closed: the page reloads itself and shows the figures.
    SubsidyRun.objects.filter(pk=run.pk).update(state=State.COMPUTED, computed_at=run.computed_at)
    expect(page.locator("h1 .run-state")).to_have_text("已计算")
    expect(page.get_by_test_id("totals").locator('[data-figure="subsidy"]')).to_have_text(
        "3,836.00"
    )
    expect(page.get_by_test_id("progress-bar")).to_have_count(0)
