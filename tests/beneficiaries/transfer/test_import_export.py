"""The borrower workbook: upload, dry-run preview, all-or-nothing import,
annotated workbook, export and template (beneficiaries/transfer*.py,
beneficiaries/resources.py)."""

import datetime
import io

import pytest
from django.db import IntegrityError
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import PersonalDataExport
from beneficiaries.divisions.services import division_create
from beneficiaries.industries.selectors import industry_kinds
from beneficiaries.models import Borrower, Household, Position
from beneficiaries.registry import services
from beneficiaries.transfer import resources as wb
from beneficiaries.transfer import services as transfer
from tests.beneficiaries.transfer_fixtures import (
    XLSX_TYPE,
    borrower_row,
    make_places,
    read_rows,
    valid_id,
    with_wrong_check_character,
    workbook_bytes,
    workbook_upload,
)

IMPORT = reverse("transfer:import")
CONFIRM = reverse("transfer:confirm")
ANNOTATED = reverse("transfer:annotated")
EXPORT = reverse("transfer:export")
TEMPLATE = reverse("transfer:template")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def places(cast):
    return make_places(cast)


def registry_counts() -> dict:
    return {
        "households": Household.objects.count(),
        "borrowers": Borrower.objects.count(),
        "positions": Position.objects.count(),
        "household history": Household.history.count(),
        "borrower history": Borrower.history.count(),
        "position history": Position.history.count(),
    }


def upload(client, rows, name="借款人.xlsx"):
    return client.post(IMPORT, {"workbook": workbook_upload(rows, name)})


def errors_of(response) -> set[tuple[int, str]]:
    return {(error.row, error.column) for error in response.context["report"].errors}


def messages_at(response, row: int, column: str) -> str:
    report = response.context["report"]
    return " ".join(e.message for e in report.errors if (e.row, e.column) == (row, column))


def register(cast, places, serial: int, *, group=None, **fields) -> Borrower:
    """A borrower registered through the services, as a form would."""
    number = valid_id(serial)
    household = services.household_create(
        actor=cast.county,
        head_name="王%d" % serial,
        head_id_number=number,
        village_group=group or places.dazhai,
        member_count=3,
    )
    defaults = {
        "name": "王%d" % serial,
        "id_number": number,
        "phone": "139%08d" % serial,
        "industry": industry_kinds().get(name="茶叶"),
    }
    return services.borrower_create(actor=cast.county, household=household, **(defaults | fields))


# Who may ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["county", "township_officer_a"])
def test_county_and_township_officers_may_open_the_import_page(client, cast, who):
    client.force_login(getattr(cast, who))
    response = client.get(IMPORT)
    assert response.status_code == 200
    assert "户主身份证号" in response.content.decode()
    assert client.get(TEMPLATE).status_code == 200


@pytest.mark.parametrize("who", ["finance", "coop", "auditor"])
def test_finance_coop_and_auditor_may_not_import(client, cast, who):
    client.force_login(getattr(cast, who))
    assert client.get(IMPORT).status_code == 403
    assert client.post(IMPORT, {"workbook": workbook_upload([])}).status_code == 403
    assert client.post(CONFIRM).status_code == 403
    assert client.get(ANNOTATED).status_code == 403
    assert client.get(TEMPLATE).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, db):
    for url in (IMPORT, EXPORT, TEMPLATE, ANNOTATED):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    "who, allowed",
    [
        ("county", True),
        ("township_officer_a", True),
        ("auditor", True),
        ("finance", False),
        ("coop", False),
    ],
)
def test_county_township_and_auditor_may_export_and_others_may_not(client, cast, who, allowed):
    client.force_login(getattr(cast, who))
    assert client.get(EXPORT).status_code == (200 if allowed else 403)


# A good import ------------------------------------------------------------------


def test_a_good_import_creates_households_borrowers_and_positions_with_history(
    client, cast, places
):
    officer = cast.township_officer_a
    client.force_login(officer)
    spouse = borrower_row(
        2,
        **{wb.HEAD_NAME: "张1", wb.HEAD_ID: valid_id(1), wb.ACCOUNT_HOLDER: "张1"},
        **{wb.TITLE: None, wb.STARTED: None, wb.BASE_CATEGORY: "村组后备力量"},
    )
    rows = [borrower_row(1), spouse, borrower_row(3, **{wb.GROUP: "小寨组", wb.PARTY: "否"})]

    preview = upload(client, rows)
    assert preview.status_code == 200
    report = preview.context["report"]
    assert (report.new, report.updated, report.unchanged, report.invalid) == (3, 0, 0, 0)
    assert Borrower.objects.count() == 0, "the preview saves nothing"

    response = client.post(CONFIRM)
    assert response.status_code == 302
    assert Household.objects.count() == 2
    head = Borrower.objects.get(id_number=valid_id(1))
    wife = Borrower.objects.get(id_number=valid_id(2))
    assert wife.household == head.household
    assert head.household.village_group == places.dazhai
    assert head.township == cast.township_a
    assert (head.gender, head.birth_date) == ("male", datetime.date(1985, 6, 12))
    assert wife.gender == "female"
    assert head.category == Borrower.Category.GROUP_CADRE
    assert wife.category == Borrower.Category.RESERVE_CADRE
    assert head.industry.name == "生猪" and head.scale == 200 and head.scale_unit == "头"
    assert head.party_member and not Borrower.objects.get(id_number=valid_id(3)).party_member
    position = head.positions.get()
    assert (position.title, position.started_on, position.ended_on) == (
        Position.Title.GROUP_LEADER,
        datetime.date(2021, 3, 1),
        None,
    )
    for model in (Household, Borrower, Position):
        history = model.history.all()
        assert history.exists()
        assert {h.history_user for h in history} == {officer}
        assert {h.history_change_reason for h in history} == {"import: 借款人.xlsx"}
        assert {h.history_type for h in history} == {"+"}
        assert {h.ip_address for h in history} == {"127.0.0.1"}


def test_an_import_derives_what_the_services_derive(client, cast, places):
    """The bulk write fills the same derived columns as a form saved
    through the services would."""
    by_form = register(cast, places, 11, party_member=True)
    client.force_login(cast.county)
    upload(client, [borrower_row(13, **{wb.TITLE: None, wb.STARTED: None})])
    client.post(CONFIRM)
    by_import = Borrower.objects.get(id_number=valid_id(13))
    for name in ("township_id", "category", "gender", "birth_date"):
        assert getattr(by_import, name) == getattr(by_form, name), name
    assert by_import.household.township_id == by_form.household.township_id
    assert by_import.created_at and by_import.updated_at


def test_the_success_message_gives_the_counts_and_links_the_borrower_list(client, cast, places):
    client.force_login(cast.county)
    upload(client, [borrower_row(1), borrower_row(3)])
    response = client.post(CONFIRM, follow=True)
    page = response.content.decode()
    assert "已导入 借款人.xlsx：新增借款人 2 名" in page
    assert 'href="%s"' % reverse("borrowers:list") in page


def test_the_preview_table_lists_row_column_value_and_reason(client, cast, places):
    client.force_login(cast.county)
    response = upload(client, [borrower_row(1), borrower_row(3, **{wb.PHONE: "12345"})])
    page = response.content.decode()
    assert "transfer-errors" in page
    assert '<td class="num row-number">3</td>' in page
    assert "手机号" in page and "12345" in page
    assert "手机号应为以 13 至 19 开头的 11 位数字。" in page
    assert CONFIRM not in page, "no confirm button while a row is bad"
    assert ANNOTATED in page


# Bad rows ---------------------------------------------------------------------------

BAD_ROWS = {
    "ID check character": (
        {wb.ID_NUMBER: with_wrong_check_character(valid_id(3))},
        wb.ID_NUMBER,
        "校验位错误",
    ),
    "ID birth date": (
        {wb.ID_NUMBER: valid_id(3, birth="19851332")},
        wb.ID_NUMBER,
        "不是有效日期",
    ),
    "ID length": ({wb.ID_NUMBER: valid_id(3)[:17]}, wb.ID_NUMBER, "18 位"),
    "ID typed as a number": ({wb.ID_NUMBER: int(valid_id(3))}, wb.ID_NUMBER, "15 位"),
    "head's ID check character": (
        {wb.HEAD_ID: with_wrong_check_character(valid_id(3))},
        wb.HEAD_ID,
        "校验位错误",
    ),
    "phone format": ({wb.PHONE: "12812345678"}, wb.PHONE, "手机号应为"),
    "unknown township": ({wb.TOWNSHIP: "不存在镇"}, wb.TOWNSHIP, "没有名为“不存在镇”的乡镇"),
    "unknown village": ({wb.VILLAGE: "白云村"}, wb.VILLAGE, "联珠镇没有名为“白云村”的村"),
    "unknown group": ({wb.GROUP: "九组"}, wb.GROUP, "碧溪村没有名为“九组”的村民小组"),
    "gender against the ID": ({wb.GENDER: "女"}, wb.GENDER, "与身份证号不符"),
    "birth date against the ID": (
        {wb.BIRTH_DATE: datetime.date(1985, 6, 13)},
        wb.BIRTH_DATE,
        "1985-06-12",
    ),
    "end before start": (
        {wb.ENDED: datetime.date(2020, 1, 1)},
        wb.ENDED,
        "任职截止日期不能早于起始日期",
    ),
    "unknown category": ({wb.BASE_CATEGORY: "村干部"}, wb.BASE_CATEGORY, "无法识别“村干部”"),
    "unknown industry": ({wb.INDUSTRY: "养鸭"}, wb.INDUSTRY, "无法识别产业“养鸭”"),
    "a sector for an industry": ({wb.INDUSTRY: "养殖业"}, wb.INDUSTRY, "产业大类"),
    "unknown poverty status": ({wb.POVERTY: "贫困户"}, wb.POVERTY, "一般户、脱贫户、监测户"),
    "unknown position": ({wb.TITLE: "村长"}, wb.TITLE, "无法识别“村长”"),
    "not a date": ({wb.STARTED: "去年三月"}, wb.STARTED, "不是有效日期"),
    "party member": ({wb.PARTY: "党员"}, wb.PARTY, "“是”或“否”"),
    "missing name": ({wb.NAME: None}, wb.NAME, "此列必须填写"),
    "under age": ({wb.ID_NUMBER: valid_id(3, birth="20150101")}, wb.ID_NUMBER, "年满 18 周岁"),
    "negative scale": ({wb.SCALE: -5}, wb.SCALE, "不能为负数"),
    "scale without unit": ({wb.UNIT: None}, wb.UNIT, "单位"),
    "account without bank": ({wb.BANK: None}, wb.ACCOUNT_HOLDER, "开户人和开户行"),
    "members zero": ({wb.MEMBERS: 0}, wb.MEMBERS, "不小于 1 的整数"),
}


@pytest.mark.parametrize("kind", BAD_ROWS)
def test_every_kind_of_bad_row_is_reported_and_nothing_is_saved(client, cast, places, kind):
    changes, column, reason = BAD_ROWS[kind]
    client.force_login(cast.county)
    bad = borrower_row(3, **changes)
    if wb.HEAD_ID not in changes and wb.ID_NUMBER in changes:
        bad[wb.HEAD_ID] = valid_id(3)  # keep the household valid: the borrower is wrong
    before = registry_counts()

    response = upload(client, [borrower_row(1), bad])
    assert response.status_code == 200
    report = response.context["report"]
    assert report.invalid == 1 and report.new == 1
    assert (3, column) in errors_of(response), report.errors
    assert reason in messages_at(response, 3, column)
    assert {e.row for e in report.errors} == {3}

    client.post(CONFIRM)
    assert registry_counts() == before


def test_an_unparsable_date_in_the_birth_date_column_is_reported(client, cast, places):
    client.force_login(cast.county)
    response = upload(client, [borrower_row(1, **{wb.BIRTH_DATE: "1985-13-40"})])
    assert "不是有效日期" in messages_at(response, 2, wb.BIRTH_DATE)


def test_duplicate_ids_in_the_file_are_reported_on_both_rows(client, cast, places):
    client.force_login(cast.county)
    twin = borrower_row(1, **{wb.PHONE: "13700000000"})
    response = upload(client, [borrower_row(1), borrower_row(3), twin])
    assert "第 4 行也出现了" in messages_at(response, 2, wb.ID_NUMBER)
    assert "第 2 行也出现了" in messages_at(response, 4, wb.ID_NUMBER)
    assert (3, wb.ID_NUMBER) not in errors_of(response)
    assert not Borrower.objects.exists()


def test_an_id_already_registered_to_another_borrower_is_reported(client, cast, places):
    register(cast, places, 3)
    client.force_login(cast.county)
    response = upload(client, [borrower_row(3, **{wb.NAME: "赵六"})])
    assert "已登记为另一借款人“王3”" in messages_at(response, 2, wb.ID_NUMBER)
    assert Borrower.objects.get(id_number=valid_id(3)).name == "王3"


def test_rows_of_one_household_must_agree_on_the_household(client, cast, places):
    client.force_login(cast.county)
    second = borrower_row(2, **{wb.HEAD_NAME: "张1", wb.HEAD_ID: valid_id(1), wb.MEMBERS: 6})
    second[wb.ACCOUNT_HOLDER] = "张1"
    response = upload(client, [borrower_row(1), second])
    assert "第 2 行为同一户" in messages_at(response, 3, wb.MEMBERS)


def test_a_failed_import_changes_nothing_even_when_only_the_last_row_is_bad(client, cast, places):
    client.force_login(cast.county)
    rows = [borrower_row(serial) for serial in (1, 3, 5, 7, 9)]
    rows.append(borrower_row(11, **{wb.PHONE: "1380000"}))
    before = registry_counts()
    response = upload(client, rows)
    assert response.context["report"].bad_rows == [7]

    # Even a confirmation posted by hand re-checks the file and saves nothing.
    response = client.post(CONFIRM)
    assert response.status_code == 200
    assert response.context["report"].bad_rows == [7]
    assert registry_counts() == before


def test_the_import_function_rolls_back_every_row_when_one_is_bad(cast, places, tmp_path):
    path = tmp_path / "rows.xlsx"
    rows = [borrower_row(serial) for serial in (1, 3, 5)]
    rows.append(borrower_row(7, **{wb.VILLAGE: "白云村"}))
    path.write_bytes(workbook_bytes(rows))
    before = registry_counts()
    report = transfer.borrowers_import(
        actor=cast.county, path=path, filename="rows.xlsx", dry_run=False
    )
    assert not report.ok and not report.saved
    assert report.bad_rows == [5]
    assert registry_counts() == before


def test_rows_that_became_bad_since_the_preview_stop_the_whole_import(client, cast, places):
    client.force_login(cast.county)
    assert upload(client, [borrower_row(1), borrower_row(3)]).context["report"].ok
    register(cast, places, 3, name="李四")  # someone registers that ID meanwhile
    before = registry_counts()

    response = client.post(CONFIRM)
    assert response.status_code == 200
    assert response.context["at_confirm"]
    assert "已登记为另一借款人“李四”" in messages_at(response, 3, wb.ID_NUMBER)
    assert registry_counts() == before


def test_a_record_saved_by_someone_else_during_the_import_stops_it(
    client, cast, places, monkeypatch
):
    """The lookups are made once per file; a duplicate saved meanwhile is
    caught by the database, and the whole import is rolled back."""
    client.force_login(cast.county)
    upload(client, [borrower_row(1), borrower_row(3)])

    def conflict(objs, model, **kwargs):
        if model is Borrower:
            raise IntegrityError("duplicate key value violates unique constraint")
        return original(objs, model, **kwargs)

    original = wb.bulk_create_with_history
    monkeypatch.setattr(wb, "bulk_create_with_history", conflict)
    response = client.post(CONFIRM, follow=True)
    assert "有人同时登记了其中的身份证号" in response.content.decode()
    assert registry_counts()["households"] == 0


def test_a_township_officers_row_in_another_township_is_rejected_for_that_row(client, cast, places):
    client.force_login(cast.township_officer_a)
    elsewhere = borrower_row(3, **{wb.TOWNSHIP: "通关镇", wb.VILLAGE: "金平村", wb.GROUP: "新寨组"})
    response = upload(client, [borrower_row(1), elsewhere])
    assert errors_of(response) == {(3, wb.GROUP)}
    assert "不在您所在的乡镇" in messages_at(response, 3, wb.GROUP)
    client.post(CONFIRM)
    assert not Borrower.objects.exists()


def test_a_township_officer_may_not_update_another_townships_borrower(client, cast, places):
    register(cast, places, 3, group=places.xinzhai)
    client.force_login(cast.township_officer_a)
    row = borrower_row(3, **{wb.NAME: "王3", wb.HEAD_NAME: "王3"})
    response = upload(client, [row])
    assert "已在其他乡镇登记" in messages_at(response, 2, wb.ID_NUMBER)
    assert "已登记在其他乡镇" in messages_at(response, 2, wb.HEAD_ID)
    assert "王3" not in messages_at(response, 2, wb.ID_NUMBER), "no name from elsewhere"


# The annotated workbook ----------------------------------------------------------


def test_the_annotated_workbook_marks_each_bad_row_and_cell(client, cast, places):
    client.force_login(cast.county)
    rows = [
        borrower_row(1),
        borrower_row(3, **{wb.PHONE: "123"}),
        borrower_row(5),
        borrower_row(7, **{wb.VILLAGE: "白云村", wb.GENDER: "女"}),
    ]
    upload(client, rows, name="三月名单.xlsx")
    response = client.get(ANNOTATED)
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    assert "filename*=utf-8''" in response["Content-Disposition"]

    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [*wb.COLUMNS, "错误"]
    error_column = len(headers)
    notes = {row: sheet.cell(row=row, column=error_column).value for row in range(2, 6)}
    assert notes[2] is None and notes[4] is None
    assert notes[3].startswith("手机号：手机号应为")
    assert "村：联珠镇没有名为“白云村”的村" in notes[5]
    assert "性别：与身份证号不符" in notes[5]

    def is_red(row, column):
        return sheet.cell(row=row, column=headers.index(column) + 1).fill == transfer.ERROR_FILL

    assert is_red(3, wb.PHONE) and is_red(5, wb.VILLAGE) and is_red(5, wb.GENDER)
    assert not is_red(3, wb.NAME) and not is_red(2, wb.PHONE)
    # The user's own rows are untouched.
    assert sheet.cell(row=3, column=headers.index(wb.PHONE) + 1).value == "123"
    assert PersonalDataExport.objects.get(what="annotated import workbook").row_count == 2


def test_an_annotated_workbook_uploaded_again_is_marked_afresh(client, cast, places):
    client.force_login(cast.county)
    upload(client, [borrower_row(1, **{wb.PHONE: "123"}), borrower_row(3)])
    annotated = client.get(ANNOTATED).content
    sheet = load_workbook(io.BytesIO(annotated)).worksheets[0]
    sheet.cell(row=2, column=wb.COLUMNS.index(wb.PHONE) + 1, value="13812345678")
    sheet.cell(row=3, column=wb.COLUMNS.index(wb.VILLAGE) + 1, value="白云村")
    fixed = io.BytesIO()
    sheet.parent.save(fixed)

    response = client.post(IMPORT, {"workbook": _named(fixed.getvalue(), "三月名单-错误标注.xlsx")})
    assert response.context["report"].bad_rows == [3], "the 错误 column is ignored"
    again = load_workbook(io.BytesIO(client.get(ANNOTATED).content)).worksheets[0]
    headers = [cell.value for cell in again[1]]
    assert headers.count("错误") == 1
    assert again.cell(row=2, column=len(headers)).value is None
    assert again.cell(row=2, column=wb.COLUMNS.index(wb.PHONE) + 1).fill != transfer.ERROR_FILL
    assert "白云村" in again.cell(row=3, column=len(headers)).value


def _named(content: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=XLSX_TYPE)


def test_without_a_checked_upload_there_is_nothing_to_annotate_or_confirm(client, cast):
    client.force_login(cast.county)
    assert client.get(ANNOTATED).url == IMPORT
    assert client.post(CONFIRM).url == IMPORT


def test_an_upload_is_deleted_once_imported_or_cancelled(client, cast, places, media_root):
    client.force_login(cast.county)
    upload(client, [borrower_row(1)])
    assert len(list((media_root / "imports").glob("*.xlsx"))) == 1
    client.post(CONFIRM)
    assert not list((media_root / "imports").iterdir())
    upload(client, [borrower_row(3)])
    client.post(reverse("transfer:cancel"))
    assert not list((media_root / "imports").iterdir())
    assert Borrower.objects.count() == 1


# Files that are not the workbook --------------------------------------------------


def test_it_rejects_a_file_that_is_not_xlsx(client, cast):
    client.force_login(cast.county)
    csv = _named(b"a,b\n1,2\n", "borrowers.csv")
    response = client.post(IMPORT, {"workbook": csv})
    assert "“borrowers.csv”不是 .xlsx 工作簿" in response.content.decode()
    fake = _named(b"not a zip at all", "borrowers.xlsx")
    response = client.post(IMPORT, {"workbook": fake})
    assert "并不是真正的 .xlsx 工作簿" in response.content.decode()


def test_it_asks_for_a_file_when_none_is_sent(client, cast):
    client.force_login(cast.county)
    response = client.post(IMPORT, {})
    assert response.status_code == 200
    assert response.context["form"].errors["workbook"]


def test_it_rejects_a_file_over_five_megabytes(client, cast):
    client.force_login(cast.county)
    big = _named(b"PK\x03\x04" + b"0" * (6 * 1024 * 1024), "big.xlsx")
    response = client.post(IMPORT, {"workbook": big})
    page = response.content.decode().replace("\xa0", " ")
    assert "文件大小为 6.0 MB，超过了 5.0 MB 的上限" in page


def test_it_names_the_missing_columns(client, cast):
    client.force_login(cast.county)
    headers = [c for c in wb.COLUMNS if c not in (wb.PHONE, wb.HEAD_ID)]
    response = client.post(
        IMPORT, {"workbook": workbook_upload([borrower_row(1)], headers=headers)}
    )
    page = response.content.decode()
    assert "缺少以下列：户主身份证号、手机号" in page
    assert not list((transfer._upload_dir()).glob("*.xlsx"))


def test_it_reports_a_workbook_with_headers_only(client, cast):
    client.force_login(cast.county)
    response = client.post(IMPORT, {"workbook": workbook_upload([])})
    assert "没有可导入的数据行" in response.content.decode()


def test_columns_may_come_in_any_order_with_others_between_and_blank_rows(client, cast, places):
    client.force_login(cast.county)
    headers = ["序号", *reversed(wb.COLUMNS), "备注"]
    rows = [borrower_row(1) | {"序号": 1}, {}, borrower_row(3, **{wb.PHONE: "1"})]
    response = client.post(IMPORT, {"workbook": workbook_upload(rows, headers=headers)})
    report = response.context["report"]
    assert report.total == 2
    assert report.bad_rows == [4], "Excel row numbers count the blank row"


def test_cells_typed_as_numbers_and_dates_as_text_are_read(client, cast, places):
    client.force_login(cast.county)
    row = borrower_row(
        1,
        **{
            wb.PHONE: 13800000001,
            wb.ACCOUNT_NUMBER: 622848001234567,
            wb.STARTED: "2021/3/1",
            wb.BIRTH_DATE: "1985年6月12日",
            wb.MEMBERS: "4",
            wb.SCALE: "30.5",
            wb.INDUSTRY: "种植业/茶叶",
        },
    )
    response = upload(client, [row])
    assert response.context["report"].ok, response.context["report"].errors
    client.post(CONFIRM)
    borrower = Borrower.objects.get()
    assert borrower.phone == "13800000001"
    assert borrower.household.account_number == "622848001234567"
    assert borrower.industry.name == "茶叶" and str(borrower.scale) == "30.50"
    assert borrower.positions.get().started_on == datetime.date(2021, 3, 1)


# Importing again -----------------------------------------------------------------


def test_importing_the_same_file_again_creates_nothing_new(client, cast, places):
    client.force_login(cast.county)
    rows = [borrower_row(1), borrower_row(3), borrower_row(5)]
    upload(client, rows)
    client.post(CONFIRM)
    before = registry_counts()

    report = upload(client, rows).context["report"]
    assert (report.new, report.updated, report.unchanged) == (0, 0, 3)
    client.post(CONFIRM)
    assert registry_counts() == before


def test_a_changed_row_updates_the_borrower_and_records_it(client, cast, places):
    client.force_login(cast.county)
    upload(client, [borrower_row(1), borrower_row(3)])
    client.post(CONFIRM)
    client.force_login(cast.township_officer_a)
    changed = borrower_row(
        3,
        **{wb.PHONE: "13900000003", wb.MEMBERS: 5, wb.ENDED: datetime.date(2024, 2, 29)},
    )
    report = upload(client, [borrower_row(1), changed], name="更正.xlsx").context["report"]
    assert (report.new, report.updated, report.unchanged) == (0, 1, 1)
    client.post(CONFIRM)

    borrower = Borrower.objects.get(id_number=valid_id(3))
    assert borrower.phone == "13900000003"
    assert borrower.household.member_count == 5
    position = borrower.positions.get()
    assert position.ended_on == datetime.date(2024, 2, 29)
    assert borrower.category == Borrower.Category.INDUSTRY_LEADER, "the term has ended"
    for record in (borrower, borrower.household, position):
        latest = record.history.first()
        assert latest.history_type == "~"
        assert latest.history_user == cast.township_officer_a
        assert latest.history_change_reason == "import: 更正.xlsx"
    assert Borrower.history.filter(id=borrower.pk).count() == 2


def test_a_borrower_given_another_head_moves_to_that_household(client, cast, places):
    client.force_login(cast.county)
    upload(client, [borrower_row(1), borrower_row(3, **{wb.GROUP: "小寨组"})])
    client.post(CONFIRM)
    moved = borrower_row(3, **{wb.HEAD_NAME: "陈5", wb.HEAD_ID: valid_id(5)})
    moved[wb.ACCOUNT_HOLDER] = "陈5"
    report = upload(client, [moved]).context["report"]
    assert (report.new, report.updated) == (0, 1)
    client.post(CONFIRM)
    borrower = Borrower.objects.get(id_number=valid_id(3))
    assert borrower.household.head_id_number == valid_id(5)
    assert borrower.household.village_group == places.dazhai
    assert Household.objects.count() == 3, "the old household stays"
    assert borrower.history.first().household_id == borrower.household_id


def test_a_new_position_is_added_and_the_old_one_kept(client, cast, places):
    client.force_login(cast.county)
    upload(client, [borrower_row(1, **{wb.ENDED: datetime.date(2023, 12, 31)})])
    client.post(CONFIRM)
    newer = borrower_row(1, **{wb.TITLE: "村委会主任", wb.STARTED: datetime.date(2024, 1, 1)})
    assert upload(client, [newer]).context["report"].updated == 1
    client.post(CONFIRM)
    borrower = Borrower.objects.get()
    assert borrower.positions.count() == 2
    assert borrower.category == Borrower.Category.VILLAGE_COMMITTEE


# Export -----------------------------------------------------------------------------


def test_an_export_imports_again_unchanged(client, cast, places):
    """The round trip: records registered through the forms' services,
    exported, and imported again, are found unchanged."""
    tea = industry_kinds().get(name="茶叶")
    register(cast, places, 1, scale=30, scale_unit="亩", entity_description="茶园")
    secretary = register(cast, places, 3, group=places.xinzhai, party_member=True, industry=tea)
    services.position_save(
        actor=cast.county,
        borrower=secretary,
        title=Position.Title.BRANCH_SECRETARY,
        started_on=datetime.date(2021, 1, 1),
        ended_on=datetime.date(2026, 12, 31),
    )
    household = Household.objects.get(head_id_number=valid_id(1))
    services.household_update(
        actor=cast.county,
        household=household,
        poverty_status=Household.PovertyStatus.LIFTED,
        account_holder="王1",
        account_number="6228480012345678",
        bank_name="农村信用社",
    )
    client.force_login(cast.county)
    exported = client.get(EXPORT)
    assert exported.status_code == 200
    headers, rows = read_rows(exported.content)
    assert headers == list(wb.COLUMNS)
    by_id = {row[headers.index(wb.ID_NUMBER)]: dict(zip(headers, row, strict=True)) for row in rows}
    first = by_id[valid_id(1)]
    assert first[wb.POVERTY] == "脱贫户"
    assert first[wb.ACCOUNT_NUMBER] == "6228480012345678"
    assert first[wb.PARTY] == "否" and first[wb.BASE_CATEGORY] == "致富带头人"
    assert first[wb.GENDER] == "男" and first[wb.TOWNSHIP] == "联珠镇"
    assert by_id[valid_id(3)][wb.TITLE] == "村党组织书记"

    before = registry_counts()
    response = client.post(IMPORT, {"workbook": _named(exported.content, "export.xlsx")})
    report = response.context["report"]
    assert report.ok, report.errors
    assert (report.new, report.updated, report.unchanged) == (0, 0, 2)
    client.post(CONFIRM)
    assert registry_counts() == before


def test_an_exported_registry_imports_into_an_empty_one(client, cast, places, tmp_path):
    client.force_login(cast.county)
    rows = [borrower_row(1), borrower_row(3, **{wb.TITLE: None, wb.STARTED: None})]
    upload(client, rows)
    client.post(CONFIRM)
    exported = client.get(EXPORT).content
    snapshot = {
        b.id_number: (b.name, b.phone, b.category, b.household.head_id_number)
        for b in Borrower.objects.select_related("household")
    }
    Position.objects.all().delete()
    Borrower.objects.all().delete()
    Household.objects.all().delete()

    path = tmp_path / "export.xlsx"
    path.write_bytes(exported)
    report = transfer.borrowers_import(
        actor=cast.county, path=path, filename="export.xlsx", dry_run=False
    )
    assert report.saved and report.new == 2
    assert snapshot == {
        b.id_number: (b.name, b.phone, b.category, b.household.head_id_number)
        for b in Borrower.objects.select_related("household")
    }


def test_an_export_is_logged_before_it_is_sent(client, cast, places):
    register(cast, places, 1)
    register(cast, places, 3)
    client.force_login(cast.auditor)
    response = client.get(EXPORT, {"q": "王", "party_member": "no"})
    assert response.status_code == 200
    log = PersonalDataExport.objects.get()
    assert (log.user, log.row_count, log.what) == (cast.auditor, 2, "borrower workbook")
    assert "q=王" in log.filters and "party_member=no" in log.filters
    assert log.ip_address == "127.0.0.1"


def test_a_township_officers_export_holds_only_their_township(client, cast, places):
    register(cast, places, 1)
    register(cast, places, 3, group=places.xinzhai)
    client.force_login(cast.township_officer_a)
    headers, rows = read_rows(client.get(EXPORT).content)
    assert [row[headers.index(wb.ID_NUMBER)] for row in rows] == [valid_id(1)]
    # Asking for another township changes nothing: the list is already confined.
    headers, rows = read_rows(client.get(EXPORT, {"township": cast.township_b.pk}).content)
    assert [row[headers.index(wb.ID_NUMBER)] for row in rows] == [valid_id(1)]


def test_the_export_takes_the_borrower_lists_filters(client, cast, places):
    register(cast, places, 1, party_member=True)
    register(cast, places, 3, group=places.xinzhai)
    register(cast, places, 5, name="李五")
    client.force_login(cast.county)

    def exported_ids(**params):
        headers, rows = read_rows(client.get(EXPORT, params).content)
        return sorted(row[headers.index(wb.ID_NUMBER)] for row in rows)

    assert exported_ids(township=cast.township_b.pk) == [valid_id(3)]
    assert exported_ids(village=places.bixi.pk) == [valid_id(1), valid_id(5)]
    assert exported_ids(party_member="yes") == [valid_id(1)]
    assert exported_ids(q="李") == [valid_id(5)]
    assert exported_ids(category="industry_leader") == sorted(valid_id(n) for n in (1, 3, 5))
    assert exported_ids(poverty_status="monitored") == []
    assert exported_ids(industry=industry_kinds().get(name="茶叶").parent_id) == sorted(
        valid_id(n) for n in (1, 3, 5)
    )
    assert client.get(EXPORT, {"category": "nonsense"}).status_code == 400


def test_the_template_has_the_headers_an_example_and_a_guide(client, cast):
    client.force_login(cast.county)
    response = client.get(TEMPLATE)
    book = load_workbook(io.BytesIO(response.content))
    headers, rows = read_rows(response.content)
    assert headers == list(wb.COLUMNS)
    assert len(rows) == 1
    assert book.sheetnames == ["借款人", "填写说明"]
    guide = [row[0] for row in book["填写说明"].iter_rows(min_row=2, values_only=True)]
    assert set(wb.COLUMNS) <= set(guide)


def test_the_template_example_row_checks_clean_once_its_places_exist(cast, tmp_path):
    township = cast.township_a
    village = division_create(
        actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
    )
    division_create(actor=cast.county, parent=village, code=village.code + "001", name="大寨组")
    path = tmp_path / "template.xlsx"
    path.write_bytes(transfer.template_workbook())
    report = transfer.borrowers_import(
        actor=cast.county, path=path, filename="template.xlsx", dry_run=True
    )
    assert report.ok, report.errors
    assert not Borrower.objects.exists()


@pytest.mark.postgres
def test_a_full_import_and_round_trip_on_postgresql(client, cast, places):
    """The same flow on PostgreSQL (bulk inserts return ids, sequences)."""
    from django.db import connection

    assert connection.vendor == "postgresql"
    client.force_login(cast.county)
    rows = [borrower_row(serial) for serial in range(1, 40, 2)]
    upload(client, rows)
    client.post(CONFIRM)
    assert Borrower.objects.count() == 20
    exported = client.get(EXPORT).content
    report = client.post(IMPORT, {"workbook": _named(exported, "e.xlsx")}).context["report"]
    assert report.unchanged == 20 and report.ok
