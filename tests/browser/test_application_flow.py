"""An application from submission through public notice to release, as the
township officer and the county officer meet it in Chromium."""

import datetime
import re
import subprocess

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from beneficiaries.divisions.services import division_create
from loans.applications.selectors import default_programme
from loans.applications.services import application_submit, application_transition
from loans.models import Application
from tests.browser.conftest import SCREENSHOTS, log_in, save_screenshot
from tests.conftest import PASSWORD
from tests.loans.conftest import People, pig_industry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

State = Application.State


def village_groups(cast):
    """碧溪村 一组 in 联珠镇 and 通关镇 (as the loans tests' ``groups``)."""
    result = {}
    for township in (cast.township_a, cast.township_b):
        village = division_create(
            actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
        )
        result[township.pk] = division_create(
            actor=cast.county, parent=village, code=village.code + "001", name="一组"
        )
    return result


def named(people, name, **kwargs):
    borrower = people.borrower(**kwargs)
    borrower.name = name
    borrower.save()
    return borrower


def other_applications(cast, people):
    """A few applications in other states, so the list looks like a working
    day; 赵丽's is approved and goes into the notice too."""
    programme = default_programme(timezone.localdate(), user=cast.county)

    def submit(borrower, amount):
        return application_submit(
            actor=cast.county,
            programme=programme,
            borrower=borrower,
            amount=amount,
            term_months=24,
            industry=pig_industry(),
            purpose="扩大养殖规模",
        )

    zhao = submit(named(people, "赵丽", title="group_leader"), "40000.00")
    for to_state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED, State.COUNTY_APPROVED):
        application_transition(actor=cast.county, application=zhao, to_state=to_state)
    submit(named(people, "孙丽娟"), "50000.00")
    recommended = submit(named(people, "陈志强", township=cast.township_b), "60000.00")
    application_transition(
        actor=cast.county, application=recommended, to_state=State.VILLAGE_RECOMMENDED
    )
    rejected = submit(named(people, "刘德明"), "30000.00")
    application_transition(
        actor=cast.county,
        application=rejected,
        to_state=State.REJECTED,
        comment="不在村“两委”任职",
    )


def log_out(page):
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile(r"/login/|/$"))


def open_applications(page):
    """From the menu's 贷款 group, else by address."""
    menu = page.get_by_role("navigation")
    link = menu.get_by_role("link", name="贷款申请")
    if link.count():
        menu.locator("summary", has_text="贷款").click()
        link.first.click()
    else:
        page.goto("/applications/")
    page.wait_for_url("**/applications/")


def test_an_application_goes_from_submission_through_notice_to_release(page, cast):
    people = People(cast, village_groups(cast))
    wang = named(people, "王建国")  # a village committee member: 100,000 per household
    other_applications(cast, people)

    # The township officer of 联珠镇 submits, recommends and reviews.
    log_in(page, cast.township_officer_a.username, PASSWORD)
    page.wait_for_url("**/")
    open_applications(page)
    expect(page.locator("h1")).to_have_text("贷款申请")
    page.get_by_role("link", name="新建申请").click()
    page.get_by_label("借款人", exact=True).select_option(
        label="王建国（村“两委”班子成员，身份证尾号 %s）" % wang.id_number[-4:]
    )
    save_screenshot(page, "application-choose")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_test_id("quota-total")).to_have_text("100,000.00")
    expect(page.get_by_test_id("quota-remaining")).to_have_text("100,000.00")
    save_screenshot(page, "application-form")

    page.get_by_label("金额（元）").fill("120000")
    page.get_by_label("期限（月）").fill("24")
    page.get_by_label("用途").fill("购买仔猪 50 头，扩建猪舍")
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_test_id("error-amount")).to_contain_text("100,000.00")
    assert not Application.objects.filter(borrower=wang).exists()

    page.get_by_label("金额（元）").fill("80000")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    expect(page.locator("h1")).to_contain_text("王建国的贷款申请")
    expect(page.locator("h1 .state")).to_have_text("已提交")

    page.get_by_label("意见（选填）").fill("经村民代表会议推荐")
    page.get_by_role("button", name="村推荐").click()
    expect(page.locator("h1 .state")).to_have_text("村级已推荐")
    page.get_by_role("button", name="乡镇审核").click()
    expect(page.locator("h1 .state")).to_have_text("乡镇已审核")
    # Only the county approves: the township officer is not offered it.
    expect(page.get_by_role("button", name="县审批")).to_have_count(0)
    application_url = page.url
    log_out(page)

    # The county officer approves, publishes a notice and releases.
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    open_applications(page)
    expect(page.get_by_test_id("state-township_reviewed")).to_contain_text("1")
    page.get_by_test_id("state-township_reviewed").click()
    expect(page.locator("table.application-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name="全部").first.click()
    expect(page.locator("table.application-table tbody tr")).to_have_count(5)
    save_screenshot(page, "application-list")

    page.get_by_role("link", name="王建国").click()
    save_screenshot(page, "application-actions")
    page.get_by_role("button", name="县审批").click()
    expect(page.locator("h1 .state")).to_have_text("县级已审批")

    page.goto("/applications/")
    page.get_by_role("link", name="公示").first.click()
    page.get_by_role("link", name="发布公示").click()
    expect(page.get_by_test_id("waiting")).to_contain_text("王建国")
    # The notice went up in the villages 11 days ago: its 10 days are over.
    started = timezone.localdate() - datetime.timedelta(days=11)
    page.get_by_label("公示开始日期").fill(started.isoformat())
    save_screenshot(page, "notice-create")
    page.get_by_role("button", name="发布公示").click()
    page.wait_for_url(re.compile(r"/notices/\d+/$"))
    expect(page.get_by_test_id("notice-status")).to_have_text("公示期满")
    entries = page.get_by_test_id("entries")
    expect(entries).to_contain_text("王建国")
    expect(entries).to_contain_text("80,000.00")
    expect(entries).not_to_contain_text(wang.id_number)
    expect(entries).not_to_contain_text(wang.phone)

    # A villager objects to 赵丽: her entry is held back from release.
    zhao_row = entries.locator("tr", has_text="赵丽")
    zhao_row.get_by_text("记录异议").click()
    zhao_row.get_by_label("异议人").fill("碧溪村村民（匿名）")
    zhao_row.get_by_label("异议内容").fill("反映其已不再担任村民小组长")
    zhao_row.get_by_role("button", name="记录").click()
    expect(page.get_by_test_id("open-objections")).to_contain_text("1 条异议待处理")
    save_screenshot(page, "notice-detail")

    pdf = page.request.get(page.get_by_test_id("pdf-link").get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf"
    save_pdf_first_page(pdf.body(), "notice-pdf")

    page.get_by_test_id("release").click()
    expect(page.locator(".messages")).to_contain_text("已向信用社推送 1 笔申请")
    wang_row = entries.locator("tr", has_text="王建国")
    expect(wang_row.locator(".state")).to_have_text("已推送信用社")
    expect(zhao_row.locator(".state")).to_have_text("公示中")

    page.goto(application_url)
    expect(page.locator("h1 .state")).to_have_text("已推送信用社")
    steps = page.get_by_test_id("timeline").locator(".step-name")
    expect(steps).to_have_text(
        ["已提交", "村级已推荐", "乡镇已审核", "县级已审批", "公示中", "已推送信用社"]
    )
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("经村民代表会议推荐")
    expect(timeline).to_contain_text("公示期满，无异议。")
    expect(page.get_by_test_id("actions")).to_have_count(0)
    save_screenshot(page, "application-detail")


def save_pdf_first_page(content: bytes, name: str) -> None:
    """Keep the PDF and its first page as a PNG beside the screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.pdf"
    path.write_bytes(content)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(path),
            str(SCREENSHOTS / name),
        ],
        check=True,
    )
