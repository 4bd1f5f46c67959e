"""A township officer imports a borrower workbook in Chromium: a file with
mistakes first, then the corrected one."""

import io

import pytest
from openpyxl import load_workbook

from beneficiaries.models import Borrower
from beneficiaries.transfer import resources as wb
from tests.beneficiaries.transfer_fixtures import borrower_row, make_places, workbook_bytes
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_township_officer_sees_the_bad_rows_fixes_them_and_imports(page, cast, tmp_path):
    make_places(cast)
    rows = [
        borrower_row(1),
        borrower_row(3, **{wb.PHONE: "1381234567", wb.GENDER: "女"}),
        borrower_row(5, **{wb.VILLAGE: "白云村"}),
        borrower_row(7, **{wb.TOWNSHIP: "通关镇", wb.VILLAGE: "金平村", wb.GROUP: "新寨组"}),
        borrower_row(1, **{wb.NAME: "张一"}),
    ]
    bad_file = tmp_path / "三月名单.xlsx"
    bad_file.write_bytes(workbook_bytes(rows))

    log_in(page, cast.township_officer_a.username, PASSWORD)
    page.goto("/registry/transfer/import/")
    assert page.locator("h1").inner_text() == "从 Excel 导入借款人"
    assert page.get_by_role("link", name="下载空白导入模板（.xlsx）").is_visible()
    page.get_by_label("Excel 工作簿（.xlsx）").set_input_files(str(bad_file))
    page.get_by_role("button", name="上传并检查").first.click()

    page.wait_for_selector("table.transfer-errors")
    assert page.get_by_test_id("count-invalid").inner_text() == "5"
    alert = page.locator(".notice.error").inner_text()
    assert "5 行有错误，因此未导入任何数据" in alert
    table = page.locator("table.transfer-errors").inner_text()
    assert "手机号应为以 13 至 19 开头的 11 位数字" in table
    assert "联珠镇没有名为“白云村”的村" in table
    assert "不在您所在的乡镇" in table
    assert "第 6 行也出现了" in table and "第 2 行也出现了" in table
    assert page.get_by_role("button", name="确认导入").count() == 0
    save_screenshot(page, "import-preview-errors")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载已标注错误的工作簿").click()
    annotated = load_workbook(io.BytesIO(download_info.value.path().read_bytes()))
    sheet = annotated.worksheets[0]
    assert sheet.cell(row=1, column=len(wb.COLUMNS) + 1).value == "错误"
    assert "手机号" in sheet.cell(row=3, column=len(wb.COLUMNS) + 1).value
    assert not Borrower.objects.exists()

    good_file = tmp_path / "三月名单-更正.xlsx"
    good_file.write_bytes(workbook_bytes([borrower_row(1), borrower_row(3), borrower_row(5)]))
    page.get_by_label("Excel 工作簿（.xlsx）").set_input_files(str(good_file))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_selector(".notice.success")
    assert page.get_by_test_id("count-new").inner_text() == "3"
    save_screenshot(page, "import-preview-valid")
    page.get_by_role("button", name="确认导入").click()

    message = page.locator(".messages .message").inner_text()
    assert "新增借款人 3 名" in message
    assert Borrower.objects.filter(township=cast.township_a).count() == 3
    save_screenshot(page, "import-done")
