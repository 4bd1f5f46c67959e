"""The Content Security Policy as Chromium applies it: pages with charts,
scripts and moved stylesheets load with no violation reported on the
console, and what used to be inline still works (the progress bar moves,
the issued key is selected on focus, the API reference page draws itself).
A locked-out login shows its reason on the login page."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from reports.models import Report
from reports.templatetags import dashboard_tags
from subsidies.models import SubsidyRun
from subsidies.runs import views as run_views
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.browser.conftest import log_in, save_screenshot
from tests.browser.test_subsidy_run import loans, people, programme  # noqa: F401 (fixtures)
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TODAY = datetime.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(run_views, "_today", lambda: TODAY)
    monkeypatch.setattr(dashboard_tags, "_today", lambda: TODAY)


@pytest.fixture
def console(page):
    """Every console message of the page, as (type, text)."""
    messages = []
    page.on("console", lambda message: messages.append((message.type, message.text)))
    page.on("pageerror", lambda error: messages.append(("pageerror", str(error))))
    return messages


def violations(messages) -> list[str]:
    return [
        text
        for kind, text in messages
        if kind in {"error", "pageerror"}
        and ("Content Security Policy" in text or "Refused to" in text)
    ]


def test_the_policy_refuses_an_inline_script_so_the_listener_can_see_it(page, console, db):
    # Shows that a violation does reach the console: a script injected into
    # the login page is refused and reported.
    page.goto("/login/")
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.ran = true'; document.body.appendChild(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran === undefined")
    assert violations(console)


def test_the_pages_load_with_no_violation(page, console, cast, programme, loans):  # noqa: F811
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=TODAY)
    subsidy_run_submit(actor=cast.county, run=run)
    subsidy_run_approve(actor=cast.finance, run=SubsidyRun.objects.get(pk=run.pk))
    report = Report.objects.create(
        key="county:pdf:csp",
        county=cast.county_division,
        kind=Report.Kind.COUNTY,
        format=Report.Format.PDF,
        programme=programme,
        as_of=TODAY,
        state=Report.State.RUNNING,
        generation=1,
        progress=35,
        stage="正在排版第 3 页",
        requested_by=cast.county,
        requested_at=timezone.now(),
    )

    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    # The dashboard's charts: SVG drawn in the page.
    charts = page.locator("figure.dash-chart svg")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 2
    bar = charts.first.locator("path").nth(0)
    # Their fills survive the policy (no inline style attribute to refuse).
    assert bar.evaluate("e => getComputedStyle(e).fill") != "rgb(0, 0, 0)"
    save_screenshot(page, "csp-home")

    page.goto(f"/subsidies/{run.pk}/")
    expect(page.get_by_test_id("townships").locator("svg.bar rect").first).to_be_visible()
    width = page.get_by_test_id("townships").locator("svg.bar rect").first.get_attribute("width")
    assert re.fullmatch(r"\d+%", width)
    save_screenshot(page, "csp-run")

    # The report's progress bar, moved by progress.js.
    page.goto(f"/reports/{report.pk}/")
    expect(page.locator("[data-progress-text]")).to_have_text("35% · 正在排版第 3 页")
    Report.objects.filter(pk=report.pk).update(progress=80, stage="正在写入 PDF（6 页）")
    expect(page.locator("[data-progress-text]")).to_have_text("80% · 正在写入 PDF（6 页）")

    # The key page: the key is selected when the field gets focus.
    page.goto("/coop-keys/")
    page.get_by_role("button", name=re.compile("签发|Issue")).click()
    page.wait_for_url("**/coop-keys/issue/")
    page.wait_for_load_state()
    field = page.get_by_test_id("api-key")
    field.focus()
    expect(field).to_be_focused()
    selected = field.evaluate("e => e.value.substring(e.selectionStart, e.selectionEnd)")
    assert selected == field.input_value() and "." in selected

    # The finance officer's payout page, its stylesheet now a file.
    page.get_by_role("button", name="退出").click()
    log_in(page, cast.finance.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto(f"/subsidies/{run.pk}/payout/")
    expect(page.locator(".payout-page")).to_be_visible()
    figure = page.locator(".payout-page .figure").first
    assert figure.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
    save_screenshot(page, "csp-payout")

    assert violations(console) == []


def test_the_api_reference_page_draws_itself(page, console, db):
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Zhenxingdai co-op API")
    # An operation opened: its parameters, responses and example bodies.
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body .responses-wrapper").first).to_be_visible()
    page.get_by_role("button", name="Authorize").click()
    expect(page.locator(".modal-ux")).to_be_visible()
    save_screenshot(page, "csp-api-docs")
    assert violations(console) == []


def test_the_admin_works_under_the_policy(page, console, db):
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    page.goto("/admin/")
    page.get_by_label(re.compile("用户名|Username")).fill("root")
    page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("登录|Log in")).click()
    expect(page.locator("#site-name")).to_be_visible()
    page.goto("/admin/auth/user/add/")
    expect(page.locator("#id_username")).to_be_visible()
    assert violations(console) == []


def test_a_locked_out_login_says_why_on_the_login_page(page, console, cast):
    for _ in range(5):
        log_in(page, cast.county.username, "not-the-password")
        page.wait_for_load_state()
    message = page.get_by_test_id("lockout")
    expect(message).to_be_visible()
    expect(message).to_contain_text("15")
    save_screenshot(page, "csp-lockout")

    log_in(page, cast.county.username, PASSWORD)
    expect(page.get_by_test_id("lockout")).to_be_visible()
    assert "/login/" in page.url
    assert violations(console) == []
