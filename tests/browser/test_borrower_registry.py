"""The borrower registry as a new township officer meets it, in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from beneficiaries.models import Borrower
from tests.beneficiaries import factories
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_registry(page):
    """From the home page, as a person would: the home page's card (once the
    home page links it) or else the address."""
    link = page.get_by_role("link", name="借款人名册")
    if link.count():
        link.first.click()
    else:
        page.goto("/registry/borrowers/")
    page.wait_for_url("**/registry/borrowers/")


def test_a_township_officer_finds_registers_and_stays_in_their_township(page, cast):
    registry = factories.small_registry(cast)
    officer = cast.township_officer_a
    log_in(page, officer.username, PASSWORD)
    page.wait_for_url("**/")

    open_registry(page)
    expect(page.locator("h1")).to_have_text("借款人名册")
    rows = page.locator("table.borrower-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("result-summary")).to_contain_text("共 2 名借款人")
    save_screenshot(page, "borrower-list")

    # Find a borrower by the last digits of her ID number and open her.
    page.get_by_label("搜索", exact=True).fill(registry.li.id_number[-6:])
    page.get_by_role("button", name="搜索").click()
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="李秀英").click()
    expect(page.locator("h1")).to_contain_text("李秀英")
    expect(page.get_by_test_id("id-number")).to_have_text(registry.li.id_number)
    save_screenshot(page, "borrower-detail")

    # Register a borrower with a wrong check character in the ID number.
    page.get_by_role("link", name="借款人名册").first.click()
    page.get_by_role("link", name="登记借款人").click()
    right_id = factories.resident_id(birth="19900515")
    page.get_by_label("户主", exact=True).fill("周国强")
    page.get_by_label("户主身份证号", exact=True).fill(factories.resident_id(birth="19620303"))
    page.get_by_label("村民小组").select_option(str(registry.group_a1.pk))
    page.get_by_label("家庭人口").fill("5")
    page.get_by_label("姓名").fill("周明")
    page.get_by_label("身份证号", exact=True).fill(factories.wrong_check_character(right_id))
    page.get_by_label("手机号").fill("13988776655")
    page.get_by_label("产业").select_option(label="茶叶")
    page.get_by_label("经营主体").fill("茶园")
    page.get_by_label("规模").fill("30")
    page.get_by_label("单位", exact=True).fill("亩")
    page.locator("#id_positions-0-title").select_option(label="村民小组长")
    page.locator("#id_positions-0-started_on").fill("2022-01-15")
    page.get_by_role("button", name="保存").click()

    id_error = page.locator("#id_id_number_error")
    expect(id_error).to_contain_text("身份证号校验位错误，应为 " + right_id[-1])
    expect(page.get_by_test_id("form-errors")).to_contain_text("未保存任何内容")
    # The message sits right under the ID field, and the field is marked.
    field = page.locator(".field", has=page.locator("#id_id_number"))
    expect(field.locator(".field-error")).to_have_count(1)
    expect(page.locator("#id_id_number")).to_have_attribute("aria-invalid", "true")
    save_screenshot(page, "borrower-form-error")
    assert not Borrower.objects.filter(name="周明").exists()

    page.get_by_label("身份证号", exact=True).fill(right_id)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/registry/borrowers/\d+/$"))
    expect(page.locator("h1")).to_contain_text("周明")
    expect(page.locator(".messages")).to_contain_text("借款人周明已登记。")
    expect(page.get_by_test_id("category-today")).to_have_text("村民小组干部")
    expect(page.get_by_test_id("history")).to_contain_text(officer.username)
    save_screenshot(page, "borrower-created")

    # Another township's borrower is not there, even by address.
    response = page.goto(f"/registry/borrowers/{registry.wang.pk}/")
    assert response.status == 404
    response = page.goto(f"/registry/borrowers/{registry.wang.pk}/edit/")
    assert response.status == 404


def test_an_edit_shows_in_the_history_with_who_changed_what(page, cast):
    registry = factories.small_registry(cast)
    zhang, li = registry.zhang, registry.li
    old_phone = zhang.phone
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto(f"/registry/borrowers/{zhang.pk}/")

    page.get_by_role("link", name="编辑").click()
    page.get_by_label("手机号").fill("13612345678")
    page.get_by_label("规模").fill("200")
    page.get_by_label("单位", exact=True).fill("头")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".messages")).to_contain_text("张建国的修改已保存。")

    # Link a driven household from the detail page.
    page.get_by_label("户主身份证号").fill(li.household.head_id_number)
    page.get_by_label("受益方式").select_option(label="务工工资")
    page.get_by_label("年受益金额（元）").fill("3600")
    page.get_by_role("button", name="添加").click()
    expect(page.get_by_test_id("driven-summary")).to_have_text(
        "共带动 1 户，年受益金额合计 3600.00 元"
    )

    history = page.get_by_test_id("history")
    edit_row = history.locator("tbody tr").filter(has_text="手机号")
    expect(edit_row).to_contain_text(cast.county.username)
    expect(edit_row).to_contain_text(f"手机号：{old_phone} → 13612345678")
    expect(edit_row).to_contain_text("规模：— → 200.00")
    save_screenshot(page, "borrower-history")
