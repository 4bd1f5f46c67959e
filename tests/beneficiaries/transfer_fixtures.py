"""Helpers for the borrower workbook tests: places, valid ID numbers, rows
and workbooks built in memory."""

import datetime
import io
from types import SimpleNamespace

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook
from stdnum.cn import ric

from beneficiaries.divisions.services import division_create
from beneficiaries.transfer import resources as wb

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def valid_id(serial: int, birth: str = "19850612", area: str = "530822") -> str:
    """A valid resident ID number; an odd ``serial`` is a man."""
    base = "%s%s%03d" % (area, birth, serial)
    return base + ric.calc_check_digit(base + "0")


def with_wrong_check_character(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def make_places(cast) -> SimpleNamespace:
    """Villages and groups in townships A (联珠镇) and B (通关镇)."""

    def division(parent, suffix, name):
        return division_create(
            actor=cast.county, parent=parent, code=parent.code + suffix, name=name
        )

    bixi = division(cast.township_a, "001", "碧溪村")
    jinping = division(cast.township_b, "001", "金平村")
    return SimpleNamespace(
        bixi=bixi,
        dazhai=division(bixi, "001", "大寨组"),
        xiaozhai=division(bixi, "002", "小寨组"),
        jinping=jinping,
        xinzhai=division(jinping, "001", "新寨组"),
    )


def borrower_row(serial: int, **overrides) -> dict:
    """A valid row: a village group cadre of 联珠镇 heading their own household.
    Overrides use the Chinese column names or these keywords."""
    number = valid_id(serial)
    row = {
        wb.TOWNSHIP: "联珠镇",
        wb.VILLAGE: "碧溪村",
        wb.GROUP: "大寨组",
        wb.HEAD_NAME: "张%d" % serial,
        wb.HEAD_ID: number,
        wb.MEMBERS: 4,
        wb.POVERTY: "一般户",
        wb.ACCOUNT_HOLDER: "张%d" % serial,
        wb.ACCOUNT_NUMBER: "6228480012345678",
        wb.BANK: "墨江县农村信用合作联社",
        wb.NAME: "张%d" % serial,
        wb.ID_NUMBER: number,
        wb.GENDER: "男" if serial % 2 else "女",
        wb.BIRTH_DATE: datetime.date(1985, 6, 12),
        wb.PHONE: "138%08d" % serial,
        wb.PARTY: "是",
        wb.BASE_CATEGORY: "致富带头人",
        wb.INDUSTRY: "生猪",
        wb.ENTITY: "生猪养殖场",
        wb.SCALE: 200,
        wb.UNIT: "头",
        wb.TITLE: "村民小组长",
        wb.STARTED: datetime.date(2021, 3, 1),
        wb.ENDED: None,
    }
    row.update(overrides)
    return row


def workbook_bytes(rows: list[dict], headers=wb.COLUMNS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append([row.get(header) for header in headers])
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def workbook_upload(rows: list[dict], name: str = "借款人.xlsx", headers=wb.COLUMNS):
    return SimpleUploadedFile(name, workbook_bytes(rows, headers), content_type=XLSX_TYPE)


def read_rows(content: bytes) -> tuple[list[str], list[list]]:
    """Headers and rows of the first sheet of a workbook."""
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [str(h) for h in rows[0]], rows[1:]
