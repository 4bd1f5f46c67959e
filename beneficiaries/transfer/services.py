"""Borrower workbooks in and out: reading an upload, the all-or-nothing
import (dry run first), the workbook annotated with each row's errors, the
export and the empty template.

The row rules live in ``resources.BorrowerResource``; this module deals in
files. Uploads wait between the preview and the confirmation under
``MEDIA_ROOT/imports/<uuid4>.xlsx`` with their errors beside them, and are
deleted once imported.
"""

import datetime
import io
import json
import logging
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tablib
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from beneficiaries.industries.selectors import industry_kinds
from beneficiaries.models import Borrower
from beneficiaries.registry.filters import DEFAULT_ORDER, BorrowerFilter

from . import resources as workbook

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# What the parts of an uploaded .xlsx may unpack to. A real 5 MB workbook
# unpacks to some 70 MB (worksheet XML compresses about 14 to 1); a zip bomb
# to hundreds of megabytes or more, and is refused before it is parsed.
MAX_UNPACKED_BYTES = 20 * MAX_UPLOAD_BYTES
FORMULA_CELLS_SHOWN = 5
ERROR_COLUMN = "错误"
# Excel's own light red for bad cells ("Light red fill").
ERROR_FILL = PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE")
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFE6F2EC", end_color="FFE6F2EC")
UPLOAD_DIR = "imports"
STALE_UPLOAD_SECONDS = 24 * 60 * 60


class WorkbookError(Exception):
    """The file as a whole cannot be imported (not a workbook, wrong
    headers); the message says why, in the user's language."""


@dataclass
class Sheet:
    """The rows of an uploaded workbook, as the resource reads them."""

    dataset: tablib.Dataset
    row_numbers: list[int]


@dataclass(frozen=True)
class RowError:
    row: int  # as Excel numbers it: the header is row 1
    column: str  # a workbook header, or "" for the row as a whole
    value: str
    message: str


@dataclass
class ImportReport:
    filename: str
    total: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    saved: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> list[int]:
        return sorted({error.row for error in self.errors})


# Reading ---------------------------------------------------------------------


def _header(value) -> str:
    return str(value).strip().strip("*＊").strip() if value is not None else ""


def read_workbook(path: Path) -> Sheet:
    """Read the first sheet of an .xlsx: check the header row and return
    the non-empty rows with their Excel row numbers.

    Raises ``WorkbookError`` for a file that is not a readable workbook
    (whatever the reader trips on: a broken archive, broken XML, entities
    expanding without end), that unpacks to more than MAX_UNPACKED_BYTES,
    that holds a formula, or that lacks columns; cell values are left for
    the resource to judge.
    """
    _check_unpacked_size(path)
    try:
        return _read_sheet(path)
    except WorkbookError:
        raise
    except Exception:
        # A file damaged or crafted to break the reader: the file's fault,
        # not the system's; logged in case it is the reader's after all.
        logger.warning("Workbook %s could not be read", path.name, exc_info=True)
        raise WorkbookError(_unreadable()) from None


def _unreadable() -> str:
    return _(
        "This file cannot be read as an Excel workbook (.xlsx). "
        "Save it from Excel or WPS as .xlsx and upload it again."
    )


def _check_unpacked_size(path: Path) -> None:
    """Refuse a zip bomb before any XML is parsed, by the sizes the archive
    declares for its parts: zipfile never inflates a part beyond its
    declared size (more data fails the part's checksum)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise WorkbookError(_unreadable()) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookError(
            _(
                "This workbook unpacks to %(size)s, more than the %(limit)s an import may hold. "
                "Split the rows into several workbooks."
            )
            % {"size": filesizeformat(unpacked), "limit": filesizeformat(MAX_UNPACKED_BYTES)}
        )


def _is_formula(value) -> bool:
    """The reader (data_only=False) gives a formula as its text ("=SUM(…)"),
    or as an object for array and data-table formulas. Text typed with a
    leading "=" counts too: openpyxl would write it back as a live formula
    into every export of the registry."""
    return isinstance(value, ArrayFormula | DataTableFormula) or (
        isinstance(value, str) and value.startswith("=")
    )


def _formula_cells(values, number: int) -> list[str]:
    return [f"{get_column_letter(i + 1)}{number}" for i, v in enumerate(values) if _is_formula(v)]


def _read_sheet(path: Path) -> Sheet:
    # The file is opened here so that it is closed even when the reader
    # fails half-way through opening the workbook.
    with path.open("rb") as handle:
        return _read_first_sheet(load_workbook(handle, read_only=True, data_only=False))


def _read_first_sheet(book) -> Sheet:
    try:
        if not book.worksheets:
            raise WorkbookError(_("The workbook has no worksheet."))
        rows = book.worksheets[0].iter_rows(values_only=True)
        header_row = next(rows, ())
        formulas = _formula_cells(header_row, 1)
        headers = [_header(value) for value in header_row]
        missing = [column for column in workbook.REQUIRED_HEADERS if column not in headers]
        if missing and not formulas:
            raise WorkbookError(
                _(
                    "The first row of the first sheet must hold the column headers; "
                    "these are missing: %(columns)s. Download the template to see them."
                )
                % {"columns": "、".join(missing)}
            )
        repeated = sorted(
            {h for h in headers if h in workbook.COLUMNS and headers.count(h) > 1},
            key=workbook.COLUMNS.index,
        )
        if repeated:
            raise WorkbookError(
                _("These columns appear more than once: %(columns)s.")
                % {"columns": "、".join(repeated)}
            )
        positions = [headers.index(c) if c in headers else None for c in workbook.COLUMNS]
        dataset = tablib.Dataset(headers=list(workbook.COLUMNS))
        row_numbers = []
        for number, values in enumerate(rows, start=2):
            formulas += _formula_cells(values, number)
            if formulas:
                continue  # the file is refused; only the formulas are still looked for
            cells = [values[i] if i is not None and i < len(values) else None for i in positions]
            cells = [c.strip() if isinstance(c, str) else c for c in cells]
            if all(c is None or c == "" for c in cells):
                continue
            dataset.append(cells)
            row_numbers.append(number)
    finally:
        book.close()
    if formulas:
        cells = "、".join(formulas[:FORMULA_CELLS_SHOWN])
        if len(formulas) > FORMULA_CELLS_SHOWN:
            cells += _(" and %(count)d more") % {"count": len(formulas) - FORMULA_CELLS_SHOWN}
        raise WorkbookError(
            _(
                "The workbook holds formulas (cells %(cells)s); an import takes plain values "
                "only. Copy the cells and paste them as values, then upload the workbook again."
            )
            % {"cells": cells}
        )
    if not row_numbers:
        raise WorkbookError(_("The workbook has headers but no rows to import."))
    return Sheet(dataset=dataset, row_numbers=row_numbers)


# Importing -------------------------------------------------------------------


def borrowers_import(*, actor, path: Path, filename: str, dry_run: bool) -> ImportReport:
    """Import the workbook at ``path`` as ``actor``, all rows or none.

    With ``dry_run`` every row is checked and written inside a transaction
    that is then rolled back, so the preview sees exactly what the import
    would do. Without it the rows are saved only if every one is valid;
    one bad row rolls back all of them. Call it outside any transaction.
    """
    start = time.perf_counter()
    sheet = read_workbook(path)
    resource = workbook.BorrowerResource(
        actor=actor, filename=filename, row_numbers=sheet.row_numbers
    )
    result = resource.import_data(
        sheet.dataset,
        dry_run=dry_run,
        raise_errors=False,
        use_transactions=True,
        collect_failed_rows=False,
        rollback_on_validation_errors=True,
    )
    if result.base_errors:
        error = result.base_errors[0].error
        if isinstance(error, IntegrityError):
            # A record the lookups did not see was saved meanwhile.
            raise WorkbookError(
                _(
                    "The registry changed while the workbook was being imported: someone "
                    "registered one of its ID numbers meanwhile. Nothing was imported; "
                    "upload the workbook again to check it."
                )
            ) from error
        # Not a bad row but a fault of the import itself: let it surface.
        raise error
    report = ImportReport(filename=filename, total=len(sheet.row_numbers))
    report.new = result.totals["new"]
    report.updated = result.totals["update"]
    report.unchanged = result.totals["skip"]
    headers = sheet.dataset.headers
    for invalid in result.invalid_rows:
        values = dict(zip(headers, sheet.dataset[invalid.number - 1], strict=True))
        excel_row = sheet.row_numbers[invalid.number - 1]
        for column, messages in invalid.error_dict.items():
            column = "" if column == NON_FIELD_ERRORS else column
            value = workbook._as_text(values.get(column)) if column else ""
            for message in messages:
                report.errors.append(RowError(excel_row, column, value, message))
    for number, errors in result.row_errors():
        excel_row = sheet.row_numbers[number - 1]
        for error in errors:
            logger.error("Import of %s, row %d failed", filename, excel_row, exc_info=error.error)
            report.errors.append(
                RowError(
                    excel_row,
                    "",
                    "",
                    _(
                        "This row could not be imported because of a fault in the system; "
                        "it has been logged. Tell the programme office."
                    ),
                )
            )
    column_order = {column: i for i, column in enumerate(("",) + workbook.COLUMNS)}
    report.errors.sort(key=lambda e: (e.row, column_order.get(e.column, 99)))
    report.invalid = len(report.bad_rows)
    report.saved = not dry_run and report.ok
    report.seconds = time.perf_counter() - start
    return report


def annotated_workbook(path: Path, errors: list[RowError]) -> bytes:
    """The uploaded workbook with an added 错误 column holding each row's
    errors and its bad cells filled light red. A workbook annotated before
    (and uploaded again) has its old marks cleared first."""
    book = load_workbook(path)
    sheet = book.worksheets[0]
    headers = {_header(cell.value): cell.column for cell in sheet[1] if cell.value is not None}
    error_column = headers.get(ERROR_COLUMN) or sheet.max_column + 1
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.fill == ERROR_FILL:
                cell.fill = PatternFill(fill_type=None)
        if len(row) >= error_column:
            row[error_column - 1].value = None
    header = sheet.cell(row=1, column=error_column, value=ERROR_COLUMN)
    header.font = Font(bold=True, color="FFB3261E")
    sheet.column_dimensions[get_column_letter(error_column)].width = 60
    by_row: dict[int, list[RowError]] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    for row_number, row_errors in by_row.items():
        lines = []
        for error in row_errors:
            if error.column:
                lines.append("%s：%s" % (error.column, error.message))
                if error.column in headers:
                    sheet.cell(row=row_number, column=headers[error.column]).fill = ERROR_FILL
            else:
                lines.append(error.message)
        cell = sheet.cell(row=row_number, column=error_column, value="\n".join(lines))
        cell.fill = ERROR_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


# Uploads between the preview and the confirmation ------------------------------


def _upload_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR


def upload_path(token: str) -> Path:
    """The stored upload of ``token``; a token that is not a UUID (say, a
    forged session) gets a path that does not exist."""
    try:
        name = str(uuid.UUID(token))
    except (TypeError, ValueError):
        name = "missing"
    return _upload_dir() / ("%s.xlsx" % name)


def upload_store(uploaded_file) -> str:
    """Keep an uploaded file for the confirmation; return its token."""
    directory = _upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _discard_stale_uploads(directory)
    token = str(uuid.uuid4())
    with upload_path(token).open("wb") as handle:
        for chunk in uploaded_file.chunks():
            handle.write(chunk)
    return token


def upload_discard(token: str | None) -> None:
    if token:
        path = upload_path(token)
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)


def _discard_stale_uploads(directory: Path) -> None:
    """Uploads abandoned at the preview are not kept beyond a day."""
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    for path in directory.iterdir():
        if path.suffix in (".xlsx", ".json") and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def upload_errors_save(token: str, errors: list[RowError]) -> None:
    payload = [asdict(error) for error in errors]
    upload_path(token).with_suffix(".json").write_text(
        json.dumps(payload, ensure_ascii=False), encoding="utf-8"
    )


def upload_errors_load(token: str) -> list[RowError] | None:
    path = upload_path(token).with_suffix(".json")
    if not path.exists():
        return None
    return [RowError(**item) for item in json.loads(path.read_text(encoding="utf-8"))]


# Export ------------------------------------------------------------------------


def borrowers_for_export(*, user, params) -> BorrowerFilter:
    """The borrowers ``user`` may see, narrowed by the borrower list's own
    filter set (the same GET parameters, the same meaning), with what the
    workbook columns read joined and prefetched. Check ``is_valid()``, then
    read ``qs``."""
    queryset = (
        Borrower.objects.for_user(user)
        .select_related("household__village_group__parent__parent", "industry__parent")
        .prefetch_related("positions")
        .order_by(*DEFAULT_ORDER)
    )
    return BorrowerFilter(params, queryset, user=user)


def _write_sheet(sheet, rows) -> None:
    """Headers and rows in the workbook format: identifiers as text (Excel
    would round them as numbers), dates as dates, a frozen header row."""
    sheet.append(list(workbook.COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    text_columns = {workbook.COLUMNS.index(c) for c in workbook.TEXT_COLUMNS}
    date_columns = {workbook.COLUMNS.index(c) for c in workbook.DATE_COLUMNS}
    for values in rows:
        sheet.append(
            ["" if value is None and i in text_columns else value for i, value in enumerate(values)]
        )
    for index in range(len(workbook.COLUMNS)):
        letter = get_column_letter(index + 1)
        width = 22 if index in text_columns else 14 if index in date_columns else 12
        sheet.column_dimensions[letter].width = width
        if index in text_columns or index in date_columns:
            number_format = "@" if index in text_columns else "yyyy-mm-dd"
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
                cell.number_format = number_format
    sheet.freeze_panes = "A2"


def _workbook_bytes(book: Workbook) -> bytes:
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def borrowers_export_workbook(queryset) -> tuple[bytes, int]:
    """The borrowers as a workbook in the import format, and the row count."""
    dataset = workbook.BorrowerResource().export(queryset)
    book = Workbook()
    sheet = book.active
    sheet.title = "借款人"
    _write_sheet(sheet, dataset)
    return _workbook_bytes(book), len(dataset)


EXAMPLE_ROW = {
    workbook.TOWNSHIP: "联珠镇",
    workbook.VILLAGE: "碧溪村",
    workbook.GROUP: "大寨组",
    workbook.HEAD_NAME: "李国华",
    workbook.HEAD_ID: "530822197805120016",
    workbook.MEMBERS: 4,
    workbook.POVERTY: "一般户",
    workbook.ACCOUNT_HOLDER: "李国华",
    workbook.ACCOUNT_NUMBER: "6228480012345678",
    workbook.BANK: "墨江县农村信用合作联社",
    workbook.NAME: "李国华",
    workbook.ID_NUMBER: "530822197805120016",
    workbook.GENDER: "男",
    workbook.BIRTH_DATE: datetime.date(1978, 5, 12),
    workbook.PHONE: "13812345678",
    workbook.PARTY: "是",
    workbook.BASE_CATEGORY: "致富带头人",
    workbook.INDUSTRY: "生猪",
    workbook.ENTITY: "生猪养殖场",
    workbook.SCALE: 200,
    workbook.UNIT: "头",
    workbook.TITLE: "村民小组长",
    workbook.STARTED: datetime.date(2021, 3, 1),
    workbook.ENDED: None,
}


def column_guide() -> list[tuple[str, bool, str]]:
    """Each column with whether it must be filled and what goes in it, for
    the import page and the template's second sheet."""
    # Two kinds of each sector, as examples.
    examples: dict[int, list[str]] = {}
    for kind in industry_kinds():
        examples.setdefault(kind.parent_id, []).append(kind.name)
    kinds = "、".join(name for names in examples.values() for name in names[:2])
    required = set(workbook.REQUIRED_CELLS)
    notes = {
        workbook.TOWNSHIP: _("Name of the township, as in the list of divisions."),
        workbook.VILLAGE: _("Name of the village in that township."),
        workbook.GROUP: _("Name of the village group in that village."),
        workbook.HEAD_NAME: _("Must match the household already registered, if any."),
        workbook.HEAD_ID: _("18 characters, as text. Finds the household, or registers a new one."),
        workbook.MEMBERS: _("Whole number; blank means 1."),
        workbook.POVERTY: _("%(choices)s; blank means %(default)s.")
        % {"choices": "、".join(workbook.POVERTY_LABELS.values()), "default": "一般户"},
        workbook.ACCOUNT_HOLDER: _("The account that receives the subsidy."),
        workbook.ACCOUNT_NUMBER: _("As text. Passbook and 一卡通 numbers are accepted."),
        workbook.BANK: _("Needed with an account number."),
        workbook.NAME: _("The borrower's name."),
        workbook.ID_NUMBER: _(
            "18 characters, as text. An ID number already registered updates that borrower."
        ),
        workbook.GENDER: _("Optional: 男 or 女, checked against the ID number."),
        workbook.BIRTH_DATE: _("Optional: checked against the ID number."),
        workbook.PHONE: _("11 digits starting with 13 to 19."),
        workbook.PARTY: _("是 or 否; blank means 否."),
        workbook.BASE_CATEGORY: _("%(choices)s; blank means %(default)s.")
        % {"choices": "、".join(workbook.BASE_CATEGORY_LABELS.values()), "default": "致富带头人"},
        workbook.INDUSTRY: _("A kind of industry, e.g. %(kinds)s; or sector/kind.")
        % {"kinds": kinds},
        workbook.ENTITY: _("For example: pig farm, tea garden."),
        workbook.SCALE: _("A number, e.g. 200."),
        workbook.UNIT: _("Needed with a scale: 头, 亩, 只, 箱 ..."),
        workbook.TITLE: _("Optional: %(choices)s.")
        % {"choices": "、".join(workbook.TITLE_LABELS.values())},
        workbook.STARTED: _("Needed with a position, e.g. 2021-03-01."),
        workbook.ENDED: _("Blank while the position is held."),
    }
    return [(column, column in required, str(notes[column])) for column in workbook.COLUMNS]


def template_workbook() -> bytes:
    """An empty workbook with the headers, one example row and a sheet that
    explains each column."""
    book = Workbook()
    sheet = book.active
    sheet.title = "借款人"
    _write_sheet(sheet, [[EXAMPLE_ROW[column] for column in workbook.COLUMNS]])
    guide = book.create_sheet("填写说明")
    guide.append([_("Column"), _("Required"), _("What to fill in")])
    for cell in guide[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for column, required, note in column_guide():
        guide.append([column, _("yes") if required else _("no"), note])
    guide.append([])
    guide.append([_("The example row in the first sheet is made up: replace it with real rows.")])
    guide.column_dimensions["A"].width = 16
    guide.column_dimensions["B"].width = 8
    guide.column_dimensions["C"].width = 80
    return _workbook_bytes(book)


def export_filename(prefix: str) -> str:
    return "%s-%s.xlsx" % (prefix, timezone.localdate().isoformat())
