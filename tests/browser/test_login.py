import pytest
from django.conf import settings

from accounts.roles import Role
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLE_USERS = {
    Role.COUNTY: "county",
    Role.TOWNSHIP: "township_officer_a",
    Role.COOP: "coop",
    Role.FINANCE: "finance",
    Role.AUDITOR: "auditor",
    Role.CITY: "city",
    Role.PROVINCE: "province",
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_logs_in_through_the_login_page_and_sees_its_home(page, cast, role):
    user = getattr(cast, ROLE_USERS[role])
    log_in(page, user.username, PASSWORD)

    page.wait_for_url("**/")
    assert page.locator("h1").inner_text() == ROLE_TITLES[role]
    assert ROLE_TITLES[role] in page.get_by_test_id("current-role").inner_text()
    assert page.get_by_test_id("role-intro").is_visible()
    save_screenshot(page, f"home-{role.value}")


ROLE_TITLES = {
    Role.COUNTY: "县委组织部（项目办）",
    Role.TOWNSHIP: "乡镇经办人员",
    Role.COOP: "农村信用社",
    Role.FINANCE: "县财政局",
    Role.AUDITOR: "审计",
    Role.CITY: "市级主管部门",
    Role.PROVINCE: "省级主管部门",
}


def test_a_wrong_password_is_answered_in_chinese_on_the_page(page, cast):
    log_in(page, cast.county.username, "not-the-password")
    error = page.get_by_role("alert")
    assert "请输入一个正确的" in error.inner_text()
    assert "/login/" in page.url


def test_a_township_officer_follows_the_menu_to_their_own_township_only(page, cast):
    log_in(page, cast.township_officer_b.username, PASSWORD)
    menu = page.get_by_role("navigation")
    menu.locator("summary", has_text="设置").click()
    menu.get_by_role("link", name="行政区划").click()
    page.wait_for_url("**/divisions/")
    rows = page.locator("table.data-table tbody tr")
    assert rows.count() == 1
    assert "通关镇" in rows.first.inner_text()


def test_english_can_be_chosen_from_the_footer(page, cast):
    log_in(page, cast.finance.username, PASSWORD)
    page.get_by_label("语言").select_option("en")
    page.get_by_role("button", name="切换").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Finance bureau"
    assert settings.LANGUAGE_CODE == "zh-hans"
